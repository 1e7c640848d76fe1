package org.cmxbench.runner.core;

/** The artifact runtimes an app carries: the Android glue implements this with ExecuTorch and PyTorch Lite. */
public interface Runtimes {
    /** Loads a .pte program; threads 0 keeps ExecuTorch's default threadpool size. */
    Model loadExecuTorch(String path, long[] shape, int threads) throws Exception;

    /** Loads a .ptl module; threads 0 keeps PyTorch's default. */
    Model loadLite(String path, long[] shape, int threads) throws Exception;

    String executorchVersion();

    String liteVersion();
}
