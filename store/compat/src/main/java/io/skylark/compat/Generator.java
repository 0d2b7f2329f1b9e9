package io.skylark.compat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;

/**
 * The deterministic message set of {@code write}. Message {@code i} (0-based) is a pure
 * function of {@code i}; README.md restates these rules. Store-assigned values (queue
 * offset, physical offset, store timestamp, body CRC, IPv6 sysflag bits) are not chosen
 * here: they are whatever DefaultMessageStore assigns, and {@code write} prints them.
 */
final class Generator {
    static final String[] TOPICS = {"CompatTopicA", "CompatTopicB", "CompatTopicC"};
    static final int QUEUES = 4;
    static final long BORN_BASE = 1_700_000_000_000L;

    private Generator() {
    }

    /**
     * Skewed on purpose, so that 2000 messages already span several 300-entry consume queue
     * files: i % 6 in 0..3 goes to CompatTopicA, 4 to CompatTopicB, 5 to CompatTopicC.
     */
    static String topic(int i) {
        int r = i % 6;
        return r < 4 ? TOPICS[0] : TOPICS[r - 3];
    }

    /**
     * CompatTopicA: queue 0, except i % 6 == 3 which goes to queue 1 + (i / 6) % 3 (so queue 0
     * gets half of all messages). CompatTopicB and CompatTopicC: queue (i / 6) % 4.
     */
    static int queueId(int i) {
        int r = i % 6;
        int round = i / 6;
        if (r < 4) {
            return r == 3 ? 1 + round % 3 : 0;
        }
        return round % QUEUES;
    }

    /** TagA..TagE, and no TAGS property at all when i % 10 == 9. */
    static String tags(int i) {
        return i % 10 == 9 ? null : "Tag" + (char) ('A' + i % 5);
    }

    static String keys(int i) {
        return "key-" + i + " k" + (i % 7);
    }

    /** 32 upper-case hex chars, shaped like MessageClientIDSetter output. */
    static String uniqKey(int i) {
        return String.format("0A0000011F9000000000%012X", i);
    }

    static int bodyLen(int i) {
        if (i % 500 == 1) {
            return 0;
        }
        if (i % 25 == 7) {
            return 8192 + (i * 13) % 2049; // 8 KiB .. 10 KiB
        }
        if (i % 10 == 3) {
            return 1000 + (i * 17) % 2000;
        }
        return 1 + (i * 37) % 1200;
    }

    static byte[] body(int i) {
        byte[] b = new byte[bodyLen(i)];
        for (int j = 0; j < b.length; j++) {
            b[j] = (byte) ((i * 7 + j * 31) & 0xFF);
        }
        return b;
    }

    static int flag(int i) {
        return i % 4;
    }

    static int reconsumeTimes(int i) {
        return i % 9 == 8 ? 2 : 0;
    }

    static long bornTimestamp(int i) {
        return BORN_BASE + i * 10L;
    }

    /** IPv6 2001:db8::(i & 0xffff) when i % 13 == 5, else IPv4 10.1.(i >> 8 & 0xff).(i & 0xff). */
    static InetSocketAddress bornHost(int i) {
        int port = 30000 + i % 20000;
        if (i % 13 == 5) {
            byte[] a = new byte[16];
            a[0] = 0x20;
            a[1] = 0x01;
            a[2] = 0x0d;
            a[3] = (byte) 0xb8;
            a[14] = (byte) (i >> 8);
            a[15] = (byte) i;
            return addr(a, port);
        }
        return addr(new byte[] {10, 1, (byte) (i >> 8), (byte) i}, port);
    }

    /** IPv6 [fd00::a:1]:10911 when i % 97 == 42, else 192.168.100.10:10911. */
    static InetSocketAddress storeHost(int i) {
        if (i % 97 == 42) {
            byte[] a = new byte[16];
            a[0] = (byte) 0xfd;
            a[13] = 0x0a;
            a[15] = 0x01;
            return addr(a, 10911);
        }
        return addr(new byte[] {(byte) 192, (byte) 168, 100, 10}, 10911);
    }

    /** User and system properties, before the store sees the message. */
    static Map<String, String> properties(int i) {
        Map<String, String> p = new TreeMap<>();
        String tags = tags(i);
        if (tags != null) {
            p.put(MessageConst.PROPERTY_TAGS, tags);
        }
        p.put(MessageConst.PROPERTY_KEYS, keys(i));
        p.put(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, uniqKey(i));
        p.put(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, "true");
        p.put(MessageConst.PROPERTY_CLUSTER, "DefaultCluster");
        p.put("seq", Integer.toString(i));
        p.put("compat", "skylark");
        if (i % 11 == 4) {
            p.put("note", "\u00fcn\u00efc\u00f6d\u00e9 \u2713 \ud834\udd1e #" + i);
        }
        return p;
    }

    /** What a broker hands to MessageStore.putMessage after SendMessageProcessor. */
    static MessageExtBrokerInner message(int i) {
        MessageExtBrokerInner m = new MessageExtBrokerInner();
        m.setTopic(topic(i));
        m.setQueueId(queueId(i));
        m.setBody(body(i));
        m.setFlag(flag(i));
        MessageAccessor.setProperties(m, new java.util.HashMap<>(properties(i)));
        m.setPropertiesString(MessageDecoder.messageProperties2String(m.getProperties()));
        String tags = tags(i);
        m.setTagsCode(tags == null ? 0 : MessageExtBrokerInner.tagsString2tagsCode(tags));
        m.setSysFlag(0); // the store adds BORNHOST_V6 / STOREHOSTADDRESS_V6 from the addresses
        m.setBornTimestamp(bornTimestamp(i));
        m.setBornHost(bornHost(i));
        m.setStoreHost(storeHost(i));
        m.setReconsumeTimes(reconsumeTimes(i));
        return m;
    }

    private static InetSocketAddress addr(byte[] a, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByAddress(a), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
