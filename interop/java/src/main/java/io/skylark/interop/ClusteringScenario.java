package io.skylark.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code clustering}: two push consumers of one group, subscribed
 * {@code TagA || TagB} with averaged allocation, share the topic's queues
 * and receive every matching message exactly once between them, and
 * nothing else; when one leaves, the other takes over all queues.
 */
final class ClusteringScenario {
    private static final int COUNT = 48;
    /**
     * Each run of four consecutive sends (one per queue, round-robin) has one
     * of these, in turn, so every queue gets every tag; null is no tag.
     */
    private static final String[] TAGS = {"TagA", "TagB", "TagC", null};

    private ClusteringScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Cluster");
        Set<MessageQueue> queues = new HashSet<>(Admin.createTopic(check, producer, topic, 4));

        String group = Clients.name("GC");
        Received received = new Received();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
            consumer.subscribe(topic, "TagA || TagB");
            consumer.registerMessageListener(received.concurrently(consumer.getInstanceName()));
            Clients.start(consumer);
            consumers.add(consumer);
        }
        Allocation.awaitPartition(check, consumers, queues);
        Map<String, Set<MessageQueue>> held = Allocation.snapshot(consumers, topic);

        Set<String> expected = new HashSet<>();
        int ok = 0;
        for (int i = 0; i < COUNT; i++) {
            String tag = TAGS[i / 4 % TAGS.length];
            ok += producer.send(Messages.make(topic, tag, i)).getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
            if ("TagA".equals(tag) || "TagB".equals(tag)) {
                expected.add(Messages.key(topic, i));
            }
        }
        check.equal(COUNT, ok, "sends answered SEND_OK (TagA, TagB, TagC and untagged on every queue)");

        received.awaitKeysThenQuiet(expected, Duration.ofSeconds(3));
        check.that(received.missing(expected).isEmpty(), "every TagA and TagB message was received",
                "missing " + Check.brief(received.missing(expected)));
        List<String> unexpected = new ArrayList<>();
        for (Delivery d : received.all()) {
            if (!expected.contains(d.key())) {
                unexpected.add(d.key() + " tagged " + d.tags());
            }
        }
        check.that(unexpected.isEmpty(), "nothing but TagA and TagB was received", unexpected);
        check.that(received.duplicated().isEmpty(), "each message was received once between the two consumers",
                "twice: " + Check.brief(received.duplicated()));
        check.equal(expected.size(), received.all().size(), "deliveries in all");

        Map<String, List<Delivery>> byConsumer = received.byConsumer();
        List<String> strays = new ArrayList<>();
        for (DefaultMQPushConsumer consumer : consumers) {
            String name = consumer.getInstanceName();
            List<Delivery> got = byConsumer.getOrDefault(name, List.of());
            check.that(!got.isEmpty(), name + " received a share", got.size());
            for (Delivery d : got) {
                if (!held.get(name).contains(d.queue())) {
                    strays.add(name + " got " + d.key() + " from " + d.queue() + ", which it was not allocated");
                }
            }
        }
        check.that(strays.isEmpty(), "each consumer received only from the queues allocated to it", strays);
        received.checkBodies(check);

        // One consumer leaves: the other takes over its queues and consumes what comes next.
        DefaultMQPushConsumer leaving = consumers.get(1);
        DefaultMQPushConsumer staying = consumers.get(0);
        leaving.shutdown();
        Allocation.awaitPartition(check, List.of(staying), queues);
        Set<String> later = new HashSet<>();
        for (int i = COUNT; i < COUNT + 8; i++) {
            producer.send(Messages.make(topic, "TagB", i));
            later.add(Messages.key(topic, i));
        }
        received.awaitKeys(later);
        Set<String> gotLater = new HashSet<>();
        for (Delivery d : received.byConsumer().getOrDefault(staying.getInstanceName(), List.of())) {
            if (later.contains(d.key())) {
                gotLater.add(d.key());
            }
        }
        check.equal(later, gotLater, "after " + leaving.getInstanceName() + " left, "
                + staying.getInstanceName() + " received every new message, from all queues");
    }
}
