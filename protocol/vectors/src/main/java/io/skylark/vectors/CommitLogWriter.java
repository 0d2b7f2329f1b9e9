package io.skylark.vectors;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.apache.rocketmq.common.BrokerConfig;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;
import org.apache.rocketmq.store.AppendMessageResult;
import org.apache.rocketmq.store.DefaultMessageStore;
import org.apache.rocketmq.store.DispatchRequest;
import org.apache.rocketmq.store.PutMessageResult;
import org.apache.rocketmq.store.PutMessageStatus;
import org.apache.rocketmq.store.SelectMappedBufferResult;
import org.apache.rocketmq.store.config.MessageStoreConfig;
import org.apache.rocketmq.store.stats.BrokerStatsManager;

/**
 * A real rocketmq-store CommitLog in a temporary folder. Messages go through
 * CommitLog.asyncPutMessage (MessageExtEncoder + DefaultAppendMessageCallback.doAppend),
 * and the vector is the bytes read back from the mapped file, so nothing here
 * re-implements the record layout.
 */
final class CommitLogWriter implements AutoCloseable {
    /** Small files so that a BLANK end-of-file marker is easy to provoke. */
    static final int FILE_SIZE = 16 * 1024;

    private final Path dir;
    private final BrokerStatsManager stats;
    private final DefaultMessageStore store;

    /**
     * @param firstFileOffset when > 0, an empty (zero-filled, like a freshly allocated)
     *                        commit log file is laid down at this offset first; store
     *                        recovery accepts it and the records we write start there.
     *                        Offsets above 2^32 exercise the 64-bit fields.
     * @param appendPropCrc   MessageStoreConfig.enabledAppendPropCRC (appends __CRC32#).
     */
    CommitLogWriter(long firstFileOffset, boolean appendPropCrc) throws IOException {
        this.dir = Files.createTempDirectory("skylark-commitlog");
        Path commitLogDir = dir.resolve("commitlog");
        Files.createDirectories(commitLogDir);
        if (firstFileOffset > 0) {
            try (RandomAccessFile f = new RandomAccessFile(
                commitLogDir.resolve(UtilAll.offset2FileName(firstFileOffset)).toFile(), "rw")) {
                f.setLength(FILE_SIZE);
            }
        }

        MessageStoreConfig cfg = new MessageStoreConfig();
        cfg.setStorePathRootDir(dir.toString());
        cfg.setStorePathCommitLog(commitLogDir.toString());
        cfg.setMappedFileSizeCommitLog(FILE_SIZE);
        cfg.setEnabledAppendPropCRC(appendPropCrc);
        // "Duplication" mode makes CommitLog keep the caller's storeTimestamp and
        // queueOffset instead of the wall clock / live consume queue: that is what
        // makes the output deterministic. The encoding path is otherwise unchanged.
        cfg.setDuplicationEnable(true);

        this.stats = new BrokerStatsManager("DefaultCluster", false);
        this.store = new DefaultMessageStore(cfg, stats, null, new BrokerConfig(), new ConcurrentHashMap<>());
        if (!store.load()) {
            throw new IOException("message store failed to load from " + dir);
        }
        // Only the file allocator is needed for appends; the rest of the store stays idle.
        store.getAllocateMappedFileService().start();
    }

    /** Result of one append: the exact record bytes and where they landed. */
    record Stored(byte[] bytes, long physicalOffset, AppendMessageResult result) {
    }

    Stored put(MessageExtBrokerInner msg) throws Exception {
        PutMessageResult r = store.getCommitLog().asyncPutMessage(msg).get();
        if (r.getPutMessageStatus() != PutMessageStatus.PUT_OK) {
            throw new IllegalStateException("put failed: " + r);
        }
        AppendMessageResult a = r.getAppendMessageResult();
        return new Stored(read(a.getWroteOffset(), a.getWroteBytes()), a.getWroteOffset(), a);
    }

    /** RocketMQ's own recovery-time parser (also understands the BLANK marker). */
    DispatchRequest check(byte[] record) {
        return store.getCommitLog().checkMessageAndReturnSize(ByteBuffer.wrap(record), true, false, true);
    }

    long maxOffset() {
        return store.getCommitLog().getMaxOffset();
    }

    byte[] read(long offset, int len) {
        SelectMappedBufferResult sb = store.getCommitLog().getData(offset, false);
        try {
            byte[] out = new byte[len];
            sb.getByteBuffer().get(out);
            return out;
        } finally {
            sb.release();
        }
    }

    @Override
    public void close() throws IOException {
        store.getAllocateMappedFileService().shutdown();
        store.shutdown();
        stats.shutdown();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
