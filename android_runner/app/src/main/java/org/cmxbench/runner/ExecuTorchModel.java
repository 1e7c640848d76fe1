package org.cmxbench.runner;

import org.cmxbench.runner.core.Model;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/** A .pte artifact behind the core's Model interface (ExecuTorch's Android library, XNNPACK inside). */
final class ExecuTorchModel implements Model {
    private final Module module;
    private final long[] shape;

    private ExecuTorchModel(Module module, long[] shape) {
        this.module = module;
        this.shape = shape;
    }

    static Model load(String path, long[] inputShape) {
        Module module = Module.load(path);
        // Module.load is lazy; loading the method here keeps the load out of the first inference's time.
        int status = module.loadMethod("forward");
        if (status != 0) throw new IllegalStateException("ExecuTorch could not load forward() of " + path
                + " (error 0x" + Integer.toHexString(status) + ")");
        return new ExecuTorchModel(module, inputShape);
    }

    @Override
    public float[] run(float[] input) {
        return module.forward(EValue.from(Tensor.fromBlob(input, shape)))[0].toTensor().getDataAsFloatArray();
    }
}
