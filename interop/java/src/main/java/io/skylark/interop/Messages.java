package io.skylark.interop;

import java.nio.charset.StandardCharsets;

import org.apache.rocketmq.common.message.Message;

/**
 * The messages the scenarios send: a unique first key, a body derived from
 * it (so that a consumer can tell a mangled body), and a user property.
 */
final class Messages {
    /** User property carrying the message's number within its scenario. */
    static final String SEQ = "interopSeq";

    private Messages() {}

    /** The key of message {@code i} of {@code topic}. */
    static String key(String topic, int i) {
        return topic + "-" + i;
    }

    /** The body of a message with first key {@code key}, padded with {@code pad} bytes. */
    static String body(String key, int pad) {
        return "body of " + key + " " + pad + ":" + "x".repeat(pad);
    }

    /** Whether {@code body} is one that {@link #body} made for {@code key}. */
    static boolean bodyMatches(String key, String body) {
        String prefix = "body of " + key + " ";
        if (key == null || body == null || !body.startsWith(prefix)) {
            return false;
        }
        int colon = body.indexOf(':', prefix.length());
        try {
            int pad = Integer.parseInt(body.substring(prefix.length(), colon));
            return body.equals(body(key, pad));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Message {@code i} of {@code topic} with {@code tags} (none when null). */
    static Message make(String topic, String tags, int i) {
        return make(topic, tags, key(topic, i), i, i % 7 * 10);
    }

    /**
     * A message with first key {@code key} and second key {@code k<i>}, a
     * body padded with {@code pad} bytes, and {@link #SEQ} = {@code i}.
     */
    static Message make(String topic, String tags, String key, int i, int pad) {
        Message message = new Message(topic, body(key, pad).getBytes(StandardCharsets.UTF_8));
        if (tags != null) {
            message.setTags(tags);
        }
        message.setKeys(key + " k" + i);
        message.putUserProperty(SEQ, Integer.toString(i));
        return message;
    }
}
