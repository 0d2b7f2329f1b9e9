package io.skylark.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Load generator for scripts/bench-vs-rocketmq, doing what RocketMQ's
 * benchmark Producer does by default: W threads, each sending S-byte
 * messages synchronously (one request in flight per thread) through one
 * DefaultMQProducer, ROCKETMQ (binary) header serialization, no
 * compression. It then measures a fixed window after a warm-up, which the
 * script needs for CPU per message, and prints one RESULT line.
 *
 * <pre>
 * SyncProducer -n 127.0.0.1:9876 -t Topic -w 16 -s 1024 --warmup 10 --duration 30 [--pid BROKER_PID]
 * </pre>
 *
 * With --pid, utime+stime of that process (/proc/PID/stat, clock ticks) is
 * read at the start and the end of the measured window and reported as
 * cpu_ticks. self_cpu_ticks is this process's own, and machine_busy_ticks
 * the whole machine's non-idle time (/proc/stat), over the same window: what
 * is left after the broker and the producer is other work on the machine.
 */
public final class SyncProducer {
    /** Latency histogram buckets of 10 µs up to 2 s; slower sends go to the last bucket. */
    private static final int BUCKET_US = 10;
    private static final int BUCKETS = 200_000;

    private final AtomicLongArray histogram = new AtomicLongArray(BUCKETS);
    private final LongAdder sent = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder rtMicrosTotal = new LongAdder();
    private volatile boolean measuring;
    private volatile boolean stopping;

