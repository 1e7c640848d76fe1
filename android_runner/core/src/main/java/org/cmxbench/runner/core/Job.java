package org.cmxbench.runner.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A runner job (protocol version 1), read from job.json; see android_runner/PROTOCOL.md. */
public final class Job {
    public final String artifact;
    public final String format;
    public final String runtime;
    public final int[] inputShape;
    public final List<String> inputs;
    public final int warmup;
    public final int iterations;
    public final double minDurationS;
    public final int maxIterations;
    public final int threads;
    public final boolean returnOutputs;
    public final double settleS;
    public final double holdS;
    /** Profiled inferences after the timed ones (0: no operator profile), and the profile's plain file name. */
    public final int profileIterations;
    public final String profileFile;
    /** What the job times: "network", or "calibration" (the device's peak); null when the job does not say. */
    public final String role;

    /** The input shape as the runtimes' tensor factories take it. */
    public long[] inputShapeAsLongs() {
        long[] out = new long[inputShape.length];
        for (int i = 0; i < inputShape.length; i++) out[i] = inputShape[i];
        return out;
    }

    private Job(Map<String, Object> m) {
        int version = integer(m, "protocol_version");
        if (version != 1) throw new IllegalArgumentException("job protocol_version " + version + " is not 1");
        artifact = text(m, "artifact");
        format = text(m, "format");
        runtime = text(m, "runtime");
        List<?> shape = list(m, "input_shape");
        inputShape = new int[shape.size()];
        for (int i = 0; i < shape.size(); i++) inputShape[i] = ((Number) shape.get(i)).intValue();
        inputs = new ArrayList<>();
        for (Object item : list(m, "inputs")) inputs.add((String) item);
        if (inputs.isEmpty()) throw new IllegalArgumentException("job lists no inputs");
        warmup = integer(m, "warmup");
        iterations = integer(m, "iterations");
        minDurationS = ((Number) required(m, "min_duration_s")).doubleValue();
        maxIterations = m.containsKey("max_iterations") ? integer(m, "max_iterations") : 100_000;
        threads = integer(m, "threads");
        returnOutputs = (Boolean) required(m, "return_outputs");
        settleS = m.containsKey("settle_s") ? ((Number) m.get("settle_s")).doubleValue() : 0.0;
        holdS = m.containsKey("hold_s") ? ((Number) m.get("hold_s")).doubleValue() : 0.0;
        profileIterations = m.containsKey("profile_iterations") ? integer(m, "profile_iterations") : 0;
        profileFile = m.containsKey("profile_file") ? text(m, "profile_file") : null;
        role = m.containsKey("role") ? text(m, "role") : null;
        if (role != null && !role.equals("network") && !role.equals("calibration")) {
            throw new IllegalArgumentException("job role '" + role + "' is neither network nor calibration");
        }
        if (profileIterations < 0) throw new IllegalArgumentException("job has negative profile_iterations");
        if (iterations < 1 || warmup < 0 || minDurationS < 0 || maxIterations < 1) {
            throw new IllegalArgumentException("job has a negative or zero count");
        }
    }

    @SuppressWarnings("unchecked")
    public static Job parse(String json) {
        Object root = Json.parse(json);
        if (!(root instanceof Map)) throw new IllegalArgumentException("job.json is not a JSON object");
        return new Job((Map<String, Object>) root);
    }

    /** Number of float32 values in one input tensor. */
    public int inputElements() {
        int n = 1;
        for (int d : inputShape) n *= d;
        return n;
    }

    private static Object required(Map<String, Object> m, String key) {
        if (!m.containsKey(key)) throw new IllegalArgumentException("job lacks field '" + key + "'");
        return m.get(key);
    }

    private static String text(Map<String, Object> m, String key) {
        return (String) required(m, key);
    }

    private static int integer(Map<String, Object> m, String key) {
        return ((Number) required(m, key)).intValue();
    }

    private static List<?> list(Map<String, Object> m, String key) {
        return (List<?>) required(m, key);
    }
}
