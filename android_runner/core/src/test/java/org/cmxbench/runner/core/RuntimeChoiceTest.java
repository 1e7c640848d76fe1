package org.cmxbench.runner.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class RuntimeChoiceTest {
    /** Stand-in runtimes that record each load as "runtime path threads" and hand back a do-nothing model. */
    static final class RecordingRuntimes implements Runtimes {
        final List<String> calls = new ArrayList<>();

        @Override
        public Model loadExecuTorch(String path, long[] shape, int threads) {
            calls.add("executorch " + path + " " + threads);
            return x -> new float[] {1f};
        }

        @Override
        public Model loadLite(String path, long[] shape, int threads) {
            calls.add("pytorch_lite " + path + " " + threads);
            return x -> new float[] {1f};
        }

        @Override
        public String executorchVersion() {
            return "1.5.1";
        }

        @Override
        public String liteVersion() {
            return "1.13.1";
        }
    }

    static Job job(String artifact, String format, String runtime, int threads) {
        return Job.parse("{\"protocol_version\": 1, \"artifact\": \"" + artifact + "\", \"format\": \"" + format
                + "\", \"runtime\": \"" + runtime + "\", \"input_shape\": [1, 2], \"inputs\": [\"a.f32\"], "
                + "\"warmup\": 0, \"iterations\": 1, \"min_duration_s\": 0, \"threads\": " + threads
                + ", \"return_outputs\": false}");
    }

    static String loadOnce(Job job, RecordingRuntimes runtimes, RuntimeChoice[] chosen) throws Exception {
        chosen[0] = RuntimeChoice.of(job, Paths.get("/data/local/tmp/cmx"), runtimes);
        chosen[0].loader.load(job);
        assertEquals(1, runtimes.calls.size());
        return runtimes.calls.get(0);
    }

    @Test
    public void aPteJobLoadsWithExecuTorchAndItsThreads() throws Exception {
        RuntimeChoice[] chosen = new RuntimeChoice[1];
        String call = loadOnce(job("m.pte", "pte", "executorch", 3), new RecordingRuntimes(), chosen);
        assertEquals("executorch " + Paths.get("/data/local/tmp/cmx/m.pte") + " 3", call);
        assertEquals("1.5.1", chosen[0].version);
        assertNull(chosen[0].threads); // executorch-android does not say how many threads it runs
    }

    @Test
    public void aPtlJobLoadsWithPyTorchLiteAndItsThreads() throws Exception {
        RuntimeChoice[] chosen = new RuntimeChoice[1];
        String call = loadOnce(job("m.ptl", "ptl", "pytorch_lite", 2), new RecordingRuntimes(), chosen);
        assertEquals("pytorch_lite " + Paths.get("/data/local/tmp/cmx/m.ptl") + " 2", call);
        assertEquals("1.13.1", chosen[0].version);
        assertEquals(Integer.valueOf(2), chosen[0].threads);
    }

    @Test
    public void threadsZeroIsPassedOnAsTheRuntimeDefault() throws Exception {
        RuntimeChoice[] chosen = new RuntimeChoice[1];
        assertTrue(loadOnce(job("m.pte", "pte-int8", "executorch", 0), new RecordingRuntimes(), chosen)
                .endsWith(" 0"));
        assertTrue(loadOnce(job("m.ptl", "ptl", "pytorch_lite", 0), new RecordingRuntimes(), chosen).endsWith(" 0"));
        assertNull(chosen[0].threads); // PyTorch's default count is not known to the app
    }

    @Test
    public void theResultReportsThreadsRequestedAndInForce() {
        RecordingRuntimes runtimes = new RecordingRuntimes();
        Job job = job("m.ptl", "ptl", "pytorch_lite", 2);
        RuntimeChoice choice = RuntimeChoice.of(job, Paths.get("/tmp"), runtimes);
        Map<?, ?> runtime = (Map<?, ?>) new Runner(new RunnerTest.FakeClock(), "test", "0")
                .run(job, Arrays.asList(new float[2]), choice.loader, choice.version, choice.threads)
                .get("runtime");
        assertEquals(2, runtime.get("threads_requested"));
        assertEquals(2, runtime.get("threads"));
        assertEquals("1.13.1", runtime.get("version"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void anUnknownRuntimeIsRefused() {
        RuntimeChoice.of(Job.parse("{\"protocol_version\": 1, \"artifact\": \"m\", \"format\": \"pte\", \"runtime\": "
                + "\"onnx\", \"input_shape\": [1], \"inputs\": [\"a\"], \"warmup\": 0, \"iterations\": 1, "
                + "\"min_duration_s\": 0, \"threads\": 0, \"return_outputs\": false}"), Paths.get("/tmp"),
                new RecordingRuntimes());
    }
}
