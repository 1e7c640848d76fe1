package org.cmxbench.runner.core;

/** One loaded artifact: the Android glue wraps PyTorch Lite or ExecuTorch modules in this. */
public interface Model {
    /** Runs one inference on a float32 input of the job's shape and returns class probabilities. */
    float[] run(float[] input) throws Exception;

    /**
     * Writes the operator profile (ETDump) recorded since this model was loaded to {@code path}.
     *
     * @return null when it was written, otherwise one line that says why not
     */
    default String writeProfile(String path) {
        return "this runtime records no operator profile";
    }

    /** Frees the runtime's native module now, so that a second load does not share memory or state with it. */
    default void release() {
    }
}
