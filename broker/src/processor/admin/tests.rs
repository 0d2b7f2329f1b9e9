use std::collections::BTreeMap;

use skylark_protocol::body::{
    ConsumeStats, ConsumerOffsetSerializeWrapper, GroupList, KVTable, MessageQueue,
    SubscriptionGroupConfig, SubscriptionGroupWrapper, TopicConfigSerializeWrapper, TopicList,
    TopicStatsTable,
};
use skylark_protocol::headers::{
    DeleteSubscriptionGroupRequestHeader, GetBrokerConfigResponseHeader,
    GetConsumeStatsRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    GetTopicStatsInfoRequestHeader, QueryTopicConsumeByWhoRequestHeader,
    QueryTopicsByConsumerRequestHeader,
};
use skylark_protocol::message::PermName;

use super::*;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::RequestError;
use crate::test_support::{broker_in, config_in, put, remote};

fn call(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    broker
        .handle_admin(remote(), request)
        .expect("an admin code")
        .expect("a response")
}

fn ok(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    let response = call(broker, request);
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{response:?}"
    );
    response
}

fn create_topic(topic: &str, queues: i32, attributes: Option<&str>) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: PermName::READ | PermName::WRITE,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: attributes.map(str::to_owned),
            force: None,
            broker_name: None,
        },
    )
}

fn delete_topic(topic: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicRequestHeader {
            topic: topic.into(),
            broker_name: None,
        },
    )
}

fn group_request(config: &SubscriptionGroupConfig) -> RemotingCommand {
    RemotingCommand::bare_request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(config.encode(KeyStyle::Unquoted))
}

#[test]
fn create_update_and_list_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let before = broker.topics.data_version().counter;
    ok(
        &broker,
        &create_topic("Orders", 4, Some("+message.type=FIFO")),
    );
    let t = broker.topics.get("Orders").unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (4, 4, 6));
    assert_eq!(
        t.attributes,
        BTreeMap::from([("message.type".to_owned(), "FIFO".to_owned())])
    );
    assert_eq!(broker.topics.data_version().counter, before + 1);
    // Sending the same again changes nothing.
    ok(
        &broker,
        &create_topic("Orders", 4, Some("+message.type=FIFO")),
    );
    assert_eq!(broker.topics.data_version().counter, before + 1);
    // An update keeps the attributes it does not mention.
    ok(&broker, &create_topic("Orders", 8, None));
    let t = broker.topics.get("Orders").unwrap();
    assert_eq!((t.write_queue_nums, t.attributes.len()), (8, 1));

    let all = ok(
        &broker,
        &RemotingCommand::bare_request(RequestCode::GET_ALL_TOPIC_CONFIG),
    );
    let body = TopicConfigAndMappingSerializeWrapper::decode(&all.body).unwrap();
    assert_eq!(body.topic_config_table["Orders"], *t);
    assert!(body.topic_config_table.contains_key("TBW102"));
    assert_eq!(body.data_version, broker.topics.data_version());
    // Old admin tools read the same body as the plain wrapper.
    let plain = TopicConfigSerializeWrapper::decode(&all.body).unwrap();
    assert_eq!(
        plain.topic_config_table.len(),
        body.topic_config_table.len()
    );

    let one = RemotingCommand::request(
        RequestCode::GET_TOPIC_CONFIG,
        &GetTopicConfigRequestHeader {
            topic: "Orders".into(),
            broker_name: None,
        },
    );
    assert_eq!(TopicConfig::decode(&ok(&broker, &one).body).unwrap(), *t);
}

