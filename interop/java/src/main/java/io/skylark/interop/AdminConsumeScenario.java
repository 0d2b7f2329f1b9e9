package io.skylark.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * {@code admin-consume}: mqadmin's consumer and message commands through
 * {@code DefaultMQAdminExt}: producerConnection, consumerConnection,
 * consumerProgress, queryMsgById, queryMsgByKey, queryMsgByOffset (the
 * admin's pull at an offset), queryCq, resetOffsetByTime with the group
 * online (the consumer reads again what was stored since that time) and
 * offline, and resetOffsetByTimeOld.
 */
final class AdminConsumeScenario {
    private static final int COUNT = 24;
    private static final int QUEUES = 4;

    private AdminConsumeScenario() {}

    /** Every delivery of each key, in arrival order. */
    private static final class Deliveries {
        final Map<String, List<MessageExt>> byKey = new ConcurrentHashMap<>();

        MessageListenerConcurrently listener() {
            return (messages, context) -> {
                for (MessageExt m : messages) {
                    byKey.computeIfAbsent(m.getKeys().split(" ")[0], k -> new CopyOnWriteArrayList<>()).add(m);
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            };
        }

        /** Waits until each of {@code keys} has arrived at least {@code times} times. */
        boolean await(Collection<String> keys, int times) {
            return Wait.until(Wait.DELIVERY, () -> missing(keys, times).isEmpty());
        }

        Set<String> missing(Collection<String> keys, int times) {
            Set<String> missing = new TreeSet<>();
            for (String key : keys) {
                if (byKey.getOrDefault(key, List.of()).size() < times) {
                    missing.add(key);
                }
            }
            return missing;
        }
    }

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQAdminExt admin = AdminTools.start(namesrv);
        try {
            AdminTools.Broker broker = AdminTools.broker(check, admin);
            // Producers register with brokers by heartbeat (every 30 s by default).
            DefaultMQProducer producer = Clients.newProducer(namesrv);
            producer.setHeartbeatBrokerInterval(1000);
            Clients.start(producer);
            String topic = Clients.name("AdminMsgs");
            List<MessageQueue> queues = Admin.createTopic(check, producer, topic, QUEUES);
            List<String> keys = new ArrayList<>();
            Map<String, SendResult> sent = new TreeMap<>();
            for (int i = 0; i < COUNT; i++) {
                String key = Messages.key(topic, i);
                keys.add(key);
                sent.put(key, producer.send(Messages.make(topic, "TagA", i), queues.get(i % QUEUES),
                        Clients.SEND_TIMEOUT_MS));
            }
            check.pass("sent " + COUNT + " messages over " + QUEUES + " queues");

            producerConnection(check, admin, producer, topic);
            queries(check, admin, namesrv, broker, topic, sent);

            String group = Clients.name("AdminCG");
            Deliveries deliveries = new Deliveries();
            DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(deliveries.listener());
            Clients.start(consumer);
            check.require(deliveries.await(keys, 1), "the group consumed all " + COUNT + " messages",
                    "missing " + Check.brief(deliveries.missing(keys, 1)));

            consumerConnection(check, admin, group, topic);
            check.that(awaitProgress(admin, group, topic, COUNT),
                    "consumerProgress: the group's offsets reach the end of every queue", progress(admin, group, topic));
            queryConsumeQueue(check, admin, broker, topic, group, sent);
            messageTrack(check, admin, topic, deliveries.byKey.get(keys.get(0)).get(0), group);

            resetOnline(check, admin, topic, group, keys, deliveries);

            consumer.shutdown();
            resetOffline(check, admin, namesrv, topic, group, keys);
        } finally {
            admin.shutdown();
        }
    }

    /** producerConnection: the producer's client is listed for its group. */
    private static void producerConnection(Check check, DefaultMQAdminExt admin, DefaultMQProducer producer,
            String topic) throws Exception {
        String clientId = producer.buildMQClientId();
        List<String> seen = new ArrayList<>();
        boolean listed = Wait.until(Wait.SETTLE, () -> {
            try {
                seen.clear();
                for (var c : admin.examineProducerConnectionInfo(producer.getProducerGroup(), topic)
                        .getConnectionSet()) {
                    seen.add(c.getClientId());
                }
            } catch (Exception e) {
                seen.add(Check.describe(e));
            }
            return seen.contains(clientId);
        });
        check.that(listed, "producerConnection lists " + clientId, seen);
    }

    /** queryMsgById, queryMsgByKey and queryMsgByOffset. */
    private static void queries(Check check, DefaultMQAdminExt admin, String namesrv, AdminTools.Broker broker,
            String topic, Map<String, SendResult> sent) throws Exception {
        String key = Messages.key(topic, 5);
        SendResult result = sent.get(key);
        MessageExt byId = admin.viewMessage(topic, result.getMsgId());
        check.that(byId != null && key.equals(byId.getKeys().split(" ")[0])
                && Messages.bodyMatches(key, new String(byId.getBody(), StandardCharsets.UTF_8)),
                "queryMsgById (unique id): " + key, byId);
        MessageExt byOffsetId = admin.viewMessage(topic, result.getOffsetMsgId());
        check.that(byOffsetId != null && key.equals(byOffsetId.getKeys().split(" ")[0]),
                "queryMsgById (offset id): " + key, byOffsetId);

        List<MessageExt> found = new ArrayList<>();
        boolean indexed = Wait.until(Wait.SETTLE, () -> {
            try {
                found.clear();
                found.addAll(admin.queryMessage(topic, key, 32, 0, Long.MAX_VALUE).getMessageList());
            } catch (Exception e) {
                // Not indexed yet.
            }
            return !found.isEmpty();
        });
        check.that(indexed && found.stream().allMatch(m -> key.equals(m.getKeys().split(" ")[0])),
                "queryMsgByKey " + key + ": exactly its message", found);

        // queryMsgByOffset: mqadmin pulls one message at the offset as TOOLS_CONSUMER.
        DefaultMQPullConsumer puller = new DefaultMQPullConsumer("TOOLS_CONSUMER");
        puller.setNamesrvAddr(namesrv);
        puller.setInstanceName(Clients.name("tools"));
        puller.start();
        try {
            MessageQueue queue = result.getMessageQueue();
            PullResult pulled = puller.pull(new MessageQueue(topic, broker.name, queue.getQueueId()), "*",
                    result.getQueueOffset(), 1);
            List<MessageExt> messages = pulled.getMsgFoundList();
            check.that(pulled.getPullStatus() == PullStatus.FOUND && messages != null && messages.size() == 1
                    && key.equals(messages.get(0).getKeys().split(" ")[0])
                    && messages.get(0).getQueueOffset() == result.getQueueOffset(),
                    "queryMsgByOffset: queue " + queue.getQueueId() + " offset " + result.getQueueOffset() + " is " + key,
                    pulled);
        } finally {
            puller.shutdown();
        }
    }

    /** consumerConnection: the push consumer with its subscription. */
    private static void consumerConnection(Check check, DefaultMQAdminExt admin, String group, String topic)
            throws Exception {
        var connection = admin.examineConsumerConnectionInfo(group);
        check.that(connection.getConnectionSet().size() == 1, "consumerConnection: one member of " + group,
                connection.getConnectionSet());
        check.equal("CONSUME_PASSIVELY", String.valueOf(connection.getConsumeType()), "consumerConnection: consume type");
        check.equal("CLUSTERING", String.valueOf(connection.getMessageModel()), "consumerConnection: message model");
        var subscription = connection.getSubscriptionTable().get(topic);
        check.that(subscription != null && "*".equals(subscription.getSubString()),
                "consumerConnection: subscribed to " + topic + " with *", connection.getSubscriptionTable());
    }

    /** Waits until the group's committed offsets on {@code topic} add up to {@code total} with nothing left. */
    private static boolean awaitProgress(DefaultMQAdminExt admin, String group, String topic, long total) {
        return Wait.until(Wait.SETTLE, () -> {
            try {
                var table = admin.examineConsumeStats(group).getOffsetTable();
                long consumed = 0;
                long behind = 0;
                for (var entry : table.entrySet()) {
                    if (entry.getKey().getTopic().equals(topic)) {
                        consumed += entry.getValue().getConsumerOffset();
                        behind += entry.getValue().getBrokerOffset() - entry.getValue().getConsumerOffset();
                    }
                }
                return consumed == total && behind == 0;
            } catch (Exception e) {
                return false;
            }
        });
    }

    private static String progress(DefaultMQAdminExt admin, String group, String topic) {
        try {
            return String.valueOf(admin.examineConsumeStats(group, topic).getOffsetTable());
        } catch (Exception e) {
            return Check.describe(e);
        }
    }

    /** queryCq: the entries of a queue point at the messages stored there. */
    private static void queryConsumeQueue(Check check, DefaultMQAdminExt admin, AdminTools.Broker broker,
            String topic, String group, Map<String, SendResult> sent) throws Exception {
        var body = admin.queryConsumeQueue(broker.addr, topic, 1, 0, 10, group);
        // Queue 1 holds messages 1, 5, 9, ...: 6 of them.
        check.that(body.getMaxQueueIndex() == COUNT / QUEUES && body.getMinQueueIndex() == 0,
                "queryCq: queue 1 spans offsets 0.." + COUNT / QUEUES, body.getMinQueueIndex() + ".." + body.getMaxQueueIndex());
        var data = body.getQueueData();
        boolean pointsAtMessages = data != null && data.size() == COUNT / QUEUES;
        for (int i = 0; pointsAtMessages && i < data.size(); i++) {
            SendResult result = sent.get(Messages.key(topic, 1 + QUEUES * i));
            MessageExt stored = admin.viewMessage(topic, result.getOffsetMsgId());
            pointsAtMessages = stored.getCommitLogOffset() == data.get(i).getPhysicOffset()
                    && stored.getStoreSize() == data.get(i).getPhysicSize()
                    && data.get(i).getTagsCode() == "TagA".hashCode();
        }
        check.that(pointsAtMessages, "queryCq: each entry has its message's commit-log offset, size and tag code",
                data);
        var subscription = body.getSubscriptionData();
        check.that(subscription != null && topic.equals(subscription.getTopic()) && "null".equals(body.getFilterData()),
                "queryCq with the group: its subscription, no filter data", subscription + " / " + body.getFilterData());
    }

    /** messageTrackDetail, which mqadmin's queryMsgById prints: the group consumed the message. */
    private static void messageTrack(Check check, DefaultMQAdminExt admin, String topic, MessageExt message,
            String group) throws Exception {
        var tracks = admin.messageTrackDetail(message);
        check.that(tracks.stream().anyMatch(t -> group.equals(t.getConsumerGroup())
                && "CONSUMED".equals(String.valueOf(t.getTrackType()))),
                "messageTrackDetail: " + group + " consumed it", tracks);
    }

    /**
     * resetOffsetByTime with the consumer online: the offsets move back to
     * the time of a message in the middle, and the consumer reads again
     * exactly what was stored since then.
     */
    private static void resetOnline(Check check, DefaultMQAdminExt admin, String topic, String group,
            List<String> keys, Deliveries deliveries) throws Exception {
        List<MessageExt> first = new ArrayList<>();
        for (String key : keys) {
            first.add(deliveries.byKey.get(key).get(0));
        }
        long timestamp = first.get(COUNT / 2).getStoreTimestamp();
        Map<Integer, Long> expected = new TreeMap<>();
        List<String> again = new ArrayList<>();
        for (MessageExt m : first) {
            if (m.getStoreTimestamp() >= timestamp) {
                again.add(m.getKeys().split(" ")[0]);
                expected.merge(m.getQueueId(), m.getQueueOffset(), Math::min);
            }
        }
        for (int q = 0; q < QUEUES; q++) {
            expected.putIfAbsent(q, (long) COUNT / QUEUES);
        }
        Map<MessageQueue, Long> table = admin.resetOffsetByTimestamp(topic, group, timestamp, true);
        Map<Integer, Long> got = new TreeMap<>();
        table.forEach((mq, offset) -> got.put(mq.getQueueId(), offset));
        check.equal(expected, got, "resetOffsetByTime (online): the offsets of the messages since the time");
        // The client drops its queues for 10 s, then rebalances (every 20 s).
        check.that(deliveries.await(again, 2), "resetOffsetByTime: the " + again.size()
                + " messages stored since the time are consumed again", "missing " + Check.brief(deliveries.missing(again, 2)));
        Set<String> older = new TreeSet<>(keys);
        older.removeAll(again);
        check.that(deliveries.missing(older, 2).size() == older.size(),
                "resetOffsetByTime: the older messages are not consumed again", older);
        check.that(awaitProgress(admin, group, topic, COUNT),
                "consumerProgress after the reset: at the end again", progress(admin, group, topic));
    }

    /** resetOffsetByTime and resetOffsetByTimeOld with the group offline. */
    private static void resetOffline(Check check, DefaultMQAdminExt admin, String namesrv, String topic, String group,
            List<String> keys) throws Exception {
        // The new path, offline: the broker rewrites the offsets itself (to the start: time 0).
        Map<MessageQueue, Long> table = admin.resetOffsetByTimestamp(topic, group, 0, true);
        Map<Integer, Long> got = new TreeMap<>();
        table.forEach((mq, offset) -> got.put(mq.getQueueId(), offset));
        Map<Integer, Long> zeros = new TreeMap<>();
        for (int q = 0; q < QUEUES; q++) {
            zeros.put(q, 0L);
        }
        check.equal(zeros, got, "resetOffsetByTime (offline): every queue back to 0");
        check.equal(zeros, consumerOffsets(admin, group, topic), "consumerProgress after the offline reset");

        // The old path: the tool reads consume stats and commits each queue's offset for the time (-1: the end).
        var rollbacks = admin.resetOffsetByTimestampOld(group, topic, -1, true);
        Map<Integer, Long> ends = new TreeMap<>();
        for (var r : rollbacks) {
            ends.put((int) r.getQueueId(), r.getRollbackOffset());
        }
        Map<Integer, Long> expectedEnds = new TreeMap<>();
        for (int q = 0; q < QUEUES; q++) {
            expectedEnds.put(q, (long) COUNT / QUEUES);
        }
        check.equal(expectedEnds, ends, "resetOffsetByTimeOld: every queue to its end");
        check.equal(expectedEnds, consumerOffsets(admin, group, topic), "consumerProgress after resetOffsetByTimeOld");

        // Back to the start with the old path; a new member of the group reads everything again.
        admin.resetOffsetByTimestampOld(group, topic, 0, true);
        Deliveries deliveries = new Deliveries();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(deliveries.listener());
        Clients.start(consumer);
        check.that(deliveries.await(keys, 1), "after resetOffsetByTimeOld to 0 a new consumer reads all " + COUNT,
                "missing " + Check.brief(deliveries.missing(keys, 1)));
    }

    /** Queue → the group's committed offset on {@code topic}, from consumerProgress. */
    private static Map<Integer, Long> consumerOffsets(DefaultMQAdminExt admin, String group, String topic)
            throws Exception {
        Map<Integer, Long> offsets = new HashMap<>();
        for (var entry : admin.examineConsumeStats(group, topic).getOffsetTable().entrySet()) {
            if (entry.getKey().getTopic().equals(topic)) {
                offsets.put(entry.getKey().getQueueId(), entry.getValue().getConsumerOffset());
            }
        }
        return new TreeMap<>(offsets);
    }
}
