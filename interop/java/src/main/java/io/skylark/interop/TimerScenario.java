package io.skylark.interop;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code timer}: RocketMQ 5's timer messages. One message sent with
 * {@code Message.setDeliverTimeMs(now + 4 s)} and one with
 * {@code setDelayTimeSec(3)} reach a push consumer, each once, stored in
 * their topic no earlier than their deliver time, with their key, body,
 * msgId and queue as sent.
 *
 * <p>Only the 5.x client has these setters (4.9.8 has no timer API), so
 * they are called by reflection and the scenario is run with 5.3.3 only;
 * with 4.9.8 it fails at once, saying so.
 *
 * <p>This is about time, so it checks it: the broker's store time of each
 * delivered message must not be before its deliver time (both the
 * broker's wall clock; {@link #SLACK_MS} allows for this JVM's clock
 * against it in the second check).
 */
final class TimerScenario {
    /** Clock slack allowed against the lower bounds. */
    private static final long SLACK_MS = 500;
    /** How far ahead the deliver time is set, ms. */
    private static final long DELIVER_AHEAD_MS = 4_000;
    /** The delay in seconds of the second message. */
    private static final long DELAY_SEC = 3;

    private TimerScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        Method deliverTime = setter(check, "setDeliverTimeMs");
        Method delaySec = setter(check, "setDelayTimeSec");
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Timer");
        List<MessageQueue> queues = Admin.createTopic(check, producer, topic, 2);

        String group = Clients.name("GT");
        List<MessageExt> received = new ArrayList<>();
        List<Long> receivedAt = new ArrayList<>();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            long now = System.currentTimeMillis();
            synchronized (received) {
                for (MessageExt m : messages) {
                    received.add(m);
                    receivedAt.add(now);
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        Clients.start(consumer);
        Allocation.awaitPartition(check, List.of(consumer), new HashSet<>(queues));

        Message atTime = Messages.make(topic, "TagA", 0);
        long deliverAt = System.currentTimeMillis() + DELIVER_AHEAD_MS;
        deliverTime.invoke(atTime, deliverAt);
        SendResult sentAt = producer.send(atTime);
        check.require(sentAt.getSendStatus() == SendStatus.SEND_OK, "the message with a deliver time was sent",
                sentAt);

        Message delayed = Messages.make(topic, "TagA", 1);
        long delayedFrom = System.currentTimeMillis();
        delaySec.invoke(delayed, DELAY_SEC);
        SendResult sentDelayed = producer.send(delayed);
        check.require(sentDelayed.getSendStatus() == SendStatus.SEND_OK,
                "the message with a delay in seconds was sent", sentDelayed);

        boolean came = Wait.until(Wait.DELIVERY, () -> {
            synchronized (received) {
                return received.size() >= 2;
            }
        });
        check.require(came, "both timer messages arrived", "only " + received.size() + " within " + Wait.DELIVERY);
        Wait.sleep(1500);
        synchronized (received) {
            check.equal(2, received.size(), "deliveries of the two timer messages");
            for (int i = 0; i < received.size(); i++) {
                MessageExt m = received.get(i);
                boolean first = m.getMsgId().equals(sentAt.getMsgId());
                SendResult sent = first ? sentAt : sentDelayed;
                int seq = first ? 0 : 1;
                long due = first ? deliverAt : delayedFrom + DELAY_SEC * 1000;
                String what = first ? "the deliver-time message" : "the delay-seconds message";
                Log.step(what + " was stored " + (m.getStoreTimestamp() - due) + " ms after its due time");
                check.equal(sent.getMsgId(), m.getMsgId(), what + ": its msgId (UNIQ_KEY)");
                check.that(m.getStoreTimestamp() + SLACK_MS >= due, what + ": stored in its topic no earlier than due",
                        (m.getStoreTimestamp() - due) + " ms");
                check.that(receivedAt.get(i) + SLACK_MS >= due, what + ": consumed no earlier than due",
                        (receivedAt.get(i) - due) + " ms");
                check.equal(topic, m.getTopic(), what + ": its topic");
                String key = Messages.key(topic, seq);
                check.equal(key, m.getKeys().split(" ")[0], what + ": its key");
                check.that(Messages.bodyMatches(key, new String(m.getBody(), StandardCharsets.UTF_8)),
                        what + ": its body is the one sent");
                check.equal(sent.getMessageQueue().getQueueId(), m.getQueueId(), what + ": the queue it was sent to");
            }
        }
    }

    /** {@code Message.<name>(long)}, which only the 5.x client has. */
    private static Method setter(Check check, String name) {
        try {
            return Message.class.getMethod(name, long.class);
        } catch (NoSuchMethodException e) {
            check.fail("Message." + name + " does not exist with client " + Clients.version()
                    + ": timer messages need the 5.x client");
            throw new Check.Abort("no timer API");
        }
    }
}