#[test]
fn topic_creation_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    for (request, code) in [
        (
            create_topic("bad topic", 4, None),
            ResponseCode::INVALID_PARAMETER,
        ),
        (create_topic("", 4, None), ResponseCode::INVALID_PARAMETER),
        (
            create_topic("SCHEDULE_TOPIC_XXXX", 4, None),
            ResponseCode::INVALID_PARAMETER,
        ),
        (
            create_topic("DefaultCluster", 4, None),
            ResponseCode::INVALID_PARAMETER,
        ),
        (
            create_topic("rmq_sys_mine", 4, None),
            ResponseCode::INVALID_PARAMETER,
        ),
        (
            create_topic("Mixed", 4, Some("+message.type=MIXED")),
            ResponseCode::INVALID_PARAMETER,
        ),
        (
            create_topic("Bad", 4, Some("+colour=red")),
            ResponseCode::SYSTEM_ERROR,
        ),
        (
            create_topic("Bad", 4, Some("-message.type")),
            ResponseCode::SYSTEM_ERROR,
        ),
        (
            create_topic("Bad", 4, Some("message.type")),
            ResponseCode::SYSTEM_ERROR,
        ),
    ] {
        let response = call(&broker, &request);
        assert_eq!(response.response_code(), code, "{response:?}");
    }
    assert_eq!(
        call(&broker, &create_topic("DefaultCluster", 4, None))
            .remark
            .as_deref(),
        Some("The topic[DefaultCluster] is conflict with system topic.")
    );
    assert!(broker.topics.get("Bad").is_none() && broker.topics.get("Mixed").is_none());
    // A filter type Java does not know fails the header check.
    let mut request = create_topic("T", 4, None);
    request.set_ext("topicFilterType", "ANY_TAG");
    let err = broker
        .handle_admin(remote(), &request)
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, RequestError::Header(_)), "{err}");
    // With validateSystemTopicWhenUpdateTopic off, system topics may change.
    let mut config: BrokerConfig = config_in(dir.path());
    config.validate_system_topic_when_update_topic = false;
    drop(broker);
    let lax = Broker::open(config).unwrap();
    ok(&lax, &create_topic("SCHEDULE_TOPIC_XXXX", 18, None));
}

#[test]
fn delete_topic_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    ok(&broker, &create_topic("Doomed", 2, None));
    put(broker.store(), "Doomed", 1, b"m");
    broker.offsets.commit("CG", "Doomed", 1, 1);
    broker.offsets.commit("CG", "Kept", 0, 3);
    ok(&broker, &delete_topic("Doomed"));
    assert!(broker.topics.get("Doomed").is_none());
    assert_eq!(broker.offsets.query("CG", "Doomed", 1), None);
    assert_eq!(broker.offsets.query("CG", "Kept", 0), Some(3));
    assert_eq!(broker.store().max_offset("Doomed", 1), 0);
    // Deleting what is not there is fine; blank and system topics are not.
    ok(&broker, &delete_topic("Doomed"));
    assert_eq!(
        call(&broker, &delete_topic(" ")).response_code(),
        ResponseCode::INVALID_PARAMETER
    );
    assert_eq!(
        call(&broker, &delete_topic("TBW102")).response_code(),
        ResponseCode::INVALID_PARAMETER
    );
    // The deletion survives a restart.
    drop(broker);
    assert!(broker_in(dir.path()).topics.get("Doomed").is_none());
}

