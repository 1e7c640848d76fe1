package org.cmxbench.runner.core;

/** Time sources, replaceable in tests. */
public interface Clock {
    long nanoTime();

    double wallSeconds();

    Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public double wallSeconds() {
            return System.currentTimeMillis() / 1000.0;
        }
    };
}
