package io.skylark.interop;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * One scenario's checks: each prints an {@code ok:} or {@code FAIL:} line on
 * stdout as it is made, and {@link #finish} prints the counts.
 */
final class Check {
    /** Stops a scenario whose remaining steps depend on one that failed. */
    static final class Abort extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Abort(String message) {
            super(message, null, false, false);
        }
    }

    private final String scenario;
    private int passed;
    private final List<String> failures = new ArrayList<>();

    Check(String scenario) {
        this.scenario = scenario;
    }

    /** Records a passed check. */
    synchronized void pass(String what) {
        passed++;
        Log.out("ok: " + what);
    }

    /** Records a failed check. */
    synchronized void fail(String what) {
        failures.add(what);
        Log.out("FAIL: " + what);
    }

    /** Passes or fails {@code what} by {@code condition}; returns it. */
    boolean that(boolean condition, String what) {
        if (condition) {
            pass(what);
        } else {
            fail(what);
        }
        return condition;
    }

    /** Like {@link #that}, with {@code detail} appended when it fails. */
    boolean that(boolean condition, String what, Object detail) {
        if (condition) {
            pass(what);
        } else {
            fail(what + " (" + detail + ")");
        }
        return condition;
    }

    /** Passes when {@code actual} equals {@code expected}. */
    boolean equal(Object expected, Object actual, String what) {
        if (Objects.equals(expected, actual)) {
            pass(what + ": " + brief(actual));
            return true;
        }
        fail(what + ": expected " + brief(expected) + ", got " + brief(actual));
        return false;
    }

    /** Like {@link #that}, and aborts the scenario when it fails. */
    void require(boolean condition, String what, Object detail) {
        if (!that(condition, what, detail)) {
            throw new Abort(what);
        }
    }

    /** Fails with {@code error} and aborts the scenario. */
    Abort abort(String what, Throwable error) {
        fail(what + ": " + describe(error));
        return new Abort(what);
    }

    /** Prints the summary line; returns how many checks failed. */
    synchronized int finish(String client) {
        Log.out(String.format("scenario %s with client %s: %d passed, %d failed",
                scenario, client, passed, failures.size()));
        return failures.size();
    }

    /** An exception and its causes on one line. */
    static String describe(Throwable error) {
        StringBuilder out = new StringBuilder();
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (out.length() > 0) {
                out.append(" <- ");
            }
            out.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
            if (t.getCause() == t) {
                break;
            }
        }
        return out.toString();
    }

    /** A value for a message: collections sorted and cut after 20 items. */
    static String brief(Object value) {
        if (value instanceof Collection<?> items) {
            List<String> sorted = new ArrayList<>();
            for (Object item : items) {
                sorted.add(String.valueOf(item));
            }
            if (!(value instanceof List<?>)) {
                sorted = new ArrayList<>(new TreeSet<>(sorted));
            }
            if (sorted.size() > 20) {
                return sorted.subList(0, 20) + "... (" + sorted.size() + " in all)";
            }
            return sorted.toString();
        }
        return String.valueOf(value);
    }
}
