package io.skylark.interop;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * The halves of the restart scenarios, run by the driver before and after
 * it stops the broker (SIGTERM, or SIGKILL when this side prints
 * {@code KILL standalone}) and starts it again on the same data directory.
 */
final class RestartScenarios {
    private static final int QUEUES = 4;
    /** Messages sent after the restart to a group whose offsets must have survived. */
    private static final int MORE = 20;
    /** Async sends kept outstanding by produce-until-killed, so that the kill lands among writes. */
    private static final int IN_FLIGHT = 32;

    private RestartScenarios() {}

    /**
     * {@code restart-before TOPIC COUNT GROUP}: creates TOPIC, sends COUNT
     * messages, and GROUP consumes them all until the broker holds its
     * offsets at the end of every queue.
     */
    static void before(Check check, String namesrv, List<String> args) throws Exception {
        String topic = arg(args, 0, "TOPIC");
        int count = Integer.parseInt(arg(args, 1, "COUNT"));
        String group = arg(args, 2, "GROUP");
        DefaultMQProducer producer = Clients.producer(namesrv);
        List<MessageQueue> queues = Admin.createTopic(check, producer, topic, QUEUES);
        List<String> keys = sendAll(check, producer, topic, 0, count);

        Received received = new Received();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(received.concurrently("before"));
        Clients.start(consumer);
        received.awaitKeysThenQuiet(keys, Duration.ofSeconds(1));
        check.that(received.missing(keys).isEmpty(), group + " consumed all " + count + " messages",
                "missing " + Check.brief(received.missing(keys)));

        Map<String, String> masters = Admin.masters(producer);
        awaitCaughtUp(check, producer, masters, group, queues, "before the restart");
    }

    /**
     * {@code restart-after TOPIC COUNT GROUP}: after the restart, TOPIC still
     * has its queues, a new group reads all COUNT messages, GROUP's offsets
     * are where they were, and GROUP then gets only messages sent since.
     */
    static void after(Check check, String namesrv, List<String> args) throws Exception {
        String topic = arg(args, 0, "TOPIC");
        int count = Integer.parseInt(arg(args, 1, "COUNT"));
        String group = arg(args, 2, "GROUP");
        DefaultMQProducer producer = Clients.producer(namesrv);
        List<MessageQueue> queues = Admin.awaitQueues(check, producer, topic, QUEUES);
        Map<String, String> masters = Admin.masters(producer);

        Map<MessageQueue, long[]> progress = Offsets.progress(producer, masters, group, queues);
        long stored = progress.values().stream().mapToLong(p -> p[1]).sum();
        check.equal((long) count, stored, "messages in the topic's queues after the restart (sum of max offsets)");
        check.that(Offsets.caughtUp(progress), group + "'s committed offsets survived the restart",
                Offsets.describe(progress));

        List<String> keys = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            keys.add(Messages.key(topic, i));
        }
        Received fresh = new Received();
        DefaultMQPushConsumer reader = Clients.pushConsumer(namesrv, Clients.name("GR"));
        reader.subscribe(topic, "*");
        reader.registerMessageListener(fresh.concurrently("fresh"));
        Clients.start(reader);
        fresh.awaitKeysThenQuiet(keys, Duration.ofSeconds(2));
        check.that(fresh.missing(keys).isEmpty(), "a new group reads all " + count + " messages after the restart",
                "missing " + fresh.missing(keys).size() + ": " + Check.brief(fresh.missing(keys)));
        check.equal(count, fresh.all().size(), "deliveries to the new group (each message once)");
        fresh.checkBodies(check);

