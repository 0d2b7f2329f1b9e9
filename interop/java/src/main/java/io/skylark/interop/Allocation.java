package io.skylark.interop;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Which queues of a topic each push consumer of a group holds after
 * rebalancing (a 4.x consumer also holds its group's %RETRY% queue, which
 * is left out).
 */
final class Allocation {
    private Allocation() {}

    /** The queues of {@code topic} that {@code consumer} currently pulls. */
    static Set<MessageQueue> held(DefaultMQPushConsumer consumer, String topic) {
        Set<MessageQueue> held = new TreeSet<>();
        for (MessageQueue queue : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl()
                .getProcessQueueTable().keySet()) {
            if (queue.getTopic().equals(topic)) {
                held.add(queue);
            }
        }
        return held;
    }

    /** Consumer instance name → held queues of {@code topic}. */
    static Map<String, Set<MessageQueue>> snapshot(List<DefaultMQPushConsumer> consumers, String topic) {
        Map<String, Set<MessageQueue>> out = new LinkedHashMap<>();
        for (DefaultMQPushConsumer consumer : consumers) {
            out.put(consumer.getInstanceName(), held(consumer, topic));
        }
        return out;
    }

    /**
     * Whether {@code consumers} split exactly {@code queues} between them,
     * each holding some, none twice, sizes differing by at most one
     * (what averaged allocation gives).
     */
    static boolean partitions(List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        String topic = topicOf(queues);
        Set<MessageQueue> union = new HashSet<>();
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (DefaultMQPushConsumer consumer : consumers) {
            Set<MessageQueue> held = held(consumer, topic);
            for (MessageQueue queue : held) {
                if (!union.add(queue)) {
                    return false;
                }
            }
            min = Math.min(min, held.size());
            max = Math.max(max, held.size());
        }
        return union.equals(queues) && min > 0 && max - min <= 1;
    }

    /** Waits until {@code consumers} partition {@code queues} (one topic's); aborts the scenario if they never do. */
    static void awaitPartition(Check check, List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        long start = System.nanoTime();
        boolean ok = Wait.until(Wait.SETTLE, () -> partitions(consumers, queues));
        String topic = topicOf(queues);
        check.require(ok, consumers.size() + " consumer(s) split the " + queues.size() + " queues between them",
                "held: " + snapshot(consumers, topic));
        Log.step("allocation settled after " + Wait.since(start) + ": " + snapshot(consumers, topic));
    }

    /** Waits until each of {@code consumers} holds all of {@code queues} (broadcasting). */
    static void awaitEach(Check check, List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        long start = System.nanoTime();
        String topic = topicOf(queues);
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            for (DefaultMQPushConsumer consumer : consumers) {
                if (!held(consumer, topic).equals(queues)) {
                    return false;
                }
            }
            return true;
        });
        check.require(ok, "each of " + consumers.size() + " consumers holds all " + queues.size() + " queues",
                "held: " + snapshot(consumers, topic));
        Log.step("every consumer holds every queue after " + Wait.since(start));
    }

    private static String topicOf(Set<MessageQueue> queues) {
        return queues.iterator().next().getTopic();
    }
}
