package io.skylark.compat;

import java.util.List;
import java.util.Map;

/**
 * A tiny JSON writer for single-line objects with a fixed key order.
 *
 * Output is pure ASCII: every char outside 0x20..0x7E is written as a {@code \\uXXXX}
 * escape (UTF-16 code units, so astral characters become surrogate pairs), which any JSON
 * parser (serde_json included) turns back into the original string. This keeps the bytes
 * on stdout independent of the JVM's locale and file.encoding.
 */
final class Json {
    private final StringBuilder sb = new StringBuilder(256);
    private boolean first = true;

    Json() {
        sb.append('{');
    }

    private Json key(String k) {
        if (!first) {
            sb.append(',');
        }
        first = false;
        str(sb, k);
        sb.append(':');
        return this;
    }

    Json put(String k, String v) {
        key(k);
        if (v == null) {
            sb.append("null");
        } else {
            str(sb, v);
        }
        return this;
    }

    Json put(String k, long v) {
        key(k);
        sb.append(v);
        return this;
    }

    Json putLongs(String k, List<Long> vs) {
        key(k);
        sb.append('[');
        for (int i = 0; i < vs.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(vs.get(i).longValue());
        }
        sb.append(']');
        return this;
    }

    /** The map is written in its own iteration order (callers pass a TreeMap). */
    Json putMap(String k, Map<String, String> m) {
        key(k);
        if (m == null) {
            sb.append("null");
            return this;
        }
        sb.append('{');
        boolean f = true;
        for (Map.Entry<String, String> e : m.entrySet()) {
            if (!f) {
                sb.append(',');
            }
            f = false;
            str(sb, e.getKey());
            sb.append(':');
            if (e.getValue() == null) {
                sb.append("null");
            } else {
                str(sb, e.getValue());
            }
        }
        sb.append('}');
        return this;
    }

    Json putRaw(String k, Json nested) {
        key(k);
        sb.append(nested.toString());
        return this;
    }

    @Override
    public String toString() {
        return sb.toString() + '}';
    }

    static void str(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                default:
                    if (c < 0x20 || c > 0x7E) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }
}
