package io.skylark.interop;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/** Reads a topic back from the start with a lite pull consumer of a fresh group. */
final class Readback {
    private Readback() {}

    /**
     * Everything in {@code topic} from offset 0, polled until every key of
     * {@code expected} has arrived (or the hang guard passes).
     */
    static List<Delivery> all(Check check, String namesrv, String topic, Collection<String> expected) {
        try {
            DefaultLitePullConsumer consumer = Clients.litePull(namesrv);
            List<MessageQueue> queues = new ArrayList<>(consumer.fetchMessageQueues(topic));
            // A fresh group: every queue is read from offset 0 (Clients.litePull).
            consumer.assign(queues);
            List<Delivery> got = new ArrayList<>();
            Set<String> keys = new HashSet<>();
            Wait.until(Wait.DELIVERY, () -> {
                for (MessageExt message : consumer.poll(500)) {
                    Delivery d = Delivery.of("readback", null, message);
                    got.add(d);
                    keys.add(d.key());
                }
                return keys.containsAll(expected);
            });
            Set<String> missing = new HashSet<>(expected);
            missing.removeAll(keys);
            check.that(missing.isEmpty(), "read back all " + expected.size() + " messages of " + topic
                    + " with a lite pull consumer", "missing " + missing.size() + ": " + Check.brief(missing));
            return got;
        } catch (Exception e) {
            throw check.abort("read back " + topic, e);
        }
    }
}
