package org.cmxbench.runner.core;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * Runs the Java core on the JVM, for tests: job.json in, result.json out, with a stand-in model (a softmax
 * over the input's mean per class) because artifact runtimes exist only in the Android app.
 */
public final class HostMain {
    private HostMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: HostMain JOB.json RESULT.json");
            System.exit(2);
        }
        Path jobPath = Paths.get(args[0]);
        Job job = Job.parse(new String(Files.readAllBytes(jobPath), StandardCharsets.UTF_8));
        List<float[]> inputs = Inputs.read(job, jobPath.toAbsolutePath().getParent());
        Runner.Loader standIn = j -> x -> {
            double sum = 0;
            for (float v : x) sum += v;
            double mean = sum / x.length;
            double[] logits = {mean, -mean, 0.0};
            double total = 0;
            for (double l : logits) total += Math.exp(l);
            return new float[] {(float) (Math.exp(logits[0]) / total), (float) (Math.exp(logits[1]) / total),
                (float) (Math.exp(logits[2]) / total)};
        };
        Map<String, Object> result = new Runner(Clock.SYSTEM, "cmx-bench-java-core", "0.1.0")
                .run(job, inputs, standIn, null, 1);
        Path target = Paths.get(args[1]);
        Path temporary = target.resolveSibling(target.getFileName() + ".tmp");
        Files.write(temporary, Json.write(result).getBytes(StandardCharsets.UTF_8));
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
