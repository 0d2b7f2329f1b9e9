package io.skylark.vectors;

import static io.skylark.vectors.Fixtures.BROKER_A;
import static io.skylark.vectors.Fixtures.BROKER_B;
import static io.skylark.vectors.Fixtures.CLIENT_ID;
import static io.skylark.vectors.Fixtures.CLUSTER;
import static io.skylark.vectors.Fixtures.CONSUMER_GROUP;
import static io.skylark.vectors.Fixtures.PRODUCER_GROUP;
import static io.skylark.vectors.Fixtures.TOPIC;
import static io.skylark.vectors.Out.obj;

import com.alibaba.fastjson.serializer.SerializerFeature;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.LanguageCode;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.admin.ConsumeStats;
import org.apache.rocketmq.remoting.protocol.admin.OffsetWrapper;
import org.apache.rocketmq.remoting.protocol.admin.TopicOffset;
import org.apache.rocketmq.remoting.protocol.admin.TopicStatsTable;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.body.Connection;
import org.apache.rocketmq.remoting.protocol.body.ConsumerConnection;
import org.apache.rocketmq.remoting.protocol.body.ConsumerOffsetSerializeWrapper;
import org.apache.rocketmq.remoting.protocol.body.KVTable;
import org.apache.rocketmq.remoting.protocol.body.LockBatchRequestBody;
import org.apache.rocketmq.remoting.protocol.body.LockBatchResponseBody;
import org.apache.rocketmq.remoting.protocol.body.RegisterBrokerBody;
import org.apache.rocketmq.remoting.protocol.body.ResetOffsetBody;
import org.apache.rocketmq.remoting.protocol.body.TopicConfigAndMappingSerializeWrapper;
import org.apache.rocketmq.remoting.protocol.body.TopicConfigSerializeWrapper;
import org.apache.rocketmq.remoting.protocol.filter.FilterAPI;
import org.apache.rocketmq.remoting.protocol.header.GetConsumerListByGroupResponseBody;
import org.apache.rocketmq.remoting.protocol.heartbeat.ConsumeType;
import org.apache.rocketmq.remoting.protocol.heartbeat.ConsumerData;
import org.apache.rocketmq.remoting.protocol.heartbeat.HeartbeatData;
import org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.remoting.protocol.heartbeat.ProducerData;
import org.apache.rocketmq.remoting.protocol.heartbeat.SubscriptionData;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.QueueData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;

/**
 * JSON bodies (bodies/*.json), produced by RemotingSerializable (fastjson 1.x),
 * plus the builders for the body objects that the frames carry as well.
 */
final class BodyVectors {
    /** Feature flags ClientRequestProcessor.getRouteInfoByTopic uses for clients >= V4_9_4. */
    static final SerializerFeature[] ROUTE_STANDARD_FEATURES = {
        SerializerFeature.BrowserCompatible, SerializerFeature.QuoteFieldNames,
        SerializerFeature.SkipTransientField, SerializerFeature.MapSortField};

    static final long SUB_VERSION = 1700000000999L;

    private final Out out;
    final List<Object> bodies = Out.list();

    BodyVectors(Out out) {
        this.out = out;
    }

    void generate() throws Exception {
        TopicRouteData route = topicRouteData();
        body("topic_route_unquoted", "TopicRouteData", route.encode(), "topicRouteData.encode()");
        body("topic_route_standard", "TopicRouteData", route.encode(ROUTE_STANDARD_FEATURES),
            "topicRouteData.encode(BrowserCompatible, QuoteFieldNames, SkipTransientField, MapSortField)");
        withPretty("heartbeat", heartbeatData());
        withPretty("cluster_info", clusterInfo());
        withPretty("topic_config_wrapper", topicConfigWrapper());
        body("register_broker_body", "RegisterBrokerBody", registerBrokerBody().encode(false),
            "registerBrokerBody.encode(false)");
        withPretty("lock_batch_request", lockBatchRequest());
        withPretty("lock_batch_response", lockBatchResponse());
        withPretty("consume_stats", consumeStats());
        withPretty("topic_stats_table", topicStatsTable());
        withPretty("consumer_connection", consumerConnection());
        withPretty("consumer_list_by_group", consumerListByGroup());
        withPretty("reset_offset", resetOffsetBody());
        withPretty("kv_table", kvTable());
        withPretty("consumer_offset_wrapper", consumerOffsetWrapper());
    }

    /** encode() plus toJson(true): the pretty form is what the broker's config files hold. */
    private void withPretty(String name, RemotingSerializable obj) throws Exception {
        String cls = obj.getClass().getSimpleName();
        body(name, cls, obj.encode(), "encode()");
        body(name + ".pretty", cls, obj.toJson(true).getBytes(StandardCharsets.UTF_8), "toJson(true)");
    }

