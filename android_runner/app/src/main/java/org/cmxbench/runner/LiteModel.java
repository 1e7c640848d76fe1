package org.cmxbench.runner;

import org.cmxbench.runner.core.Model;
import org.pytorch.IValue;
import org.pytorch.LiteModuleLoader;
import org.pytorch.Module;
import org.pytorch.PyTorchAndroid;
import org.pytorch.Tensor;

/** A .ptl artifact behind the core's Model interface (PyTorch Android Lite, the runtime the paper used). */
final class LiteModel implements Model {
    private final Module module;
    private final InputBuffer buffer;
    private final Tensor input;

    private LiteModel(Module module, long[] shape) {
        this.module = module;
        this.buffer = new InputBuffer(shape);
        this.input = Tensor.fromBlob(buffer.data, shape);
    }

    static Model load(String path, long[] inputShape, int threads) {
        if (threads > 0) PyTorchAndroid.setNumThreads(threads);
        return new LiteModel(LiteModuleLoader.load(path), inputShape);
    }

    @Override
    public float[] run(float[] values) {
        buffer.fill(values);
        return module.forward(IValue.from(input)).toTensor().getDataAsFloatArray();
    }

    @Override
    public void release() {
        module.destroy(); // frees the native torch::jit::mobile::Module now, not when the garbage collector runs
    }
}
