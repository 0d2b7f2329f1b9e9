package io.skylark.compat;

import java.util.List;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.body.KVTable;
import org.apache.rocketmq.remoting.protocol.body.RegisterBrokerBody;
import org.apache.rocketmq.remoting.protocol.body.TopicConfigAndMappingSerializeWrapper;
import org.apache.rocketmq.remoting.protocol.body.TopicList;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetKVConfigRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetKVConfigResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetKVListByNamespaceRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.PutKVConfigRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.WipeWritePermOfBrokerRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.WipeWritePermOfBrokerResponseHeader;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;

/** Exercises a Skylark name server with RocketMQ 5.3.3's own classes; exit 3 on a mismatch. */
public final class NamesrvCompat {
    private static final String CLUSTER = "DefaultCluster";
    private static final String TOPIC = "CompatTopic";

    private NamesrvCompat() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !"check".equals(args[0])) {
            System.err.println("usage: NamesrvCompat check HOST:PORT");
            System.exit(1);
        }
        // As MQClientAPIImpl does: every request carries the client's version.
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));
        String ns = args[1];
        NettyRemotingClient client = new NettyRemotingClient(new NettyClientConfig());
        client.start();
        try {
            run(client, ns);
        } finally {
            client.shutdown();
        }
        System.out.println("ok: all checks passed");
    }

    private static void run(NettyRemotingClient client, String ns) throws Exception {
        RemotingCommand r = register(client, ns, "broker-a", 0, "10.1.0.1:10911", false);
        RegisterBrokerResponseHeader rh =
            (RegisterBrokerResponseHeader) r.decodeCommandCustomHeader(RegisterBrokerResponseHeader.class);
        check("master has no master", rh.getMasterAddr() == null);
        r = register(client, ns, "broker-a", 1, "10.1.0.2:10911", false);
        rh = (RegisterBrokerResponseHeader) r.decodeCommandCustomHeader(RegisterBrokerResponseHeader.class);
        check("slave learns masterAddr", "10.1.0.1:10911".equals(rh.getMasterAddr()));
        check("slave learns haServerAddr", "10.1.0.1:10912".equals(rh.getHaServerAddr()));
        register(client, ns, "broker-z", 0, "10.1.0.9:10911", true);
        System.out.println("ok: registered JSON and compressed bodies");

        TopicRouteData standard = route(client, ns, MQVersion.CURRENT_VERSION);
        TopicRouteData legacy = route(client, ns, 317);
        check("route has both groups", standard.getBrokerDatas().size() == 2);
        check("route has both queue datas", standard.getQueueDatas().size() == 2);
        check("quoted and unquoted routes decode equal", standard.equals(legacy));
        BrokerData a = standard.getBrokerDatas().stream()
            .filter(b -> b.getBrokerName().equals("broker-a")).findFirst().orElseThrow();
        check("broker-a has master and slave", a.getBrokerAddrs().size() == 2
            && "10.1.0.2:10911".equals(a.getBrokerAddrs().get(1L)));
        System.out.println("ok: routes " + standard);

        RemotingCommand ci = invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, null));
        ClusterInfo info = RemotingSerializable.decode(ci.getBody(), ClusterInfo.class);
        check("cluster lists both groups", info.getClusterAddrTable().get(CLUSTER).size() == 2);
        check("cluster knows broker-z", info.getBrokerAddrTable().containsKey("broker-z"));

        RemotingCommand tl = invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, null));
        TopicList topics = RemotingSerializable.decode(tl.getBody(), TopicList.class);
        check("topic list has the topic", topics.getTopicList().contains(TOPIC));

        PutKVConfigRequestHeader put = new PutKVConfigRequestHeader();
        put.setNamespace("ORDER_TOPIC_CONFIG");
        put.setKey(TOPIC);
        put.setValue("broker-a:4;broker-z:4");
        invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.PUT_KV_CONFIG, put));
        GetKVConfigRequestHeader get = new GetKVConfigRequestHeader();
        get.setNamespace("ORDER_TOPIC_CONFIG");
        get.setKey(TOPIC);
        RemotingCommand got = invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.GET_KV_CONFIG, get));
        GetKVConfigResponseHeader value = (GetKVConfigResponseHeader) got.decodeCommandCustomHeader(GetKVConfigResponseHeader.class);
        check("KV value reads back", "broker-a:4;broker-z:4".equals(value.getValue()));
        GetKVListByNamespaceRequestHeader list = new GetKVListByNamespaceRequestHeader();
        list.setNamespace("ORDER_TOPIC_CONFIG");
        KVTable table = RemotingSerializable.decode(
            invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.GET_KVLIST_BY_NAMESPACE, list)).getBody(), KVTable.class);
        check("KV list has the key", table.getTable().containsKey(TOPIC));
        System.out.println("ok: cluster info, topic list, KV config");

        check("producer sees 8 queues", publishQueues(ns).size() == 8);

        WipeWritePermOfBrokerRequestHeader wipe = new WipeWritePermOfBrokerRequestHeader();
        wipe.setBrokerName("broker-a");
        RemotingCommand wiped = invoke(client, ns, RemotingCommand.createRequestCommand(RequestCode.WIPE_WRITE_PERM_OF_BROKER, wipe));
        WipeWritePermOfBrokerResponseHeader count =
            (WipeWritePermOfBrokerResponseHeader) wiped.decodeCommandCustomHeader(WipeWritePermOfBrokerResponseHeader.class);
        check("wipe touched 2 topics", count.getWipeTopicCount() == 2);
        List<MessageQueue> after = publishQueues(ns);
        check("producer skips the read-only broker", after.size() == 4
            && after.stream().allMatch(q -> q.getBrokerName().equals("broker-z")));
        System.out.println("ok: producer publish queues before and after wiping write perm");

        RemotingCommand unknown = client.invokeSync(ns, RemotingCommand.createRequestCommand(9999, null), 3000);
        check("unknown code answered 3", unknown.getCode() == 3);
    }

    private static RemotingCommand register(NettyRemotingClient client, String ns, String name, long id,
        String addr, boolean compressed) throws Exception {
        RegisterBrokerRequestHeader h = new RegisterBrokerRequestHeader();
        h.setBrokerName(name);
        h.setBrokerAddr(addr);
        h.setClusterName(CLUSTER);
        h.setHaServerAddr(addr.replace(":10911", ":10912"));
        h.setBrokerId(id);
        h.setHeartbeatTimeoutMillis(120_000L);
        h.setEnableActingMaster(false);
        h.setCompressed(compressed);
        TopicConfigAndMappingSerializeWrapper w = new TopicConfigAndMappingSerializeWrapper();
        w.getTopicConfigTable().put(TOPIC, new TopicConfig(TOPIC, 4, 4, 6));
        String own = "Own-" + name;
        w.getTopicConfigTable().put(own, new TopicConfig(own, 2, 2, 6));
        w.getDataVersion().nextVersion();
        RegisterBrokerBody body = new RegisterBrokerBody();
        body.setTopicConfigSerializeWrapper(w);
        byte[] bytes = body.encode(compressed);
        h.setBodyCrc32(UtilAll.crc32(bytes));
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER, h);
        request.setBody(bytes);
        return invoke(client, ns, request);
    }

    private static TopicRouteData route(NettyRemotingClient client, String ns, int version) throws Exception {
        GetRouteInfoRequestHeader h = new GetRouteInfoRequestHeader();
        h.setTopic(TOPIC);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, h);
        request.setVersion(version);
        RemotingCommand response = invoke(client, ns, request);
        String text = new String(response.getBody(), java.nio.charset.StandardCharsets.UTF_8);
        boolean quoted = text.contains("\"brokerAddrs\":{\"0\":");
        check("route for version " + version + " has " + (version >= 401 ? "quoted" : "bare") + " keys",
            quoted == (version >= 401));
        return RemotingSerializable.decode(response.getBody(), TopicRouteData.class);
    }

    private static List<MessageQueue> publishQueues(String ns) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer("CompatProducer");
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("compat-" + System.nanoTime());
        producer.start();
        try {
            return producer.fetchPublishMessageQueues(TOPIC);
        } finally {
            producer.shutdown();
        }
    }

    private static RemotingCommand invoke(NettyRemotingClient client, String ns, RemotingCommand request)
        throws Exception {
        RemotingCommand response = client.invokeSync(ns, request, 3000);
        check("request " + request.getCode() + " succeeded (" + response.getRemark() + ")", response.getCode() == 0);
        return response;
    }

    private static void check(String what, boolean ok) {
        if (!ok) {
            System.out.println("FAILED: " + what);
            System.exit(3);
        }
    }
}