    public static void main(String[] args) throws Exception {
        String namesrv = "127.0.0.1:9876";
        String topic = "BenchmarkTest";
        int threads = 64;
        int size = 128;
        int warmupSecs = 10;
        int durationSecs = 30;
        long pid = -1;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (value == null) {
                usage("missing value of " + args[i]);
            }
            switch (args[i]) {
                case "-n" -> namesrv = value;
                case "-t" -> topic = value;
                case "-w" -> threads = Integer.parseInt(value);
                case "-s" -> size = Integer.parseInt(value);
                case "--warmup" -> warmupSecs = Integer.parseInt(value);
                case "--duration" -> durationSecs = Integer.parseInt(value);
                case "--pid" -> pid = Long.parseLong(value);
                default -> usage("unknown option " + args[i]);
            }
            i++;
        }
        new SyncProducer().run(namesrv, topic, threads, size, warmupSecs, durationSecs, pid);
        // The client's daemon-less threads can outlive shutdown(); the result is printed.
        System.exit(0);
    }

    private static void usage(String why) {
        System.err.println("SyncProducer: " + why);
        System.err.println("usage: SyncProducer -n NAMESRV -t TOPIC -w THREADS -s SIZE"
            + " --warmup SECS --duration SECS [--pid PID]");
        System.exit(2);
    }

    private void run(String namesrv, String topic, int threads, int size, int warmupSecs,
        int durationSecs, long pid) throws Exception {
        // As RocketMQ's benchmark Producer does: binary headers, not JSON.
        System.setProperty(RemotingCommand.SERIALIZE_TYPE_PROPERTY, SerializeType.ROCKETMQ.name());
        byte[] body = randomAlphanumeric(size);

        DefaultMQProducer producer = new DefaultMQProducer("benchmark_producer");
        producer.setInstanceName(Long.toString(System.nanoTime()));
        producer.setNamesrvAddr(namesrv);
        producer.setCompressMsgBodyOverHowmuch(Integer.MAX_VALUE);
        producer.start();

        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            Thread thread = new Thread(() -> {
                try {
                    sendLoop(producer, topic, body);
                } finally {
                    done.countDown();
                }
            }, "bench-send-" + t);
            thread.setDaemon(true);
            thread.start();
        }

        long warmupEnd = System.nanoTime() + warmupSecs * 1_000_000_000L;
        printWindows(warmupEnd, "warm-up");
        long cpuStart = pid > 0 ? cpuTicks(pid) : -1;
        long selfStart = cpuTicks(ProcessHandle.current().pid());
        long busyStart = machineBusyTicks();
        long sentStart = sent.sum();
        long failedStart = failed.sum();
        long start = System.nanoTime();
        measuring = true;
        printWindows(start + durationSecs * 1_000_000_000L, "measure");
        measuring = false;
        long elapsedNanos = System.nanoTime() - start;
        long cpuEnd = pid > 0 ? cpuTicks(pid) : -1;
        long selfEnd = cpuTicks(ProcessHandle.current().pid());
        long busyEnd = machineBusyTicks();
        long sentCount = sent.sum() - sentStart;
        long failedCount = failed.sum() - failedStart;

        stopping = true;
        done.await();
        producer.shutdown();

        double seconds = elapsedNanos / 1e9;
        long measured = 0;
        for (int i = 0; i < BUCKETS; i++) {
            measured += histogram.get(i);
        }
        System.out.printf(
            "RESULT threads=%d size=%d seconds=%.3f sent=%d failed=%d tps=%.0f avg_rt_ms=%.3f"
                + " p50_rt_ms=%.3f p99_rt_ms=%.3f p999_rt_ms=%.3f cpu_ticks=%d self_cpu_ticks=%d"
                + " machine_busy_ticks=%d%n",
            threads, size, seconds, sentCount, failedCount, sentCount / seconds,
            measured == 0 ? 0.0 : rtMicrosTotal.sum() / 1000.0 / measured,
            percentileMs(measured, 0.50), percentileMs(measured, 0.99), percentileMs(measured, 0.999),
            cpuStart >= 0 && cpuEnd >= 0 ? cpuEnd - cpuStart : -1, selfEnd - selfStart, busyEnd - busyStart);
    }

    private void sendLoop(DefaultMQProducer producer, String topic, byte[] body) {
        while (!stopping) {
            Message msg = new Message(topic, body);
            long begin = System.nanoTime();
            try {
                SendResult result = producer.send(msg);
                long micros = (System.nanoTime() - begin) / 1000;
                if (result.getSendStatus() != SendStatus.SEND_OK) {
                    failed.increment();
                    continue;
                }
                sent.increment();
                if (measuring) {
                    rtMicrosTotal.add(micros);
                    histogram.incrementAndGet((int) Math.min(BUCKETS - 1, micros / BUCKET_US));
                }
            } catch (Exception e) {
                failed.increment();
                System.err.println("send failed: " + e);
                // As the benchmark Producer does after a remoting or broker error.
                sleep(1000);
            }
        }
    }

    /** Prints the send rate of every 5 s window until {@code end}. */
    private void printWindows(long end, String phase) {
        DateTimeFormatter clock = DateTimeFormatter.ofPattern("HH:mm:ss");
        long windowStart = System.nanoTime();
        long sentBefore = sent.sum();
        while (true) {
            long now = System.nanoTime();
            if (now >= end) {
                return;
            }
            sleep(Math.min(5000, Math.max(1, (end - now) / 1_000_000)));
            long windowEnd = System.nanoTime();
            long sentNow = sent.sum();
            System.out.printf("%s %s Send TPS: %.0f Send Failed: %d%n", LocalTime.now().format(clock), phase,
                (sentNow - sentBefore) / ((windowEnd - windowStart) / 1e9), failed.sum());
            windowStart = windowEnd;
            sentBefore = sentNow;
        }
    }

    private double percentileMs(long count, double quantile) {
        if (count == 0) {
            return 0.0;
        }
        long rank = (long) Math.ceil(count * quantile);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += histogram.get(i);
            if (seen >= rank) {
                return (i + 1) * BUCKET_US / 1000.0;
            }
        }
        return BUCKETS * BUCKET_US / 1000.0;
    }

    /** utime + stime of {@code pid}, all threads, in clock ticks. */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        // Fields after the parenthesised command name, which may hold spaces.
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** Non-idle time of all CPUs (user, nice, system, irq, softirq, steal), clock ticks. */
    private static long machineBusyTicks() throws IOException {
        String cpu = Files.readAllLines(Path.of("/proc/stat")).get(0);
        String[] f = cpu.trim().split("\\s+");
        // "cpu user nice system idle iowait irq softirq steal ..."
        return Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
            + Long.parseLong(f[7]) + Long.parseLong(f[8]);
    }

    private static byte[] randomAlphanumeric(int size) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Random random = new Random();
        byte[] body = new byte[size];
        for (int i = 0; i < size; i++) {
            body[i] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
        }
        return body;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
