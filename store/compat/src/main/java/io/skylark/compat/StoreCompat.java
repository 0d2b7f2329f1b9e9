package io.skylark.compat;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.common.BrokerConfig;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;
import org.apache.rocketmq.store.DefaultMessageStore;
import org.apache.rocketmq.store.DispatchRequest;
import org.apache.rocketmq.store.GetMessageResult;
import org.apache.rocketmq.store.GetMessageStatus;
import org.apache.rocketmq.store.PutMessageResult;
import org.apache.rocketmq.store.PutMessageStatus;
import org.apache.rocketmq.store.QueryMessageResult;
import org.apache.rocketmq.store.SelectMappedBufferResult;
import org.apache.rocketmq.store.config.MessageStoreConfig;
import org.apache.rocketmq.store.config.StorePathConfigHelper;
import org.apache.rocketmq.store.queue.ConsumeQueueInterface;
import org.apache.rocketmq.store.queue.CqUnit;
import org.apache.rocketmq.store.stats.BrokerStatsManager;

/**
 * Java half of Skylark's store compatibility proof, on Apache RocketMQ 5.3.3's own
 * DefaultMessageStore.
 *
 * <pre>
 *   write &lt;storeDir&gt; &lt;count&gt; [options]   put count deterministic messages, shut down cleanly,
 *                                       print what the store holds (JSON lines)
 *   read  &lt;storeDir&gt; [options]           load() + recover + start() an existing directory,
 *                                       print what it holds (same JSON lines)
 * </pre>
 *
 * stdout carries only the JSON lines; everything else (RocketMQ's log, summaries, errors)
 * goes to stderr. Exit codes: 0 ok, 1 usage / unexpected exception, 2 load() or start()
 * failed, 3 the store was readable but inconsistent (details on stderr).
 */
public final class StoreCompat {
    static final String GROUP = "skylark-compat";
    static final String PROPS_FILE = "compat.properties";
    /** queryMessage maxNum; DefaultMessageStore caps it at maxMsgsNumBatch (64) anyway. */
    static final int QUERY_MAX = 64;

    private static PrintStream out;

    private StoreCompat() {
    }

    public static void main(String[] args) {
        // Keep stdout for JSON only, whatever a library prints.
        out = new PrintStream(new FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        int rc;
        try {
            rc = run(args);
        } catch (UsageException e) {
            System.err.println("store-compat: " + e.getMessage());
            System.err.println(USAGE);
            rc = 1;
        } catch (Throwable t) {
            System.err.println("store-compat: FAILED: " + t);
            t.printStackTrace(System.err);
            rc = 1;
        }
        out.flush();
        System.err.flush();
        // rocketmq-store leaves non-daemon threads behind.
        System.exit(rc);
    }

    static final String USAGE = String.join("\n",
        "usage: StoreCompat write <storeDir> <count> [options]",
        "       StoreCompat read  <storeDir> [options]",
        "options (override <storeDir>/compat.properties, which override the defaults):",
        "  --commitlog-size N   mappedFileSizeCommitLog in bytes     (default 1048576)",
        "  --cq-size N          mappedFileSizeConsumeQueue in bytes  (default 6000 = 300 entries x 20)",
        "  --index-slots N      maxHashSlotNum                       (default 1000)",
        "  --index-num N        maxIndexNum                          (default 5000)",
        "  --flush TYPE         flushDiskType ASYNC_FLUSH|SYNC_FLUSH (default ASYNC_FLUSH)",
        "  --set key=value      any other MessageStoreConfig property",
        "  --query TOPIC:KEY    index query to run (repeatable; replaces the default sample)",
        "  --body-hex           add \"bodyHex\" to every message line");

    static final class UsageException extends Exception {
        UsageException(String m) {
            super(m);
        }
    }

    static final class Options {
        Path root;
        int count = -1;
        final Properties overrides = new Properties();
        final List<String[]> queries = new ArrayList<>();
        boolean bodyHex;
    }

    static int run(String[] args) throws Exception {
        if (args.length < 2) {
            throw new UsageException("missing arguments");
        }
        String cmd = args[0];
        Options o = new Options();
        o.root = Paths.get(args[1]).toAbsolutePath().normalize();
        int i = 2;
        if (cmd.equals("write")) {
            if (args.length < 3) {
                throw new UsageException("write needs <storeDir> <count>");
            }
            o.count = Integer.parseInt(args[2]);
            i = 3;
        } else if (!cmd.equals("read")) {
            throw new UsageException("unknown command " + cmd);
        }
        for (; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--commitlog-size":
                    o.overrides.setProperty("mappedFileSizeCommitLog", value(args, ++i, a));
                    break;
                case "--cq-size":
                    o.overrides.setProperty("mappedFileSizeConsumeQueue", value(args, ++i, a));
                    break;
                case "--index-slots":
                    o.overrides.setProperty("maxHashSlotNum", value(args, ++i, a));
                    break;
                case "--index-num":
                    o.overrides.setProperty("maxIndexNum", value(args, ++i, a));
                    break;
                case "--flush":
                    o.overrides.setProperty("flushDiskType", value(args, ++i, a));
                    break;
                case "--set": {
                    String kv = value(args, ++i, a);
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new UsageException("--set wants key=value, got " + kv);
                    }
                    o.overrides.setProperty(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
                    break;
                }
                case "--query": {
                    String tk = value(args, ++i, a);
                    int c = tk.indexOf(':');
                    if (c <= 0) {
                        throw new UsageException("--query wants TOPIC:KEY, got " + tk);
                    }
                    o.queries.add(new String[] {tk.substring(0, c), tk.substring(c + 1)});
                    break;
                }
                case "--body-hex":
                    o.bodyHex = true;
                    break;
                default:
                    throw new UsageException("unknown option " + a);
            }
        }
        return cmd.equals("write") ? write(o) : read(o);
    }

