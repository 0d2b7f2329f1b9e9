package io.skylark.interop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * What {@code mqadmin} does for these scenarios, through the client's own
 * API object: cluster info, and topics created on every master
 * ({@code updateTopic -c}). Route and cluster types moved package between
 * 4.x and 5.x, so they are only ever named with {@code var}.
 */
final class Admin {
    /** RocketMQ's default permission of a topic: read and write. */
    private static final int PERM_READ_WRITE = 6;
    /** The topic new topics are created from ({@code TBW102}). */
    private static final String DEFAULT_TOPIC = "TBW102";

    private Admin() {}

    /** The API object that {@code producer}'s client instance talks through. */
    static MQClientAPIImpl api(DefaultMQProducer producer) {
        return producer.getDefaultMQProducerImpl().getMqClientFactory().getMQClientAPIImpl();
    }

    /** Broker name → master address, from the nameserver's cluster info. */
    static Map<String, String> masters(DefaultMQProducer producer) throws Exception {
        var info = api(producer).getBrokerClusterInfo(10_000);
        Map<String, String> masters = new TreeMap<>();
        for (var entry : info.getBrokerAddrTable().entrySet()) {
            String addr = entry.getValue().getBrokerAddrs().get(MixAll.MASTER_ID);
            if (addr != null) {
                masters.put(entry.getKey(), addr);
            }
        }
        return masters;
    }

    /** Waits until the nameserver knows {@code count} masters; returns them. */
    static Map<String, String> awaitMasters(Check check, DefaultMQProducer producer, int count) {
        List<Map<String, String>> seen = new ArrayList<>(List.of(Map.of()));
        List<String> errors = new ArrayList<>();
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            try {
                seen.set(0, masters(producer));
            } catch (Exception e) {
                errors.add(Check.describe(e));
            }
            return seen.get(0).size() == count;
        });
        check.require(ok, "the nameserver lists " + count + " master(s)",
                "cluster info: " + seen.get(0) + lastError(errors));
        return seen.get(0);
    }

    /** Creates {@code topic} with {@code queues} queues on every master and waits for its route. */
    static List<MessageQueue> createTopic(Check check, DefaultMQProducer producer, String topic, int queues) {
        Map<String, String> masters = awaitMasters(check, producer, 1);
        return createTopic(check, producer, topic, queues, masters.values());
    }

    /**
     * Creates {@code topic} with {@code queues} read and write queues on each
     * of {@code brokers}, then waits until its route shows all of them.
     */
    static List<MessageQueue> createTopic(Check check, DefaultMQProducer producer, String topic, int queues,
            Collection<String> brokers) {
        TopicConfig config = new TopicConfig(topic, queues, queues, PERM_READ_WRITE);
        for (String addr : brokers) {
            try {
                api(producer).createTopic(addr, DEFAULT_TOPIC, config, 10_000);
            } catch (Exception e) {
                throw check.abort("create topic " + topic + " on " + addr + " (UPDATE_AND_CREATE_TOPIC)", e);
            }
        }
        check.pass("created topic " + topic + " with " + queues + " queues on " + brokers);
        return awaitQueues(check, producer, topic, queues * brokers.size());
    }

    /** Waits until the route of {@code topic} has {@code expected} write queues; returns them, sorted. */
    static List<MessageQueue> awaitQueues(Check check, DefaultMQProducer producer, String topic, int expected) {
        long start = System.nanoTime();
        List<List<MessageQueue>> seen = new ArrayList<>(List.of(List.of()));
        List<String> errors = new ArrayList<>();
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            try {
                seen.set(0, new ArrayList<>(producer.fetchPublishMessageQueues(topic)));
            } catch (Exception e) {
                errors.add(Check.describe(e));
            }
            return seen.get(0).size() == expected;
        });
        check.require(ok, "route of " + topic + " has " + expected + " write queues",
                "last seen: " + seen.get(0) + lastError(errors));
        Log.step("route of " + topic + " complete after " + Wait.since(start));
        List<MessageQueue> sorted = new ArrayList<>(seen.get(0));
        sorted.sort(null);
        return sorted;
    }

    /** Whether something accepts TCP connections at {@code addr} ({@code host:port}). */
    static boolean accepting(String addr) {
        int colon = addr.lastIndexOf(':');
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(addr.substring(0, colon),
                    Integer.parseInt(addr.substring(colon + 1))), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String lastError(List<String> errors) {
        return errors.isEmpty() ? "" : "; last error: " + errors.get(errors.size() - 1);
    }
}
