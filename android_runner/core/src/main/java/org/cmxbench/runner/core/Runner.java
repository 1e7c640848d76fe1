package org.cmxbench.runner.core;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The timing loop of the runner protocol: load, first inference, warm-up, timed iterations, outputs, warm load. */
public final class Runner {
    /** Loads the artifact named by a job; the Android glue picks PyTorch Lite or ExecuTorch by the job's runtime. */
    public interface Loader {
        Model load(Job job) throws Exception;
    }

    private final Clock clock;
    private final String runnerName;
    private final String runnerVersion;

    public Runner(Clock clock, String runnerName, String runnerVersion) {
        this.clock = clock;
        this.runnerName = runnerName;
        this.runnerVersion = runnerVersion;
    }

    /** Runs the job without a folder for operator profiles (a profile asked for is reported unavailable). */
    public Map<String, Object> run(Job job, List<float[]> inputs, Loader loader, String runtimeVersion,
                                   Integer threads) {
        return run(job, inputs, loader, runtimeVersion, threads, null);
    }

    /**
     * Runs the job; every failure becomes status "error" with a one-line message, never an exception. After the
     * "end" mark the artifact is loaded a second time (the warm load); when the job asks for an operator profile,
     * it is recorded after that into {@code profileDir}. {@code threads} is the count in force, null when the
     * runtime does not tell.
     */
    public Map<String, Object> run(Job job, List<float[]> inputs, Loader loader, String runtimeVersion,
                                   Integer threads, File profileDir) {
        Map<String, Object> result = skeleton(job.runtime, runtimeVersion, threads, job.threads);
        echoRole(job, result);
        @SuppressWarnings("unchecked")
        Map<String, Object> phases = (Map<String, Object>) result.get("phases");
        @SuppressWarnings("unchecked")
        List<Object> latencies = (List<Object>) result.get("latencies_ms");
        phases.put("start", clock.wallSeconds());
        Model model = null;
        try {
            clock.pause(job.settleS);
            phases.put("load_start", clock.wallSeconds());
            long tic = clock.nanoTime();
            model = loader.load(job);
            result.put("load_ms", (clock.nanoTime() - tic) / 1e6);
            phases.put("load_end", clock.wallSeconds());
            tic = clock.nanoTime();
            model.run(inputs.get(0));
            result.put("first_inference_ms", (clock.nanoTime() - tic) / 1e6);
            for (int i = 0; i < job.warmup; i++) model.run(inputs.get(i % inputs.size()));
            double measureStart = clock.wallSeconds();
            phases.put("warmup_end", measureStart);
            phases.put("measure_start", measureStart);
            long started = clock.nanoTime();
            long minimum = (long) (job.minDurationS * 1e9);
            while (latencies.size() < job.maxIterations
                    && (latencies.size() < job.iterations || clock.nanoTime() - started < minimum)) {
                float[] x = inputs.get(latencies.size() % inputs.size());
                tic = clock.nanoTime();
                model.run(x);
                latencies.add((clock.nanoTime() - tic) / 1e6);
            }
            phases.put("measure_end", clock.wallSeconds());
            if (job.returnOutputs) {
                List<Object> outputs = new ArrayList<>();
                for (float[] x : inputs) {
                    List<Object> probabilities = new ArrayList<>();
                    for (float p : model.run(x)) probabilities.add((double) p);
                    outputs.add(probabilities);
                }
                result.put("outputs", outputs);
            }
            clock.pause(job.holdS);
        } catch (Exception exc) {
            result.put("status", "error");
            result.put("error", firstLine(exc));
        }
        phases.put("end", clock.wallSeconds());
        if (!"ok".equals(result.get("status"))) return result;
        // After "end", so that the timed, CPU, memory and energy figures never include the warm load or profiling.
        Model warm = warmLoad(job, inputs, loader, model, result, phases);
        if (job.profileIterations > 0) {
            result.put("profile", profile(job, inputs, loader, profileDir, warm));
            phases.put("profile_end", clock.wallSeconds());
        }
        if (warm != null) warm.release();
        return result;
    }

    /**
     * Releases the timed model, loads the artifact again in this process and times that load and its first
     * inference (files cached, runtime initialised: what an app sees when it reopens a model). The cold figures
     * stay as they are. A failure is reported in warm_load_error and leaves the run ok.
     *
     * @return the warm model, or null when the warm load failed
     */
    private Model warmLoad(Job job, List<float[]> inputs, Loader loader, Model cold, Map<String, Object> result,
                           Map<String, Object> phases) {
        Model warm = null;
        try {
            cold.release(); // one model at a time: the second load must not find the first one's memory in use
            phases.put("warm_load_start", clock.wallSeconds());
            long tic = clock.nanoTime();
            warm = loader.load(job);
            result.put("warm_load_ms", (clock.nanoTime() - tic) / 1e6);
            phases.put("warm_load_end", clock.wallSeconds());
            tic = clock.nanoTime();
            warm.run(inputs.get(0));
            result.put("warm_first_inference_ms", (clock.nanoTime() - tic) / 1e6);
            return warm;
        } catch (Exception exc) {
            phases.putIfAbsent("warm_load_start", clock.wallSeconds());
            phases.putIfAbsent("warm_load_end", clock.wallSeconds());
            result.put("warm_load_error", firstLine(exc));
            if (warm != null) warm.release();
            return null;
        }
    }

