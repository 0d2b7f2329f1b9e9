package io.skylark.interop;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Polling with a hang guard: waits end early when the condition holds. */
final class Wait {
    /** For a route or an allocation to settle (a broker registers every 30 s, a consumer rebalances every 20 s). */
    static final Duration SETTLE = Duration.ofSeconds(90);
    /** For messages to arrive. */
    static final Duration DELIVERY = Duration.ofSeconds(90);

    private Wait() {}

    /** Polls {@code condition} every 100 ms until it holds or {@code guard} passes; returns whether it held. */
    static boolean until(Duration guard, BooleanSupplier condition) {
        long deadline = System.nanoTime() + guard.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            sleep(100);
        }
    }

    /** Sleeps without throwing; an interrupt is kept for the caller. */
    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Seconds since {@code startNanos}, for progress lines. */
    static String since(long startNanos) {
        return String.format("%.1fs", (System.nanoTime() - startNanos) / 1e9);
    }
}
