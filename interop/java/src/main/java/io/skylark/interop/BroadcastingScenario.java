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

/** {@code broadcasting}: three consumers of one group in broadcasting mode each receive every message once. */
final class BroadcastingScenario {
    private static final int COUNT = 30;
    private static final int CONSUMERS = 3;

    private BroadcastingScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Broadcast");
        Set<MessageQueue> queues = new HashSet<>(Admin.createTopic(check, producer, topic, 4));

        String group = Clients.name("GB");
        Received received = new Received();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int c = 0; c < CONSUMERS; c++) {
            DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
            // MessageModel moved package in 5.x: name it through the consumer's own getter.
            var model = consumer.getMessageModel();
            consumer.setMessageModel(Enum.valueOf(model.getDeclaringClass(), "BROADCASTING"));
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(received.concurrently(consumer.getInstanceName()));
            Clients.start(consumer);
            consumers.add(consumer);
        }
        Allocation.awaitEach(check, consumers, queues);

        Set<String> expected = new HashSet<>();
        int ok = 0;
        for (int i = 0; i < COUNT; i++) {
            ok += producer.send(Messages.make(topic, "TagB" + (i % 2), i)).getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
            expected.add(Messages.key(topic, i));
        }
        check.equal(COUNT, ok, "sends answered SEND_OK");

        Wait.until(Wait.DELIVERY, () -> {
            for (List<Delivery> got : received.byConsumer().values()) {
                if (got.size() < COUNT) {
                    return false;
                }
            }
            return received.byConsumer().size() == CONSUMERS;
        });
        Wait.sleep(Duration.ofSeconds(2).toMillis());
        Map<String, List<Delivery>> byConsumer = received.byConsumer();
        for (DefaultMQPushConsumer consumer : consumers) {
            String name = consumer.getInstanceName();
            List<Delivery> got = byConsumer.getOrDefault(name, List.of());
            Set<String> keys = new HashSet<>();
            for (Delivery d : got) {
                keys.add(d.key());
            }
            Set<String> missing = new HashSet<>(expected);
            missing.removeAll(keys);
            check.that(missing.isEmpty() && keys.equals(expected), name + " received every message",
                    "missing " + Check.brief(missing) + ", " + keys.size() + " distinct received");
            check.equal(COUNT, got.size(), name + " deliveries (each message once)");
        }
        received.checkBodies(check);
    }
}