#[test]
fn subscription_group_admin() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let mut group = SubscriptionGroupConfig::new("CG");
    group.retry_max_times = 5;
    ok(&broker, &group_request(&group));
    assert_eq!(*broker.groups.get("CG").unwrap(), group);

    let all = ok(
        &broker,
        &RemotingCommand::bare_request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
    );
    let all = SubscriptionGroupWrapper::decode(&all.body).unwrap();
    assert_eq!(all.subscription_group_table["CG"], group);
    assert!(all.subscription_group_table.contains_key("TOOLS_CONSUMER"));

    let get = |name: &str| {
        RemotingCommand::request(
            RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG,
            &GetSubscriptionGroupConfigRequestHeader {
                group: name.into(),
                broker_name: None,
            },
        )
    };
    assert_eq!(
        SubscriptionGroupConfig::decode(&ok(&broker, &get("CG")).body).unwrap(),
        group
    );

    // Refused: no body, a bad name, attributes no group supports.
    let err = broker
        .handle_admin(
            remote(),
            &RemotingCommand::bare_request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP),
        )
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, RequestError::MissingBody(_)), "{err}");
    let bad = call(
        &broker,
        &group_request(&SubscriptionGroupConfig::new("no good")),
    );
    assert_eq!(bad.response_code(), ResponseCode::INVALID_PARAMETER);
    let mut attributed = SubscriptionGroupConfig::new("Attr");
    attributed.attributes.insert("+x".into(), "1".into());
    let bad = call(&broker, &group_request(&attributed));
    assert_eq!(bad.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(bad.remark.as_deref(), Some("unsupported key: x"));

    // Delete keeps offsets unless asked to clean them.
    broker.offsets.commit("CG", "T", 0, 4);
    let delete = |clean: Option<bool>| {
        RemotingCommand::request(
            RequestCode::DELETE_SUBSCRIPTIONGROUP,
            &DeleteSubscriptionGroupRequestHeader {
                group_name: "CG".into(),
                clean_offset: clean,
                broker_name: None,
            },
        )
    };
    ok(&broker, &delete(None));
    assert!(broker.groups.get("CG").is_none());
    assert_eq!(broker.offsets.query("CG", "T", 0), Some(4));
    ok(&broker, &delete(Some(true)));
    assert_eq!(broker.offsets.query("CG", "T", 0), None);

    // With auto-creation off an unknown group is not found.
    drop(broker);
    let mut config = config_in(dir.path());
    config.auto_create_subscription_group = false;
    let strict = Broker::open(config).unwrap();
    let missing = call(&strict, &get("Unknown"));
    assert_eq!(
        missing.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
}

#[test]
fn offsets_by_group_and_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    broker.offsets.commit("A", "T", 0, 1);
    broker.offsets.commit("B", "T", 1, 2);
    broker.offsets.commit("A", "U", 0, 3);
    let all = ok(
        &broker,
        &RemotingCommand::bare_request(RequestCode::GET_ALL_CONSUMER_OFFSET),
    );
    let all = ConsumerOffsetSerializeWrapper::decode(&all.body).unwrap();
    assert_eq!(all.offset_table["T@B"][&1], 2);
    assert_eq!(all.offset_table.len(), 3);

    let by_who = RemotingCommand::request(
        RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
        &QueryTopicConsumeByWhoRequestHeader {
            topic: "T".into(),
            broker_name: None,
        },
    );
    let groups = GroupList::decode(&ok(&broker, &by_who).body).unwrap();
    assert_eq!(groups.group_list, ["A".to_owned(), "B".to_owned()].into());

    let by_consumer = RemotingCommand::request(
        RequestCode::QUERY_TOPICS_BY_CONSUMER,
        &QueryTopicsByConsumerRequestHeader {
            group: "A".into(),
            broker_name: None,
        },
    );
    let topics = TopicList::decode(&ok(&broker, &by_consumer).body).unwrap();
    assert_eq!(topics.topic_list, ["T".to_owned(), "U".to_owned()].into());
    assert_eq!(topics.broker_addr.as_deref(), Some("127.0.0.1:10911"));
}

#[test]
fn broker_config_as_properties() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let response = ok(
        &broker,
        &RemotingCommand::bare_request(RequestCode::GET_BROKER_CONFIG),
    );
    let text = std::str::from_utf8(&response.body).unwrap();
    assert!(text.contains("brokerName=broker-a\n"), "{text}");
    assert!(text.contains("flushDiskType=ASYNC_FLUSH\n"), "{text}");
    assert!(text.contains(&format!("storePathRootDir={}\n", dir.path().display())));
    // What mqadmin receives reads back into the same config.
    assert_eq!(
        BrokerConfig::from_properties(text).unwrap(),
        *broker.config()
    );
    let version: GetBrokerConfigResponseHeader = response.read_header().unwrap();
    assert!(DataVersion::decode(version.version.as_bytes()).is_ok());
}

#[test]
fn runtime_info_states_what_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let info = |broker: &Broker| {
        let r = ok(
            broker,
            &RemotingCommand::bare_request(RequestCode::GET_BROKER_RUNTIME_INFO),
        );
        KVTable::decode(&r.body).unwrap().table
    };
    let empty = info(&broker);
    assert_eq!(empty["brokerVersionDesc"], "V5_3_3");
    assert_eq!(empty["brokerActive"], "true");
    assert_eq!(empty["commitLogMaxOffset"], "0");
    assert_eq!(empty["earliestMessageTimeStamp"], "-1");
    assert_eq!(empty["timerEnqueueTps"], "0.0");
    let ratio: f64 = empty["commitLogDiskRatio"].parse().unwrap();
    assert!((0.0..=1.0).contains(&ratio));

    put(broker.store(), "T", 0, b"first");
    let after = info(&broker);
    assert_eq!(
        after["commitLogMaxOffset"],
        broker.store().commit_log_max_offset().to_string()
    );
    assert_eq!(
        after["earliestMessageTimeStamp"],
        broker.store().message_store_time("T", 0, 0).to_string()
    );
}

