package org.cmxbench.runner.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesNestedValuesAndEscapes() {
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) Json.parse(
                "{\"a\": [1, 2.5, -3e2], \"s\": \"q\\\"\\n\\u00e9\", \"t\": true, \"n\": null, \"o\": {}}");
        assertEquals(Arrays.asList(1.0, 2.5, -300.0), m.get("a"));
        assertEquals("q\"\né", m.get("s"));
        assertEquals(Boolean.TRUE, m.get("t"));
        assertNull(m.get("n"));
        assertEquals(new LinkedHashMap<>(), m.get("o"));
    }

    @Test
    public void writesWhatItReads() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "x; touch \"pwned\"\t");
        m.put("values", Arrays.asList(1, 2.5, null, false));
        String text = Json.write(m);
        assertEquals("{\"name\":\"x; touch \\\"pwned\\\"\\t\",\"values\":[1,2.5,null,false]}", text);
        @SuppressWarnings("unchecked")
        Map<String, Object> back = (Map<String, Object>) Json.parse(text);
        assertEquals(m.get("name"), back.get("name"));
        assertEquals(Arrays.asList(1.0, 2.5, null, false), (List<?>) back.get("values"));
    }

    @Test
    public void rejectsBrokenJson() {
        for (String bad : new String[] {"{\"a\": }", "[1, 2", "{\"a\" 1}", "\"open", "{} x"}) {
            try {
                Json.parse(bad);
                fail("accepted " + bad);
            } catch (IllegalArgumentException expected) {
                // the message names the offset
            }
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesNaN() {
        Json.write(Double.NaN);
    }
}
