package org.cmxbench.runner;

import android.app.Activity;
import android.os.Bundle;
import android.os.Process;
import android.util.Log;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cmxbench.runner.core.Clock;
import org.cmxbench.runner.core.Inputs;
import org.cmxbench.runner.core.Job;
import org.cmxbench.runner.core.Json;
import org.cmxbench.runner.core.Model;
import org.cmxbench.runner.core.Runner;
import org.cmxbench.runner.core.RuntimeChoice;
import org.cmxbench.runner.core.Runtimes;

/**
 * The thin Android glue: read the job named by the intent, run it with the plain-Java core, write
 * files/RESULT atomically (the host reads it with run-as), then end the process so that samplers see it go.
 */
public final class BenchActivity extends Activity {
    private static final String TAG = "cmx-runner";

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        String jobPath = getIntent().getStringExtra("job");
        String resultName = safeName(getIntent().getStringExtra("result"));
        // --ez describe true: report the runtimes this build carries (cmx-bench checks artifacts against them
        // before it pushes anything), without a job.
        boolean describe = getIntent().getBooleanExtra("describe", false);
        new Thread(() -> {
            writeResult(resultName, describe ? describeRuntimes() : runJob(jobPath));
            finishAndRemoveTask();
            Process.killProcess(Process.myPid());
        }, "cmx-runner").start();
    }

    private static Map<String, Object> describeRuntimes() {
        Map<String, Object> runtimes = new LinkedHashMap<>();
        runtimes.put("executorch", BuildConfig.EXECUTORCH_VERSION);
        runtimes.put("pytorch_lite", BuildConfig.PYTORCH_LITE_VERSION);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("runner", "cmx-bench-android");
        answer.put("runner_version", BuildConfig.VERSION_NAME);
        answer.put("runtimes", runtimes);
        return answer;
    }

    /** The runtimes this build carries; the core picks one per job (RuntimeChoice, tested on the JVM). Package
     *  visible: tests/runner/test_app_glue_compiles.py runs it against recording stand-ins of the runtimes. */
    static final Runtimes RUNTIMES = new Runtimes() {
        @Override
        public Model loadExecuTorch(String path, long[] shape, int threads) {
            return ExecuTorchModel.load(path, shape, threads);
        }

        @Override
        public Model loadLite(String path, long[] shape, int threads) {
            return LiteModel.load(path, shape, threads);
        }

        @Override
        public String executorchVersion() {
            return BuildConfig.EXECUTORCH_VERSION;
        }

        @Override
        public String liteVersion() {
            return BuildConfig.PYTORCH_LITE_VERSION;
        }
    };

    private static String safeName(String name) {
        // Only a plain file name inside the app's files folder: no separators, no way out of it.
        return name != null && name.matches("[A-Za-z0-9._-]{1,100}") ? name : "result.json";
    }

    private Map<String, Object> runJob(String jobPath) {
        Runner runner = new Runner(Clock.SYSTEM, "cmx-bench-android", BuildConfig.VERSION_NAME);
        Job job = null;
        try {
            File jobFile = new File(jobPath);
            job = Job.parse(new String(Files.readAllBytes(jobFile.toPath()), StandardCharsets.UTF_8));
            Path base = jobFile.getAbsoluteFile().getParentFile().toPath();
            List<float[]> inputs = Inputs.read(job, base);
            RuntimeChoice choice = RuntimeChoice.of(job, base, RUNTIMES);
            Log.i(TAG, "running " + jobPath);
            // An app may write only inside its own files folder: the ETDump goes there, beside the result.
            return runner.run(job, inputs, choice.loader, choice.version, choice.threads, getFilesDir());
        } catch (Exception | LinkageError exc) {
            Log.e(TAG, "job " + jobPath + " failed", exc);
            return runner.failure(job, String.valueOf(exc.getMessage()));
        }
    }

    private void writeResult(String name, Map<String, Object> result) {
        File target = new File(getFilesDir(), name);
        File temporary = new File(getFilesDir(), name + ".tmp");
        try {
            Files.write(temporary.toPath(), Json.write(result).getBytes(StandardCharsets.UTF_8));
            Files.move(temporary.toPath(), target.toPath(), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (Exception exc) {
            Log.e(TAG, "cannot write " + target, exc);
        }
    }
}
