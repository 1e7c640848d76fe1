package org.cmxbench.runner.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class CalibrationJobTest {
    /** The peak calibration's job as cmx-bench writes it: a short timed run of the 1x1 convolution program. */
    static Job calibrationJob(String role) {
        return Job.parse("{\"protocol_version\": 1, \"artifact\": \"peak_conv1x1-fp32.pte\", \"format\": \"pte\", "
                + "\"runtime\": \"executorch\", \"input_shape\": [1, 512, 28, 28], \"inputs\": [\"peak.f32\"], "
                + "\"warmup\": 3, \"iterations\": 20, \"min_duration_s\": 0.1, \"threads\": 2, "
                + "\"return_outputs\": false" + (role == null ? "" : ", \"role\": \"" + role + "\"") + "}");
    }

    @Test
    public void aCalibrationJobsResultCarriesItsRoleAndItsTimings() {
        RunnerTest.FakeClock clock = new RunnerTest.FakeClock();
        int[] calls = {0};
        Map<String, Object> result = new Runner(clock, "test", "0").run(calibrationJob("calibration"),
                Arrays.asList(new float[2]), RunnerTest.twoMillisecondModel(clock, calls), "1.5.1", null);
        assertEquals("ok", result.get("status"));
        assertEquals("calibration", result.get("role"));
        List<?> latencies = (List<?>) result.get("latencies_ms");
        // 0.1 s at 2 ms an inference: the minimum duration, not the 20 iterations, ends the loop.
        assertEquals(50, latencies.size());
        for (Object latency : latencies) assertEquals(2.0, (Double) latency, 1e-9);
        assertEquals(2.0, (Double) result.get("first_inference_ms"), 1e-9);
        Map<?, ?> runtime = (Map<?, ?>) result.get("runtime");
        assertEquals(2, runtime.get("threads_requested"));
    }

    @Test
    public void aNetworkJobEchoesItsRoleAndAJobWithoutOneGetsNone() {
        RunnerTest.FakeClock clock = new RunnerTest.FakeClock();
        Runner runner = new Runner(clock, "test", "0");
        Map<String, Object> network = runner.run(calibrationJob("network"), Arrays.asList(new float[2]),
                RunnerTest.twoMillisecondModel(clock, new int[1]), "1.5.1", null);
        assertEquals("network", network.get("role"));
        Map<String, Object> unnamed = runner.run(calibrationJob(null), Arrays.asList(new float[2]),
                RunnerTest.twoMillisecondModel(clock, new int[1]), "1.5.1", null);
        assertFalse(unnamed.containsKey("role"));
    }

    @Test
    public void aCalibrationJobThatCannotStartStillSaysItsRole() {
        Map<String, Object> failed = new Runner(new RunnerTest.FakeClock(), "test", "0")
                .failure(calibrationJob("calibration"), "input peak.f32 holds 10 floats");
        assertEquals("error", failed.get("status"));
        assertEquals("calibration", failed.get("role"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void anUnknownRoleIsRefused() {
        calibrationJob("benchmark");
    }
}
