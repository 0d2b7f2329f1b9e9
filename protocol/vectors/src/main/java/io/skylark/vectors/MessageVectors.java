package io.skylark.vectors;

import static io.skylark.vectors.Fixtures.BORN_V4;
import static io.skylark.vectors.Fixtures.BORN_V6;
import static io.skylark.vectors.Fixtures.STORE_V4;
import static io.skylark.vectors.Fixtures.STORE_V6;
import static io.skylark.vectors.Fixtures.TOPIC;
import static io.skylark.vectors.Out.hex;
import static io.skylark.vectors.Out.obj;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;
import org.apache.rocketmq.common.message.MessageVersion;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.store.CommitLog;
import org.apache.rocketmq.store.DispatchRequest;

/** CommitLog records (messages/*.bin) and the client batch encoding (batch/*.bin). */
final class MessageVectors {
    private final Out out;
    final List<Object> messages = Out.list();
    final List<Object> batches = Out.list();
    /** Record bytes by vector name; the pull response body reuses two of them. */
    final Map<String, byte[]> stored = new LinkedHashMap<>();
    /** Physical (commit log) offset by vector name, for frames that refer to a stored message. */
    final Map<String, Long> offsets = new LinkedHashMap<>();

    private static final Map<String, String> NOTES = Map.of(
        "v1_prepared", "PREPARED type written straight to the CommitLog (doAppend zeroes its queueOffset). "
            + "A 5.x broker normally stores half messages as NOT_TYPE under RMQ_SYS_TRANS_HALF_TOPIC.",
        "v1_commit", "COMMIT type as EndTransactionProcessor writes it; preparedTransactionOffset = v1_prepared.",
        "v1_prop_crc", "Broker with enabledAppendPropCRC=true: __CRC32# value has its decimal digits "
            + "least-significant first (MessageDecoder.createCrc32).",
        "v1_empty_props", "propertiesLength 0; MessageDecoder leaves properties null.");

    MessageVectors(Out out) {
        this.out = out;
    }

