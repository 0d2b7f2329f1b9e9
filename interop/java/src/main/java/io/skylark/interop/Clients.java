package io.skylark.interop;

import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.exception.RemotingSendRequestException;

/**
 * Producers and consumers configured as an ordinary application would,
 * with unique names, and shut down (newest first) when the scenario ends.
 */
final class Clients {
    /** Generous hang guard for one send; a send on loopback takes milliseconds. */
    static final int SEND_TIMEOUT_MS = 15_000;

    /** Tells this run's topics and groups from any other run's on the same broker. */
    private static final String RUN = Long.toString(System.currentTimeMillis() % 100_000_000L, 36)
            + Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36), 36);
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final Deque<Runnable> OPEN = new ConcurrentLinkedDeque<>();

    private Clients() {}

    /** The client library's version, e.g. {@code V4_9_8}. */
    static String version() {
        return MQVersion.getVersionDesc(MQVersion.CURRENT_VERSION);
    }

    /** A fresh topic or group name: {@code Interop_<what>_<client>_<run>_<n>}. */
    static String name(String what) {
        String client = version().startsWith("V4") ? "c4" : "c5";
        return "Interop_" + what + "_" + client + "_" + RUN + "_" + SEQ.incrementAndGet();
    }

    /** A started producer with its own group. */
    static DefaultMQProducer producer(String namesrv) throws MQClientException {
        return start(newProducer(namesrv));
    }

    /** A producer not yet started, to be configured and passed to {@link #start(DefaultMQProducer)}. */
    static DefaultMQProducer newProducer(String namesrv) {
        DefaultMQProducer producer = new DefaultMQProducer(name("PG"));
        producer.setNamesrvAddr(namesrv);
        producer.setInstanceName(name("p"));
        producer.setSendMsgTimeout(SEND_TIMEOUT_MS);
        return producer;
    }

    /** Starts {@code producer} and shuts it down at the end. */
    static DefaultMQProducer start(DefaultMQProducer producer) throws MQClientException {
        producer.start();
        OPEN.push(producer::shutdown);
        return producer;
    }

    /**
     * A clustering push consumer of {@code group}, not yet started: averaged
     * allocation, starting from the first offset of a new group.
     */
    static DefaultMQPushConsumer pushConsumer(String namesrv, String group) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        // Several consumers of one group in one JVM must be distinct clients.
        consumer.setInstanceName(name("c"));
        consumer.setAllocateMessageQueueStrategy(new AllocateMessageQueueAveragely());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setConsumeThreadMin(2);
        consumer.setConsumeThreadMax(4);
        // Committed offsets are checked in some scenarios: push them every second.
        consumer.setPersistConsumerOffsetInterval(1000);
        return consumer;
    }

    /** Starts {@code consumer} and shuts it down at the end. */
    static DefaultMQPushConsumer start(DefaultMQPushConsumer consumer) throws MQClientException {
        consumer.start();
        OPEN.push(consumer::shutdown);
        return consumer;
    }

    /** A started lite pull consumer of a fresh group, committing only when told. */
    static DefaultLitePullConsumer litePull(String namesrv) throws MQClientException {
        return litePull(namesrv, name("LG"));
    }

    /**
     * A started lite pull consumer of {@code group}, committing only when
     * told, reading queues it has no offset for from their first message.
     * Start there rather than {@code seek} to 0 right after {@code assign}:
     * the assign starts each queue's pull task at once, and a seek racing a
     * pull that is bringing messages back can leave them cached twice (seen
     * with the 5.3.3 client: offsets 0-9 polled twice).
     */
    static DefaultLitePullConsumer litePull(String namesrv, String group) throws MQClientException {
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setInstanceName(name("l"));
        consumer.setAutoCommit(false);
        consumer.setPollTimeoutMillis(1000);
        consumer.start();
        OPEN.push(consumer::shutdown);
        return consumer;
    }

    /** Shuts down every client started here, newest first; errors are only printed. */
    static void closeAll() {
        Runnable close;
        while ((close = OPEN.poll()) != null) {
            try {
                close.run();
            } catch (RuntimeException e) {
                System.err.println("shutdown: " + Check.describe(e));
            }
        }
    }

    /** A seek of a lite pull consumer ({@code seek}, {@code seekToBegin}, ...). */
    interface Seek {
        void run() throws MQClientException;
    }

    /**
     * {@code seek}, retried when the client's own channel was closed under it.
     * The 5.3.3 client cancels a queue's pull task on {@code seek} by
     * interrupting its thread; an interrupted {@code invokeSync} makes the
     * client close the broker channel it shares, and the seek's own
     * GET_MIN_OFFSET on that channel then fails with "send request failed"
     * (seen against any broker). An application retries; so does this.
     */
    static void seek(DefaultLitePullConsumer consumer, MessageQueue mq, long offset) throws Exception {
        retrying("seek(" + mq.getQueueId() + ", " + offset + ")", () -> consumer.seek(mq, offset));
    }

    /** Runs {@code seek} (any of the seek calls), retried as {@link #seek} explains. */
    static void retrying(String what, Seek seek) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                seek.run();
                return;
            } catch (MQClientException e) {
                if (attempt >= 3 || !(e.getCause() instanceof RemotingSendRequestException)) {
                    throw e;
                }
                Log.step(what + " retried: " + Check.describe(e));
            }
        }
    }
}
