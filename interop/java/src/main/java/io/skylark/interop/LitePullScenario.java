package io.skylark.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code lite-pull}: a lite pull consumer reads two queues, commits, then
 * rewinds one queue to an offset and to a timestamp
 * ({@code offsetForTimestamp}) and reads again exactly what it had read.
 */
final class LitePullScenario {
    /** Messages in the first and in the second batch on queue 0. */
    private static final int BATCH = 10;
    /** Messages on queue 1, which rewinding queue 0 must not touch. */
    private static final int OTHER = 5;
    /** Keeps the two batches' store timestamps apart, so that a timestamp names one message. */
    private static final long GAP_MS = 50;

    private LitePullScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("LitePull");
        List<MessageQueue> queues = Admin.createTopic(check, producer, topic, 2);
        MessageQueue q0 = queues.get(0);
        MessageQueue q1 = queues.get(1);

        MessageQueueSelector fixed = (mqs, message, target) -> (MessageQueue) target;
        int ok = 0;
        int i = 0;
        for (; i < BATCH; i++) {
            ok += sendOk(producer.send(Messages.make(topic, "first", i), fixed, q0).getSendStatus());
        }
        Wait.sleep(GAP_MS);
        // The second batch's first message stands alone in its millisecond.
        ok += sendOk(producer.send(Messages.make(topic, "second", i++), fixed, q0).getSendStatus());
        Wait.sleep(GAP_MS);
        for (; i < 2 * BATCH; i++) {
            ok += sendOk(producer.send(Messages.make(topic, "second", i), fixed, q0).getSendStatus());
        }
        for (int j = 0; j < OTHER; j++, i++) {
            ok += sendOk(producer.send(Messages.make(topic, "other", i), fixed, q1).getSendStatus());
        }
        check.equal(2 * BATCH + OTHER, ok, "sends to chosen queues answered SEND_OK");

        DefaultLitePullConsumer consumer = Clients.litePull(namesrv);
        // A fresh group: both queues are read from offset 0 (Clients.litePull).
        consumer.assign(queues);
        List<MessageExt> first = poll(consumer, 2 * BATCH + OTHER);
        List<MessageExt> firstQ0 = onQueue(first, q0);
        check.equal(range(0, 2 * BATCH), offsets(firstQ0), "queue 0 read in order from offset 0");
        check.equal(range(0, OTHER), offsets(onQueue(first, q1)), "queue 1 read in order from offset 0");
        check.require(firstQ0.size() == 2 * BATCH, "queue 0 complete", firstQ0.size());

        // Committing is a oneway call, repeated by the client's periodic persistence: poll the broker.
        consumer.commitSync();
        String group = consumer.getConsumerGroup();
        String brokerAddr = Admin.masters(producer).get(q0.getBrokerName());
        long[] committed = {-2};
        List<String> errors = new ArrayList<>();
        boolean caughtUp = Wait.until(Wait.SETTLE, () -> {
            try {
                committed[0] = Offsets.committed(producer, brokerAddr, group, q0);
            } catch (Exception e) {
                errors.add(Check.describe(e));
            }
            return committed[0] == 2 * BATCH;
        });
        check.that(caughtUp, "after commitSync the broker has queue 0's committed offset at " + 2 * BATCH,
                committed[0] + (errors.isEmpty() ? "" : "; last error: " + errors.get(errors.size() - 1)));

        // Rewind to an offset: the same messages again, and nothing from queue 1.
        Clients.seek(consumer, q0, 5);
        List<MessageExt> again = poll(consumer, 2 * BATCH - 5);
        check.equal(range(5, 2 * BATCH), offsets(onQueue(again, q0)), "after seek(queue 0, 5): offsets read again");
        check.equal(ids(firstQ0.subList(5, 2 * BATCH)), ids(onQueue(again, q0)),
                "after seek(queue 0, 5): the same messages as the first time");
        check.equal(List.of(), offsets(onQueue(again, q1)), "rewinding queue 0 left queue 1 alone");

        // Rewind to a timestamp: the second batch begins at its first message's store time.
        long secondStart = firstQ0.get(BATCH).getStoreTimestamp();
        check.that(firstQ0.get(BATCH - 1).getStoreTimestamp() < secondStart
                && secondStart < firstQ0.get(BATCH + 1).getStoreTimestamp(),
                "store timestamps tell the batches apart", storeTimes(firstQ0));
        check.equal((long) BATCH, consumer.offsetForTimestamp(q0, secondStart),
                "offsetForTimestamp(first store time of the second batch)");
        check.equal((long) BATCH, consumer.offsetForTimestamp(q0, secondStart - 1),
                "offsetForTimestamp(1 ms before the second batch)");
        Clients.seek(consumer, q0, consumer.offsetForTimestamp(q0, secondStart));
        List<MessageExt> second = poll(consumer, BATCH);
        check.equal(ids(firstQ0.subList(BATCH, 2 * BATCH)), ids(onQueue(second, q0)),
                "after seeking to the timestamp: the second batch again");

        // And back to the beginning.
        Clients.retrying("seekToBegin(" + q0.getQueueId() + ")", () -> consumer.seekToBegin(q0));
        List<MessageExt> all = poll(consumer, 2 * BATCH);
        check.equal(ids(firstQ0), ids(onQueue(all, q0)), "after seekToBegin: queue 0 from the start again");
        for (MessageExt m : all) {
            if (!Messages.bodyMatches(m.getKeys().split(" ")[0], new String(m.getBody(), StandardCharsets.UTF_8))) {
                check.fail("body of " + m.getKeys() + " differs");
            }
        }
    }

    private static int sendOk(SendStatus status) {
        return status == SendStatus.SEND_OK ? 1 : 0;
    }

    /** Polls until {@code count} messages came (or the hang guard passes). */
    private static List<MessageExt> poll(DefaultLitePullConsumer consumer, int count) {
        List<MessageExt> got = new ArrayList<>();
        Wait.until(Wait.DELIVERY, () -> {
            got.addAll(consumer.poll(500));
            return got.size() >= count;
        });
        // Anything more that is already on its way shows up too.
        got.addAll(consumer.poll(500));
        return got;
    }

    private static List<MessageExt> onQueue(List<MessageExt> messages, MessageQueue queue) {
        List<MessageExt> out = new ArrayList<>();
        for (MessageExt m : messages) {
            if (m.getQueueId() == queue.getQueueId() && m.getBrokerName().equals(queue.getBrokerName())) {
                out.add(m);
            }
        }
        return out;
    }

    private static List<Long> offsets(List<MessageExt> messages) {
        List<Long> out = new ArrayList<>();
        for (MessageExt m : messages) {
            out.add(m.getQueueOffset());
        }
        return out;
    }

    private static List<String> ids(List<MessageExt> messages) {
        List<String> out = new ArrayList<>();
        for (MessageExt m : messages) {
            out.add(m.getMsgId());
        }
        return out;
    }

    private static List<Long> storeTimes(List<MessageExt> messages) {
        List<Long> out = new ArrayList<>();
        for (MessageExt m : messages) {
            out.add(m.getStoreTimestamp());
        }
        return out;
    }

    private static List<Long> range(long from, long to) {
        List<Long> out = new ArrayList<>();
        for (long o = from; o < to; o++) {
            out.add(o);
        }
        return out;
    }
}