    private static String firstLine(Exception exc) {
        String message = exc.getMessage() == null ? exc.getClass().getSimpleName() : exc.getMessage();
        return message.split("\n", 2)[0];
    }

    /**
     * Records the operator profile from a fresh load. Each profiled inference follows one unprofiled inference of
     * the reference model (the warm-loaded one: the timed one is released by then), whose latency is reported as a
     * reference: both then see the same device state (clock, temperature), so operator time compares with
     * unprofiled time without the drift between the phases. Without a reference model (the warm load failed) no
     * reference latencies are reported.
     */
    private Map<String, Object> profile(Job job, List<float[]> inputs, Loader loader, File profileDir,
                                        Model referenceModel) {
        if (!"executorch".equals(job.runtime)) {
            return unavailable("PyTorch Lite's Android runtime has no per-operator profiler; only .pte programs are "
                    + "profiled");
        }
        if (profileDir == null || job.profileFile == null || !job.profileFile.matches("[A-Za-z0-9._-]{1,100}")) {
            return unavailable("the job names no plain profile file name, or this runner has no folder to write it in");
        }
        List<Object> reference = new ArrayList<>();
        List<Object> profiled = new ArrayList<>();
        try {
            Model model = loader.load(job); // a fresh load: its ETDump holds the profiled inferences only
            for (int i = 0; i < job.profileIterations; i++) {
                float[] x = inputs.get(i % inputs.size());
                long tic;
                if (referenceModel != null) {
                    tic = clock.nanoTime();
                    referenceModel.run(x);
                    reference.add((clock.nanoTime() - tic) / 1e6);
                }
                tic = clock.nanoTime();
                model.run(x);
                profiled.add((clock.nanoTime() - tic) / 1e6);
            }
            String whyNot = model.writeProfile(new File(profileDir, job.profileFile).getAbsolutePath());
            model.release();
            if (whyNot != null) return unavailable(whyNot);
        } catch (Exception exc) {
            return unavailable("ETDump could not be recorded: " + firstLine(exc));
        }
        Map<String, Object> written = new LinkedHashMap<>();
        written.put("status", "written");
        written.put("iterations", job.profileIterations);
        written.put("file", job.profileFile);
        written.put("location", "app_files");
        written.put("reason", null);
        if (referenceModel != null) written.put("reference_latencies_ms", reference);
        written.put("profiled_latencies_ms", profiled);
        return written;
    }

    private static Map<String, Object> unavailable(String reason) {
        Map<String, Object> profile = new LinkedHashMap<>();
        profile.put("status", "unavailable");
        profile.put("iterations", 0);
        profile.put("file", null);
        profile.put("reason", reason);
        return profile;
    }

    /** The result of a job read but not started (unreadable inputs, unknown runtime): status "error", no timings. */
    public Map<String, Object> failure(Job job, String message) {
        if (job == null) return failure((String) null, message);
        Map<String, Object> result = failure(job.runtime, job.threads, message);
        echoRole(job, result);
        return result;
    }

    /** The job's role, echoed so that a result read on its own says whether it timed a network or the peak. */
    private static void echoRole(Job job, Map<String, Object> result) {
        if (job.role != null) result.put("role", job.role);
    }

    /** The result of a job that could not even start (unreadable job or inputs): status "error", no timings. */
    public Map<String, Object> failure(String runtimeName, String message) {
        return failure(runtimeName, null, message);
    }

    private Map<String, Object> failure(String runtimeName, Integer threadsRequested, String message) {
        Map<String, Object> result = skeleton(runtimeName == null ? "unknown" : runtimeName, null, null,
                threadsRequested);
        result.put("status", "error");
        result.put("error", message == null ? "unknown error" : message.split("\n", 2)[0]);
        @SuppressWarnings("unchecked")
        Map<String, Object> phases = (Map<String, Object>) result.get("phases");
        phases.put("start", clock.wallSeconds());
        phases.put("end", clock.wallSeconds());
        return result;
    }

    /** A result's fields in protocol order; threadsRequested null (no job read) leaves threads_requested out. */
    private Map<String, Object> skeleton(String runtimeName, String runtimeVersion, Integer threads,
                                         Integer threadsRequested) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("protocol_version", 1);
        result.put("status", "ok");
        result.put("error", null);
        Map<String, Object> runner = new LinkedHashMap<>();
        runner.put("name", runnerName);
        runner.put("version", runnerVersion);
        result.put("runner", runner);
        Map<String, Object> runtime = new LinkedHashMap<>();
        runtime.put("name", runtimeName);
        runtime.put("version", runtimeVersion);
        if (threadsRequested != null) runtime.put("threads_requested", threadsRequested);
        runtime.put("threads", threads);
        result.put("runtime", runtime);
        result.put("phases", new LinkedHashMap<String, Object>());
        result.put("load_ms", null);
        result.put("first_inference_ms", null);
        // The warm load's figures (a second load in the same process after "end"), null until measured.
        result.put("warm_load_ms", null);
        result.put("warm_first_inference_ms", null);
        result.put("latencies_ms", new ArrayList<Object>());
        result.put("outputs", null);
        return result;
    }
}