    void generate() throws Exception {
        // Records start at 2^32 + FILE_SIZE, so physical offsets need all 64 bits.
        try (CommitLogWriter log = new CommitLogWriter(1L << 32, false)) {
            Message a = Fixtures.messageA();
            put(log, "v1_ipv4", props(a), a.getBody(), 0, 0, BORN_V4, STORE_V4, 100, 0, true, TOPIC, 3);
            Message b = Fixtures.messageB();
            put(log, "v1_ipv4_next", props(b), b.getBody(), 0, 0, BORN_V4, STORE_V4, 101, 0, true, TOPIC, 3);

            Message c = Fixtures.clientMessage(TOPIC, "TagA", "v6", bytes("from an IPv6 producer"), 3);
            put(log, "v1_ipv6_born", props(c), c.getBody(), 0, 0, BORN_V6, STORE_V4, 7, 0, true, TOPIC, 0);

            Message d = Fixtures.clientMessage(TOPIC, "TagA", "v6both", bytes("IPv6 producer, IPv6 broker"), 4);
            put(log, "v1_ipv6_both", props(d), d.getBody(), 0, 0, BORN_V6, STORE_V6, 8, 0, true, TOPIC, 0);

            // CommitLog switches to MESSAGE_VERSION_V2 (2-byte topic length) for topics > 127 chars.
            String longTopic = "SkylarkLongTopic_" + "abcdefghij".repeat(19);
            Message e = Fixtures.clientMessage(longTopic, "TagLong", "long", bytes("v2 body"), 5);
            put(log, "v2_long_topic", props(e), e.getBody(), 0, 0, BORN_V4, STORE_V4, 0, 0, true, longTopic, 1);

            // No properties at all: the record carries a zero properties length.
            put(log, "v1_empty_props", null, bytes("no properties"), 0, 0, BORN_V4, STORE_V4, 9, 0, false, TOPIC, 2);

            // Half message of a transaction, as the producer marks it; doAppend forces queueOffset to 0.
            Message f = Fixtures.clientMessage(TOPIC, "TagTx", "tx-1", bytes("prepared transaction body"), 6);
            MessageAccessor.putProperty(f, MessageConst.PROPERTY_TRANSACTION_PREPARED, "true");
            MessageAccessor.putProperty(f, MessageConst.PROPERTY_PRODUCER_GROUP, Fixtures.PRODUCER_GROUP);
            put(log, "v1_prepared", props(f), f.getBody(), 0, MessageSysFlag.TRANSACTION_PREPARED_TYPE,
                BORN_V4, STORE_V4, 55, 0, true, TOPIC, 1);
            // EndTransactionProcessor's commit: COMMIT type, pointing back at the prepared record.
            MessageExtBrokerInner commit = Fixtures.brokerInner(TOPIC, 1, props(f), f.getBody(), 0,
                MessageSysFlag.TRANSACTION_COMMIT_TYPE, BORN_V4, STORE_V4, 56, 0, true);
            commit.setPreparedTransactionOffset(offsets.get("v1_prepared"));
            put(log, "v1_commit", commit);

            // Retry-topic message: non-zero flag and reconsumeTimes, non-ASCII body and property values.
            Message g = Fixtures.clientMessage("%RETRY%" + Fixtures.CONSUMER_GROUP, "\u6807\u7b7eA", "\u952e1 \u952e2",
                "\u6d88\u606f\u4f53 body \u2713 \ud83d\ude00".getBytes(StandardCharsets.UTF_8), 7);
            MessageAccessor.putProperty(g, MessageConst.PROPERTY_RETRY_TOPIC, TOPIC);
            MessageAccessor.putProperty(g, MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, "C0A8000100002A9F0000000000000064");
            put(log, "v1_retry_nonascii", props(g), g.getBody(), 5, 0, BORN_V4, STORE_V4, 12, 2, true,
                "%RETRY%" + Fixtures.CONSUMER_GROUP, 0);

            blank(log);
        }

        // A broker with enabledAppendPropCRC=true appends "__CRC32#" to the properties.
        try (CommitLogWriter log = new CommitLogWriter(0, true)) {
            Message h = Fixtures.clientMessage(TOPIC, "TagA", "crc", bytes("property crc32 enabled"), 8);
            put(log, "v1_prop_crc", props(h), h.getBody(), 0, 0, BORN_V4, STORE_V4, 13, 0, true, TOPIC, 0);
        }

        batch();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String props(Message m) {
        return MessageDecoder.messageProperties2String(m.getProperties());
    }

    private void put(CommitLogWriter log, String name, String headerProps, byte[] body, int flag, int sysFlag,
        InetSocketAddress born, InetSocketAddress store, long queueOffset, int reconsume, boolean cluster,
        String topic, int queueId) throws Exception {
        put(log, name, Fixtures.brokerInner(topic, queueId, headerProps, body, flag, sysFlag,
            born, store, queueOffset, reconsume, cluster));
    }

    private void put(CommitLogWriter log, String name, MessageExtBrokerInner inner) throws Exception {
        CommitLogWriter.Stored s = log.put(inner);
        byte[] rec = s.bytes();
        String file = "messages/" + name + ".bin";
        out.write(file, rec);
        stored.put(name, rec);
        offsets.put(name, s.physicalOffset());

        // Everything below is read back with RocketMQ's own decoders.
        MessageExt m = MessageDecoder.decode(ByteBuffer.wrap(rec), true, false, false, true, true);
        if (m == null) {
            throw new IllegalStateException(name + ": MessageDecoder could not decode the record (or CRC mismatch)");
        }
        DispatchRequest dr = log.check(rec);
        if (!dr.isSuccess() || dr.getMsgSize() != rec.length) {
            throw new IllegalStateException(name + ": CommitLog.checkMessageAndReturnSize rejected the record");
        }
        // A zero properties length leaves the decoded map null.
        Map<String, String> props = m.getProperties() == null
            ? new LinkedHashMap<>() : new LinkedHashMap<>(m.getProperties());
        String propsString = props.containsKey("propertiesString") ? props.remove("propertiesString") : "";
        int magic = ByteBuffer.wrap(rec).getInt(MessageDecoder.MESSAGE_MAGIC_CODE_POSITION);

        messages.add(obj(
            "name", name,
            "file", file,
            "totalSize", m.getStoreSize(),
            "magic", magic,
            "magicHex", String.format("0x%08X", magic),
            "messageVersion", MessageVersion.valueOfMagicCode(magic).name(),
            "bodyCrc", m.getBodyCRC(),
            "queueId", m.getQueueId(),
            "flag", m.getFlag(),
            "queueOffset", m.getQueueOffset(),
            "physicalOffset", m.getCommitLogOffset(),
            "sysFlag", m.getSysFlag(),
            "bornTimestamp", m.getBornTimestamp(),
            "bornHost", host(m.getBornHost()),
            "storeTimestamp", m.getStoreTimestamp(),
            "storeHost", host(m.getStoreHost()),
            "reconsumeTimes", m.getReconsumeTimes(),
            "preparedTransactionOffset", m.getPreparedTransactionOffset(),
            "bodyHex", hex(m.getBody()),
            "topic", m.getTopic(),
            "properties", wireOrder(props, propsString),
            "propertiesString", propsString,
            "offsetMsgId", m.getMsgId(),
            "tagsCode", dr.getTagsCode(),
            "note", NOTES.get(name)));
    }

    /** Decoded properties, listed in the order they appear in the record. */
    static Map<String, String> wireOrder(Map<String, String> props, String raw) {
        if (raw == null) {
            return props;
        }
        String hay = MessageDecoder.PROPERTY_SEPARATOR + raw;
        Map<String, String> ordered = new LinkedHashMap<>();
        props.keySet().stream()
            .sorted(Comparator.comparingInt(k -> hay.indexOf(MessageDecoder.PROPERTY_SEPARATOR + k
                + MessageDecoder.NAME_VALUE_SEPARATOR)))
            .forEach(k -> ordered.put(k, props.get(k)));
        return ordered;
    }

    /** "a.b.c.d:port" for IPv4, "[Java getHostAddress()]:port" for IPv6 (uncompressed groups). */
    static String host(SocketAddress sa) {
        InetSocketAddress a = (InetSocketAddress) sa;
        String ip = a.getAddress().getHostAddress();
        return (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }

    /**
     * Fills the rest of the current file with a message that does not fit, so that
     * doAppend writes its BLANK end-of-file marker (TOTALSIZE = remaining bytes,
     * MAGICCODE = BLANK_MAGIC_CODE) and rolls over to the next file.
     */
    private void blank(CommitLogWriter log) throws Exception {
        long at = log.maxOffset();
        int remaining = (int) (CommitLogWriter.FILE_SIZE - at % CommitLogWriter.FILE_SIZE);
        MessageExtBrokerInner filler = Fixtures.brokerInner(TOPIC, 0, null, new byte[remaining], 0, 0,
            BORN_V4, STORE_V4, 0, 0, false);
        CommitLogWriter.Stored s = log.put(filler);
        if (s.physicalOffset() % CommitLogWriter.FILE_SIZE != 0) {
            throw new IllegalStateException("filler did not roll over to a new file");
        }
        // The recovery parser wants the whole declared region (the file's unused tail) present.
        DispatchRequest dr = log.check(log.read(at, remaining));
        byte[] rec = log.read(at, 8);
        ByteBuffer bb = ByteBuffer.wrap(rec);
        if (!dr.isSuccess() || dr.getMsgSize() != 0 || bb.getInt(4) != CommitLog.BLANK_MAGIC_CODE) {
            throw new IllegalStateException("unexpected end-of-file marker " + hex(rec));
        }
        String file = "messages/blank_eof.bin";
        out.write(file, rec);
        messages.add(obj(
            "name", "blank_eof",
            "file", file,
            "totalSize", bb.getInt(0),
            "magic", bb.getInt(4),
            "magicHex", String.format("0x%08X", bb.getInt(4)),
            "messageVersion", null,
            "physicalOffset", at,
            "note", "END_OF_FILE marker: only these 8 bytes are written; totalSize is the rest of the "
                + "mapped file (" + CommitLogWriter.FILE_SIZE + "-byte files here)"));
    }

    private void batch() throws Exception {
        byte[] body = Fixtures.messageBatch().getBody();
        String file = "batch/batch3.bin";
        out.write(file, body);
        if (!Arrays.equals(body, MessageDecoder.encodeMessages(Fixtures.batchMessages()))) {
            throw new IllegalStateException("MessageBatch.encode differs from MessageDecoder.encodeMessages");
        }
        List<Message> originals = Fixtures.batchMessages();
        List<Message> decoded = MessageDecoder.decodeMessages(ByteBuffer.wrap(body));
        List<Object> items = Out.list();
        for (int i = 0; i < decoded.size(); i++) {
            Message m = decoded.get(i);
            // decodeMessage keeps only a HashMap; the wire order is the sender's map order.
            String raw = MessageDecoder.messageProperties2String(originals.get(i).getProperties());
            if (!MessageDecoder.string2messageProperties(raw).equals(m.getProperties())) {
                throw new IllegalStateException("batch item " + i + " properties differ");
            }
            items.add(obj(
                "flag", m.getFlag(),
                "bodyHex", hex(m.getBody()),
                "properties", wireOrder(m.getProperties(), raw),
                "propertiesString", raw));
        }
        batches.add(obj("name", "batch3", "file", file, "messages", items));
    }
}
