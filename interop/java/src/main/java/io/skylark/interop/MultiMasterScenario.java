package io.skylark.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code multi-master VICTIM}: two masters of one cluster. Sends spread over
 * both brokers' queues and one group receives everything from both; then
 * this side prints {@code KILL VICTIM}, the driver SIGKILLs that broker, and
 * the producer carries on through the other (no send fails after the
 * client's retries) while the consumers rebalance onto what is left.
 */
final class MultiMasterScenario {
    private static final int QUEUES_EACH = 4;
    private static final int BEFORE = 80;
    private static final int AFTER = 40;

    private MultiMasterScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        if (args.isEmpty()) {
            throw new IllegalArgumentException("missing argument VICTIM (the broker name to kill)");
        }
        String victim = args.get(0);
        DefaultMQProducer producer = Clients.newProducer(namesrv);
        // What an application that wants to ride out a broker failure sets.
        producer.setRetryTimesWhenSendFailed(2);
        producer.setSendLatencyFaultEnable(true);
        // sendMsgTimeout bounds a send and all its retries together; on a
        // starved 2-core CI machine a send caught in the kill used up 3 s
        // before its retry could run. Applications facing failover raise it.
        producer.setSendMsgTimeout(10_000);
        Clients.start(producer);

        Map<String, String> masters = Admin.awaitMasters(check, producer, 2);
        check.require(masters.containsKey(victim), "the cluster has broker " + victim, masters.keySet());
        String survivor = masters.keySet().stream().filter(b -> !b.equals(victim)).findFirst().orElseThrow();
        String topic = Clients.name("Multi");
        Set<MessageQueue> queues = new TreeSet<>(Admin.createTopic(check, producer, topic, QUEUES_EACH,
                masters.values()));
        Set<MessageQueue> survivorQueues = new TreeSet<>();
        for (MessageQueue q : queues) {
            if (q.getBrokerName().equals(survivor)) {
                survivorQueues.add(q);
            }
        }

        String group = Clients.name("GM");
        Received received = new Received();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
            // Notice a vanished broker within seconds rather than the default 30.
            consumer.setPollNameServerInterval(5000);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(received.concurrently(consumer.getInstanceName()));
            Clients.start(consumer);
            consumers.add(consumer);
        }
        Allocation.awaitPartition(check, consumers, queues);

        // Both brokers serve.
        Map<String, SendResult> results = new ConcurrentHashMap<>();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        List<String> before = send(producer, topic, 0, BEFORE, results, failures);
        check.that(failures.isEmpty(), "sends to both brokers succeeded", failures);
        Map<String, Integer> perBroker = new TreeMap<>();
        Set<MessageQueue> used = new HashSet<>();
        for (String key : before) {
            SendResult r = results.get(key);
            if (r != null) {
                perBroker.merge(r.getMessageQueue().getBrokerName(), 1, Integer::sum);
                used.add(r.getMessageQueue());
            }
        }
        check.equal(masters.keySet(), perBroker.keySet(), "brokers that took sends");
        check.equal(queues, used, "queues that took sends (all of both brokers')");
        received.awaitKeysThenQuiet(before, Duration.ofSeconds(2));
        check.that(received.missing(before).isEmpty(), "the group received every message from both brokers",
                "missing " + Check.brief(received.missing(before)));
        check.that(received.duplicated().isEmpty(), "each message was received once",
                Check.brief(received.duplicated()));
        Set<String> fromBrokers = new TreeSet<>();
        for (Delivery d : received.all()) {
            fromBrokers.add(d.queue().getBrokerName());
        }
        check.equal(masters.keySet(), fromBrokers, "brokers the group received from");

        // The victim dies while a sender thread keeps sending, one message after another.
        String victimAddr = masters.get(victim);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger nextIndex = new AtomicInteger(BEFORE);
        List<String> during = Collections.synchronizedList(new ArrayList<>());
        Thread sender = new Thread(() -> {
            while (!stop.get()) {
                during.addAll(send(producer, topic, nextIndex.getAndIncrement(), 1, results, failures));
            }
        }, "sender");
        sender.start();
        Wait.until(Wait.SETTLE, () -> during.size() >= 5);
        Log.out("KILL " + victim);
        boolean died = Wait.until(Wait.SETTLE, () -> !Admin.accepting(victimAddr));
        int atDeath = nextIndex.get();
        Wait.until(Wait.DELIVERY, () -> nextIndex.get() >= atDeath + AFTER);
        stop.set(true);
        sender.join();
        check.require(died, victim + " stopped accepting connections", victimAddr);
        int next = nextIndex.get();
        Log.step(during.size() + " sends while " + victim + " was killed and after, " + (next - atDeath)
                + " of them issued once it was gone");
        check.that(next - atDeath >= AFTER, AFTER + " sends issued after " + victim + " was gone", next - atDeath);
        check.that(failures.isEmpty(), "no send failed after the client's retries while and after " + victim
                + " was killed", failures);
        Map<String, Integer> afterPerBroker = new TreeMap<>();
        synchronized (during) {
            for (String key : during) {
                afterPerBroker.merge(results.get(key).getMessageQueue().getBrokerName(), 1, Integer::sum);
            }
        }
        Log.step("acknowledged by broker while and after the kill: " + afterPerBroker);
        failures.clear();

        // The consumers rebalance onto the survivor's queues, and both serve them.
        Allocation.awaitPartition(check, consumers, survivorQueues);
        List<String> rebalanced = send(producer, topic, next, AFTER, results, failures);
        check.that(failures.isEmpty(), "sends after the rebalance succeeded", failures);

        Set<String> onSurvivor = new HashSet<>();
        List<String> all = new ArrayList<>(before);
        all.addAll(during);
        all.addAll(rebalanced);
        for (String key : all) {
            SendResult r = results.get(key);
            if (r != null && r.getMessageQueue().getBrokerName().equals(survivor)) {
                onSurvivor.add(key);
            }
        }
        received.awaitKeys(onSurvivor);
        check.that(received.missing(onSurvivor).isEmpty(), "the group received every message acknowledged by "
                + survivor, "missing " + Check.brief(received.missing(onSurvivor)));
        Map<String, List<Delivery>> byConsumer = received.byConsumer();
        Set<String> rebalancedKeys = new HashSet<>(rebalanced);
        for (DefaultMQPushConsumer consumer : consumers) {
            long got = byConsumer.getOrDefault(consumer.getInstanceName(), List.of()).stream()
                    .filter(d -> rebalancedKeys.contains(d.key())).count();
            check.that(got > 0, consumer.getInstanceName() + " consumes from " + survivor + " after the rebalance",
                    got);
        }
        Log.step("redelivered around the rebalance (allowed): " + received.duplicated().size());
        received.checkBodies(check);
    }

    /** Sends {@code count} messages synchronously; records results and failures; returns the keys acknowledged. */
    private static List<String> send(DefaultMQProducer producer, String topic, int from, int count,
            Map<String, SendResult> results, List<String> failures) {
        List<String> acked = new ArrayList<>();
        for (int i = from; i < from + count; i++) {
            String key = Messages.key(topic, i);
            try {
                SendResult result = producer.send(Messages.make(topic, "TagM", i));
                if (result.getSendStatus() == SendStatus.SEND_OK) {
                    results.put(key, result);
                    acked.add(key);
                } else {
                    failures.add(key + ": " + result.getSendStatus());
                }
            } catch (Exception e) {
                failures.add(key + ": " + Check.describe(e));
            }
        }
        return acked;
    }
}
