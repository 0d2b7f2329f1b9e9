package io.skylark.interop;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * Helpers of the admin scenarios around rocketmq-tools' {@code DefaultMQAdminExt},
 * the API mqadmin's commands are written against. Route and body types moved
 * package between 4.x and 5.x, so they are only ever named with {@code var}.
 */
final class AdminTools {
    /** Timeout of one admin call: a hang guard. */
    private static final long TIMEOUT_MS = 15_000;

    /** The one broker of the cluster: its cluster, name and master address. */
    static final class Broker {
        final String cluster;
        final String name;
        final String addr;

        Broker(String cluster, String name, String addr) {
            this.cluster = cluster;
            this.name = name;
            this.addr = addr;
        }
    }

    private AdminTools() {}

    /** A started admin client, as mqadmin makes one per command. */
    static DefaultMQAdminExt start(String namesrv) throws MQClientException {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(TIMEOUT_MS);
        admin.setNamesrvAddr(namesrv);
        admin.setInstanceName(Clients.name("admin"));
        admin.start();
        return admin;
    }

    /** The first master the nameserver knows, waiting for one to register. */
    static Broker broker(Check check, DefaultMQAdminExt admin) {
        List<Broker> found = new ArrayList<>();
        boolean ok = Wait.until(Wait.SETTLE, () -> {
            try {
                var info = admin.examineBrokerClusterInfo();
                for (var cluster : info.getClusterAddrTable().entrySet()) {
                    for (String name : cluster.getValue()) {
                        var data = info.getBrokerAddrTable().get(name);
                        String addr = data == null ? null : data.getBrokerAddrs().get(MixAll.MASTER_ID);
                        if (addr != null) {
                            found.add(new Broker(cluster.getKey(), name, addr));
                            return true;
                        }
                    }
                }
            } catch (Exception e) {
                Log.out("(cluster info: " + Check.describe(e) + ")");
            }
            return false;
        });
        check.require(ok, "clusterList names a master", "none registered");
        Broker broker = found.get(0);
        Log.step("broker " + broker.name + " of " + broker.cluster + " at " + broker.addr);
        return broker;
    }

    /**
     * Waits until the route of {@code topic} has {@code brokerName} with
     * {@code queues} read and write queues and permission {@code perm}.
     */
    static boolean routeQueues(DefaultMQAdminExt admin, String topic, String brokerName, int queues, int perm) {
        return Wait.until(Wait.SETTLE, () -> {
            try {
                for (var queue : admin.examineTopicRouteInfo(topic).getQueueDatas()) {
                    if (queue.getBrokerName().equals(brokerName) && queue.getReadQueueNums() == queues
                            && queue.getWriteQueueNums() == queues && queue.getPerm() == perm) {
                        return true;
                    }
                }
            } catch (Exception e) {
                // Not routed yet.
            }
            return false;
        });
    }

    /** Waits until the nameserver has no route for {@code topic}. */
    static boolean routeGone(DefaultMQAdminExt admin, String topic) {
        return Wait.until(Wait.SETTLE, () -> {
            try {
                admin.examineTopicRouteInfo(topic);
                return false;
            } catch (MQClientException e) {
                return e.getResponseCode() == 17;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** Whether the broker at {@code addr} has no config for {@code topic}. */
    static boolean topicConfigGone(DefaultMQAdminExt admin, String addr, String topic) {
        try {
            return admin.examineTopicConfig(addr, topic) == null;
        } catch (Exception e) {
            // 5.x asks GET_TOPIC_CONFIG, which answers TOPIC_NOT_EXIST.
            return String.valueOf(e.getMessage()).contains("No topic in this broker");
        }
    }

    /** The route of {@code topic} for failure messages. */
    static String describeRoute(DefaultMQAdminExt admin, String topic) {
        try {
            return String.valueOf(admin.examineTopicRouteInfo(topic).getQueueDatas());
        } catch (Exception e) {
            return Check.describe(e);
        }
    }

    /** Whether {@code producer} finds a writable queue of {@code topic} in a fresh route. */
    static boolean writable(DefaultMQProducer producer, String topic) {
        try {
            return !producer.fetchPublishMessageQueues(topic).isEmpty();
        } catch (MQClientException e) {
            return false;
        }
    }

    /**
     * deleteTopicInNameServer as mqadmin's deleteTopic calls it, with the
     * cluster: 4.x takes (topic, cluster), 5.x (cluster, topic).
     */
    static void deleteTopicInNameServer(DefaultMQAdminExt admin, String cluster, String topic) throws Exception {
        Set<String> nameservers = new HashSet<>(Arrays.asList(admin.getNamesrvAddr().split(";")));
        if (Clients.version().startsWith("V4")) {
            admin.deleteTopicInNameServer(nameservers, topic, cluster);
        } else {
            admin.deleteTopicInNameServer(nameservers, cluster, topic);
        }
    }
}
