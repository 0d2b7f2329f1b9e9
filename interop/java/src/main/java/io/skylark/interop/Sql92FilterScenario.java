package io.skylark.interop;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;

/**
 * SQL92 property filtering ({@code MessageSelector.bySql}).
 * {@code sql92-filter}, against a broker with {@code enablePropertyFilter=true}:
 * a push consumer gets exactly the messages whose user properties match,
 * and a consumer with a malformed expression fails to start with the
 * broker's parse error. {@code sql92-unsupported}, against one with it off:
 * the start fails with "does not support".
 */
final class Sql92FilterScenario {
    private static final String SQL = "a BETWEEN 3 AND 6 AND b = 'x'";
    /** Java's parser refuses BETWEEN bounds out of order too. */
    private static final String MALFORMED = "a BETWEEN 6 AND 3";
    private static final int COUNT = 60;
    /** ResponseCode.SUBSCRIPTION_PARSE_FAILED (its package differs between 4.x and 5.x). */
    private static final int SUBSCRIPTION_PARSE_FAILED = 23;
    /** ResponseCode.SYSTEM_ERROR. */
    private static final int SYSTEM_ERROR = 1;
    /** A listener for consumers expected never to start. */
    private static final MessageListenerConcurrently IGNORE =
            (messages, context) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS;

    private Sql92FilterScenario() {}

    static void filter(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Sql");
        Admin.createTopic(check, producer, topic, 4);

        Received matched = new Received();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, Clients.name("GSql"));
        consumer.subscribe(topic, MessageSelector.bySql(SQL));
        consumer.registerMessageListener(matched.concurrently("sql"));
        try {
            Clients.start(consumer);
            check.pass("a push consumer subscribed with bySql(\"" + SQL + "\") started");
        } catch (MQClientException e) {
            throw check.abort("start a push consumer subscribed with bySql(\"" + SQL + "\")", e);
        }

        // a = i % 10 (left out of every seventh message), b = y for every third, else x.
        Set<String> expected = new HashSet<>();
        Set<String> sent = new HashSet<>();
        for (int i = 0; i < COUNT; i++) {
            Message message = Messages.make(topic, "TagA", i);
            boolean hasA = i % 7 != 6;
            int a = i % 10;
            String b = i % 3 == 0 ? "y" : "x";
            if (hasA) {
                message.putUserProperty("a", Integer.toString(a));
            }
            message.putUserProperty("b", b);
            SendStatus status = producer.send(message).getSendStatus();
            if (status != SendStatus.SEND_OK) {
                check.fail("send " + i + ": " + status);
            }
            String key = Messages.key(topic, i);
            sent.add(key);
            if (hasA && a >= 3 && a <= 6 && b.equals("x")) {
                expected.add(key);
            }
        }
        check.pass("sent " + COUNT + " messages with user properties a and b, "
                + expected.size() + " of them matching");

        matched.awaitKeysThenQuiet(expected, Duration.ofSeconds(3));
        check.equal(expected, matched.keys(), "keys received by the bySql consumer (exactly the matching)");
        check.that(matched.duplicated().isEmpty(), "the bySql consumer got each message once",
                matched.duplicated());
        check.that(sent.containsAll(matched.keys()), "it got only messages of this scenario", matched.keys());
        matched.checkBodies(check);

        malformedStartFails(check, namesrv, topic);
    }

    /** A consumer whose expression does not compile: start() throws with the broker's answer. */
    private static void malformedStartFails(Check check, String namesrv, String topic) throws Exception {
        DefaultMQPushConsumer bad = Clients.pushConsumer(namesrv, Clients.name("GBad"));
        bad.subscribe(topic, MessageSelector.bySql(MALFORMED));
        bad.registerMessageListener(IGNORE);
        try {
            bad.start();
            check.fail("a push consumer subscribed with the malformed bySql(\"" + MALFORMED + "\") started");
        } catch (MQClientException e) {
            Log.out("start() with bySql(\"" + MALFORMED + "\") threw: " + Check.describe(e));
            check.equal(SUBSCRIPTION_PARSE_FAILED, e.getResponseCode(),
                    "start() with a malformed bySql fails with SUBSCRIPTION_PARSE_FAILED");
            String remark = String.valueOf(e.getErrorMessage());
            check.that(remark.startsWith("Invalid MessageSelector \"" + MALFORMED + "\": ")
                            && remark.contains("BETWEEN"),
                    "the error names the expression and what is wrong with it", remark);
        } finally {
            // 4.x leaves a consumer whose start() threw running.
            bad.shutdown();
        }
    }

    static void unsupported(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("NoSql");
        Admin.createTopic(check, producer, topic, 4);

        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, Clients.name("GNoSql"));
        consumer.subscribe(topic, MessageSelector.bySql(SQL));
        consumer.registerMessageListener(IGNORE);
        try {
            consumer.start();
            check.fail("a push consumer subscribed with bySql started on a broker without enablePropertyFilter");
        } catch (MQClientException e) {
            Log.out("start() with bySql and property filtering off threw: " + Check.describe(e));
            check.equal(SYSTEM_ERROR, e.getResponseCode(), "start() fails with SYSTEM_ERROR");
            check.equal("The broker does not support consumer to filter message by SQL92", e.getErrorMessage(),
                    "the broker's remark");
        } finally {
            consumer.shutdown();
        }
    }
}
