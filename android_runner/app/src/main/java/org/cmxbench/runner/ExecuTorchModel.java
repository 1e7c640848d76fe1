package org.cmxbench.runner;

import org.cmxbench.runner.core.Model;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/** A .pte artifact behind the core's Model interface (ExecuTorch's Android library, XNNPACK inside). */
final class ExecuTorchModel implements Model {
    static final String NO_PROFILING = "operator profile unavailable on this runtime build: Module.etdump() returned "
            + "false (executorch-android is published without EXECUTORCH_ANDROID_PROFILING; see android_runner/README.md)";

    private final Module module;
    private final InputBuffer buffer;
    private final Tensor input;

    private ExecuTorchModel(Module module, long[] shape) {
        this.module = module;
        this.buffer = new InputBuffer(shape);
        this.input = Tensor.fromBlob(buffer.data, shape);
    }

    /** Loads the program with {@code threads} in ExecuTorch's threadpool (0 keeps the runtime default). */
    static Model load(String path, long[] inputShape, int threads) {
        // load(path, loadMode, numThreads) is @JvmStatic @JvmOverloads in Module.kt (executorch-android 1.4.1+).
        Module module = Module.load(path, Module.LOAD_MODE_FILE, threads);
        // Module.load is lazy; loading the method here keeps the load out of the first inference's time.
        // Since executorch-android 1.3, loadMethod throws (ExecutorchRuntimeException) instead of returning a code.
        try {
            module.loadMethod("forward");
        } catch (RuntimeException exc) {
            throw new IllegalStateException("ExecuTorch could not load forward() of " + path + ": " + exc.getMessage(),
                    exc);
        }
        return new ExecuTorchModel(module, inputShape);
    }

    @Override
    public float[] run(float[] values) {
        buffer.fill(values);
        return module.forward(EValue.from(input))[0].toTensor().getDataAsFloatArray();
    }

    @Override
    public void release() {
        module.destroy(); // frees the native program now, not when the garbage collector gets to it
    }

    @Override
    public String writeProfile(String path) {
        // etdump(path) (executorch-android 1.3+) writes where the app may write; false without a profiling build.
        return module.etdump(path) ? null : NO_PROFILING;
    }
}
