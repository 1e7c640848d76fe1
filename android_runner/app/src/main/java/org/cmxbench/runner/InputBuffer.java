package org.cmxbench.runner;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A model's input, one direct buffer filled on every call (one call at a time, as the core's Runner makes them).
 * Both runtimes wrap a direct buffer without copying it (Tensor.fromBlob(FloatBuffer, shape)), and a .pte of the
 * cmx lowering reads its input in place, so an inference costs the one copy an app makes of its pixels;
 * Tensor.fromBlob(float[], shape) allocates and fills a new buffer per call instead (602 KB for a 224x224 image).
 */
final class InputBuffer {
    // XNNPACK may read up to XNN_EXTRA_BYTES (16, xnnpack.h) past the end of a tensor it is handed. A planned input
    // lies inside the runtime's arena, where such a read stays in memory the runtime owns; a buffer read in place
    // has to bring that room itself.
    private static final int XNNPACK_EXTRA_BYTES = 16;

    final FloatBuffer data;

    InputBuffer(long[] shape) {
        long values = 1;
        for (long size : shape) values *= size;
        int bytes = Math.toIntExact(values * Float.BYTES);
        ByteBuffer block = ByteBuffer.allocateDirect(bytes + XNNPACK_EXTRA_BYTES).order(ByteOrder.nativeOrder());
        block.limit(bytes); // the float view's capacity is the shape's, as Tensor.fromBlob checks
        data = block.asFloatBuffer();
    }

    /** Copies {@code values} in; IllegalArgumentException when they are not as many as the shape holds. */
    void fill(float[] values) {
        if (values.length != data.capacity()) {
            throw new IllegalArgumentException("an input of " + values.length + " values for a model that takes "
                    + data.capacity());
        }
        data.rewind();
        data.put(values);
        data.rewind();
    }
}
