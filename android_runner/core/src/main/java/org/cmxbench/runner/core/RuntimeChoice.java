package org.cmxbench.runner.core;

import java.nio.file.Path;

/** What a job runs on: the loader for its runtime, and the runtime facts a result reports. */
public final class RuntimeChoice {
    public final Runner.Loader loader;
    public final String version;
    /** Threads in force as far as the runtime tells, else null. */
    public final Integer threads;

    private RuntimeChoice(Runner.Loader loader, String version, Integer threads) {
        this.loader = loader;
        this.version = version;
        this.threads = threads;
    }

    /** Picks the runtime by the job's runtime name; artifacts resolve against {@code base}, the job's folder. */
    public static RuntimeChoice of(Job job, Path base, Runtimes runtimes) {
        String path = base.resolve(job.artifact).toString();
        if ("executorch".equals(job.runtime)) {
            // executorch-android sizes its threadpool at load time and has no getter: what is in force is unknown.
            return new RuntimeChoice(j -> runtimes.loadExecuTorch(path, j.inputShapeAsLongs(), j.threads),
                    runtimes.executorchVersion(), null);
        }
        if ("pytorch_lite".equals(job.runtime)) {
            // PyTorchAndroid.setNumThreads has no getter either: the count set is known, the default (0) is not.
            return new RuntimeChoice(j -> runtimes.loadLite(path, j.inputShapeAsLongs(), j.threads),
                    runtimes.liteVersion(), job.threads > 0 ? job.threads : null);
        }
        throw new IllegalArgumentException("job runtime '" + job.runtime + "' is neither executorch nor pytorch_lite");
    }
}
