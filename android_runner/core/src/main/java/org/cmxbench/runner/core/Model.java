package org.cmxbench.runner.core;

/** One loaded artifact: the Android glue wraps PyTorch Lite or ExecuTorch modules in this. */
public interface Model {
    /** Runs one inference on a float32 input of the job's shape and returns class probabilities. */
    float[] run(float[] input) throws Exception;
}
