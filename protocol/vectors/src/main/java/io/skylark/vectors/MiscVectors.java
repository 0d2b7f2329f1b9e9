package io.skylark.vectors;

import static io.skylark.vectors.Out.hex;
import static io.skylark.vectors.Out.obj;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientIDSetter;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;
import org.apache.rocketmq.common.message.MessageId;

/** misc.json (small deterministic facts) and uniq_keys.json (clock based, changes every run). */
final class MiscVectors {
    private final Out out;

    MiscVectors(Out out) {
        this.out = out;
    }

    void generate() throws Exception {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("tagHashes", tagHashes());
        doc.put("properties", properties());
        doc.put("offsetMsgIds", offsetMsgIds());
        doc.put("uniqKeyDecode", uniqKeyDecode());
        doc.put("crc32", crc32());
        out.writeJson("misc.json", doc);
        out.writeJson("uniq_keys.json", uniqKeys());
    }

    /** Tag filtering hashes tags with String.hashCode (FilterAPI codeSet, broker tagsCode). */
    private static List<Object> tagHashes() {
        String[] samples = {
            "", "*", "TagA", "TagB", "TagA || TagB", " TagA ", "Aa", "BB",
            "polygenelubricants", // hashCode == Integer.MIN_VALUE
            "\u6807\u7b7e", "\ud83d\ude00", "tag-\ud83d\ude00-emoji", "caf\u00e9",
            "0123456789".repeat(10), "The quick brown fox jumps over the lazy dog. ".repeat(30),
        };
        List<Object> list = Out.list();
        for (String s : samples) {
            list.add(obj(
                "s", s,
                "utf8Hex", hex(s.getBytes(StandardCharsets.UTF_8)),
                "hash", s.hashCode(),
                "tagsCode", MessageExtBrokerInner.tagsString2tagsCode(s)));
        }
        return list;
    }

    /**
     * messageProperties2String iterates a java.util.HashMap, so the encoded order is the
     * map's bucket order, which depends on the map's capacity: a producer's Message map
     * (default capacity) and the broker's re-parsed map (string2messageProperties uses
     * capacity 128) can order the same entries differently.
     */
    private static List<Object> properties() {
        List<Object> list = Out.list();

        Message client = Fixtures.messageA();
        list.add(propertyCase("producer message A (Message's own HashMap)", client.getProperties()));

        Map<String, String> nonAscii = new HashMap<>();
        nonAscii.put("TAGS", "\u6807\u7b7e");
        nonAscii.put("KEYS", "\u952e1 \u952e2");
        nonAscii.put("\u81ea\u5b9a\u4e49", "\u503c \ud83d\ude00");
        nonAscii.put("EMPTY", "");
        list.add(propertyCase("non-ASCII keys and values, one empty value", nonAscii));

        Map<String, String> many = new HashMap<>();
        for (int i = 0; i < 20; i++) {
            many.put("key" + i, "value" + i);
        }
        many.put("UNIQ_KEY", Fixtures.uniqKey(0x20));
        list.add(propertyCase("21 entries (HashMap resized past 16 buckets)", many));
        return list;
    }

    private static Object propertyCase(String what, Map<String, String> map) {
        String encoded = MessageDecoder.messageProperties2String(map);
        // What the broker would re-encode after parsing the producer's string.
        String reencoded = MessageDecoder.messageProperties2String(MessageDecoder.string2messageProperties(encoded));
        return obj(
            "what", what,
            "map", MessageVectors.wireOrder(map, encoded),
            "encoded", encoded,
            "encoded_hex", hex(encoded.getBytes(StandardCharsets.UTF_8)),
            "decoded", MessageVectors.wireOrder(MessageDecoder.string2messageProperties(encoded), encoded),
            "brokerReencoded", reencoded,
            "brokerReencoded_hex", hex(reencoded.getBytes(StandardCharsets.UTF_8)));
    }

    /** The offset message id: store host ip + port + commit log offset, upper-case hex. */
    private static List<Object> offsetMsgIds() throws Exception {
        List<Object> list = Out.list();
        Object[][] cases = {
            {Fixtures.STORE_V4, 0L},
            {Fixtures.STORE_V4, (1L << 32) + CommitLogWriter.FILE_SIZE},
            {Fixtures.addr("10.255.0.1", 65535), Long.MAX_VALUE},
            {Fixtures.STORE_V6, 123456789L},
            {Fixtures.addr("::1", 9876), 1L},
        };
        for (Object[] c : cases) {
            InetSocketAddress a = (InetSocketAddress) c[0];
            long offset = (Long) c[1];
            String id = MessageDecoder.createMessageId(a, offset);
            MessageId back = MessageDecoder.decodeMessageId(id);
            if (back.getOffset() != offset || !back.getAddress().equals(a)) {
                throw new IllegalStateException("decodeMessageId round trip failed for " + id);
            }
            list.add(obj(
                "host", a.getAddress().getHostAddress(),
                "port", a.getPort(),
                "offset", offset,
                "id", id));
        }
        return list;
    }

    /** The deterministic parts of a UNIQ_KEY: the IP and PID fields. */
    private static List<Object> uniqKeyDecode() {
        List<Object> list = Out.list();
        for (String id : new String[] {Fixtures.uniqKey(1), "7F0000010B2C18B4AAC2000000000000",
            "20010DB800000000000000000000001004D21B6D35860A3F2C100001"}) {
            list.add(obj(
                "id", id,
                "ip", MessageClientIDSetter.getIPStrFromID(id),
                "pid", MessageClientIDSetter.getPidFromID(id)));
        }
        return list;
    }

    /** UtilAll.crc32 masks the result to 31 bits (& 0x7FFFFFFF). */
    private static List<Object> crc32() {
        List<Object> list = Out.list();
        byte[][] inputs = {
            new byte[0],
            "a".getBytes(StandardCharsets.UTF_8),
            "123456789".getBytes(StandardCharsets.UTF_8),
            "The quick brown fox jumps over the lazy dog".getBytes(StandardCharsets.UTF_8),
            Fixtures.BODY_A,
            new byte[] {(byte) 0xff, 0, (byte) 0x80, 1},
        };
        for (byte[] in : inputs) {
            java.util.zip.CRC32 raw = new java.util.zip.CRC32();
            raw.update(in);
            list.add(obj("hex", hex(in), "crc", UtilAll.crc32(in), "unmasked", raw.getValue()));
        }
        return list;
    }

    /** createUniqID() reads the clock, a counter and the host: documented, not reproducible. */
    private static Object uniqKeys() {
        List<Object> list = Out.list();
        for (int i = 0; i < 3; i++) {
            String id = MessageClientIDSetter.createUniqID();
            list.add(obj(
                "id", id,
                "ip", MessageClientIDSetter.getIPStrFromID(id),
                "pid", MessageClientIDSetter.getPidFromID(id),
                "nearlyTimeMillis", MessageClientIDSetter.getNearlyTimeFromID(id).getTime()));
        }
        return obj(
            "note", "Regenerated on every run (clock, counter, host IP, PID). getNearlyTimeFromID also "
                + "depends on the local time zone: " + TimeZone.getDefault().getID(),
            "samples", list);
    }
}
