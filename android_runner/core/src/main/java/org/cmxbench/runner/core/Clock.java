package org.cmxbench.runner.core;

/** Time sources, replaceable in tests. */
public interface Clock {
    long nanoTime();

    double wallSeconds();

    /** Idle for settle_s / hold_s, so that samplers outside the process read memory at known moments. */
    default void pause(double seconds) throws InterruptedException {
        if (seconds > 0) Thread.sleep((long) (seconds * 1000));
    }

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