#[test]
fn topic_stats_and_consume_stats() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    ok(&broker, &create_topic("T", 2, None));
    for _ in 0..3 {
        put(broker.store(), "T", 1, b"m");
    }
    let stats = RemotingCommand::request(
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader {
            topic: "T".into(),
            broker_name: None,
        },
    );
    let stats = TopicStatsTable::decode(&ok(&broker, &stats).body).unwrap();
    let q1 = stats.offset_table[&MessageQueue::new("T", "broker-a", 1)];
    assert_eq!((q1.min_offset, q1.max_offset), (0, 3));
    assert_eq!(
        q1.last_update_timestamp,
        broker.store().message_store_time("T", 1, 2)
    );
    let q0 = stats.offset_table[&MessageQueue::new("T", "broker-a", 0)];
    assert_eq!((q0.max_offset, q0.last_update_timestamp), (0, 0));
    assert_eq!(stats.offset_table.len(), 2);
    let missing = RemotingCommand::request(
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader {
            topic: "Nope".into(),
            broker_name: None,
        },
    );
    assert_eq!(
        call(&broker, &missing).response_code(),
        ResponseCode::TOPIC_NOT_EXIST
    );

    broker.offsets.commit("CG", "T", 1, 2);
    let consume = |topic: Option<&str>, list: &[&str]| {
        let mut h = GetConsumeStatsRequestHeader {
            consumer_group: "CG".into(),
            topic: topic.map(str::to_owned),
            topic_list: None,
            broker_name: None,
        };
        h.set_topic_list(list);
        let r = ok(
            &broker,
            &RemotingCommand::request(RequestCode::GET_CONSUME_STATS, &h),
        );
        ConsumeStats::decode(&r.body).unwrap()
    };
    // Without a topic: every topic the group has offsets on.
    for stats in [
        consume(None, &[]),
        consume(Some("T"), &[]),
        consume(None, &["T", "Gone"]),
    ] {
        assert_eq!(stats.consume_tps, 0.0);
        assert_eq!(stats.offset_table.len(), 2);
        let q1 = stats.offset_table[&MessageQueue::new("T", "broker-a", 1)];
        assert_eq!(
            (q1.broker_offset, q1.consumer_offset, q1.pull_offset),
            (3, 2, 2)
        );
        assert_eq!(
            q1.last_timestamp,
            broker.store().message_store_time("T", 1, 1)
        );
        let q0 = stats.offset_table[&MessageQueue::new("T", "broker-a", 0)];
        assert_eq!(
            (q0.broker_offset, q0.consumer_offset, q0.last_timestamp),
            (0, 0, 0)
        );
    }
}

#[test]
fn other_codes_are_not_admin() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let other = RemotingCommand::bare_request(RequestCode::HEART_BEAT);
    assert!(broker.handle_admin(remote(), &other).is_none());
}

/// GET_CONSUME_STATS leaves out topics an online group does not subscribe
/// to, and QUERY_TOPIC_CONSUME_BY_WHO names online subscribers, as Java does.
#[tokio::test]
async fn online_subscriptions_in_consume_stats_and_consume_by_who() {
    use crate::client::test_support::{TestBroker, TestClient, push_consumer};

    let served = TestBroker::start(|_| {}).await;
    let broker = &served.broker;
    for topic in ["A", "B"] {
        ok(broker, &create_topic(topic, 1, None));
        broker.offsets.commit("G", topic, 0, 0);
    }
    let stats_topics = |broker: &Broker| {
        let request = RemotingCommand::request(
            RequestCode::GET_CONSUME_STATS,
            &GetConsumeStatsRequestHeader {
                consumer_group: "G".into(),
                topic: None,
                topic_list: None,
                broker_name: None,
            },
        );
        let stats = ConsumeStats::decode(&ok(broker, &request).body).unwrap();
        stats
            .offset_table
            .keys()
            .map(|mq| mq.topic.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let by_who = |broker: &Broker, topic: &str| {
        let request = RemotingCommand::request(
            RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
            &QueryTopicConsumeByWhoRequestHeader {
                topic: topic.into(),
                broker_name: None,
            },
        );
        GroupList::decode(&ok(broker, &request).body)
            .unwrap()
            .group_list
    };
    // Offline: every topic with offsets.
    assert_eq!(stats_topics(broker), ["A", "B"].map(String::from).into());
    assert!(by_who(broker, "C").is_empty());

    let consumer = TestClient::connect(&served.addr, "10.0.0.1@c").await;
    consumer
        .heartbeat(
            vec![push_consumer("G", &["A"]), push_consumer("Other", &["C"])],
            &[],
        )
        .await;
    // Online and subscribed to A only: B is left out.
    assert_eq!(stats_topics(broker), ["A".to_owned()].into());
    assert_eq!(by_who(broker, "C"), ["Other".to_owned()].into());
    assert_eq!(by_who(broker, "A"), ["G".to_owned()].into());
}
