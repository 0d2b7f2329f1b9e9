package io.skylark.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Retries and delay levels, against the broker's default
 * {@code messageDelayLevel} ({@code 1s 5s 10s 30s 1m …}):
 * <ul>
 * <li>{@code retry-dlq}: a push consumer ({@code setMaxReconsumeTimes(2)})
 * that answers RECONSUME_LATER gets the message again after about 10 s
 * (level 3) and 30 s (level 4), with reconsume times 0, 1, 2; the third
 * failure sends it to {@code %DLQ%group}, where a lite pull consumer finds
 * it.</li>
 * <li>{@code delay-level}: a message sent with {@code setDelayTimeLevel(2)}
 * reaches a push consumer no earlier than 5 s after it was sent.</li>
 * </ul>
 * These are about time, so they check it: arrivals must not come before
 * their delay (less {@link #SLACK_MS} for the broker's wall clock against
 * this JVM's monotonic one); how late they may come is only bounded by the
 * hang guards.
 */
final class RetryDelayScenarios {
    /** Clock slack allowed against the lower bounds. */
    private static final long SLACK_MS = 500;
    /** Delay of level 3 (the first retry) and level 4 (the second), ms. */
    private static final long FIRST_RETRY_MS = 10_000;
    private static final long SECOND_RETRY_MS = 30_000;
    /** Delay of level 2, ms. */
    private static final long LEVEL_TWO_MS = 5_000;
    /** Retries the consumer allows before the DLQ. */
    private static final int MAX_RECONSUME_TIMES = 2;

    private RetryDelayScenarios() {}

    /** One delivery to the retrying listener. */
    private record Attempt(long atNanos, int reconsumeTimes, String msgId, String topic, String key, String body) {}

    static void retryDlq(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Retry");
        Admin.createTopic(check, producer, topic, 1);

        String group = Clients.name("GR");
        String retryTopic = "%RETRY%" + group;
        List<Attempt> attempts = new ArrayList<>();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.setMaxReconsumeTimes(MAX_RECONSUME_TIMES);
        // The retry topic appears when the group first heartbeats: look it up soon after.
        consumer.setPollNameServerInterval(1000);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            long now = System.nanoTime();
            synchronized (attempts) {
                for (MessageExt m : messages) {
                    attempts.add(new Attempt(now, m.getReconsumeTimes(), m.getMsgId(), m.getTopic(),
                            m.getKeys().split(" ")[0], new String(m.getBody(), StandardCharsets.UTF_8)));
                }
            }
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        Clients.start(consumer);
        long settling = System.nanoTime();
        check.require(Wait.until(Wait.SETTLE, () -> !Allocation.held(consumer, topic).isEmpty()
                && !Allocation.held(consumer, retryTopic).isEmpty()),
                "the consumer holds the topic's queue and its group's retry queue",
                "held: " + Allocation.held(consumer, topic) + " " + Allocation.held(consumer, retryTopic));
        Log.step("consumer settled after " + Wait.since(settling));

        Message message = Messages.make(topic, "TagA", 0);
        String key = Messages.key(topic, 0);
        SendResult sent = producer.send(message);
        check.require(sent.getSendStatus() == SendStatus.SEND_OK, "the message was sent", sent);

        int expected = MAX_RECONSUME_TIMES + 1;
        boolean all = Wait.until(java.time.Duration.ofSeconds(150), () -> snapshot(attempts).size() >= expected);
        List<Attempt> got = snapshot(attempts);
        check.that(all, "delivered " + expected + " times (first try and " + MAX_RECONSUME_TIMES + " retries)",
                got.size());
        check.require(got.size() >= expected, "enough deliveries to go on", got.size());

        List<Integer> times = new ArrayList<>();
        for (Attempt a : got) {
            times.add(a.reconsumeTimes());
        }
        check.equal(List.of(0, 1, 2), times.subList(0, expected), "reconsume times of the deliveries, in order");
        for (Attempt a : got) {
            if (!a.topic().equals(topic) || !a.key().equals(key) || !Messages.bodyMatches(key, a.body())
                    || !a.msgId().equals(sent.getMsgId())) {
                check.fail("a retry is not the message sent: " + a);
            }
        }
        check.pass("every retry is the message sent (topic, key, body, msgId " + sent.getMsgId() + ")");
        long firstGap = millis(got.get(1).atNanos() - got.get(0).atNanos());
        long secondGap = millis(got.get(2).atNanos() - got.get(1).atNanos());
        check.that(firstGap + SLACK_MS >= FIRST_RETRY_MS, "the first retry came after level 3's 10 s",
                firstGap + " ms");
        check.that(secondGap + SLACK_MS >= SECOND_RETRY_MS, "the second retry came after level 4's 30 s",
                secondGap + " ms");
        Log.step("retries came after " + firstGap + " ms and " + secondGap + " ms");

        // The third failure went to the group's dead-letter topic.
        String dlqTopic = "%DLQ%" + group;
        DefaultLitePullConsumer reader = Clients.litePull(namesrv);
        List<Collection<MessageQueue>> dlqQueues = new ArrayList<>(List.of(List.of()));
        List<String> errors = new ArrayList<>();
        boolean routed = Wait.until(Wait.SETTLE, () -> {
            try {
                dlqQueues.set(0, reader.fetchMessageQueues(dlqTopic));
            } catch (Exception e) {
                errors.add(Check.describe(e));
            }
            return !dlqQueues.get(0).isEmpty();
        });
        check.require(routed, "the nameserver routes " + dlqTopic,
                errors.isEmpty() ? "no route" : errors.get(errors.size() - 1));
        check.equal(1, dlqQueues.get(0).size(), "queues of " + dlqTopic);
        // A fresh group: the DLQ is read from offset 0 (Clients.litePull).
        reader.assign(dlqQueues.get(0));
        List<MessageExt> dead = new ArrayList<>();
        Wait.until(Wait.DELIVERY, () -> {
            dead.addAll(reader.poll(500));
            return !dead.isEmpty();
        });
        dead.addAll(reader.poll(500));
        // Delivery is at least once: when the client's CONSUMER_SEND_MSG_BACK
        // times out (seen on a starved machine), it re-sends the message to
        // %RETRY% itself, and the broker dead-letters that copy too. So the
        // DLQ holds the message, possibly more than once, and nothing else.
        check.require(!dead.isEmpty(), "the message is in " + dlqTopic, dead.size());
        if (dead.size() > 1) {
            Log.step(dead.size() + " copies in " + dlqTopic + " (the client's send-back fallback)");
        }
        for (MessageExt d : dead) {
            check.equal(key, d.getKeys().split(" ")[0], "the dead letter's key");
            check.that(Messages.bodyMatches(key, new String(d.getBody(), StandardCharsets.UTF_8)),
                    "the dead letter's body is the one sent");
            check.equal(MAX_RECONSUME_TIMES + 1, d.getReconsumeTimes(), "the dead letter's reconsume times");
            check.equal(topic, d.getProperty(MessageConst.PROPERTY_RETRY_TOPIC), "the dead letter's RETRY_TOPIC");
            check.equal(sent.getMsgId(), d.getMsgId(), "the dead letter's msgId (UNIQ_KEY)");
        }
        synchronized (attempts) {
            check.equal(expected, attempts.size(), "no delivery after the message was dead-lettered");
        }
    }

    static void delayLevel(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Delay");
        List<MessageQueue> queues = Admin.createTopic(check, producer, topic, 2);

        String group = Clients.name("GD");
        List<Long> arrivals = new ArrayList<>();
        List<MessageExt> received = new ArrayList<>();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            long now = System.nanoTime();
            synchronized (received) {
                for (MessageExt m : messages) {
                    arrivals.add(now);
                    received.add(m);
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        Clients.start(consumer);
        Allocation.awaitPartition(check, List.of(consumer), new java.util.HashSet<>(queues));

        Message message = Messages.make(topic, "TagA", 0);
        message.setDelayTimeLevel(2);
        String key = Messages.key(topic, 0);
        long sentAt = System.nanoTime();
        SendResult sent = producer.send(message);
        check.require(sent.getSendStatus() == SendStatus.SEND_OK, "the delayed message was sent", sent);

        boolean came = Wait.until(Wait.DELIVERY, () -> {
            synchronized (received) {
                return !received.isEmpty();
            }
        });
        check.require(came, "the delayed message arrived", "nothing within " + Wait.DELIVERY);
        Wait.sleep(1000);
        synchronized (received) {
            check.equal(1, received.size(), "deliveries of the delayed message");
            MessageExt m = received.get(0);
            long waited = millis(arrivals.get(0) - sentAt);
            Log.step("the level-2 message arrived " + waited + " ms after it was sent");
            check.that(waited + SLACK_MS >= LEVEL_TWO_MS, "it arrived no earlier than level 2's 5 s",
                    waited + " ms");
            check.that(m.getStoreTimestamp() - m.getBornTimestamp() >= LEVEL_TWO_MS,
                    "it was stored in its topic 5 s after it was born",
                    (m.getStoreTimestamp() - m.getBornTimestamp()) + " ms");
            check.equal(topic, m.getTopic(), "its topic");
            check.equal(key, m.getKeys().split(" ")[0], "its key");
            check.that(Messages.bodyMatches(key, new String(m.getBody(), StandardCharsets.UTF_8)),
                    "its body is the one sent");
            check.equal(sent.getMsgId(), m.getMsgId(), "its msgId (UNIQ_KEY)");
            check.equal("0", m.getUserProperty(Messages.SEQ), "its user property");
            check.equal(sent.getMessageQueue().getQueueId(), m.getQueueId(), "the queue it was sent to");
        }
    }

    private static List<Attempt> snapshot(List<Attempt> attempts) {
        synchronized (attempts) {
            return new ArrayList<>(attempts);
        }
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }
}
