package io.skylark.vectors;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageBatch;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExtBrokerInner;
import org.apache.rocketmq.common.topic.TopicValidator;
import org.apache.rocketmq.remoting.protocol.DataVersion;
import org.apache.rocketmq.remoting.protocol.header.SendMessageRequestHeader;

/**
 * Fixed inputs shared by the vector groups. Everything that RocketMQ would
 * normally take from the clock, a counter, the PID or the network is pinned here.
 */
final class Fixtures {
    static final String CLUSTER = "DefaultCluster";
    static final String BROKER_A = "broker-a";
    static final String BROKER_B = "broker-b";
    static final String TOPIC = "TopicTest";
    static final String PRODUCER_GROUP = "ProducerGroupA";
    static final String CONSUMER_GROUP = "ConsumerGroupA";
    static final String CLIENT_ID = "192.168.0.10@12345";

    static final long BORN_TS = 1700000000123L;
    static final long STORE_TS = 1700000000456L;
    static final long DATA_VERSION_TS = 1700000000000L;

    static final InetSocketAddress BORN_V4 = addr("192.168.0.10", 52345);
    static final InetSocketAddress BORN_V6 = addr("2001:db8::10", 52346);
    static final InetSocketAddress STORE_V4 = addr("192.168.0.1", 10911);
    static final InetSocketAddress STORE_V6 = addr("2001:db8::1", 10911);

    /**
     * UNIQ_KEY values in the format MessageClientIDSetter.createUniqID() produces
     * (ip 4B, pid 2B, class-loader hash 4B, ms-since-month-start 4B, counter 2B, upper hex).
     * createUniqID() itself reads the clock and a static counter, so it is not used here.
     */
    static String uniqKey(int counter) {
        return String.format("C0A8000A30391B6D35860A3F2C10%04X", counter);
    }

    /** Roughly 100 bytes of body. */
    static final byte[] BODY_A = ("Hello RocketMQ from Skylark test vectors: "
        + "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOP!").getBytes(StandardCharsets.UTF_8);

    private Fixtures() {
    }

    static InetSocketAddress addr(String literal, int port) {
        try {
            // A literal never triggers a DNS lookup.
            return new InetSocketAddress(InetAddress.getByName(literal), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }

    /** The message a Java producer builds: TAGS, KEYS, WAIT=true from the constructor, plus UNIQ_KEY. */
    static Message clientMessage(String topic, String tags, String keys, byte[] body, int uniq) {
        Message m = new Message(topic, tags, keys, body);
        // Stands in for MessageClientIDSetter.setUniqID(m), which is clock based.
        MessageAccessor.putProperty(m, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, uniqKey(uniq));
        return m;
    }

    /** Message A: the SEND_MESSAGE_V2 example, stored as messages/v1_ipv4. */
    static Message messageA() {
        return clientMessage(TOPIC, "TagA", "k1 k2", BODY_A, 1);
    }

    /** Message B: stored right after A (messages/v1_ipv4_next); A+B form the pull body. */
    static Message messageB() {
        return clientMessage(TOPIC, "TagB", "k3", "second message".getBytes(StandardCharsets.UTF_8), 2);
    }

    /** The three messages of the batch send / batch/batch3.bin. */
    static List<Message> batchMessages() {
        List<Message> list = new ArrayList<>();
        list.add(clientMessage(TOPIC, "TagA", "batch-k1", "batch body 1".getBytes(StandardCharsets.UTF_8), 0x10));
        Message m2 = clientMessage(TOPIC, "TagB", "batch-k2", "batch body 2 \u6d88\u606f".getBytes(StandardCharsets.UTF_8), 0x11);
        m2.setFlag(3);
        list.add(m2);
        Message m3 = clientMessage(TOPIC, "TagC", "batch-k3", new byte[0], 0x12);
        m3.putUserProperty("userKey", "user value");
        list.add(m3);
        return list;
    }

    /** What DefaultMQProducerImpl.batch() sends: the encoded list plus the batch's own UNIQ_KEY. */
    static MessageBatch messageBatch() {
        MessageBatch batch = MessageBatch.generateFromList(batchMessages());
        MessageAccessor.putProperty(batch, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, uniqKey(0x13));
        batch.setBody(batch.encode());
        return batch;
    }

    /** The header DefaultMQProducerImpl.sendKernelImpl fills in for a message. */
    static SendMessageRequestHeader sendHeader(Message msg, int queueId, boolean batch) {
        SendMessageRequestHeader h = new SendMessageRequestHeader();
        h.setProducerGroup(PRODUCER_GROUP);
        h.setTopic(msg.getTopic());
        h.setDefaultTopic(TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC);
        h.setDefaultTopicQueueNums(4);
        h.setQueueId(queueId);
        h.setSysFlag(0);
        h.setBornTimestamp(BORN_TS);
        h.setFlag(msg.getFlag());
        h.setProperties(MessageDecoder.messageProperties2String(msg.getProperties()));
        h.setReconsumeTimes(0);
        h.setUnitMode(false);
        h.setBatch(batch);
        h.setBrokerName(BROKER_A);
        return h;
    }

    /**
     * The broker side of a send (SendMessageProcessor.sendMessage): properties are
     * re-parsed from the header string into a fresh map, CLUSTER is added, and the
     * properties string is re-serialized from that map.
     */
    static MessageExtBrokerInner brokerInner(String topic, int queueId, String headerProperties, byte[] body,
        int flag, int sysFlag, InetSocketAddress bornHost, InetSocketAddress storeHost, long queueOffset,
        int reconsumeTimes, boolean addCluster) {
        MessageExtBrokerInner inner = new MessageExtBrokerInner();
        inner.setTopic(topic);
        inner.setQueueId(queueId);
        Map<String, String> oriProps = headerProperties == null
            ? new HashMap<>() : MessageDecoder.string2messageProperties(headerProperties);
        inner.setBody(body);
        inner.setFlag(flag);
        MessageAccessor.setProperties(inner, oriProps);
        inner.setSysFlag(sysFlag);
        inner.setBornTimestamp(BORN_TS);
        inner.setBornHost(bornHost);
        inner.setStoreHost(storeHost);
        inner.setReconsumeTimes(reconsumeTimes);
        if (addCluster) {
            MessageAccessor.putProperty(inner, MessageConst.PROPERTY_CLUSTER, CLUSTER);
        }
        inner.setPropertiesString(MessageDecoder.messageProperties2String(inner.getProperties()));
        // Normally set by CommitLog (clock) and the consume queue; pinned for determinism.
        inner.setStoreTimestamp(STORE_TS);
        inner.setQueueOffset(queueOffset);
        return inner;
    }

    static DataVersion dataVersion(long counter) {
        DataVersion v = new DataVersion();
        v.setTimestamp(DATA_VERSION_TS);
        v.getCounter().set(counter);
        return v;
    }
}
