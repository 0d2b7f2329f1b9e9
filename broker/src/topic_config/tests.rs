use std::time::Duration;

use skylark_protocol::body::TopicFilterType;

use super::*;
use crate::test_support::{config_in, remote};

const RW: i32 = PermName::READ | PermName::WRITE;

fn load(config: &BrokerConfig) -> TopicConfigManager {
    TopicConfigManager::load(config).unwrap()
}

fn queues_and_perm(topics: &TopicConfigManager, name: &str) -> (i32, i32, i32) {
    let t = topics
        .get(name)
        .unwrap_or_else(|| panic!("{name} is missing"));
    (t.read_queue_nums, t.write_queue_nums, t.perm)
}

#[test]
fn fresh_broker_has_javas_system_topics() {
    let dir = tempfile::tempdir().unwrap();
    let topics = load(&config_in(dir.path()));
    let inherit_rw = PermName::INHERIT | RW;
    for (name, want) in [
        ("SELF_TEST_TOPIC", (1, 1, RW)),
        ("TBW102", (8, 8, inherit_rw)),
        ("BenchmarkTest", (1024, 1024, RW)),
        ("DefaultCluster", (16, 16, inherit_rw)),
        ("broker-a", (1, 1, inherit_rw)),
        ("DefaultCluster_REPLY_TOPIC", (1, 1, RW)),
        ("rmq_sys_REVIVE_LOG_DefaultCluster", (8, 8, RW)),
        (
            "rmq_sys_SYNC_BROKER_MEMBER_broker-a",
            (1, 1, PermName::INHERIT),
        ),
        ("OFFSET_MOVED_EVENT", (1, 1, RW)),
        ("SCHEDULE_TOPIC_XXXX", (18, 18, RW)),
        ("RMQ_SYS_TRANS_HALF_TOPIC", (1, 1, RW)),
        ("RMQ_SYS_TRANS_OP_HALF_TOPIC", (1, 1, RW)),
    ] {
        assert_eq!(queues_and_perm(&topics, name), want, "{name}");
    }
    assert!(topics.get("RMQ_SYS_TRACE_TOPIC").is_none());
    assert_eq!(topics.snapshot().topic_config_table.len(), 12);
    for name in ["DefaultCluster", "broker-a", "TBW102", "rmq_sys_anything"] {
        assert!(topics.is_system_topic(name), "{name}");
    }
    assert!(!topics.is_system_topic("OrderTopic"));
}

#[test]
fn switches_change_the_system_topics() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.auto_create_topic_enable = false;
    config.cluster_topic_enable = false;
    config.broker_topic_enable = false;
    config.trace_topic_enable = true;
    config.msg_trace_topic_name = "MyTrace".to_owned();
    config.broker_cluster_name = "C1".to_owned();
    config.broker_name = "b1".to_owned();
    let topics = load(&config);
    assert!(topics.get("TBW102").is_none());
    assert_eq!(queues_and_perm(&topics, "C1"), (16, 16, PermName::INHERIT));
    assert_eq!(queues_and_perm(&topics, "b1"), (1, 1, PermName::INHERIT));
    assert_eq!(queues_and_perm(&topics, "MyTrace"), (1, 1, RW));
    assert!(topics.is_system_topic("MyTrace") && topics.is_system_topic("C1_REPLY_TOPIC"));
}

#[test]
fn auto_create_on_send_inherits_from_tbw102() {
    let dir = tempfile::tempdir().unwrap();
    let topics = load(&config_in(dir.path()));
    let before = topics.data_version();
    // The client asks for more queues than TBW102 has: it gets TBW102's 8.
    let t = topics
        .create_in_send("NewTopic", "TBW102", remote(), 16, 0)
        .unwrap()
        .unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (8, 8, RW));
    assert_eq!(t.topic_filter_type, TopicFilterType::SingleTag);
    assert_eq!(topics.data_version().counter, before.counter + 1);
    // Fewer asked, fewer given; an existing topic is returned as it is.
    let small = topics
        .create_in_send("Small", "TBW102", remote(), 4, 1)
        .unwrap()
        .unwrap();
    assert_eq!((small.write_queue_nums, small.topic_sys_flag), (4, 1));
    let again = topics
        .create_in_send("Small", "TBW102", remote(), 8, 0)
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&small, &again));
    // Persisted: a reloaded manager has them.
    let reloaded = load(&config_in(dir.path()));
    assert_eq!(*reloaded.get("NewTopic").unwrap(), *t);
    assert_eq!(reloaded.data_version(), topics.data_version());
}

