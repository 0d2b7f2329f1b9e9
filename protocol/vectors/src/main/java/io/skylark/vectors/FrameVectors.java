package io.skylark.vectors;

import static io.skylark.vectors.Fixtures.BROKER_A;
import static io.skylark.vectors.Fixtures.CLUSTER;
import static io.skylark.vectors.Fixtures.CONSUMER_GROUP;
import static io.skylark.vectors.Fixtures.PRODUCER_GROUP;
import static io.skylark.vectors.Fixtures.TOPIC;
import static io.skylark.vectors.Out.hex;
import static io.skylark.vectors.Out.obj;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.JSONObject;
import com.alibaba.fastjson.parser.Feature;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.common.BoundaryType;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.help.FAQUrl;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageBatch;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.common.sysflag.PullSysFlag;
import org.apache.rocketmq.remoting.protocol.LanguageCode;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSysResponseCode;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.ResponseCode;
import org.apache.rocketmq.remoting.protocol.SerializeType;
import org.apache.rocketmq.remoting.protocol.body.RegisterBrokerBody;
import org.apache.rocketmq.common.filter.ExpressionType;
import org.apache.rocketmq.remoting.protocol.header.ConsumerSendMsgBackRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.EndTransactionRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.GetMaxOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.GetMaxOffsetResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.HeartbeatRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.LockBatchMqRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.PullMessageResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.QueryConsumerOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.QueryConsumerOffsetResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.SearchOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.SearchOffsetResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.remoting.protocol.header.SendMessageResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.UpdateConsumerOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerResponseHeader;
import org.apache.rocketmq.store.GetMessageStatus;

/**
 * RemotingCommand frames (frames/NAME.json.bin and NAME.rocketmq.bin), each written
 * exactly as NettyEncoder.encode does: fastEncodeHeader(out) then the body bytes.
 * Each builder mirrors the RocketMQ call site named in its comment.
 */
final class FrameVectors {
    /** Builds a fresh command: encoding mutates extFields, so each serialization needs its own. */
    interface Builder {
        RemotingCommand build() throws Exception;
    }

    private final Out out;
    private final Map<String, byte[]> stored;
    private final Map<String, Long> offsets;
    final List<Object> frames = Out.list();

    FrameVectors(Out out, MessageVectors messages) {
        this.out = out;
        this.stored = messages.stored;
        this.offsets = messages.offsets;
    }

