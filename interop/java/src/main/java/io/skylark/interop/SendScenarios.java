package io.skylark.interop;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;

/** Sync, async, oneway and batch sends, each read back to prove what was stored. */
final class SendScenarios {
    private static final int EACH = 20;

    private SendScenarios() {}

    /**
     * {@code send}: sync, async and oneway sends to a topic nobody created
     * (auto-created from TBW102, as RocketMQ does by default), plus sync sends
     * over the VIP channel (the broker's fast port); then every message read back.
     */
    static void send(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Send");
        Map<String, SendResult> results = new LinkedHashMap<>();

        // Sync.
        int ok = 0;
        for (int i = 0; i < EACH; i++) {
            SendResult result = producer.send(Messages.make(topic, "TagSync", i));
            results.put(Messages.key(topic, i), result);
            ok += result.getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
        }
        check.equal(EACH, ok, "sync sends answered SEND_OK (topic auto-created)");
        checkResults(check, "sync", results.values());

        // Async.
        Map<String, SendResult> asyncResults = new ConcurrentHashMap<>();
        List<String> asyncErrors = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(EACH);
        for (int i = EACH; i < 2 * EACH; i++) {
            String key = Messages.key(topic, i);
            producer.send(Messages.make(topic, "TagAsync", i), new SendCallback() {
                @Override
                public void onSuccess(SendResult result) {
                    asyncResults.put(key, result);
                    done.countDown();
                }

                @Override
                public void onException(Throwable error) {
                    synchronized (asyncErrors) {
                        asyncErrors.add(key + ": " + Check.describe(error));
                    }
                    done.countDown();
                }
            });
        }
        boolean finished = done.await(Wait.DELIVERY.toSeconds(), TimeUnit.SECONDS);
        check.that(finished, "every async send called back", (EACH - done.getCount()) + " of " + EACH);
        synchronized (asyncErrors) {
            check.that(asyncErrors.isEmpty(), "no async send failed", asyncErrors);
        }
        long asyncOk = asyncResults.values().stream().filter(r -> r.getSendStatus() == SendStatus.SEND_OK).count();
        check.equal((long) EACH, asyncOk, "async sends answered SEND_OK");
        checkResults(check, "async", asyncResults.values());
        results.putAll(asyncResults);

        // Oneway: no answer; the read-back below is the only proof.
        for (int i = 2 * EACH; i < 3 * EACH; i++) {
            producer.sendOneway(Messages.make(topic, "TagOneway", i));
        }
        check.pass("sent " + EACH + " oneway messages");

        // VIP channel: the same client, talking to the broker's fast port.
        DefaultMQProducer vip = Clients.newProducer(namesrv);
        vip.setVipChannelEnabled(true);
        Clients.start(vip);
        int vipOk = 0;
        for (int i = 3 * EACH; i < 4 * EACH; i++) {
            try {
                SendResult result = vip.send(Messages.make(topic, "TagVip", i));
                results.put(Messages.key(topic, i), result);
                vipOk += result.getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
            } catch (Exception e) {
                check.fail("send over the VIP channel (fast port): " + Check.describe(e));
                break;
            }
        }
        check.equal(EACH, vipOk, "sync sends over the VIP channel (fast port) answered SEND_OK");

        // Read back.
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 4 * EACH; i++) {
            expected.add(Messages.key(topic, i));
        }
        List<Delivery> read = Readback.all(check, namesrv, topic, expected);
        checkReadBack(check, read, results, expected);
    }

    /** {@code batch}: two batches (small and 10 KiB bodies), each stored contiguously in one queue, in order. */
    static void batch(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Batch");
        Admin.createTopic(check, producer, topic, 4);

        List<String> expected = new ArrayList<>();
        List<SendResult> results = new ArrayList<>();
        List<List<String>> batchKeys = new ArrayList<>();
        int[][] shapes = {{32, 0}, {8, 10 * 1024}};
        int next = 0;
        for (int[] shape : shapes) {
            List<Message> batch = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            for (int j = 0; j < shape[0]; j++, next++) {
                String key = Messages.key(topic, next);
                batch.add(Messages.make(topic, "TagBatch", key, next, shape[1]));
                keys.add(key);
            }
            SendResult result = producer.send(batch);
            check.equal(SendStatus.SEND_OK, result.getSendStatus(), "batch of " + shape[0] + " answered");
            String[] ids = result.getMsgId() == null ? new String[0] : result.getMsgId().split(",");
            check.equal(shape[0], new HashSet<>(List.of(ids)).size(),
                    "distinct message ids in the batch's result");
            results.add(result);
            batchKeys.add(keys);
            expected.addAll(keys);
        }

        List<Delivery> read = Readback.all(check, namesrv, topic, expected);
        Map<String, Delivery> byKey = new HashMap<>();
        for (Delivery d : read) {
            byKey.putIfAbsent(d.key(), d);
        }
        for (int b = 0; b < results.size(); b++) {
            SendResult result = results.get(b);
            List<String> keys = batchKeys.get(b);
            String[] ids = result.getMsgId().split(",");
            List<String> problems = new ArrayList<>();
            for (int j = 0; j < keys.size(); j++) {
                Delivery d = byKey.get(keys.get(j));
                if (d == null) {
                    continue; // reported by the read-back
                }
                if (!d.queue().equals(result.getMessageQueue())) {
                    problems.add(keys.get(j) + " in " + d.queue() + ", result said " + result.getMessageQueue());
                } else if (d.queueOffset() != result.getQueueOffset() + j) {
                    problems.add(keys.get(j) + " at offset " + d.queueOffset() + ", expected "
                            + (result.getQueueOffset() + j));
                }
                if (j < ids.length && !ids[j].equals(d.msgId())) {
                    problems.add(keys.get(j) + " has id " + d.msgId() + ", result said " + ids[j]);
                }
                if (!Messages.bodyMatches(keys.get(j), d.body()) || !"TagBatch".equals(d.tags())) {
                    problems.add(keys.get(j) + " body or tags differ");
                }
            }
            check.that(problems.isEmpty(), "batch " + (b + 1) + " stored contiguously, in order, as sent, at the "
                    + "queue and offset its result named", problems);
        }
    }

    /** Message ids distinct and present, queue offsets consecutive per queue. */
    private static void checkResults(Check check, String kind, Collection<SendResult> results) {
        Set<String> ids = new HashSet<>();
        Set<String> offsetIds = new HashSet<>();
        Map<MessageQueue, List<Long>> offsets = new TreeMap<>();
        for (SendResult r : results) {
            ids.add(r.getMsgId());
            offsetIds.add(r.getOffsetMsgId());
            offsets.computeIfAbsent(r.getMessageQueue(), q -> new ArrayList<>()).add(r.getQueueOffset());
        }
        ids.remove(null);
        offsetIds.remove(null);
        check.equal(results.size(), ids.size(), kind + " sends: distinct message ids (client-made)");
        check.equal(results.size(), offsetIds.size(), kind + " sends: distinct offset message ids (broker-made)");
        check.that(offsets.size() > 1, kind + " sends spread over more than one queue", offsets.keySet());
        List<String> gaps = new ArrayList<>();
        for (Map.Entry<MessageQueue, List<Long>> e : offsets.entrySet()) {
            List<Long> sorted = new ArrayList<>(e.getValue());
            sorted.sort(null);
            for (int i = 1; i < sorted.size(); i++) {
                if (sorted.get(i) != sorted.get(i - 1) + 1) {
                    gaps.add(e.getKey().getQueueId() + ": " + sorted);
                    break;
                }
            }
        }
        check.that(gaps.isEmpty(), kind + " sends: queue offsets consecutive within each queue", gaps);
    }

    /** What was read back matches what was sent, message by message. */
    private static void checkReadBack(Check check, List<Delivery> read, Map<String, SendResult> results,
            List<String> expected) {
        // Copies are counted by where they are stored: the lite pull consumer
        // may hand the same record out twice when a seek races its pull task
        // (seen with 4.9.8 under load), which is a re-read, not a second copy.
        Map<String, Set<String>> copies = new HashMap<>();
        List<String> problems = new ArrayList<>();
        Set<String> wanted = new HashSet<>(expected);
        for (Delivery d : read) {
            copies.computeIfAbsent(d.key(), k -> new HashSet<>())
                    .add(d.queue().getQueueId() + "@" + d.queueOffset());
            if (!wanted.contains(d.key())) {
                problems.add("unexpected message " + d.key());
                continue;
            }
            int seq = expected.indexOf(d.key());
            if (!Messages.bodyMatches(d.key(), d.body())) {
                problems.add(d.key() + ": body differs");
            }
            if (!Integer.toString(seq).equals(d.seq())) {
                problems.add(d.key() + ": user property " + Messages.SEQ + "=" + d.seq());
            }
            if (!(d.key() + " k" + seq).equals(d.keys())) {
                problems.add(d.key() + ": keys '" + d.keys() + "'");
            }
            SendResult r = results.get(d.key());
            if (r != null) {
                if (!r.getMsgId().equals(d.msgId())) {
                    problems.add(d.key() + ": consumed id " + d.msgId() + ", sent " + r.getMsgId());
                }
                if (!r.getMessageQueue().equals(d.queue()) || r.getQueueOffset() != d.queueOffset()) {
                    problems.add(d.key() + ": at " + d.queue().getQueueId() + "@" + d.queueOffset() + ", sent to "
                            + r.getMessageQueue().getQueueId() + "@" + r.getQueueOffset());
                }
            }
        }
        copies.forEach((key, places) -> {
            if (places.size() > 1) {
                problems.add(key + " stored " + places.size() + " times: " + places);
            }
        });
        check.that(problems.isEmpty(), "read back: bodies, keys, properties, ids, queues and offsets as sent",
                problems.size() > 20 ? problems.subList(0, 20) + "... (" + problems.size() + ")" : problems);
    }
}
