package io.skylark.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code orderly}: steps of each order are sent to the queue picked by
 * order id ({@link MessageQueueSelector}); three consumers with
 * {@code MessageListenerOrderly} (which lock their queues on the broker)
 * see each order's steps in order, each queue consumed by one thread at a time.
 */
final class OrderlyScenario {
    private static final int ORDERS = 12;
    private static final int STEPS = 8;
    private static final int CONSUMERS = 3;

    private OrderlyScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Orderly");
        Set<MessageQueue> queues = new HashSet<>(Admin.createTopic(check, producer, topic, 8));

        String group = Clients.name("GO");
        Received received = new Received();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int c = 0; c < CONSUMERS; c++) {
            DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(received.orderly(consumer.getInstanceName()));
            Clients.start(consumer);
            consumers.add(consumer);
        }
        Allocation.awaitPartition(check, consumers, queues);

        MessageQueueSelector byOrderId = (mqs, message, orderId) -> mqs.get((Integer) orderId % mqs.size());
        Map<Integer, Set<MessageQueue>> sentTo = new HashMap<>();
        Map<String, Integer> orderOf = new HashMap<>();
        Set<String> expected = new HashSet<>();
        int ok = 0;
        int i = 0;
        // Orders interleaved, as they would come in.
        for (int step = 0; step < STEPS; step++) {
            for (int order = 0; order < ORDERS; order++, i++) {
                SendResult result = producer.send(Messages.make(topic, "step" + step, i), byOrderId, order);
                ok += result.getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
                sentTo.computeIfAbsent(order, o -> new HashSet<>()).add(result.getMessageQueue());
                String key = Messages.key(topic, i);
                orderOf.put(key, order);
                expected.add(key);
            }
        }
        check.equal(ORDERS * STEPS, ok, "sends with a MessageQueueSelector answered SEND_OK");
        List<String> split = new ArrayList<>();
        sentTo.forEach((order, mqs) -> {
            if (mqs.size() != 1) {
                split.add("order " + order + " went to " + mqs);
            }
        });
        check.that(split.isEmpty(), "all steps of an order went to the queue the selector picked", split);

        received.awaitKeysThenQuiet(expected, Duration.ofSeconds(2));
        check.that(received.missing(expected).isEmpty(), "every step of every order was received",
                "missing " + Check.brief(received.missing(expected)));
        check.that(received.duplicated().isEmpty(), "each step was received once",
                "twice: " + Check.brief(received.duplicated()));

        Map<Integer, List<Integer>> stepsSeen = new HashMap<>();
        Map<Integer, Set<String>> consumersOf = new HashMap<>();
        List<String> wrongQueue = new ArrayList<>();
        for (Delivery d : received.all()) {
            Integer order = orderOf.get(d.key());
            if (order == null) {
                continue;
            }
            stepsSeen.computeIfAbsent(order, o -> new ArrayList<>()).add(Integer.parseInt(d.tags().substring(4)));
            consumersOf.computeIfAbsent(order, o -> new HashSet<>()).add(d.consumer());
            if (!sentTo.get(order).contains(d.queue())) {
                wrongQueue.add(d.key() + " consumed from " + d.queue());
            }
        }
        List<String> outOfOrder = new ArrayList<>();
        List<Integer> inOrder = new ArrayList<>();
        for (int s = 0; s < STEPS; s++) {
            inOrder.add(s);
        }
        stepsSeen.forEach((order, steps) -> {
            if (!steps.equals(inOrder)) {
                outOfOrder.add("order " + order + ": steps " + steps);
            }
        });
        check.that(outOfOrder.isEmpty(), "each order's steps were consumed in the order sent", outOfOrder);
        check.that(wrongQueue.isEmpty(), "messages were consumed from the queue they were sent to", wrongQueue);
        check.that(received.overlaps().isEmpty(), "no queue was consumed by two threads at once",
                received.overlaps());
        Set<String> active = new HashSet<>();
        consumersOf.values().forEach(active::addAll);
        check.equal(CONSUMERS, active.size(), "consumers that received orders");
        received.checkBodies(check);
    }
}