        List<String> newer = sendAll(check, producer, topic, count, MORE);
        Received resumed = new Received();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(resumed.concurrently("resumed"));
        Clients.start(consumer);
        resumed.awaitKeysThenQuiet(newer, Duration.ofSeconds(3));
        check.equal(Set.copyOf(newer), resumed.keys(),
                group + " resumes where it stopped: only the messages sent after the restart");
    }

    /**
     * {@code produce-until-killed TOPIC KILL_AFTER ACKED_FILE}: keeps
     * {@link #IN_FLIGHT} async sends outstanding; once KILL_AFTER are
     * acknowledged prints {@code KILL standalone} and keeps sending while the
     * driver kills the broker, until sends fail. Writes {@code attempted=N}
     * and then every acknowledged key to ACKED_FILE.
     */
    static void produceUntilKilled(Check check, String namesrv, List<String> args) throws Exception {
        String topic = arg(args, 0, "TOPIC");
        int killAfter = Integer.parseInt(arg(args, 1, "KILL_AFTER"));
        Path ackedFile = Path.of(arg(args, 2, "ACKED_FILE"));
        DefaultMQProducer producer = Clients.producer(namesrv);
        Admin.createTopic(check, producer, topic, QUEUES);

        List<String> acked = Collections.synchronizedList(new ArrayList<>());
        List<String> refused = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger ackedAfterKill = new AtomicInteger();
        AtomicBoolean killed = new AtomicBoolean();
        Semaphore window = new Semaphore(IN_FLIGHT);
        long deadline = System.nanoTime() + Wait.SETTLE.toNanos();
        int i = 0;
        while (failures.get() < 3 && System.nanoTime() < deadline) {
            if (!killed.get() && acked.size() >= killAfter) {
                Log.out("KILL standalone");
                killed.set(true);
                deadline = System.nanoTime() + Wait.SETTLE.toNanos();
            }
            if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                continue;
            }
            String key = Messages.key(topic, i);
            SendCallback callback = new SendCallback() {
                @Override
                public void onSuccess(SendResult result) {
                    if (result.getSendStatus() == SendStatus.SEND_OK) {
                        acked.add(key);
                        ackedAfterKill.addAndGet(killed.get() ? 1 : 0);
                    } else {
                        refused.add(key + ": " + result.getSendStatus());
                    }
                    window.release();
                }

                @Override
                public void onException(Throwable error) {
                    if (killed.get()) {
                        failures.incrementAndGet();
                    } else {
                        refused.add(key + ": " + Check.describe(error));
                    }
                    window.release();
                }
            };
            try {
                producer.send(Messages.make(topic, "TagK", i++), callback);
            } catch (Exception e) {
                callback.onException(e);
            }
        }
        boolean settled = window.tryAcquire(IN_FLIGHT, Wait.DELIVERY.toSeconds(), TimeUnit.SECONDS);
        check.that(settled, "every send called back", IN_FLIGHT - window.availablePermits() + " outstanding");
        List<String> lines = new ArrayList<>();
        lines.add("attempted=" + i);
        synchronized (acked) {
            lines.addAll(acked);
        }
        Files.write(ackedFile, lines, StandardCharsets.UTF_8);
        Log.step("attempted " + i + " sends, " + acked.size() + " acknowledged (" + ackedAfterKill
                + " after printing KILL)");
        check.that(killed.get(), killAfter + " sends acknowledged before the kill", acked.size());
        check.that(refused.isEmpty(), "no send failed before the kill", refused);
        check.that(failures.get() >= 3, "sends fail once the broker is killed",
                "still sending " + Wait.SETTLE + " after KILL");
    }

    /**
     * {@code consume-acked TOPIC ACKED_FILE}: after the restart, a new group
     * receives every acknowledged message, and nothing that was never sent.
     */
    static void consumeAcked(Check check, String namesrv, List<String> args) throws Exception {
        String topic = arg(args, 0, "TOPIC");
        List<String> lines = Files.readAllLines(Path.of(arg(args, 1, "ACKED_FILE")), StandardCharsets.UTF_8);
        int attempted = Integer.parseInt(lines.get(0).substring("attempted=".length()));
        List<String> acked = lines.subList(1, lines.size());
        Set<String> sent = new HashSet<>();
        for (int i = 0; i < attempted; i++) {
            sent.add(Messages.key(topic, i));
        }

        DefaultMQProducer producer = Clients.producer(namesrv);
        Admin.awaitQueues(check, producer, topic, QUEUES);
        Received received = new Received();
        DefaultMQPushConsumer consumer = Clients.pushConsumer(namesrv, Clients.name("GK"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(received.concurrently("after-kill"));
        Clients.start(consumer);
        received.awaitKeysThenQuiet(acked, Duration.ofSeconds(2));
        Set<String> missing = received.missing(acked);
        check.that(missing.isEmpty(), "every one of " + acked.size() + " acknowledged messages survived the kill",
                "lost " + missing.size() + ": " + Check.brief(missing));
        Set<String> unknown = new HashSet<>(received.keys());
        unknown.removeAll(sent);
        check.that(unknown.isEmpty(), "nothing was received that was never sent", unknown);
        check.that(received.duplicated().isEmpty(), "each message was received once",
                Check.brief(received.duplicated()));
        received.checkBodies(check);
        Log.step(received.keys().size() + " messages recovered: " + acked.size() + " acknowledged, "
                + (received.keys().size() - (acked.size() - missing.size())) + " more that were in flight at the kill");
    }

    /** Sends messages {@code from}..{@code from+count} of {@code topic}; returns their keys. */
    private static List<String> sendAll(Check check, DefaultMQProducer producer, String topic, int from, int count)
            throws Exception {
        List<String> keys = new ArrayList<>();
        int ok = 0;
        for (int i = from; i < from + count; i++) {
            ok += producer.send(Messages.make(topic, "TagR", i)).getSendStatus() == SendStatus.SEND_OK ? 1 : 0;
            keys.add(Messages.key(topic, i));
        }
        check.equal(count, ok, "sends answered SEND_OK");
        return keys;
    }

    /** Waits until the broker holds {@code group}'s offsets at the end of every queue. */
    private static void awaitCaughtUp(Check check, DefaultMQProducer producer, Map<String, String> masters,
            String group, List<MessageQueue> queues, String when) {
        List<Map<MessageQueue, long[]>> last = new ArrayList<>(List.of(Map.of()));
        List<String> errors = new ArrayList<>();
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            try {
                last.set(0, Offsets.progress(producer, masters, group, queues));
            } catch (Exception e) {
                errors.add(Check.describe(e));
                return false;
            }
            return Offsets.caughtUp(last.get(0));
        });
        check.that(ok, "the broker holds " + group + "'s committed offsets at the end of every queue " + when,
                Offsets.describe(last.get(0)) + (errors.isEmpty() ? "" : "; last error: " + errors.get(errors.size() - 1)));
    }

    private static String arg(List<String> args, int index, String name) {
        if (args.size() <= index) {
            throw new IllegalArgumentException("missing argument " + name);
        }
        return args.get(index);
    }
}