    private void body(String name, String cls, byte[] data, String how) throws Exception {
        String file = "bodies/" + name + ".json";
        out.write(file, data);
        bodies.add(obj("name", name, "file", file, "class", cls, "encodedWith", how));
    }

    static TopicRouteData topicRouteData() {
        TopicRouteData route = new TopicRouteData();
        List<QueueData> queues = new ArrayList<>();
        queues.add(queueData(BROKER_A, 8));
        queues.add(queueData(BROKER_B, 4));
        route.setQueueDatas(queues);
        List<BrokerData> brokers = new ArrayList<>();
        brokers.add(brokerA());
        brokers.add(brokerB());
        route.setBrokerDatas(brokers);
        // RouteInfoManager.pickupTopicRouteData always sets an empty filter server table.
        route.setFilterServerTable(new HashMap<>());
        return route;
    }

    private static QueueData queueData(String broker, int queues) {
        QueueData q = new QueueData();
        q.setBrokerName(broker);
        q.setReadQueueNums(queues);
        q.setWriteQueueNums(queues);
        q.setPerm(PermName.PERM_READ | PermName.PERM_WRITE);
        q.setTopicSysFlag(0);
        return q;
    }

    static BrokerData brokerA() {
        HashMap<Long, String> addrs = new HashMap<>();
        addrs.put(MixAll.MASTER_ID, "192.168.0.1:10911");
        addrs.put(1L, "192.168.0.2:10911");
        return new BrokerData(CLUSTER, BROKER_A, addrs);
    }

    static BrokerData brokerB() {
        HashMap<Long, String> addrs = new HashMap<>();
        addrs.put(MixAll.MASTER_ID, "192.168.0.3:10911");
        BrokerData b = new BrokerData(CLUSTER, BROKER_B, addrs);
        // Non-ASCII on purpose: the standard route encoding (BrowserCompatible) escapes it.
        b.setZoneName("zone-东");
        return b;
    }

    static SubscriptionData subscription(String topic, String expr) throws Exception {
        SubscriptionData s = FilterAPI.buildSubscriptionData(topic, expr);
        s.setSubVersion(SUB_VERSION); // defaults to System.currentTimeMillis()
        return s;
    }

    static HeartbeatData heartbeatData() throws Exception {
        HeartbeatData hb = new HeartbeatData();
        hb.setClientID(CLIENT_ID);
        ProducerData p = new ProducerData();
        p.setGroupName(PRODUCER_GROUP);
        hb.getProducerDataSet().add(p);
        ConsumerData c = new ConsumerData();
        c.setGroupName(CONSUMER_GROUP);
        c.setConsumeType(ConsumeType.CONSUME_PASSIVELY);
        c.setMessageModel(MessageModel.CLUSTERING);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        c.getSubscriptionDataSet().add(subscription(TOPIC, "TagA || TagB"));
        c.getSubscriptionDataSet().add(subscription(MixAll.getRetryTopic(CONSUMER_GROUP), "*"));
        c.setUnitMode(false);
        hb.getConsumerDataSet().add(c);
        return hb;
    }

    static ClusterInfo clusterInfo() {
        ClusterInfo ci = new ClusterInfo();
        HashMap<String, BrokerData> brokers = new HashMap<>();
        brokers.put(BROKER_A, brokerA());
        brokers.put(BROKER_B, brokerB());
        ci.setBrokerAddrTable(brokers);
        HashMap<String, Set<String>> clusters = new HashMap<>();
        clusters.put(CLUSTER, new HashSet<>(Arrays.asList(BROKER_A, BROKER_B)));
        ci.setClusterAddrTable(clusters);
        return ci;
    }

    static TopicConfigSerializeWrapper topicConfigWrapper() {
        TopicConfigSerializeWrapper w = new TopicConfigSerializeWrapper();
        TopicConfig t1 = new TopicConfig(TOPIC, 8, 8, PermName.PERM_READ | PermName.PERM_WRITE, 0);
        TopicConfig t2 = new TopicConfig("OrderTopic", 4, 4, PermName.PERM_READ | PermName.PERM_WRITE, 0);
        t2.setOrder(true);
        t2.getAttributes().put("+message.type", "FIFO");
        w.getTopicConfigTable().put(t1.getTopicName(), t1);
        w.getTopicConfigTable().put(t2.getTopicName(), t2);
        w.setDataVersion(Fixtures.dataVersion(7));
        return w;
    }

    /** Built the way BrokerOuterAPI.registerBrokerAll does. */
    static RegisterBrokerBody registerBrokerBody() {
        RegisterBrokerBody body = new RegisterBrokerBody();
        TopicConfigAndMappingSerializeWrapper w = TopicConfigAndMappingSerializeWrapper.from(topicConfigWrapper());
        w.setMappingDataVersion(Fixtures.dataVersion(0)); // from() stamps it with the clock
        body.setTopicConfigSerializeWrapper(w);
        body.setFilterServerList(new ArrayList<>());
        return body;
    }

