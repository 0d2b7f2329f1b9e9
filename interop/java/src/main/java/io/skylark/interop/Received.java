package io.skylark.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Every delivery to the consumers of one scenario, in the order the
 * listeners saw them, plus the orderly listener's overlap check.
 */
final class Received {
    private final List<Delivery> deliveries = new ArrayList<>();
    private final Set<MessageQueue> busy = ConcurrentHashMap.newKeySet();
    private final List<String> overlaps = new ArrayList<>();

    /** A listener that records for {@code consumer} and acknowledges every message. */
    MessageListenerConcurrently concurrently(String consumer) {
        return (messages, context) -> {
            record(consumer, context.getMessageQueue(), messages);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        };
    }

    /**
     * An orderly listener that records for {@code consumer}, and notes when
     * it is entered for a queue that another call is still consuming.
     */
    MessageListenerOrderly orderly(String consumer) {
        return (messages, context) -> {
            MessageQueue queue = context.getMessageQueue();
            if (!busy.add(queue)) {
                synchronized (this) {
                    overlaps.add(consumer + " entered " + queue + " while it was being consumed");
                }
            }
            try {
                record(consumer, queue, messages);
                // Widen the window in which a second consumer of the queue would show.
                Wait.sleep(1);
            } finally {
                busy.remove(queue);
            }
            return ConsumeOrderlyStatus.SUCCESS;
        };
    }

    /** Records what {@code consumer} got from {@code queue}. */
    synchronized void record(String consumer, MessageQueue queue, Collection<MessageExt> messages) {
        for (MessageExt message : messages) {
            deliveries.add(Delivery.of(consumer, queue, message));
        }
    }

    /** Every delivery so far, in order. */
    synchronized List<Delivery> all() {
        return new ArrayList<>(deliveries);
    }

    /** Concurrent entries into one queue's orderly listener. */
    synchronized List<String> overlaps() {
        return new ArrayList<>(overlaps);
    }

    /** The distinct first keys received so far. */
    synchronized Set<String> keys() {
        Set<String> keys = new HashSet<>();
        for (Delivery d : deliveries) {
            keys.add(d.key());
        }
        return keys;
    }

    /** Deliveries grouped by consumer. */
    synchronized Map<String, List<Delivery>> byConsumer() {
        Map<String, List<Delivery>> out = new HashMap<>();
        for (Delivery d : deliveries) {
            out.computeIfAbsent(d.consumer(), c -> new ArrayList<>()).add(d);
        }
        return out;
    }

    /** Waits (hang guard {@link Wait#DELIVERY}) until every key of {@code expected} has arrived. */
    boolean awaitKeys(Collection<String> expected) {
        return Wait.until(Wait.DELIVERY, () -> keys().containsAll(expected));
    }

    /**
     * Waits until every key has arrived and then {@code quiet} longer, so
     * that a duplicate or unexpected message has its chance to show.
     */
    boolean awaitKeysThenQuiet(Collection<String> expected, Duration quiet) {
        boolean all = awaitKeys(expected);
        Wait.sleep(quiet.toMillis());
        return all;
    }

    /** Keys in {@code expected} not received. */
    Set<String> missing(Collection<String> expected) {
        Set<String> missing = new HashSet<>(expected);
        missing.removeAll(keys());
        return missing;
    }

    /** Keys delivered more than once (over all consumers). */
    synchronized Set<String> duplicated() {
        Set<String> seen = new HashSet<>();
        Set<String> twice = new HashSet<>();
        for (Delivery d : deliveries) {
            if (!seen.add(d.key())) {
                twice.add(d.key());
            }
        }
        return twice;
    }

    /** Checks that each delivery's body is the one its key was sent with. */
    void checkBodies(Check check) {
        List<String> wrong = new ArrayList<>();
        for (Delivery d : all()) {
            if (!Messages.bodyMatches(d.key(), d.body())) {
                wrong.add(d.key() + " at " + d.queue() + "@" + d.queueOffset());
            }
        }
        check.that(wrong.isEmpty(), "every body arrived as sent", wrong);
    }
}
