package org.cmxbench.runner.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads the job's raw little-endian float32 input files. */
public final class Inputs {
    private Inputs() {
    }

    public static List<float[]> read(Job job, Path base) throws IOException {
        List<float[]> tensors = new ArrayList<>();
        int expected = job.inputElements();
        for (String name : job.inputs) {
            byte[] bytes = Files.readAllBytes(base.resolve(name));
            if (bytes.length != expected * 4) {
                throw new IOException("input " + name + " holds " + bytes.length / 4 + " floats, expected " + expected);
            }
            float[] values = new float[expected];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            tensors.add(values);
        }
        return tensors;
    }
}
