package io.skylark.compat;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;

/** One message as the JSON line format describes it (README.md, "Line format"). */
final class Msg {
    final String topic;
    final int queueId;
    final long queueOffset;
    final long physicalOffset;
    final int storeSize;
    final long tagsCode;
    final String tags;
    final String keys;
    final String uniqKey;
    final int flag;
    final int sysFlag;
    final long bornTimestamp;
    final long storeTimestamp;
    final String bornHost;
    final String storeHost;
    final int reconsumeTimes;
    final long preparedTransactionOffset;
    final int bodyLen;
    final long bodyCrc32;
    final int bodyCrc;
    final Map<String, String> properties;
    final byte[] body;

    /**
     * @param m        decoded from the commit log record (MessageDecoder.decode)
     * @param tagsCode the consume queue unit's tagsCode for this message
     */
    Msg(MessageExt m, long tagsCode) {
        this.topic = m.getTopic();
        this.queueId = m.getQueueId();
        this.queueOffset = m.getQueueOffset();
        this.physicalOffset = m.getCommitLogOffset();
        this.storeSize = m.getStoreSize();
        this.tagsCode = tagsCode;
        this.properties = m.getProperties() == null ? new TreeMap<>() : new TreeMap<>(m.getProperties());
        this.tags = properties.get(MessageConst.PROPERTY_TAGS);
        this.keys = properties.get(MessageConst.PROPERTY_KEYS);
        this.uniqKey = properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
        this.flag = m.getFlag();
        this.sysFlag = m.getSysFlag();
        this.bornTimestamp = m.getBornTimestamp();
        this.storeTimestamp = m.getStoreTimestamp();
        this.bornHost = hostString(m.getBornHost());
        this.storeHost = hostString(m.getStoreHost());
        this.reconsumeTimes = m.getReconsumeTimes();
        this.preparedTransactionOffset = m.getPreparedTransactionOffset();
        this.body = m.getBody() == null ? new byte[0] : m.getBody();
        this.bodyLen = body.length;
        CRC32 c = new CRC32();
        c.update(body);
        this.bodyCrc32 = c.getValue();
        this.bodyCrc = m.getBodyCRC();
    }

    String toJson(boolean bodyHex) {
        Json j = new Json()
            .put("topic", topic)
            .put("queueId", queueId)
            .put("queueOffset", queueOffset)
            .put("physicalOffset", physicalOffset)
            .put("storeSize", storeSize)
            .put("tagsCode", tagsCode)
            .put("tags", tags)
            .put("keys", keys)
            .put("uniqKey", uniqKey)
            .put("flag", flag)
            .put("sysFlag", sysFlag)
            .put("bornTimestamp", bornTimestamp)
            .put("storeTimestamp", storeTimestamp)
            .put("bornHost", bornHost)
            .put("storeHost", storeHost)
            .put("reconsumeTimes", reconsumeTimes)
            .put("preparedTransactionOffset", preparedTransactionOffset)
            .put("bodyLen", bodyLen)
            .put("bodyCrc32", bodyCrc32)
            .put("bodyCrc", bodyCrc)
            .putMap("properties", properties);
        if (bodyHex) {
            j.put("bodyHex", hex(body));
        }
        return j.toString();
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return sb.toString();
    }

    /** "a.b.c.d:port", or "[v6]:port" with the RFC 5952 text form (what Rust's SocketAddr prints). */
    static String hostString(SocketAddress sa) {
        if (!(sa instanceof InetSocketAddress)) {
            return String.valueOf(sa);
        }
        InetSocketAddress isa = (InetSocketAddress) sa;
        InetAddress a = isa.getAddress();
        if (a instanceof Inet4Address) {
            return a.getHostAddress() + ":" + isa.getPort();
        }
        if (a instanceof Inet6Address) {
            return "[" + ipv6(a.getAddress()) + "]:" + isa.getPort();
        }
        return isa.toString();
    }

    static String ipv6(byte[] b) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((b[2 * i] & 0xFF) << 8) | (b[2 * i + 1] & 0xFF);
        }
        // ::ffff:a.b.c.d (IPv4-mapped), as Rust's Ipv6Addr Display writes it.
        if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xFFFF) {
            return "::ffff:" + (b[12] & 0xFF) + "." + (b[13] & 0xFF) + "." + (b[14] & 0xFF) + "." + (b[15] & 0xFF);
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (g[i] == 0) {
                int j = i;
                while (j < 8 && g[j] == 0) {
                    j++;
                }
                if (j - i > bestLen) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        if (bestLen < 2) {
            bestStart = -1;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }
}
