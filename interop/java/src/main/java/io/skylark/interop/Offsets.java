package io.skylark.interop;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.TreeMap;

import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * A group's committed offsets as the broker has them, read without joining
 * the group (a consumer of the group would change its allocation, and a
 * consumer's own offset store answers from memory).
 */
final class Offsets {
    private Offsets() {}

    /**
     * The broker's committed offset of {@code group} on {@code queue}
     * (QUERY_CONSUMER_OFFSET); -1 when it has none.
     */
    @SuppressWarnings("deprecation")
    static long committed(DefaultMQProducer producer, String brokerAddr, String group, MessageQueue queue)
            throws Exception {
        MQClientAPIImpl api = Admin.api(producer);
        // The request header moved package in 5.x; the method that takes it names it for us.
        Method query = null;
        for (Method m : MQClientAPIImpl.class.getMethods()) {
            if (m.getName().equals("queryConsumerOffset") && m.getParameterCount() == 3) {
                query = m;
            }
        }
        if (query == null) {
            throw new IllegalStateException("MQClientAPIImpl.queryConsumerOffset not found");
        }
        Class<?> headerType = query.getParameterTypes()[1];
        Object header = headerType.getConstructor().newInstance();
        headerType.getMethod("setConsumerGroup", String.class).invoke(header, group);
        headerType.getMethod("setTopic", String.class).invoke(header, queue.getTopic());
        headerType.getMethod("setQueueId", Integer.class).invoke(header, queue.getQueueId());
        try {
            return (Long) query.invoke(api, brokerAddr, header, 10_000L);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof org.apache.rocketmq.client.exception.MQBrokerException broker
                    && broker.getResponseCode() == 22) { // QUERY_NOT_FOUND
                return -1;
            }
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /** Queue → (committed offset of {@code group}, max offset), for every queue of {@code queues}. */
    @SuppressWarnings("deprecation") // maxOffset: the MQAdmin call applications use
    static Map<MessageQueue, long[]> progress(DefaultMQProducer producer, Map<String, String> masters,
            String group, Iterable<MessageQueue> queues) throws Exception {
        Map<MessageQueue, long[]> out = new TreeMap<>();
        for (MessageQueue queue : queues) {
            long committed = committed(producer, masters.get(queue.getBrokerName()), group, queue);
            out.put(queue, new long[] {committed, producer.maxOffset(queue)});
        }
        return out;
    }

    /** Whether every queue's committed offset has reached its max offset. */
    static boolean caughtUp(Map<MessageQueue, long[]> progress) {
        for (long[] p : progress.values()) {
            if (p[0] != p[1]) {
                return false;
            }
        }
        return true;
    }

    /** {@code queueId: committed/max, ...} for messages. */
    static String describe(Map<MessageQueue, long[]> progress) {
        StringBuilder out = new StringBuilder();
        progress.forEach((q, p) -> out.append(out.length() == 0 ? "" : ", ")
                .append(q.getBrokerName()).append('/').append(q.getQueueId()).append(": ")
                .append(p[0]).append('/').append(p[1]));
        return out.toString();
    }
}
