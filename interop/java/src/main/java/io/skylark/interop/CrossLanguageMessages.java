package io.skylark.interop;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * The messages of the Rust/Java scenarios, defined identically on both
 * sides (cli/tests/interop_rust_java/messages.rs): message {@code i} from
 * {@code origin} ("rust" or "java") has
 * <ul>
 * <li>body {@code "<origin> message <i> ✓ "} followed by {@code pad} bytes
 * {@code 'x'}, where pad is 5000 for every tenth message (i % 10 == 9, over
 * the Java producer's 4 KiB compression threshold) and (i % 7) * 13 otherwise;</li>
 * <li>tag {@code TagA} for even i, {@code TagB} for odd;</li>
 * <li>keys {@code "<origin>-key-<i> <origin>-k2-<i>"};</li>
 * <li>user properties {@code seq=<i>}, {@code origin=<origin>},
 * {@code note="héllo wörld ✓ <i>"}.</li>
 * </ul>
 */
final class CrossLanguageMessages {
    private CrossLanguageMessages() {}

    static int pad(int i) {
        return i % 10 == 9 ? 5000 : (i % 7) * 13;
    }

    static byte[] body(String origin, int i) {
        return (origin + " message " + i + " ✓ " + "x".repeat(pad(i))).getBytes(StandardCharsets.UTF_8);
    }

    static String tag(int i) {
        return i % 2 == 0 ? "TagA" : "TagB";
    }

    static String keys(String origin, int i) {
        return origin + "-key-" + i + " " + origin + "-k2-" + i;
    }

    static Map<String, String> properties(String origin, int i) {
        Map<String, String> props = new TreeMap<>();
        props.put("seq", Integer.toString(i));
        props.put("origin", origin);
        props.put("note", "héllo wörld ✓ " + i);
        return props;
    }

    static Message make(String topic, String origin, int i) {
        Message message = new Message(topic, body(origin, i));
        message.setTags(tag(i));
        message.setKeys(keys(origin, i));
        properties(origin, i).forEach(message::putUserProperty);
        return message;
    }

    /**
     * What is wrong with {@code message} as message {@code i} from
     * {@code origin}, or null when it is exactly as defined.
     */
    static String mismatch(MessageExt message, String origin, int i) {
        StringBuilder wrong = new StringBuilder();
        if (!java.util.Arrays.equals(body(origin, i), message.getBody())) {
            wrong.append(" body '").append(brief(message.getBody())).append("'");
        }
        if (!tag(i).equals(message.getTags())) {
            wrong.append(" tag '").append(message.getTags()).append("'");
        }
        if (!keys(origin, i).equals(message.getKeys())) {
            wrong.append(" keys '").append(message.getKeys()).append("'");
        }
        properties(origin, i).forEach((key, value) -> {
            if (!value.equals(message.getUserProperty(key))) {
                wrong.append(" property ").append(key).append("='")
                        .append(message.getUserProperty(key)).append("'");
            }
        });
        return wrong.length() == 0 ? null : "message " + i + ":" + wrong;
    }

    private static String brief(byte[] body) {
        if (body == null) {
            return "null";
        }
        String text = new String(body, StandardCharsets.UTF_8);
        return text.length() > 60 ? text.substring(0, 60) + "…(" + body.length + " bytes)" : text;
    }
}
