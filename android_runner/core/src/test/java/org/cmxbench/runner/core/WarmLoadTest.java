package org.cmxbench.runner.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class WarmLoadTest {
    /**
     * Loads take loadMs[n] ms and a model's first inference firstMs[n] ms (n: the load's index), later inferences
     * 2 ms; every load, first run and release is logged, so that the order of events can be checked.
     */
    static Runner.Loader timedLoads(RunnerTest.FakeClock clock, long[] loadMs, long[] firstMs, List<String> log,
                                    int failingLoad) {
        int[] loads = {0};
        return j -> {
            int n = loads[0]++;
            clock.nanos += loadMs[Math.min(n, loadMs.length - 1)] * 1_000_000;
            if (n == failingLoad) throw new IllegalStateException("out of memory\nat native code");
            log.add("load " + n);
            int[] runs = {0};
            return new Model() {
                @Override
                public float[] run(float[] x) {
                    clock.nanos += (runs[0]++ == 0 ? firstMs[Math.min(n, firstMs.length - 1)] : 2) * 1_000_000;
                    return new float[] {1f, 0f, 0f};
                }

                @Override
                public void release() {
                    log.add("release " + n);
                }
            };
        };
    }

    @Test
    public void theWarmLoadIsTimedAfterTheEndMarkAndLeavesTheColdFiguresAlone() {
        RunnerTest.FakeClock clock = new RunnerTest.FakeClock();
        List<String> log = new ArrayList<>();
        Map<String, Object> result = new Runner(clock, "test", "0").run(RunnerTest.job(4, 0, false),
                Arrays.asList(new float[2]), timedLoads(clock, new long[] {30, 10}, new long[] {9, 3}, log, -1),
                "1.5.1", null);
        assertEquals("ok", result.get("status"));
        assertEquals(30.0, (Double) result.get("load_ms"), 1e-9);
        assertEquals(9.0, (Double) result.get("first_inference_ms"), 1e-9);
        assertEquals(10.0, (Double) result.get("warm_load_ms"), 1e-9);
        assertEquals(3.0, (Double) result.get("warm_first_inference_ms"), 1e-9);
        assertFalse(result.containsKey("warm_load_error"));
        assertEquals(Arrays.asList(2.0, 2.0, 2.0, 2.0), result.get("latencies_ms"));
        // The timed model is released before the second load; the warm one at the end.
        assertEquals(Arrays.asList("load 0", "release 0", "load 1", "release 1"), log);
        Map<?, ?> phases = (Map<?, ?>) result.get("phases");
        double end = (Double) phases.get("end");
        assertEquals(end, (Double) phases.get("warm_load_start"), 1e-9);
        assertEquals(0.010, (Double) phases.get("warm_load_end") - end, 1e-6);
        assertTrue((Double) phases.get("measure_end") <= end);
    }

    @Test
    public void aFailedWarmLoadIsReportedAndTheRunStaysOk() {
        RunnerTest.FakeClock clock = new RunnerTest.FakeClock();
        List<String> log = new ArrayList<>();
        Map<String, Object> result = new Runner(clock, "test", "0").run(RunnerTest.job(3, 0, true),
                Arrays.asList(new float[2], new float[2]),
                timedLoads(clock, new long[] {30, 10}, new long[] {9, 3}, log, 1),
                "1.5.1", null);
        assertEquals("ok", result.get("status"));
        assertNull(result.get("error"));
        assertEquals("out of memory", result.get("warm_load_error"));
        assertNull(result.get("warm_load_ms"));
        assertNull(result.get("warm_first_inference_ms"));
        assertEquals(30.0, (Double) result.get("load_ms"), 1e-9);
        assertEquals(3, ((List<?>) result.get("latencies_ms")).size());
        assertEquals(2, ((List<?>) result.get("outputs")).size());
        Map<?, ?> phases = (Map<?, ?>) result.get("phases");
        assertTrue((Double) phases.get("warm_load_end") >= (Double) phases.get("warm_load_start"));
    }

    @Test
    public void aFailedRunHasNoWarmLoad() {
        RunnerTest.FakeClock clock = new RunnerTest.FakeClock();
        List<String> log = new ArrayList<>();
        Map<String, Object> result = new Runner(clock, "test", "0").run(RunnerTest.job(3, 0, false),
                Arrays.asList(new float[2]), timedLoads(clock, new long[] {30}, new long[] {9}, log, 0), null, null);
        assertEquals("error", result.get("status"));
        assertTrue(log.isEmpty());
        assertNull(result.get("warm_load_ms"));
        assertFalse(((Map<?, ?>) result.get("phases")).containsKey("warm_load_start"));
    }

    @Test
    public void aFailureAfterTheJobWasReadKeepsItsThreadsRequested() {
        Job job = RuntimeChoiceTest.job("m.ptl", "ptl", "pytorch_lite", 4);
        Map<?, ?> runtime = (Map<?, ?>) new Runner(new RunnerTest.FakeClock(), "test", "0").failure(job, "no input")
                .get("runtime");
        assertEquals("pytorch_lite", runtime.get("name"));
        assertEquals(4, runtime.get("threads_requested"));
        assertNull(runtime.get("threads"));
    }
}
