package io.skylark.interop;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * {@code admin-topics}: what mqadmin's cluster, topic, group and broker
 * commands do, through {@code DefaultMQAdminExt} as mqadmin calls it:
 * clusterList, brokerStatus, updateTopic, topicRoute, topicList,
 * topicStatus, updateSubGroup, deleteSubGroup, getBrokerConfig,
 * updateBrokerConfig, deleteTopic, wipeWritePerm / addWritePerm. Each is
 * checked by its effect, not only by the absence of an exception.
 * Args: {@code [CONFIG_VALUE]}, the value it leaves shortPollingTimeMills at.
 */
final class AdminTopicsScenario {
    /** RocketMQ's permission bits. */
    private static final int PERM_WRITE = 2;
    private static final int PERM_READ = 4;
    /** Broker config key the scenario changes and leaves changed. */
    static final String CONFIG_KEY = "shortPollingTimeMills";

    private AdminTopicsScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        String configValue = args.isEmpty() ? "1234" : args.get(0);
        DefaultMQAdminExt admin = AdminTools.start(namesrv);
        try {
            DefaultMQProducer producer = Clients.producer(namesrv);
            AdminTools.Broker broker = AdminTools.broker(check, admin);
            clusterAndBrokerStatus(check, admin, broker);
            String topic = Clients.name("AdminTopic");
            topics(check, admin, producer, broker, topic);
            groups(check, admin, broker);
            brokerConfig(check, admin, producer, broker, topic, configValue);
            deleteTopic(check, admin, broker);
            wipeWritePerm(check, admin, namesrv, broker, topic);
        } finally {
            admin.shutdown();
        }
    }

    /** clusterList and brokerStatus: the cluster names the broker; its runtime figures are there. */
    private static void clusterAndBrokerStatus(Check check, DefaultMQAdminExt admin, AdminTools.Broker broker)
            throws Exception {
        var info = admin.examineBrokerClusterInfo();
        check.that(info.getClusterAddrTable().getOrDefault(broker.cluster, Set.of()).contains(broker.name),
                "clusterList: cluster " + broker.cluster + " lists broker " + broker.name,
                info.getClusterAddrTable());
        Map<String, String> stats = admin.fetchBrokerRuntimeStats(broker.addr).getTable();
        for (String key : List.of("brokerVersionDesc", "commitLogMaxOffset", "commitLogMinOffset",
                "earliestMessageTimeStamp", "dispatchBehindBytes")) {
            check.that(stats.containsKey(key), "brokerStatus has " + key, stats.keySet());
        }
        check.that(Long.parseLong(stats.getOrDefault("commitLogMaxOffset", "-1")) >= 0,
                "brokerStatus: commitLogMaxOffset is a number", stats.get("commitLogMaxOffset"));
    }

    /** updateTopic, topicRoute, topicList, topicStatus. */
    private static void topics(Check check, DefaultMQAdminExt admin, DefaultMQProducer producer,
            AdminTools.Broker broker, String topic) throws Exception {
        TopicConfig config = new TopicConfig(topic, 3, 3, PERM_READ | PERM_WRITE);
        admin.createAndUpdateTopicConfig(broker.addr, config);
        TopicConfig stored = admin.examineTopicConfig(broker.addr, topic);
        check.that(stored != null && stored.getReadQueueNums() == 3 && stored.getWriteQueueNums() == 3
                && stored.getPerm() == (PERM_READ | PERM_WRITE), "updateTopic: the broker has " + topic + " with 3 queues",
                stored);
        // A second update changes the queue count (updateTopic on an existing topic).
        admin.createAndUpdateTopicConfig(broker.addr, new TopicConfig(topic, 4, 4, PERM_READ | PERM_WRITE));
        check.that(AdminTools.routeQueues(admin, topic, broker.name, 4, PERM_READ | PERM_WRITE),
                "topicRoute: " + topic + " routes to " + broker.name + " with 4 queues, perm RW",
                AdminTools.describeRoute(admin, topic));
        check.that(admin.fetchAllTopicList().getTopicList().contains(topic), "topicList has " + topic, topic);

        Admin.awaitQueues(check, producer, topic, 4);
        int sent = 10;
        for (int i = 0; i < sent; i++) {
            producer.send(Messages.make(topic, null, i), new org.apache.rocketmq.client.producer.MessageQueueSelector() {
                @Override
                public MessageQueue select(List<MessageQueue> mqs, org.apache.rocketmq.common.message.Message msg,
                        Object arg) {
                    return mqs.get((Integer) arg % mqs.size());
                }
            }, i, Clients.SEND_TIMEOUT_MS);
        }
        // The broker indexes a message just after storing it (as RocketMQ's
        // reput does), so the queues' offsets catch up with the sends shortly.
        List<String> seen = new ArrayList<>(List.of(""));
        boolean settled = Wait.until(Wait.SETTLE, () -> {
            try {
                // TopicOffset lives in different packages in 4.9 and 5.x: `var` only.
                var stats = admin.examineTopicStats(topic).getOffsetTable();
                long total = 0;
                boolean shape = stats.size() == 4;
                StringBuilder text = new StringBuilder();
                for (var entry : stats.entrySet()) {
                    var offsets = entry.getValue();
                    total += offsets.getMaxOffset() - offsets.getMinOffset();
                    // 10 messages over 4 queues by i % 4: 3, 3, 2, 2.
                    long expected = entry.getKey().getQueueId() < 2 ? 3 : 2;
                    shape &= offsets.getMaxOffset() == expected && offsets.getMinOffset() == 0
                            && offsets.getLastUpdateTimestamp() > 0;
                    text.append(entry.getKey().getQueueId()).append(": min ").append(offsets.getMinOffset())
                            .append(" max ").append(offsets.getMaxOffset()).append(" last ")
                            .append(offsets.getLastUpdateTimestamp()).append("; ");
                }
                seen.set(0, text.toString());
                return shape && total == sent;
            } catch (Exception e) {
                seen.set(0, Check.describe(e));
                return false;
            }
        });
        check.that(settled, "topicStatus: 4 queues holding 3, 3, 2, 2 messages with store times", seen.get(0));
    }

    /** updateSubGroup and deleteSubGroup. */
    private static void groups(Check check, DefaultMQAdminExt admin, AdminTools.Broker broker) throws Exception {
        String group = Clients.name("AdminGroup");
        // The config type moved package between 4.x and 5.x: start from a
        // built-in group's config, as `var`.
        var config = admin.examineSubscriptionGroupConfig(broker.addr, "TOOLS_CONSUMER");
        check.require(config != null, "the broker has the built-in group TOOLS_CONSUMER", "null");
        config.setGroupName(group);
        config.setRetryMaxTimes(5);
        config.setConsumeBroadcastEnable(false);
        config.setRetryQueueNums(2);
        admin.createAndUpdateSubscriptionGroupConfig(broker.addr, config);
        var stored = admin.examineSubscriptionGroupConfig(broker.addr, group);
        check.that(stored != null && stored.getRetryMaxTimes() == 5 && stored.getRetryQueueNums() == 2
                && !stored.isConsumeBroadcastEnable(), "updateSubGroup: " + group + " stored with its settings", stored);

        admin.deleteSubscriptionGroup(broker.addr, group, true);
        check.that(admin.examineSubscriptionGroupConfig(broker.addr, group) == null,
                "deleteSubGroup: " + group + " is gone", group);
    }

    /**
     * getBrokerConfig and updateBrokerConfig: a runtime key changes and reads
     * back; brokerPermission read-only takes the broker's queues out of
     * producers' routes and back; refused keys say why.
     */
    private static void brokerConfig(Check check, DefaultMQAdminExt admin, DefaultMQProducer producer,
            AdminTools.Broker broker, String topic, String configValue) throws Exception {
        Properties before = admin.getBrokerConfig(broker.addr);
        check.equal(broker.name, before.getProperty("brokerName"), "getBrokerConfig: brokerName");

        Properties change = new Properties();
        change.setProperty(CONFIG_KEY, configValue);
        admin.updateBrokerConfig(broker.addr, change);
        check.equal(configValue, admin.getBrokerConfig(broker.addr).getProperty(CONFIG_KEY),
                "updateBrokerConfig then getBrokerConfig: " + CONFIG_KEY);

        expectRefused(check, admin, broker, "brokerConfigPath", "/tmp/elsewhere", 16);
        expectRefused(check, admin, broker, "noSuchBrokerKey", "1", 29);
        expectRefused(check, admin, broker, "listenPort", "1", 29);

        // A read-only broker: its queues drop out of producers' routes.
        Properties readOnly = new Properties();
        readOnly.setProperty("brokerPermission", Integer.toString(PERM_READ));
        admin.updateBrokerConfig(broker.addr, readOnly);
        check.that(AdminTools.routeQueues(admin, topic, broker.name, 4, PERM_READ),
                "brokerPermission=4: the route of " + topic + " is read-only", AdminTools.describeRoute(admin, topic));
        check.that(!AdminTools.writable(producer, topic), "brokerPermission=4: producers see no writable queue", topic);
        Properties readWrite = new Properties();
        readWrite.setProperty("brokerPermission", Integer.toString(PERM_READ | PERM_WRITE));
        admin.updateBrokerConfig(broker.addr, readWrite);
        check.that(AdminTools.routeQueues(admin, topic, broker.name, 4, PERM_READ | PERM_WRITE),
                "brokerPermission=6: the route of " + topic + " is writable again", AdminTools.describeRoute(admin, topic));
        check.that(AdminTools.writable(producer, topic), "brokerPermission=6: producers see the queues again", topic);
    }

    private static void expectRefused(Check check, DefaultMQAdminExt admin, AdminTools.Broker broker, String key,
            String value, int code) throws Exception {
        Properties change = new Properties();
        change.setProperty(key, value);
        try {
            admin.updateBrokerConfig(broker.addr, change);
            check.fail("updateBrokerConfig " + key + " should be refused");
        } catch (MQBrokerException e) {
            check.that(e.getResponseCode() == code && e.getErrorMessage() != null && !e.getErrorMessage().isEmpty(),
                    "updateBrokerConfig " + key + " refused with code " + code,
                    e.getResponseCode() + " " + e.getErrorMessage());
        }
    }

    /** deleteTopic: from the broker and the nameserver; the route and the broker's config are gone. */
    private static void deleteTopic(Check check, DefaultMQAdminExt admin, AdminTools.Broker broker) throws Exception {
        String topic = Clients.name("AdminDoomed");
        admin.createAndUpdateTopicConfig(broker.addr, new TopicConfig(topic, 2, 2, PERM_READ | PERM_WRITE));
        check.require(AdminTools.routeQueues(admin, topic, broker.name, 2, PERM_READ | PERM_WRITE),
                "deleteTopic: " + topic + " routed before", AdminTools.describeRoute(admin, topic));
        admin.deleteTopicInBroker(Set.of(broker.addr), topic);
        AdminTools.deleteTopicInNameServer(admin, broker.cluster, topic);
        check.that(AdminTools.routeGone(admin, topic), "deleteTopic: the route of " + topic + " is gone",
                AdminTools.describeRoute(admin, topic));
        check.that(!admin.fetchAllTopicList().getTopicList().contains(topic), "deleteTopic: topicList lacks " + topic,
                topic);
        check.that(AdminTools.topicConfigGone(admin, broker.addr, topic),
                "deleteTopic: the broker no longer has " + topic, topic);
    }

    /** wipeWritePerm and addWritePerm on the nameserver: routes and producers follow. */
    private static void wipeWritePerm(Check check, DefaultMQAdminExt admin, String namesrv, AdminTools.Broker broker,
            String topic) throws Exception {
        int wiped = 0;
        for (String ns : namesrv.split(";")) {
            wiped += admin.wipeWritePermOfBroker(ns, broker.name);
        }
        check.that(wiped > 0, "wipeWritePerm: the nameserver wiped " + broker.name + "'s topics", wiped);
        check.that(AdminTools.routeQueues(admin, topic, broker.name, 4, PERM_READ),
                "wipeWritePerm: the route of " + topic + " is read-only", AdminTools.describeRoute(admin, topic));
        // A producer that reads the route now finds nowhere to send.
        DefaultMQProducer fresh = Clients.producer(namesrv);
        check.that(!AdminTools.writable(fresh, topic), "wipeWritePerm: producers find no writable queue", topic);
        try {
            fresh.send(Messages.make(topic, null, 0), Clients.SEND_TIMEOUT_MS);
            check.fail("wipeWritePerm: a send should find no route");
        } catch (MQClientException e) {
            check.that(String.valueOf(e.getMessage()).contains("No route info"),
                    "wipeWritePerm: a send is refused by the client for want of a route", e.getMessage());
        }
        int added = 0;
        for (String ns : namesrv.split(";")) {
            added += admin.addWritePermOfBroker(ns, broker.name);
        }
        check.that(added > 0 && AdminTools.routeQueues(admin, topic, broker.name, 4, PERM_READ | PERM_WRITE),
                "addWritePerm: the route of " + topic + " is writable again", AdminTools.describeRoute(admin, topic));
        check.that(AdminTools.writable(Clients.producer(namesrv), topic), "addWritePerm: producers see the queues again",
                topic);
    }
}