    private static String value(String[] args, int i, String opt) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(opt + " needs a value");
        }
        return args[i];
    }

    // ------------------------------------------------------------------ configuration

    static Properties defaults() {
        Properties p = new Properties();
        p.setProperty("mappedFileSizeCommitLog", Integer.toString(1024 * 1024));
        p.setProperty("mappedFileSizeConsumeQueue", Integer.toString(300 * 20));
        p.setProperty("maxHashSlotNum", "1000");
        p.setProperty("maxIndexNum", "5000");
        p.setProperty("flushDiskType", "ASYNC_FLUSH");
        p.setProperty("messageIndexEnable", "true");
        return p;
    }

    static Properties effectiveProperties(Options o) throws IOException {
        Properties p = defaults();
        Path f = o.root.resolve(PROPS_FILE);
        if (Files.isRegularFile(f)) {
            Properties fromFile = new Properties();
            try (InputStream in = Files.newInputStream(f)) {
                fromFile.load(in);
            }
            p.putAll(fromFile);
        }
        p.putAll(o.overrides);
        for (String forbidden : new String[] {"storePathRootDir", "storePathCommitLog"}) {
            if (p.containsKey(forbidden)) {
                throw new IllegalArgumentException(forbidden + " is derived from <storeDir> and cannot be set");
            }
        }
        return p;
    }

    static MessageStoreConfig storeConfig(Path root, Properties p) {
        MessageStoreConfig cfg = new MessageStoreConfig();
        MixAll.properties2Object(p, cfg);
        cfg.setStorePathRootDir(root.toString());
        // Listen for HA on an ephemeral port: parallel test runs must not collide on 10912.
        cfg.setHaListenPort(0);
        return cfg;
    }

    static void writeProperties(Path root, Properties p) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# MessageStoreConfig properties used by store/compat (StoreCompat).\n");
        sb.append("# `read` applies them to this directory unless overridden on its command line.\n");
        for (String k : new java.util.TreeSet<>(p.stringPropertyNames())) {
            sb.append(k).append('=').append(p.getProperty(k)).append('\n');
        }
        Files.write(root.resolve(PROPS_FILE), sb.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    static String describe(MessageStoreConfig c) {
        return "mappedFileSizeCommitLog=" + c.getMappedFileSizeCommitLog()
            + " mappedFileSizeConsumeQueue=" + c.getMappedFileSizeConsumeQueue()
            + " maxHashSlotNum=" + c.getMaxHashSlotNum()
            + " maxIndexNum=" + c.getMaxIndexNum()
            + " flushDiskType=" + c.getFlushDiskType()
            + " messageIndexEnable=" + c.isMessageIndexEnable();
    }

    static DefaultMessageStore newStore(MessageStoreConfig cfg) throws IOException {
        BrokerConfig brokerConfig = new BrokerConfig();
        BrokerStatsManager stats = new BrokerStatsManager(brokerConfig.getBrokerClusterName(), false);
        return new DefaultMessageStore(cfg, stats, null, brokerConfig, new ConcurrentHashMap<>());
    }

    // ------------------------------------------------------------------ write

    static int write(Options o) throws Exception {
        if (o.count < 0) {
            throw new UsageException("count must be >= 0");
        }
        Path root = o.root;
        if (Files.exists(root.resolve("commitlog")) || Files.exists(root.resolve("consumequeue"))) {
            throw new IllegalStateException(root + " already holds a store; write wants a new or empty directory");
        }
        Files.createDirectories(root);
        Properties p = effectiveProperties(o);
        writeProperties(root, p);
        MessageStoreConfig cfg = storeConfig(root, p);
        System.err.println("write: " + root + " count=" + o.count + " " + describe(cfg));

        long t0 = System.nanoTime();
        DefaultMessageStore store = newStore(cfg);
        if (!store.load()) {
            System.err.println("write: FAILED: DefaultMessageStore.load() returned false for a new directory");
            return 2;
        }
        store.start();

        // Where every put landed, by seq (the generator's i).
        long[] wroteOffset = new long[o.count];
        long[] logicsOffset = new long[o.count];
        Map<String, Long> expectedMax = new TreeMap<>();
        for (int i = 0; i < o.count; i++) {
            MessageExtBrokerInner m = Generator.message(i);
            PutMessageResult r = store.putMessage(m);
            if (r == null || r.getPutMessageStatus() != PutMessageStatus.PUT_OK) {
                throw new IllegalStateException("putMessage #" + i + " failed: " + r);
            }
            wroteOffset[i] = r.getAppendMessageResult().getWroteOffset();
            logicsOffset[i] = r.getAppendMessageResult().getLogicsOffset();
            expectedMax.merge(m.getTopic() + "#" + m.getQueueId(), logicsOffset[i] + 1, Math::max);
        }

        // Wait until the reput service has dispatched everything to the consume queues and index.
        long deadline = System.currentTimeMillis() + 120_000;
        while (true) {
            boolean done = store.dispatchBehindBytes() == 0;
            for (Map.Entry<String, Long> e : expectedMax.entrySet()) {
                String[] tq = e.getKey().split("#");
                if (store.getMaxOffsetInQueue(tq[0], Integer.parseInt(tq[1])) < e.getValue()) {
                    done = false;
                }
            }
            if (done) {
                break;
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("dispatch did not catch up within 120 s, behind="
                    + store.dispatchBehindBytes());
            }
            Thread.sleep(20);
        }
        long tPut = System.nanoTime();

        List<String> errors = new ArrayList<>();
        List<Msg> msgs = dumpQueues(store, root, errors);
        // Cross-check the dump against what putMessage reported.
        if (msgs.size() != o.count) {
            errors.add("dump found " + msgs.size() + " messages, wrote " + o.count);
        }
        for (Msg m : msgs) {
            int seq = Integer.parseInt(m.properties.get("seq"));
            if (m.physicalOffset != wroteOffset[seq] || m.queueOffset != logicsOffset[seq]) {
                errors.add("seq " + seq + ": dump says " + m.physicalOffset + "/" + m.queueOffset
                    + ", putMessage said " + wroteOffset[seq] + "/" + logicsOffset[seq]);
            }
        }
        checkCommitLog(store, msgs, errors);
        List<String> queryLines = indexQueries(store, msgs, o.queries);

        store.shutdown();
        boolean abortLeft = Files.exists(Paths.get(StorePathConfigHelper.getAbortFile(root.toString())));
        if (abortLeft) {
            errors.add("shutdown left the abort file behind (not a clean shutdown)");
        }
        long tEnd = System.nanoTime();
        // UNIQ_KEY plus the two KEYS of every message. A shortfall means two index files were
        // created in the same millisecond (IndexService names them by time): raise maxIndexNum.
        long indexEntries = indexEntries(root);
        if (cfg.isMessageIndexEnable() && indexEntries != 3L * o.count) {
            errors.add("index files hold " + indexEntries + " entries, expected " + (3L * o.count));
        }

        for (Msg m : msgs) {
            out.println(m.toJson(o.bodyHex));
        }
        for (String q : queryLines) {
            out.println(q);
        }
        out.flush();
        System.err.printf("write: %d messages, %d index queries; put+dispatch %d ms, dump+shutdown %d ms%n",
            msgs.size(), queryLines.size(), (tPut - t0) / 1_000_000, (tEnd - tPut) / 1_000_000);
        System.err.println("write: on disk: " + layout(root));
        return report("write", errors);
    }

    // ------------------------------------------------------------------ read

    static int read(Options o) throws Exception {
        Path root = o.root;
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException(root + " is not a directory");
        }
        Properties p = effectiveProperties(o);
        MessageStoreConfig cfg = storeConfig(root, p);
        System.err.println("read: " + root + " " + describe(cfg));
        System.err.println("read: before load: " + layout(root));

        long t0 = System.nanoTime();
        DefaultMessageStore store = newStore(cfg);
        boolean loaded;
        try {
            loaded = store.load();
        } catch (Throwable t) {
            System.err.println("read: FAILED: DefaultMessageStore.load() threw " + t);
            t.printStackTrace(System.err);
            return 2;
        }
        if (!loaded) {
            System.err.println("read: FAILED: DefaultMessageStore.load() returned false. Usual causes: a file in"
                + " commitlog/ or consumequeue/<topic>/<queue>/ whose length is not exactly the configured"
                + " mapped file size (see --commitlog-size / --cq-size), or a file name that is not a number."
                + " RocketMQ's own log lines above (stderr) name the file.");
            return 2;
        }
        try {
            store.start();
        } catch (Throwable t) {
            System.err.println("read: FAILED: DefaultMessageStore.start() threw " + t);
            t.printStackTrace(System.err);
            return 2;
        }
        long deadline = System.currentTimeMillis() + 60_000;
        while (store.dispatchBehindBytes() > 0) {
            if (System.currentTimeMillis() > deadline) {
                System.err.println("read: dispatch still behind after 60 s: " + store.dispatchBehindBytes());
                break;
            }
            Thread.sleep(20);
        }
        long tOpen = System.nanoTime();
        System.err.printf("read: recovered; minPhyOffset=%d maxPhyOffset=%d%n",
            store.getMinPhyOffset(), store.getMaxPhyOffset());

        List<String> errors = new ArrayList<>();
        List<Msg> msgs = dumpQueues(store, root, errors);
        checkCommitLog(store, msgs, errors);
        List<String> queryLines = indexQueries(store, msgs, o.queries);
        store.shutdown();
        long tEnd = System.nanoTime();

        for (Msg m : msgs) {
            out.println(m.toJson(o.bodyHex));
        }
        for (String q : queryLines) {
            out.println(q);
        }
        out.flush();
        System.err.printf("read: %d messages, %d index queries; load+recover+start %d ms, dump+shutdown %d ms%n",
            msgs.size(), queryLines.size(), (tOpen - t0) / 1_000_000, (tEnd - tOpen) / 1_000_000);
        return report("read", errors);
    }

    static int report(String cmd, List<String> errors) {
        if (errors.isEmpty()) {
            return 0;
        }
        int shown = 0;
        for (String e : errors) {
            if (shown++ == 50) {
                System.err.println(cmd + ": ... and " + (errors.size() - 50) + " more");
                break;
            }
            System.err.println(cmd + ": INCONSISTENT: " + e);
        }
        System.err.println(cmd + ": FAILED with " + errors.size() + " consistency error(s)");
        return 3;
    }

    // ------------------------------------------------------------------ dumping

    /**
     * Every message of every queue under consumequeue/, read with getMessage() from min to
     * max offset. Ordered by topic name, then queue id, then queue offset.
     */
    static List<Msg> dumpQueues(DefaultMessageStore store, Path root, List<String> errors) throws Exception {
        List<Msg> result = new ArrayList<>();
        File[] topicDirs = root.resolve("consumequeue").toFile().listFiles(File::isDirectory);
        if (topicDirs == null) {
            return result;
        }
        Arrays.sort(topicDirs, Comparator.comparing(File::getName));
        for (File td : topicDirs) {
            String topic = td.getName();
            File[] qds = td.listFiles(File::isDirectory);
            List<Integer> qids = new ArrayList<>();
            for (File qd : qds == null ? new File[0] : qds) {
                try {
                    qids.add(Integer.parseInt(qd.getName()));
                } catch (NumberFormatException ignored) {
                    // RocketMQ skips these too
                }
            }
            qids.sort(null);
            for (int qid : qids) {
                dumpQueue(store, topic, qid, result, errors);
            }
        }
        return result;
    }

    static void dumpQueue(DefaultMessageStore store, String topic, int qid, List<Msg> into, List<String> errors)
        throws Exception {
        ConsumeQueueInterface cq = store.getConsumeQueue(topic, qid);
        if (cq == null) {
            errors.add(topic + "/" + qid + ": directory exists but the store did not load a consume queue");
            return;
        }
        long min = store.getMinOffsetInQueue(topic, qid);
        long max = store.getMaxOffsetInQueue(topic, qid);
        long off = min;
        while (off < max) {
            GetMessageResult r = store.getMessage(GROUP, topic, qid, off, 32, null);
            if (r == null) {
                errors.add(topic + "/" + qid + " @" + off + ": getMessage returned null");
                return;
            }
            try {
                if (r.getStatus() != GetMessageStatus.FOUND) {
                    errors.add(topic + "/" + qid + " @" + off + ": getMessage status " + r.getStatus()
                        + " (min " + min + ", max " + max + ")");
                    return;
                }
                List<SelectMappedBufferResult> bufs = r.getMessageMapedList();
                List<Long> qoffs = r.getMessageQueueOffset();
                for (int k = 0; k < bufs.size(); k++) {
                    long qo = qoffs.get(k);
                    ByteBuffer bb = bufs.get(k).getByteBuffer().slice();
                    MessageExt m = MessageDecoder.decode(bb, true, false, false, false, true);
                    CqUnit u = cq.get(qo);
                    if (m == null) {
                        errors.add(topic + "/" + qid + " @" + qo + ": MessageDecoder.decode failed (bad record or body CRC)"
                            + (u == null ? "" : " at physical offset " + u.getPos()));
                        continue;
                    }
                    String where = topic + "/" + qid + " @" + qo + ": ";
                    if (u == null) {
                        errors.add(where + "no consume queue unit");
                    } else {
                        if (u.getPos() != m.getCommitLogOffset()) {
                            errors.add(where + "CQ pos " + u.getPos() + " != record PHYSICALOFFSET " + m.getCommitLogOffset());
                        }
                        if (u.getSize() != m.getStoreSize()) {
                            errors.add(where + "CQ size " + u.getSize() + " != record TOTALSIZE " + m.getStoreSize());
                        }
                    }
                    if (m.getQueueOffset() != qo) {
                        errors.add(where + "record QUEUEOFFSET " + m.getQueueOffset());
                    }
                    if (!topic.equals(m.getTopic()) || m.getQueueId() != qid) {
                        errors.add(where + "record says " + m.getTopic() + "/" + m.getQueueId());
                    }
                    into.add(new Msg(m, u == null ? Long.MIN_VALUE : u.getTagsCode()));
                }
                if (r.getNextBeginOffset() <= off) {
                    errors.add(topic + "/" + qid + " @" + off + ": getMessage made no progress");
                    return;
                }
                off = r.getNextBeginOffset();
            } finally {
                r.release();
            }
        }
    }

    /**
     * Walks the commit log record by record from its min to its max offset (BLANK records
     * jump to the next file) and checks that (a) every record's PHYSICALOFFSET field is its
     * real position, (b) every record is referenced by exactly the consume queue entry its
     * header names, and (c) no consume queue entry points elsewhere.
     */
    static void checkCommitLog(DefaultMessageStore store, List<Msg> fromQueues, List<String> errors) {
        Map<Long, Msg> byOffset = new HashMap<>();
        for (Msg m : fromQueues) {
            if (byOffset.put(m.physicalOffset, m) != null) {
                errors.add("two consume queue entries point at physical offset " + m.physicalOffset);
            }
        }
        long min = store.getCommitLog().getMinOffset();
        long max = store.getCommitLog().getMaxOffset();
        long off = min;
        int records = 0;
        int blanks = 0;
        Set<Long> seen = new HashSet<>();
        while (off < max) {
            SelectMappedBufferResult sb = store.getCommitLog().getData(off, false);
            if (sb == null) {
                errors.add("commit log has no data at " + off + " (max " + max + ")");
                break;
            }
            try {
                ByteBuffer bb = sb.getByteBuffer();
                long fileEnd = store.getCommitLog().rollNextFile(off);
                boolean nextFile = false;
                while (bb.remaining() > 0 && off < max) {
                    int start = bb.position();
                    DispatchRequest d = store.getCommitLog().checkMessageAndReturnSize(bb, true, false, true);
                    if (d.isSuccess() && d.getMsgSize() > 0) {
                        records++;
                        if (d.getCommitLogOffset() != off) {
                            errors.add("record at " + off + " has PHYSICALOFFSET " + d.getCommitLogOffset());
                        }
                        Msg m = byOffset.get(off);
                        if (m == null) {
                            errors.add("record at " + off + " (" + d.getTopic() + "/" + d.getQueueId() + " @"
                                + d.getConsumeQueueOffset() + ") is not reachable through any consume queue");
                        } else if (!m.topic.equals(d.getTopic()) || m.queueId != d.getQueueId()
                            || m.queueOffset != d.getConsumeQueueOffset()) {
                            errors.add("record at " + off + " mismatch with consume queue view");
                        }
                        seen.add(off);
                        off += d.getMsgSize();
                        bb.position(start + d.getMsgSize());
                    } else if (d.isSuccess()) {
                        blanks++;
                        nextFile = true;
                        break;
                    } else {
                        errors.add("unparseable commit log record at " + off + " (max " + max + ")");
                        return;
                    }
                }
                if (nextFile) {
                    off = fileEnd;
                }
            } finally {
                sb.release();
            }
        }
        for (Long o : byOffset.keySet()) {
            if (!seen.contains(o)) {
                errors.add("consume queue entry points at " + o + ", which is not a record boundary in [" + min
                    + ", " + max + ")");
            }
        }
        System.err.printf("commitlog: [%d, %d) %d records, %d BLANK end-of-file records%n", min, max, records, blanks);
    }

    // ------------------------------------------------------------------ index

    /**
     * Runs queryMessage(topic, key, 64, 0, Long.MAX_VALUE) for the requested keys, or by
     * default, per topic (sorted), for the first, middle and last message of that topic in
     * commit log order: its UNIQ_KEY, then each of its KEYS, skipping a (topic, key) pair
     * already queried.
     */
    static List<String> indexQueries(DefaultMessageStore store, List<Msg> msgs, List<String[]> requested) {
        List<String[]> qs = new ArrayList<>(requested);
        if (qs.isEmpty()) {
            Map<String, List<Msg>> byTopic = new TreeMap<>();
            for (Msg m : msgs) {
                byTopic.computeIfAbsent(m.topic, t -> new ArrayList<>()).add(m);
            }
            Set<String> done = new LinkedHashSet<>();
            for (Map.Entry<String, List<Msg>> e : byTopic.entrySet()) {
                List<Msg> l = e.getValue();
                l.sort(Comparator.comparingLong(m -> m.physicalOffset));
                int n = l.size();
                for (int idx : new int[] {0, n / 2, n - 1}) {
                    Msg m = l.get(idx);
                    List<String> keys = new ArrayList<>();
                    if (m.uniqKey != null) {
                        keys.add(m.uniqKey);
                    }
                    if (m.keys != null) {
                        keys.addAll(Arrays.asList(m.keys.split(" ")));
                    }
                    for (String k : keys) {
                        if (!k.isEmpty() && done.add(m.topic + "\u0000" + k)) {
                            qs.add(new String[] {m.topic, k});
                        }
                    }
                }
            }
        }
        List<String> lines = new ArrayList<>();
        for (String[] q : qs) {
            QueryMessageResult r = store.queryMessage(q[0], q[1], QUERY_MAX, 0, Long.MAX_VALUE);
            List<Long> offsets = new ArrayList<>();
            try {
                for (SelectMappedBufferResult b : r.getMessageMapedList()) {
                    offsets.add(b.getStartOffset());
                }
            } finally {
                r.release();
            }
            offsets.sort(null);
            Json inner = new Json().put("topic", q[0]).put("key", q[1]).putLongs("physicalOffsets", offsets);
            lines.add(new Json().putRaw("indexQuery", inner).toString());
        }
        return lines;
    }

    // ------------------------------------------------------------------ diagnostics

    /** Sum of (indexCount - 1) over the index file headers (slot 0 of every file is unused). */
    static long indexEntries(Path root) throws IOException {
        long total = 0;
        File[] files = root.resolve("index").toFile().listFiles(File::isFile);
        for (File f : files == null ? new File[0] : files) {
            try (RandomAccessFile raf = new RandomAccessFile(f, "r")) {
                if (raf.length() >= 40) {
                    raf.seek(36);
                    total += Math.max(raf.readInt() - 1, 0);
                }
            }
        }
        return total;
    }

    /** A one-line description of the store files, for stderr. */
    static String layout(Path root) {
        StringBuilder sb = new StringBuilder();
        File cl = root.resolve("commitlog").toFile();
        String[] cls = cl.list();
        sb.append("commitlog files=").append(cls == null ? 0 : cls.length);
        String[] idx = root.resolve("index").toFile().list();
        if (idx != null) {
            Arrays.sort(idx);
        }
        sb.append(", index files=").append(idx == null ? "[]" : Arrays.toString(idx));
        try {
            sb.append(" (").append(indexEntries(root)).append(" entries)");
        } catch (IOException e) {
            sb.append(" (unreadable: ").append(e).append(')');
        }
        sb.append(", abort=").append(Files.exists(root.resolve("abort")));
        sb.append(", lock=").append(Files.exists(root.resolve("lock")));
        Path cp = root.resolve("checkpoint");
        if (Files.exists(cp)) {
            try (RandomAccessFile f = new RandomAccessFile(cp.toFile(), "r")) {
                byte[] b = new byte[40];
                int n = f.read(b);
                ByteBuffer bb = ByteBuffer.wrap(b, 0, Math.max(n, 0)).order(ByteOrder.BIG_ENDIAN);
                sb.append(", checkpoint(len=").append(f.length()).append(")");
                if (n == 40) {
                    sb.append("{physicMsgTimestamp=").append(bb.getLong(0))
                        .append(", logicsMsgTimestamp=").append(bb.getLong(8))
                        .append(", indexMsgTimestamp=").append(bb.getLong(16))
                        .append(", masterFlushedOffset=").append(bb.getLong(24))
                        .append(", confirmPhyOffset=").append(bb.getLong(32)).append('}');
                }
            } catch (IOException e) {
                sb.append(", checkpoint unreadable: ").append(e);
            }
        } else {
            sb.append(", checkpoint=absent");
        }
        return sb.toString();
    }
}