    static MessageQueue mq(String broker, int queueId) {
        return new MessageQueue(TOPIC, broker, queueId);
    }

    static LockBatchRequestBody lockBatchRequest() {
        LockBatchRequestBody b = new LockBatchRequestBody();
        b.setConsumerGroup(CONSUMER_GROUP);
        b.setClientId(CLIENT_ID);
        b.setOnlyThisBroker(false);
        b.getMqSet().add(mq(BROKER_A, 0));
        b.getMqSet().add(mq(BROKER_A, 1));
        return b;
    }

    static LockBatchResponseBody lockBatchResponse() {
        LockBatchResponseBody b = new LockBatchResponseBody();
        b.getLockOKMQSet().add(mq(BROKER_A, 0));
        b.getLockOKMQSet().add(mq(BROKER_A, 1));
        return b;
    }

    static ConsumeStats consumeStats() {
        ConsumeStats cs = new ConsumeStats();
        for (int q = 0; q < 3; q++) {
            OffsetWrapper w = new OffsetWrapper();
            w.setBrokerOffset(1000 + q);
            w.setConsumerOffset(900 + q);
            w.setPullOffset(950 + q);
            w.setLastTimestamp(Fixtures.STORE_TS + q);
            cs.getOffsetTable().put(mq(BROKER_A, q), w);
        }
        cs.setConsumeTps(12.5);
        return cs;
    }

    static TopicStatsTable topicStatsTable() {
        TopicStatsTable t = new TopicStatsTable();
        for (int q = 0; q < 2; q++) {
            TopicOffset o = new TopicOffset();
            o.setMinOffset(q);
            o.setMaxOffset(5000L + q);
            o.setLastUpdateTimestamp(Fixtures.STORE_TS + q);
            t.getOffsetTable().put(mq(BROKER_B, q), o);
        }
        t.setTopicPutTps(3.25);
        return t;
    }

    static ConsumerConnection consumerConnection() throws Exception {
        ConsumerConnection cc = new ConsumerConnection();
        // Connection has no hashCode(): a plain HashSet would order by identity hash, which can
        // change between runs. LinkedHashSet (still a HashSet) keeps the output stable.
        HashSet<Connection> conns = new LinkedHashSet<>();
        conns.add(connection(CLIENT_ID, "192.168.0.10:52345", LanguageCode.JAVA, 479));
        conns.add(connection("192.168.0.11@23456", "192.168.0.11:41000", LanguageCode.GO, 0));
        cc.setConnectionSet(conns);
        ConcurrentHashMap<String, SubscriptionData> subs = new ConcurrentHashMap<>();
        subs.put(TOPIC, subscription(TOPIC, "TagA || TagB"));
        subs.put(MixAll.getRetryTopic(CONSUMER_GROUP), subscription(MixAll.getRetryTopic(CONSUMER_GROUP), "*"));
        cc.setSubscriptionTable(subs);
        cc.setConsumeType(ConsumeType.CONSUME_PASSIVELY);
        cc.setMessageModel(MessageModel.CLUSTERING);
        cc.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        return cc;
    }

    private static Connection connection(String id, String addr, LanguageCode lang, int version) {
        Connection c = new Connection();
        c.setClientId(id);
        c.setClientAddr(addr);
        c.setLanguage(lang);
        c.setVersion(version);
        return c;
    }

    static GetConsumerListByGroupResponseBody consumerListByGroup() {
        GetConsumerListByGroupResponseBody b = new GetConsumerListByGroupResponseBody();
        b.setConsumerIdList(Arrays.asList(CLIENT_ID, "192.168.0.11@23456"));
        return b;
    }

    static ResetOffsetBody resetOffsetBody() {
        ResetOffsetBody b = new ResetOffsetBody();
        HashMap<MessageQueue, Long> table = new HashMap<>();
        table.put(mq(BROKER_A, 0), 100L);
        table.put(mq(BROKER_A, 1), 200L);
        b.setOffsetTable(table);
        return b;
    }

    static KVTable kvTable() {
        KVTable t = new KVTable();
        t.getTable().put("brokerVersion", "479");
        t.getTable().put("commitLogMaxOffset", "4294983680");
        t.getTable().put("\u4e2d\u6587\u952e", "\u503c \"quoted\" \\ back\tslash");
        return t;
    }

    /** The shape of the broker's consumerOffset.json (ConsumerOffsetManager is broker-only). */
    static ConsumerOffsetSerializeWrapper consumerOffsetWrapper() {
        ConsumerOffsetSerializeWrapper w = new ConsumerOffsetSerializeWrapper();
        ConcurrentHashMap<Integer, Long> offsets = new ConcurrentHashMap<>();
        offsets.put(0, 120L);
        offsets.put(1, 98L);
        w.getOffsetTable().put(TOPIC + "@" + CONSUMER_GROUP, offsets);
        w.setDataVersion(Fixtures.dataVersion(3));
        return w;
    }
}
