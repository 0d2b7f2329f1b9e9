package io.skylark.interop;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * The Java halves of the Rust/Java scenarios, driven by
 * cli/tests/interop_rust_java.rs with messages of
 * {@link CrossLanguageMessages}:
 * <ul>
 * <li>{@code from-rust TOPIC COUNT GROUP}: a push consumer of GROUP, from
 * the first offset, gets every message 0..COUNT-1 the Rust producer sent to
 * TOPIC, once each, exactly as defined (body, tag, keys, properties);</li>
 * <li>{@code to-rust TOPIC COUNT}: a producer sends messages 0..COUNT-1
 * from "java" to TOPIC, each acknowledged SEND_OK.</li>
 * </ul>
 */
final class CrossLanguageScenarios {
    private CrossLanguageScenarios() {}

    static void fromRust(Check check, String namesrv, List<String> args) throws Exception {
        check.require(args.size() == 3, "arguments TOPIC COUNT GROUP", args);
        String topic = args.get(0);
        int count = Integer.parseInt(args.get(1));
        String group = args.get(2);

        Map<Integer, Integer> times = new TreeMap<>();
        List<String> wrong = new ArrayList<>();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            for (MessageExt message : messages) {
                String seq = message.getUserProperty("seq");
                int i;
                try {
                    i = Integer.parseInt(seq);
                } catch (RuntimeException e) {
                    synchronized (times) {
                        wrong.add("a message without a numeric seq property: " + message);
                    }
                    continue;
                }
                String mismatch = CrossLanguageMessages.mismatch(message, "rust", i);
                synchronized (times) {
                    times.merge(i, 1, Integer::sum);
                    if (mismatch != null) {
                        wrong.add(mismatch);
                    }
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        Clients.start(consumer);
        long start = System.nanoTime();
        boolean all = Wait.until(Wait.DELIVERY, () -> {
            synchronized (times) {
                return times.size() >= count;
            }
        });
        Log.step("received " + times.size() + " distinct messages in " + Wait.since(start));
        // Leave room for a duplicate to show.
        Wait.sleep(2000);
        synchronized (times) {
            TreeSet<Integer> missing = new TreeSet<>();
            for (int i = 0; i < count; i++) {
                if (!times.containsKey(i)) {
                    missing.add(i);
                }
            }
            check.that(all && missing.isEmpty(), "every message the Rust producer sent arrived", missing);
            List<Integer> twice = new ArrayList<>();
            List<Integer> unexpected = new ArrayList<>();
            times.forEach((i, n) -> {
                if (n > 1) {
                    twice.add(i);
                }
                if (i < 0 || i >= count) {
                    unexpected.add(i);
                }
            });
            check.that(twice.isEmpty(), "each arrived once", twice);
            check.that(unexpected.isEmpty(), "nothing else arrived", unexpected);
            check.that(wrong.isEmpty(), "bodies, tags, keys and properties arrived as the Rust producer sent them", wrong);
        }
    }

    static void toRust(Check check, String namesrv, List<String> args) throws Exception {
        check.require(args.size() == 2, "arguments TOPIC COUNT", args);
        String topic = args.get(0);
        int count = Integer.parseInt(args.get(1));
        DefaultMQProducer producer = Clients.producer(namesrv);
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            SendResult result = producer.send(CrossLanguageMessages.make(topic, "java", i));
            if (result.getSendStatus() != SendStatus.SEND_OK) {
                failed.add(i + ": " + result.getSendStatus());
            }
        }
        check.that(failed.isEmpty(), "sent " + count + " messages to " + topic + ", each SEND_OK", failed);
    }
}