#[test]
fn auto_create_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    let topics = load(&config);
    // The default topic must exist and carry INHERIT.
    assert!(
        topics
            .create_in_send("X", "NoSuchDefault", remote(), 4, 0)
            .unwrap()
            .is_none()
    );
    assert!(
        topics
            .create_in_send("X", "SELF_TEST_TOPIC", remote(), 4, 0)
            .unwrap()
            .is_none()
    );
    assert!(topics.get("X").is_none());
    // A cluster topic with INHERIT can serve as a default, like in Java.
    assert!(
        topics
            .create_in_send("Y", "DefaultCluster", remote(), 4, 0)
            .unwrap()
            .is_some()
    );

    // TBW102 left in topics.json lends nothing once auto-creation is off.
    topics
        .create_in_send("Z", "TBW102", remote(), 4, 0)
        .unwrap()
        .unwrap();
    config.auto_create_topic_enable = false;
    let strict = load(&config);
    assert!(strict.get("TBW102").is_some());
    assert!(
        strict
            .create_in_send("W", "TBW102", remote(), 4, 0)
            .unwrap()
            .is_none()
    );
}

#[test]
fn create_in_send_back_makes_retry_topics() {
    let dir = tempfile::tempdir().unwrap();
    let topics = load(&config_in(dir.path()));
    let t = topics
        .create_in_send_back("%RETRY%CG", 1, RW, 0)
        .unwrap()
        .unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (1, 1, RW));
    let again = topics
        .create_in_send_back("%RETRY%CG", 4, 2, 0)
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&t, &again));
    assert!(load(&config_in(dir.path())).get("%RETRY%CG").is_some());
}

#[test]
fn update_delete_persist_and_notify() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let topics = load(&config);
    let mut t = TopicConfig::new("Orders");
    t.order = true;
    t.read_queue_nums = 4;
    t.write_queue_nums = 4;
    topics.update(t.clone()).unwrap();
    assert!(topics.is_order_topic("Orders"));
    assert!(!topics.is_order_topic("TBW102") && !topics.is_order_topic("Nope"));
    topics.update(TopicConfig::new("Gone")).unwrap();
    assert!(topics.delete("Gone").unwrap());
    assert!(!topics.delete("Gone").unwrap());

    let reloaded = load(&config);
    assert_eq!(*reloaded.get("Orders").unwrap(), t);
    assert!(reloaded.get("Gone").is_none());
    assert_eq!(reloaded.snapshot(), topics.snapshot());

    // A saved system topic wins over the built-in one.
    let mut tbw = TopicConfig::clone(&topics.get("TBW102").unwrap());
    tbw.write_queue_nums = 2;
    topics.update(tbw.clone()).unwrap();
    assert_eq!(*load(&config).get("TBW102").unwrap(), tbw);
}

#[tokio::test]
async fn every_change_wakes_the_registration_loop() {
    let dir = tempfile::tempdir().unwrap();
    let topics = load(&config_in(dir.path()));
    let hang_guard = Duration::from_secs(10);
    topics.update(TopicConfig::new("A")).unwrap();
    tokio::time::timeout(hang_guard, topics.changed().notified())
        .await
        .unwrap();
    topics
        .create_in_send("B", "TBW102", remote(), 1, 0)
        .unwrap();
    tokio::time::timeout(hang_guard, topics.changed().notified())
        .await
        .unwrap();
    topics.delete("A").unwrap();
    tokio::time::timeout(hang_guard, topics.changed().notified())
        .await
        .unwrap();
}

#[test]
fn refuses_a_corrupt_topics_json_and_uses_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let topics = load(&config);
    topics.update(TopicConfig::new("First")).unwrap();
    topics.update(TopicConfig::new("Second")).unwrap();
    let path = config.store.config_dir().join(TOPICS_FILE);
    std::fs::write(&path, b"{\"topicConfigTable\":{").unwrap();
    // The backup holds the table before "Second".
    let recovered = load(&config);
    assert!(recovered.get("First").is_some() && recovered.get("Second").is_none());

    let bak = config.store.config_dir().join(format!("{TOPICS_FILE}.bak"));
    std::fs::remove_file(bak).unwrap();
    assert!(matches!(
        TopicConfigManager::load(&config),
        Err(BrokerError::Corrupt { .. })
    ));
}
