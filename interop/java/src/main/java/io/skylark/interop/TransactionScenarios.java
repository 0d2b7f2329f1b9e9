package io.skylark.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * Transactional messages with the official {@code TransactionMQProducer}:
 * {@code transaction} commits some local transactions and rolls back the
 * others; {@code transaction-check} leaves every one unknown and lets the
 * broker's check resolve it through {@code checkLocalTransaction}.
 */
final class TransactionScenarios {
    private static final int COUNT = 6;

    private TransactionScenarios() {}

    /**
     * {@code transaction}: the consumer gets exactly the committed messages,
     * and no rolled-back one is found by key; the broker never needs to ask.
     */
    static void commitAndRollback(Check check, String namesrv, List<String> args) throws Exception {
        Map<String, Integer> asked = new ConcurrentHashMap<>();
        TransactionMQProducer producer = producer(namesrv, new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message message, Object verdict) {
                return (LocalTransactionState) verdict;
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt message) {
                // Only a slow END_TRANSACTION gets here; answer as the transaction ended.
                asked.merge(firstKey(message), 1, Integer::sum);
                return "Commit".equals(message.getTags())
                        ? LocalTransactionState.COMMIT_MESSAGE : LocalTransactionState.ROLLBACK_MESSAGE;
            }
        });
        String topic = Clients.name("Tx");
        Admin.createTopic(check, producer, topic, 4);
        Received received = consume(namesrv, topic);

        List<String> committed = new ArrayList<>();
        List<String> rolledBack = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < COUNT; i++) {
            boolean commit = i % 2 == 0;
            String key = Messages.key(topic, i);
            LocalTransactionState verdict = commit
                    ? LocalTransactionState.COMMIT_MESSAGE : LocalTransactionState.ROLLBACK_MESSAGE;
            TransactionSendResult result = producer.sendMessageInTransaction(
                    Messages.make(topic, commit ? "Commit" : "Rollback", i), verdict);
            if (result.getSendStatus() != SendStatus.SEND_OK || result.getLocalTransactionState() != verdict) {
                wrong.add(key + ": " + result.getSendStatus() + "/" + result.getLocalTransactionState());
            }
            (commit ? committed : rolledBack).add(key);
        }
        check.that(wrong.isEmpty(), "sent " + COUNT + " transactional messages, SEND_OK, local state as decided",
                wrong);

        received.awaitKeysThenQuiet(committed, Duration.ofSeconds(5));
        check.equal(Set.copyOf(committed), received.keys(), "keys consumed: exactly the committed ones");
        if (asked.isEmpty()) {
            // With no check (which may commit again) in between, a commit delivers once.
            check.that(received.duplicated().isEmpty(), "each committed message consumed once",
                    received.duplicated());
        }
        received.checkBodies(check);
        for (String key : committed) {
            check.that(Wait.until(Wait.SETTLE, () -> found(producer, topic, key) == 1),
                    "committed " + key + " is found by key (QUERY_MESSAGE)");
        }
        for (String key : rolledBack) {
            check.equal(0, found(producer, topic, key), "rolled-back " + key + " found by key");
        }
        Log.out("checkLocalTransaction calls (expected none unless an END_TRANSACTION was slow): " + asked);
    }

    /**
     * {@code transaction-check}: every local transaction answers UNKNOW;
     * the broker checks each half once it is older than
     * {@code transactionTimeOut}, {@code checkLocalTransaction} commits it,
     * and the consumer gets every message.
     */
    static void resolvedByCheck(Check check, String namesrv, List<String> args) throws Exception {
        Map<String, Integer> asked = new ConcurrentHashMap<>();
        AtomicInteger executed = new AtomicInteger();
        TransactionMQProducer producer = producer(namesrv, new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message message, Object arg) {
                executed.incrementAndGet();
                return LocalTransactionState.UNKNOW;
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt message) {
                asked.merge(firstKey(message), 1, Integer::sum);
                return LocalTransactionState.COMMIT_MESSAGE;
            }
        });
        String topic = Clients.name("TxCheck");
        Admin.createTopic(check, producer, topic, 4);
        Received received = consume(namesrv, topic);

        List<String> keys = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < COUNT; i++) {
            String key = Messages.key(topic, i);
            TransactionSendResult result = producer.sendMessageInTransaction(Messages.make(topic, "Checked", i), null);
            if (result.getSendStatus() != SendStatus.SEND_OK
                    || result.getLocalTransactionState() != LocalTransactionState.UNKNOW) {
                wrong.add(key + ": " + result.getSendStatus() + "/" + result.getLocalTransactionState());
            }
            keys.add(key);
        }
        check.that(wrong.isEmpty() && executed.get() == COUNT,
                "sent " + COUNT + " transactional messages whose local transactions answer UNKNOW", wrong);

        long start = System.nanoTime();
        boolean all = received.awaitKeys(keys);
        Log.step("checked messages consumed after " + Wait.since(start));
        check.that(all, "every message is consumed after the broker's check commits it",
                "missing " + received.missing(keys));
        Set<String> notAsked = new HashSet<>(keys);
        notAsked.removeAll(asked.keySet());
        check.that(notAsked.isEmpty(), "checkLocalTransaction was called for every message", notAsked);
        received.checkBodies(check);
        // A check answered late may be asked again, and commit again: at least once, as RocketMQ promises.
        Log.out("checkLocalTransaction calls per key: " + asked + "; consumed twice: " + received.duplicated());
    }

    /**
     * A started transaction producer of a fresh group with {@code listener}.
     * It heartbeats every second, so that the broker knows where to send
     * checks soon after the first send fetched the route.
     */
    private static TransactionMQProducer producer(String namesrv, TransactionListener listener) throws Exception {
        TransactionMQProducer producer = new TransactionMQProducer(Clients.name("TxPG"));
        producer.setNamesrvAddr(namesrv);
        producer.setInstanceName(Clients.name("tp"));
        producer.setSendMsgTimeout(Clients.SEND_TIMEOUT_MS);
        producer.setHeartbeatBrokerInterval(1000);
        producer.setTransactionListener(listener);
        Clients.start(producer);
        return producer;
    }

    /** A started consumer of {@code topic} (all tags) recording what it gets. */
    private static Received consume(String namesrv, String topic) throws Exception {
        Received received = new Received();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, Clients.name("GTx"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(received.concurrently("tx"));
        Clients.start(consumer);
        return received;
    }

    /** Messages of {@code topic} found by {@code key} (none when the query finds nothing). */
    @SuppressWarnings("deprecation") // the MQAdmin call applications still use
    private static int found(TransactionMQProducer producer, String topic, String key) {
        try {
            return producer.queryMessage(topic, key, 32, 0, Long.MAX_VALUE).getMessageList().size();
        } catch (Exception e) {
            // The client reports "no message" as an exception.
            return 0;
        }
    }

    private static String firstKey(MessageExt message) {
        String keys = message.getKeys();
        return keys == null ? "?" : keys.split(" ")[0];
    }
}
