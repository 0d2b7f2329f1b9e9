package io.skylark.interop;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.common.message.MessageQueue;

/** Which queues each push consumer of a group holds after rebalancing. */
final class Allocation {
    private Allocation() {}

    /** The queues {@code consumer} currently pulls. */
    static Set<MessageQueue> held(DefaultMQPushConsumer consumer) {
        return new TreeSet<>(consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet());
    }

    /** Consumer instance name → held queues, for messages. */
    static Map<String, Set<MessageQueue>> snapshot(List<DefaultMQPushConsumer> consumers) {
        Map<String, Set<MessageQueue>> out = new LinkedHashMap<>();
        for (DefaultMQPushConsumer consumer : consumers) {
            out.put(consumer.getInstanceName(), held(consumer));
        }
        return out;
    }

    /**
     * Whether {@code consumers} split exactly {@code queues} between them,
     * each holding some, none twice, sizes differing by at most one
     * (what averaged allocation gives).
     */
    static boolean partitions(List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        Set<MessageQueue> union = new HashSet<>();
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (DefaultMQPushConsumer consumer : consumers) {
            Set<MessageQueue> held = held(consumer);
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

    /** Waits until {@code consumers} partition {@code queues}; aborts the scenario if they never do. */
    static void awaitPartition(Check check, List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        long start = System.nanoTime();
        boolean ok = Wait.until(Wait.SETTLE, () -> partitions(consumers, queues));
        check.require(ok, consumers.size() + " consumers split the " + queues.size() + " queues between them",
                "held: " + snapshot(consumers));
        Log.step("allocation settled after " + Wait.since(start) + ": " + snapshot(consumers));
    }

    /** Waits until each of {@code consumers} holds all of {@code queues} (broadcasting). */
    static void awaitEach(Check check, List<DefaultMQPushConsumer> consumers, Set<MessageQueue> queues) {
        long start = System.nanoTime();
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            for (DefaultMQPushConsumer consumer : consumers) {
                if (!held(consumer).equals(queues)) {
                    return false;
                }
            }
            return true;
        });
        check.require(ok, "each of " + consumers.size() + " consumers holds all " + queues.size() + " queues",
                "held: " + snapshot(consumers));
        Log.step("every consumer holds every queue after " + Wait.since(start));
    }

    /** The queues of {@code consumers} as one list of sets, for the log. */
    static List<Set<MessageQueue>> list(List<DefaultMQPushConsumer> consumers) {
        List<Set<MessageQueue>> out = new ArrayList<>();
        for (DefaultMQPushConsumer consumer : consumers) {
            out.add(held(consumer));
        }
        return out;
    }
}