    void generate() throws Exception {
        // ---- producer <-> broker -------------------------------------------------------
        // MQClientAPIImpl.sendMessage with sendSmartMsg (the default): V2 header, short names.
        frame("send_v2_request", () -> {
            Message msg = Fixtures.messageA();
            SendMessageRequestHeaderV2 h = SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(
                Fixtures.sendHeader(msg, 3, false));
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2, h);
            c.setBody(msg.getBody());
            c.setOpaque(1);
            return c;
        });
        // Same message with sendSmartMsg=false: the long-name header.
        frame("send_request", () -> {
            Message msg = Fixtures.messageA();
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE,
                Fixtures.sendHeader(msg, 3, false));
            c.setBody(msg.getBody());
            c.setOpaque(2);
            return c;
        });
        // A MessageBatch always goes out as SEND_BATCH_MESSAGE with the V2 header.
        frame("send_batch_request", "batch/batch3.bin", () -> {
            MessageBatch batch = Fixtures.messageBatch();
            SendMessageRequestHeaderV2 h = SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(
                Fixtures.sendHeader(batch, 1, true));
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.SEND_BATCH_MESSAGE, h);
            c.setBody(batch.getBody());
            c.setOpaque(3);
            return c;
        });
        // SendMessageProcessor.preSend + sendMessage: ext fields are added before the header is filled.
        frame("send_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(SendMessageResponseHeader.class);
            c.setOpaque(1);
            c.addExtField(MessageConst.PROPERTY_MSG_REGION, "DefaultRegion");
            c.addExtField(MessageConst.PROPERTY_TRACE_SWITCH, String.valueOf(true));
            SendMessageResponseHeader h = (SendMessageResponseHeader) c.readCustomHeader();
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            h.setMsgId(MessageDecoder.createMessageId(Fixtures.STORE_V4, offsets.get("v1_ipv4")));
            h.setQueueId(3);
            h.setQueueOffset(100L);
            h.setTransactionId(Fixtures.uniqKey(1));
            return c;
        });

        // ---- consumer <-> broker -------------------------------------------------------
        // PullAPIWrapper.pullKernelImpl.
        frame("pull_request", () -> {
            PullMessageRequestHeader h = new PullMessageRequestHeader();
            h.setConsumerGroup(CONSUMER_GROUP);
            h.setTopic(TOPIC);
            h.setQueueId(3);
            h.setQueueOffset(100L);
            h.setMaxMsgNums(32);
            h.setSysFlag(PullSysFlag.buildSysFlag(true, true, true, false));
            h.setCommitOffset(99L);
            h.setSuspendTimeoutMillis(15000L);
            h.setSubscription("TagA || TagB");
            h.setSubVersion(BodyVectors.SUB_VERSION);
            h.setMaxMsgBytes(Integer.MAX_VALUE);
            h.setExpressionType(ExpressionType.TAG);
            h.setBrokerName(BROKER_A);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, h);
            c.setOpaque(4);
            return c;
        });
        // PullMessageProcessor: remark is the GetMessageStatus name; the body is the raw
        // CommitLog records back to back (transferMsgByHeap).
        frame("pull_response", "messages/v1_ipv4.bin messages/v1_ipv4_next.bin", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(PullMessageResponseHeader.class);
            c.setOpaque(4);
            PullMessageResponseHeader h = (PullMessageResponseHeader) c.readCustomHeader();
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(GetMessageStatus.FOUND.name());
            h.setNextBeginOffset(102L);
            h.setMinOffset(0L);
            h.setMaxOffset(102L);
            h.setTopicSysFlag(0);
            h.setGroupSysFlag(0);
            h.setSuggestWhichBrokerId(MixAll.MASTER_ID);
            c.setBody(concat(stored.get("v1_ipv4"), stored.get("v1_ipv4_next")));
            return c;
        });
        // MQClientAPIImpl.sendHeartbeat.
        frame("heartbeat_request", "bodies/heartbeat.json", () -> {
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT, new HeartbeatRequestHeader());
            c.setLanguage(LanguageCode.JAVA);
            c.setBody(BodyVectors.heartbeatData().encode());
            c.setOpaque(5);
            return c;
        });
        // ClientManageProcessor.heartBeat: no header, no body.
        frame("heartbeat_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(null);
            c.setOpaque(5);
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // MQClientAPIImpl.queryConsumerOffset / ConsumerManageProcessor.queryConsumerOffset.
        frame("query_offset_request", () -> {
            QueryConsumerOffsetRequestHeader h = new QueryConsumerOffsetRequestHeader();
            h.setConsumerGroup(CONSUMER_GROUP);
            h.setTopic(TOPIC);
            h.setQueueId(3);
            h.setSetZeroIfNotFound(false);
            h.setBrokerName(BROKER_A);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.QUERY_CONSUMER_OFFSET, h);
            c.setOpaque(9);
            return c;
        });
        frame("query_offset_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(QueryConsumerOffsetResponseHeader.class);
            c.setOpaque(9);
            ((QueryConsumerOffsetResponseHeader) c.readCustomHeader()).setOffset(42L);
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // MQClientAPIImpl.updateConsumerOffsetOneway; invokeOneway marks the flag.
        frame("update_offset_oneway", () -> {
            UpdateConsumerOffsetRequestHeader h = new UpdateConsumerOffsetRequestHeader();
            h.setConsumerGroup(CONSUMER_GROUP);
            h.setTopic(TOPIC);
            h.setQueueId(3);
            h.setCommitOffset(102L);
            h.setBrokerName(BROKER_A);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.UPDATE_CONSUMER_OFFSET, h);
            c.setOpaque(10);
            c.markOnewayRPC();
            return c;
        });
        // MQClientAPIImpl.lockBatchMQ and the broker's answer.
        frame("lock_batch_mq_request", "bodies/lock_batch_request.json", () -> {
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.LOCK_BATCH_MQ, new LockBatchMqRequestHeader());
            c.setBody(BodyVectors.lockBatchRequest().encode());
            c.setOpaque(13);
            return c;
        });
        frame("lock_batch_mq_response", "bodies/lock_batch_response.json", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(null);
            c.setOpaque(13);
            c.setBody(BodyVectors.lockBatchResponse().encode());
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // DefaultMQProducerImpl.endTransaction -> MQClientAPIImpl.endTransactionOneway.
        frame("end_transaction_oneway", () -> {
            EndTransactionRequestHeader h = new EndTransactionRequestHeader();
            h.setTopic(TOPIC);
            h.setTransactionId(Fixtures.uniqKey(6));
            h.setCommitLogOffset(offsets.get("v1_prepared"));
            h.setBrokerName(BROKER_A);
            h.setCommitOrRollback(MessageSysFlag.TRANSACTION_COMMIT_TYPE);
            h.setProducerGroup(PRODUCER_GROUP);
            h.setTranStateTableOffset(0L);
            h.setMsgId(Fixtures.uniqKey(6)); // SendResult.msgId is the UNIQ_KEY
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.END_TRANSACTION, h);
            c.setRemark(null);
            c.setOpaque(14);
            c.markOnewayRPC();
            return c;
        });
        // MQClientAPIImpl.consumerSendMessageBack.
        frame("consumer_send_msg_back_request", () -> {
            ConsumerSendMsgBackRequestHeader h = new ConsumerSendMsgBackRequestHeader();
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.CONSUMER_SEND_MSG_BACK, h);
            h.setGroup(CONSUMER_GROUP);
            h.setOriginTopic(TOPIC);
            h.setOffset(offsets.get("v1_ipv4"));
            h.setDelayLevel(0);
            h.setOriginMsgId(Fixtures.uniqKey(1));
            h.setMaxReconsumeTimes(16);
            h.setBrokerName(BROKER_A);
            c.setOpaque(15);
            return c;
        });
        // MQClientAPIImpl.searchOffset (with boundary type) and the broker's answer.
        frame("search_offset_request", () -> {
            SearchOffsetRequestHeader h = new SearchOffsetRequestHeader();
            h.setTopic(TOPIC);
            h.setQueueId(3);
            h.setBrokerName(BROKER_A);
            h.setTimestamp(Fixtures.BORN_TS);
            h.setBoundaryType(BoundaryType.LOWER);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, h);
            c.setOpaque(16);
            return c;
        });
        frame("search_offset_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(SearchOffsetResponseHeader.class);
            c.setOpaque(16);
            ((SearchOffsetResponseHeader) c.readCustomHeader()).setOffset(100L);
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // MQClientAPIImpl.getMaxOffset and the broker's answer.
        frame("get_max_offset_request", () -> {
            GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
            h.setTopic(TOPIC);
            h.setQueueId(3);
            h.setBrokerName(BROKER_A);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.GET_MAX_OFFSET, h);
            c.setOpaque(17);
            return c;
        });
        frame("get_max_offset_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(GetMaxOffsetResponseHeader.class);
            c.setOpaque(17);
            ((GetMaxOffsetResponseHeader) c.readCustomHeader()).setOffset(102L);
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });

        // ---- broker / client <-> name server -----------------------------------------
        // BrokerOuterAPI.registerBrokerAll: uncompressed body, CRC32 of the body in the header.
        frame("register_broker_request", "bodies/register_broker_body.json", () -> {
            RegisterBrokerRequestHeader h = new RegisterBrokerRequestHeader();
            h.setBrokerAddr("192.168.0.1:10911");
            h.setBrokerId(MixAll.MASTER_ID);
            h.setBrokerName(BROKER_A);
            h.setClusterName(CLUSTER);
            h.setHaServerAddr("192.168.0.1:10912");
            h.setEnableActingMaster(false);
            h.setCompressed(false);
            h.setHeartbeatTimeoutMillis(120000L);
            RegisterBrokerBody body = BodyVectors.registerBrokerBody();
            byte[] bytes = body.encode(false);
            h.setBodyCrc32(UtilAll.crc32(bytes));
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER, h);
            c.setBody(bytes);
            c.setOpaque(6);
            return c;
        });
        // DefaultRequestProcessor.registerBroker, as answered to a slave.
        frame("register_broker_response", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(RegisterBrokerResponseHeader.class);
            c.setOpaque(6);
            RegisterBrokerResponseHeader h = (RegisterBrokerResponseHeader) c.readCustomHeader();
            h.setHaServerAddr("192.168.0.1:10912");
            h.setMasterAddr("192.168.0.1:10911");
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // MQClientAPIImpl.getTopicRouteInfoFromNameServer.
        frame("get_route_request", () -> {
            GetRouteInfoRequestHeader h = new GetRouteInfoRequestHeader();
            h.setTopic(TOPIC);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, h);
            c.setOpaque(7);
            return c;
        });
        // ClientRequestProcessor.getRouteInfoByTopic for request.version >= V4_9_4.
        frame("get_route_response_standard", "bodies/topic_route_standard.json", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(null);
            c.setOpaque(7);
            c.setBody(BodyVectors.topicRouteData().encode(BodyVectors.ROUTE_STANDARD_FEATURES));
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });
        // A non-Java client with an older protocol version (below V4_9_4) asks for the route.
        frame("get_route_request_go", () -> {
            GetRouteInfoRequestHeader h = new GetRouteInfoRequestHeader();
            h.setTopic(TOPIC);
            RemotingCommand c = RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, h);
            c.setLanguage(LanguageCode.GO);
            c.setVersion(317);
            c.setOpaque(8);
            return c;
        });
        // ... and for old clients (version < V4_9_4): plain encode(), unquoted Long map keys.
        frame("get_route_response_unquoted", "bodies/topic_route_unquoted.json", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(null);
            c.setOpaque(8);
            c.setBody(BodyVectors.topicRouteData().encode());
            c.setCode(ResponseCode.SUCCESS);
            c.setRemark(null);
            return c;
        });

        // ---- errors ----------------------------------------------------------------------
        // ClientRequestProcessor.getRouteInfoByTopic for an unknown topic (non-ASCII topic name,
        // and FAQUrl.suggestTodo adds a newline).
        frame("error_topic_not_exist", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(null);
            c.setOpaque(11);
            c.setCode(ResponseCode.TOPIC_NOT_EXIST);
            c.setRemark("No topic route info in name server for the topic: \u4e3b\u9898\u4e0d\u5b58\u5728"
                + FAQUrl.suggestTodo(FAQUrl.APPLY_TOPIC_URL));
            return c;
        });
        // NettyRemotingAbstract.processRequestCommand for an unknown request code.
        frame("error_request_code_not_supported", () -> {
            String error = " request type " + 9999 + " not supported";
            RemotingCommand c = RemotingCommand.createResponseCommand(
                RemotingSysResponseCode.REQUEST_CODE_NOT_SUPPORTED, error);
            c.setOpaque(12);
            return c;
        });
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** What NettyEncoder.encode puts on the wire for {@code cmd}. */
    private static byte[] nettyEncode(RemotingCommand cmd) {
        ByteBuf buf = Unpooled.buffer();
        cmd.fastEncodeHeader(buf);
        byte[] body = cmd.getBody();
        if (body != null) {
            buf.writeBytes(body);
        }
        byte[] wire = new byte[buf.readableBytes()];
        buf.readBytes(wire);
        return wire;
    }

    private void frame(String name, Builder builder) throws Exception {
        frame(name, null, builder);
    }

    /**
     * @param bodyRef space-separated vector files whose concatenation is this frame's body
     *                (checked by GenerateVectors once every file exists), or null
     */
    private void frame(String name, String bodyRef, Builder builder) throws Exception {
        for (SerializeType type : new SerializeType[] {SerializeType.JSON, SerializeType.ROCKETMQ}) {
            RemotingCommand cmd = builder.build();
            cmd.setSerializeTypeCurrentRPC(type);
            String header = cmd.readCustomHeader() == null ? null : cmd.readCustomHeader().getClass().getSimpleName();
            byte[] wire = nettyEncode(cmd);

            // The older RemotingCommand.encode() path, for comparison only.
            RemotingCommand again = builder.build();
            again.setSerializeTypeCurrentRPC(type);
            ByteBuffer enc = again.encode();
            byte[] encBytes = new byte[enc.remaining()];
            enc.get(encBytes);

            ByteBuffer bb = ByteBuffer.wrap(wire);
            int totalLength = bb.getInt(0);
            int headerLength = RemotingCommand.getHeaderLength(bb.getInt(4));
            if (totalLength != wire.length - 4) {
                throw new IllegalStateException(name + ": length prefix " + totalLength + " vs " + wire.length);
            }
            // NettyDecoder strips the 4-byte length before RemotingCommand.decode sees the frame.
            RemotingCommand d = RemotingCommand.decode(Arrays.copyOfRange(wire, 4, wire.length));
            if (d.getSerializeTypeCurrentRPC() != type) {
                throw new IllegalStateException(name + ": decoded serialize type " + d.getSerializeTypeCurrentRPC());
            }
            byte[] headerBytes = Arrays.copyOfRange(wire, 8, 8 + headerLength);
            List<String> order = type == SerializeType.JSON ? jsonExtOrder(headerBytes) : rocketmqExtOrder(headerBytes);
            Map<String, String> ext = null;
            if (d.getExtFields() != null) {
                ext = new LinkedHashMap<>();
                for (String k : order) {
                    ext.put(k, d.getExtFields().get(k));
                }
                if (!ext.equals(d.getExtFields())) {
                    throw new IllegalStateException(name + ": ext field order scan disagrees with decode");
                }
            }

            String suffix = type == SerializeType.JSON ? "json" : "rocketmq";
            String file = "frames/" + name + "." + suffix + ".bin";
            out.write(file, wire);
            frames.add(obj(
                "name", name,
                "file", file,
                "serialize", type.name(),
                "code", d.getCode(),
                "language", d.getLanguage().name(),
                "languageCode", d.getLanguage().getCode(),
                "version", d.getVersion(),
                "versionName", versionName(d.getVersion()),
                "opaque", d.getOpaque(),
                "flag", d.getFlag(),
                "remark", d.getRemark(),
                "extFields", ext,
                "extFieldsOrder", d.getExtFields() == null ? null : order,
                "bodyHex", hex(d.getBody()),
                "header", header,
                "bodyRef", bodyRef,
                "totalLength", totalLength,
                "headerLength", headerLength,
                "headerText", type == SerializeType.JSON ? new String(headerBytes, StandardCharsets.UTF_8) : null,
                "encodeEqualsNettyEncoder", Arrays.equals(wire, encBytes)));
        }
    }

    private static String versionName(int version) {
        MQVersion.Version[] all = MQVersion.Version.values();
        return version >= 0 && version < all.length ? all[version].name() : null;
    }

    /** extFields keys in the order fastjson wrote them (fastjson's own parser, ordered mode). */
    private static List<String> jsonExtOrder(byte[] header) {
        JSONObject o = JSON.parseObject(new String(header, StandardCharsets.UTF_8), Feature.OrderedField);
        JSONObject ext = o.getJSONObject("extFields");
        return ext == null ? new ArrayList<>() : new ArrayList<>(ext.keySet());
    }

    /**
     * extFields keys in wire order for the ROCKETMQ header. RocketMQ's decoder collects them
     * into a HashMap, so the order is read here: code(2) language(1) version(2) opaque(4)
     * flag(4) remarkLen(4)+remark extLen(4) then {keyLen(2) key valLen(4) val}*.
     */
    private static List<String> rocketmqExtOrder(byte[] header) {
        ByteBuffer b = ByteBuffer.wrap(header);
        b.position(2 + 1 + 2 + 4 + 4);
        int remarkLen = b.getInt();
        b.position(b.position() + remarkLen);
        int extLen = b.getInt();
        int end = b.position() + extLen;
        List<String> keys = new ArrayList<>();
        while (b.position() < end) {
            byte[] k = new byte[b.getShort()];
            b.get(k);
            keys.add(new String(k, StandardCharsets.UTF_8));
            int valueLen = b.getInt();
            b.position(b.position() + valueLen);
        }
        return keys;
    }
}
