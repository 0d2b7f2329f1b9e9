package io.skylark.interop;

import java.time.LocalTime;

/** Progress lines on stdout, which the Rust driver reads as they come. */
final class Log {
    private static final long START = System.nanoTime();

    private Log() {}

    /** Prints {@code line} and flushes, so that the driver sees it at once. */
    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** Prints a progress note with the seconds since the JVM started. */
    static void step(String what) {
        out(String.format("[%6.1fs %s] %s", (System.nanoTime() - START) / 1e9, LocalTime.now(), what));
    }
}
