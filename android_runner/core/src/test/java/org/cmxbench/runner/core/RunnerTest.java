package org.cmxbench.runner.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class RunnerTest {
    /** A clock that moves 2 ms per inference and 0 otherwise: latencies and durations are exact. */
    static final class FakeClock implements Clock {
        long nanos;

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public double wallSeconds() {
            return 1_000_000 + nanos / 1e9;
        }

        @Override
        public void pause(double seconds) {
            nanos += (long) (seconds * 1e9);
        }
    }

    static Job job(int iterations, double minDuration, boolean outputs) {
        return Job.parse("{\"protocol_version\": 1, \"artifact\": \"m.pte\", \"format\": \"pte\", \"runtime\": "
                + "\"executorch\", \"input_shape\": [1, 2], \"inputs\": [\"a.f32\", \"b.f32\"], \"warmup\": 3, "
                + "\"iterations\": " + iterations + ", \"min_duration_s\": " + minDuration + ", \"threads\": 0, "
                + "\"return_outputs\": " + outputs + "}");
    }

    static Runner.Loader twoMillisecondModel(FakeClock clock, int[] calls) {
        return j -> x -> {
            clock.nanos += 2_000_000;
            calls[0]++;
            return new float[] {0.5f, 0.25f, 0.25f};
        };
    }

    @Test
    public void timesTheRequestedIterationsAfterWarmup() {
        FakeClock clock = new FakeClock();
        int[] calls = {0};
        List<float[]> inputs = Arrays.asList(new float[2], new float[2]);
        Map<String, Object> result = new Runner(clock, "test", "0").run(job(10, 0, true), inputs,
                twoMillisecondModel(clock, calls), "1.5.1", 2);
        assertEquals("ok", result.get("status"));
        List<?> latencies = (List<?>) result.get("latencies_ms");
        assertEquals(10, latencies.size());
        assertEquals(2.0, (Double) latencies.get(0), 1e-9);
        // First inference, warm-up, timed, one output per input, then the warm load's first inference.
        assertEquals(1 + 3 + 10 + 2 + 1, calls[0]);
        assertEquals(2, ((List<?>) result.get("outputs")).size());
        Map<?, ?> phases = (Map<?, ?>) result.get("phases");
        assertTrue((Double) phases.get("measure_end") - (Double) phases.get("measure_start") >= 0.0199);
    }

    @Test
    public void settleComesBeforeTheLoadAndHoldAfterTheOutputs() {
        FakeClock clock = new FakeClock();
        Job job = Job.parse("{\"protocol_version\": 1, \"artifact\": \"m.pte\", \"format\": \"pte\", "
                + "\"runtime\": \"executorch\", \"input_shape\": [1, 2], \"inputs\": [\"a.f32\"], \"warmup\": 0, "
                + "\"iterations\": 1, \"min_duration_s\": 0, \"threads\": 0, \"return_outputs\": false, "
                + "\"settle_s\": 1.5, \"hold_s\": 2.0}");
        Map<String, Object> result = new Runner(clock, "test", "0").run(job, Arrays.asList(new float[2]),
                twoMillisecondModel(clock, new int[1]), null, 1);
        Map<?, ?> phases = (Map<?, ?>) result.get("phases");
        assertEquals(1.5, (Double) phases.get("load_start") - (Double) phases.get("start"), 1e-6);
        assertEquals(2.0, (Double) phases.get("end") - (Double) phases.get("measure_end"), 1e-6);
    }

    @Test
    public void aJobThatCannotStartGivesAnErrorResultWithTheSameFields() {
        Map<String, Object> failed = new Runner(new FakeClock(), "test", "0").failure("executorch", "bad job\nmore");
        Map<String, Object> ok = new Runner(new FakeClock(), "test", "0").run(job(1, 0, false),
                Arrays.asList(new float[2]), twoMillisecondModel(new FakeClock(), new int[1]), null, 1);
        assertEquals(ok.keySet(), failed.keySet());
        assertEquals("error", failed.get("status"));
        assertEquals("bad job", failed.get("error"));
    }

    @Test
    public void theInputShapeIsGivenAsLongsForTheRuntimes() {
        assertTrue(Arrays.equals(new long[] {1, 2}, job(1, 0, false).inputShapeAsLongs()));
    }

    @Test
    public void minimumDurationExtendsTheLoop() {
        FakeClock clock = new FakeClock();
        Map<String, Object> result = new Runner(clock, "test", "0").run(job(1, 0.1, false),
                Arrays.asList(new float[2]), twoMillisecondModel(clock, new int[1]), null, 1);
        assertEquals(50, ((List<?>) result.get("latencies_ms")).size());
        assertNull(result.get("outputs"));
    }

    @Test
    public void aLoadFailureBecomesAnErrorResult() {
        Map<String, Object> result = new Runner(new FakeClock(), "test", "0").run(job(5, 0, false),
                Arrays.asList(new float[2]), j -> { throw new IllegalStateException("corrupt flatbuffer\nstack"); },
                null, 1);
        assertEquals("error", result.get("status"));
        assertEquals("corrupt flatbuffer", result.get("error"));
        assertTrue(((List<?>) result.get("latencies_ms")).isEmpty());
    }

    static Job profiledJob(String runtime) {
        return Job.parse("{\"protocol_version\": 1, \"artifact\": \"m.pte\", \"format\": \"pte\", \"runtime\": \""
                + runtime + "\", \"input_shape\": [1, 2], \"inputs\": [\"a.f32\"], \"warmup\": 0, \"iterations\": 2, "
                + "\"min_duration_s\": 0, \"threads\": 0, \"return_outputs\": false, \"profile_iterations\": 5, "
                + "\"profile_file\": \"profile-1.etdump\"}");
    }

    /** A model that counts its inferences and writes them as its "profile", or says why it cannot. */
    static Runner.Loader profilingModel(int[] loads, String whyNot) {
        return profilingModel(loads, whyNot, new ArrayList<>());
    }

    /** The same, keeping each loaded model's inference counter in {@code runsPerLoad}. */
    static Runner.Loader profilingModel(int[] loads, String whyNot, List<int[]> runsPerLoad) {
        return j -> {
            loads[0]++;
            int[] runs = {0};
            runsPerLoad.add(runs);
            return new Model() {
                @Override
                public float[] run(float[] x) {
                    runs[0]++;
                    return new float[] {1f, 0f, 0f};
                }

                @Override
                public String writeProfile(String path) {
                    if (whyNot != null) return whyNot;
                    try {
                        Files.write(new File(path).toPath(), ("runs " + runs[0]).getBytes("UTF-8"));
                    } catch (java.io.IOException exc) {
                        return exc.getMessage();
                    }
                    return null;
                }
            };
        };
    }

    @Test
    public void aProfileIsRecordedAfterTheEndMarkFromAFreshLoad() throws Exception {
        File folder = Files.createTempDirectory("profile").toFile();
        int[] loads = {0};
        List<int[]> runsPerLoad = new ArrayList<>();
        Map<String, Object> result = new Runner(new FakeClock(), "test", "0").run(profiledJob("executorch"),
                Arrays.asList(new float[2]), profilingModel(loads, null, runsPerLoad), "1.5.1", 0, folder);
        assertEquals("ok", result.get("status"));
        Map<?, ?> profile = (Map<?, ?>) result.get("profile");
        assertEquals("written", profile.get("status"));
        assertEquals(5, profile.get("iterations"));
        assertEquals("app_files", profile.get("location"));
        assertEquals(3, loads[0]); // the timed load, the warm load, the profiled load
        // The profiled model ran exactly the profiled inferences: the timed ones are not in its dump.
        assertEquals("runs 5", new String(Files.readAllBytes(new File(folder, "profile-1.etdump").toPath()), "UTF-8"));
        // One unprofiled inference of the warm-loaded model before each profiled one: its first + 5 reference.
        assertEquals(5, ((List<?>) profile.get("reference_latencies_ms")).size());
        assertEquals(5, ((List<?>) profile.get("profiled_latencies_ms")).size());
        assertEquals(1 + 2, runsPerLoad.get(0)[0]);
        assertEquals(1 + 5, runsPerLoad.get(1)[0]);
        assertEquals(5, runsPerLoad.get(2)[0]);
        Map<?, ?> phases = (Map<?, ?>) result.get("phases");
        assertTrue((Double) phases.get("profile_end") >= (Double) phases.get("warm_load_end"));
        assertTrue((Double) phases.get("warm_load_start") >= (Double) phases.get("end"));
    }

    @Test
    public void aRuntimeWithoutProfilingSaysWhyAndKeepsTheRun() throws Exception {
        File folder = Files.createTempDirectory("profile").toFile();
        Map<String, Object> result = new Runner(new FakeClock(), "test", "0").run(profiledJob("executorch"),
                Arrays.asList(new float[2]), profilingModel(new int[1], "built without profiling"), "1.5.1", 0, folder);
        assertEquals("ok", result.get("status"));
        assertEquals(2, ((List<?>) result.get("latencies_ms")).size());
        Map<?, ?> profile = (Map<?, ?>) result.get("profile");
        assertEquals("unavailable", profile.get("status"));
        assertEquals("built without profiling", profile.get("reason"));
        Map<?, ?> lite = (Map<?, ?>) new Runner(new FakeClock(), "test", "0").run(profiledJob("pytorch_lite"),
                Arrays.asList(new float[2]), profilingModel(new int[1], null), "1.13.1", 1, folder).get("profile");
        assertEquals("unavailable", lite.get("status"));
        assertTrue(((String) lite.get("reason")).contains("PyTorch Lite"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void aJobWithoutIterationsIsRefused() {
        Job.parse("{\"protocol_version\": 1, \"artifact\": \"m.pte\", \"format\": \"pte\", \"runtime\": \"executorch\","
                + " \"input_shape\": [1], \"inputs\": [\"a\"], \"warmup\": 0, \"min_duration_s\": 0, \"threads\": 0,"
                + " \"return_outputs\": false}");
    }
}
