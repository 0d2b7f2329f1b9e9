use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use skylark_protocol::ExtFields;
use skylark_protocol::RequestCode;
use skylark_protocol::body::MessageQueue;
use skylark_protocol::message::property::{DELAY_TIME_LEVEL, REAL_QUEUE_ID, REAL_TOPIC};
use skylark_protocol::message::topic::RMQ_SYS_SCHEDULE_TOPIC;
use skylark_protocol::message::{Message, MessageSysFlag};

use super::*;
use crate::test_support::{broker_in, config_in};

const HANG_GUARD: Duration = Duration::from_secs(10);

fn born() -> SocketAddr {
    "192.168.0.7:40000".parse().unwrap()
}

/// Stores a consumed message of `topic` (reconsumed `reconsume_times`
/// times, with `properties`) and returns its commit-log offset.
fn store(broker: &Broker, topic: &str, reconsume_times: i32, properties: &[(&str, &str)]) -> i64 {
    let mut message = Message::new(topic, b"payload".to_vec())
        .with_tags("TagA")
        .with_property("UNIQ_KEY", "U1");
    for (name, value) in properties {
        message = message.with_property(*name, *value);
    }
    let mut record = StoredMessage::new(message, born(), broker.store_host);
    record.reconsume_times = reconsume_times;
    record.born_timestamp = 4242;
    record.flag = 7;
    record.sys_flag |= MessageSysFlag::COMPRESSED_FLAG;
    let result = broker.store.put_message(&record).wait_blocking();
    assert!(result.is_stored(), "{result:?}");
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    result.append.unwrap().wrote_offset
}

fn send_back_request(
    offset: i64,
    group: &str,
    delay_level: i32,
) -> ConsumerSendMsgBackRequestHeader {
    ConsumerSendMsgBackRequestHeader {
        offset,
        group: group.into(),
        delay_level,
        origin_msg_id: Some("ORIGIN".into()),
        origin_topic: Some("T".into()),
        unit_mode: Some(false),
        max_reconsume_times: None,
        broker_name: None,
    }
}

async fn send_back(broker: &Broker, header: &ConsumerSendMsgBackRequestHeader) -> RemotingCommand {
    send_back_as(broker, header, 500).await
}

async fn send_back_as(
    broker: &Broker,
    header: &ConsumerSendMsgBackRequestHeader,
    version: i32,
) -> RemotingCommand {
    let mut request = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK, header);
    request.version = version;
    broker.consumer_send_msg_back(&request).await.unwrap()
}

/// Every record now in `topic`/`queue_id`.
fn stored(broker: &Broker, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    broker
        .store
        .get_messages(topic, queue_id, 0, 32, usize::MAX, &|_| true)
        .messages
        .iter()
        .map(|raw| record::decode(raw).unwrap().0)
        .collect()
}

#[tokio::test]
async fn a_failed_message_waits_in_its_retry_level() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let offset = store(&broker, "T", 0, &[]);
    let response = send_back(&broker, &send_back_request(offset, "G", 0)).await;
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        response.remark
    );

    // The retry topic exists as Java creates it: the group's one queue, read-write.
    let retry = broker.topics.get("%RETRY%G").unwrap();
    assert_eq!(
        (retry.read_queue_nums, retry.write_queue_nums, retry.perm),
        (1, 1, 6)
    );
    // Level 3 + 0 waits in schedule queue 2, bound for %RETRY%G queue 0.
    let got = stored(&broker, RMQ_SYS_SCHEDULE_TOPIC, 2);
    assert_eq!(got.len(), 1);
    let copy = &got[0];
    let p = &copy.properties;
    assert_eq!(p.get(DELAY_TIME_LEVEL), Some("3"));
    assert_eq!(p.get(REAL_TOPIC), Some("%RETRY%G"));
    assert_eq!(p.get(REAL_QUEUE_ID), Some("0"));
    assert_eq!(p.get("RETRY_TOPIC"), Some("T"));
    assert_eq!(p.get("WAIT"), Some("false"));
    assert_eq!(p.get("UNIQ_KEY"), Some("U1"));
    assert_eq!(
        p.get("ORIGIN_MESSAGE_ID").unwrap(),
        skylark_protocol::message::msg_id::offset_msg_id(broker.store_host, offset)
    );
    assert_eq!(copy.reconsume_times, 1);
    assert_eq!(
        (copy.born_timestamp, copy.born_host, copy.flag),
        (4242, born(), 7)
    );
    assert_ne!(copy.sys_flag & MessageSysFlag::COMPRESSED_FLAG, 0);
    assert_eq!(&copy.body[..], b"payload");
    assert_eq!(copy.tags(), Some("TagA"));
    assert!(stored(&broker, "%DLQ%G", 0).is_empty());
    broker.store.shutdown();
}

#[tokio::test]
async fn a_retried_message_keeps_its_origin_and_waits_longer() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let offset = store(
        &broker,
        "%RETRY%G",
        2,
        &[
            ("RETRY_TOPIC", "T"),
            ("ORIGIN_MESSAGE_ID", "FIRST"),
            ("DELAY", "4"),
        ],
    );
    let response = send_back(&broker, &send_back_request(offset, "G", 0)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let got = stored(&broker, RMQ_SYS_SCHEDULE_TOPIC, 4);
    let p = &got[0].properties;
    assert_eq!(p.get(DELAY_TIME_LEVEL), Some("5"));
    assert_eq!(p.get("RETRY_TOPIC"), Some("T"));
    assert_eq!(p.get("ORIGIN_MESSAGE_ID"), Some("FIRST"));
    assert_eq!(got[0].reconsume_times, 3);

    // The client may choose the level; past the highest it is the highest.
    let response = send_back(&broker, &send_back_request(offset, "G", 1)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(stored(&broker, RMQ_SYS_SCHEDULE_TOPIC, 0).len(), 1);
    let response = send_back(&broker, &send_back_request(offset, "G", 99)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let got = stored(&broker, RMQ_SYS_SCHEDULE_TOPIC, 17);
    assert_eq!(got[0].properties.get(DELAY_TIME_LEVEL), Some("18"));
    broker.store.shutdown();
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dlq() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    // The group's retryMaxTimes is 16 by default.
    let fifteen = store(&broker, "T", 15, &[]);
    let sixteen = store(&broker, "T", 16, &[]);
    assert_eq!(
        send_back(&broker, &send_back_request(fifteen, "G", 0))
            .await
            .response_code(),
        ResponseCode::SUCCESS
    );
    assert!(broker.topics.get("%DLQ%G").is_none());
    assert_eq!(
        send_back(&broker, &send_back_request(sixteen, "G", 0))
            .await
            .response_code(),
        ResponseCode::SUCCESS
    );
    let dlq = broker.topics.get("%DLQ%G").unwrap();
    assert_eq!(
        (dlq.read_queue_nums, dlq.write_queue_nums, dlq.perm),
        (1, 1, 6)
    );
    let got = stored(&broker, "%DLQ%G", 0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].reconsume_times, 17);
    assert_eq!(got[0].properties.get(DELAY_TIME_LEVEL), Some("0"));
    assert_eq!(got[0].properties.get("RETRY_TOPIC"), Some("T"));

    // A level below 0 asks for the DLQ at once.
    let fresh = store(&broker, "T", 0, &[]);
    send_back(&broker, &send_back_request(fresh, "G", -1)).await;
    assert_eq!(stored(&broker, "%DLQ%G", 0).len(), 2);
    broker.store.shutdown();
}

#[tokio::test]
async fn the_clients_or_the_groups_maximum_counts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let two = store(&broker, "T", 2, &[]);
    let mut header = send_back_request(two, "G", 0);
    header.max_reconsume_times = Some(2);
    // Clients older than 3.4.9 are not trusted with it: the group's 16 counts.
    send_back_as(&broker, &header, 100).await;
    assert!(stored(&broker, "%DLQ%G", 0).is_empty());
    send_back(&broker, &header).await;
    assert_eq!(stored(&broker, "%DLQ%G", 0).len(), 1);

    let mut group = SubscriptionGroupConfig::new("G2");
    group.retry_max_times = 1;
    group.retry_queue_nums = 3;
    broker.groups.update(group).unwrap();
    let one = store(&broker, "T", 1, &[]);
    send_back(&broker, &send_back_request(one, "G2", 0)).await;
    assert_eq!(stored(&broker, "%DLQ%G2", 0).len(), 1);
    // Its retry topic was still made with its three queues.
    assert_eq!(broker.topics.get("%RETRY%G2").unwrap().write_queue_nums, 3);
    broker.store.shutdown();
}

#[tokio::test]
async fn refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.auto_create_subscription_group = false;
    let broker = Broker::open(config).unwrap();
    let offset = store(&broker, "T", 0, &[]);

    let response = send_back(&broker, &send_back_request(offset, "NOPE", 0)).await;
    assert_eq!(
        response.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
    assert!(response.remark.unwrap().contains("NOPE"));

    broker
        .groups
        .update(SubscriptionGroupConfig::new("G"))
        .unwrap();
    for bad in [offset + 1, 1 << 40, -5] {
        let response = send_back(&broker, &send_back_request(bad, "G", 0)).await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SYSTEM_ERROR,
            "{bad}"
        );
        assert_eq!(
            response.remark.as_deref(),
            Some(format!("look message by offset failed, {bad}").as_str())
        );
    }

    // No retry queues: the failure is dropped, successfully.
    let mut none = SubscriptionGroupConfig::new("NONE");
    none.retry_queue_nums = 0;
    broker.groups.update(none).unwrap();
    let response = send_back(&broker, &send_back_request(offset, "NONE", 0)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert!(broker.topics.get("%RETRY%NONE").is_none());

    // A retry topic made read-only refuses.
    let mut retry = skylark_protocol::body::TopicConfig::new("%RETRY%G");
    retry.perm = PermName::READ;
    broker.topics.update(retry).unwrap();
    let response = send_back(&broker, &send_back_request(offset, "G", 0)).await;
    assert_eq!(response.response_code(), ResponseCode::NO_PERMISSION);

    // A header without offset is a clear error, not a panic.
    let mut fields = ExtFields::new();
    fields.insert("group", "G");
    fields.insert("delayLevel", "0");
    let request = RemotingCommand {
        code: RequestCode::CONSUMER_SEND_MSG_BACK.value(),
        ext_fields: Some(fields),
        ..RemotingCommand::default()
    };
    assert!(broker.consumer_send_msg_back(&request).await.is_err());
    broker.store.shutdown();
}

fn retry_send(topic: &str, reconsume_times: i32, max: Option<i32>) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        sys_flag: 0,
        born_timestamp: 1,
        flag: 0,
        properties: None,
        reconsume_times: Some(reconsume_times),
        unit_mode: None,
        batch: None,
        max_reconsume_times: max,
        broker_name: None,
    }
}

fn divert(
    broker: &Broker,
    header: &SendMessageRequestHeader,
) -> (Option<(String, i32)>, Properties) {
    let request = RemotingCommand::request(RequestCode::SEND_MESSAGE, header);
    let mut properties = Properties::new();
    properties.set_delay_time_level(3);
    let target = broker
        .divert_exhausted_retry(&request, header, &mut properties)
        .unwrap()
        .unwrap();
    (target, properties)
}

#[test]
fn retry_sends_past_the_maximum_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    // Not a retry topic, or within the maximum: untouched.
    let (target, properties) = divert(&broker, &retry_send("T", 99, None));
    assert_eq!((target, properties.delay_time_level()), (None, Some(3)));
    assert_eq!(divert(&broker, &retry_send("%RETRY%G", 16, None)).0, None);
    assert_eq!(divert(&broker, &retry_send("%RETRY%G", 2, Some(2))).0, None);
    // Past it: the group's DLQ, undelayed.
    let (target, properties) = divert(&broker, &retry_send("%RETRY%G", 17, None));
    assert_eq!(target, Some(("%DLQ%G".to_owned(), 0)));
    assert_eq!(properties.delay_time_level(), Some(-1));
    assert_eq!(broker.topics.get("%DLQ%G").unwrap().perm, 6);
    assert_eq!(
        divert(&broker, &retry_send("%RETRY%G", 3, Some(2))).0,
        Some(("%DLQ%G".to_owned(), 0))
    );
    // POP's retry topics name the group before the '+'.
    assert_eq!(
        divert(&broker, &retry_send("%RETRY%P+T", 17, None)).0,
        Some(("%DLQ%P".to_owned(), 0))
    );
    broker.store.shutdown();
}

#[test]
fn an_orderly_groups_retry_sends_are_dead_lettered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let queue = MessageQueue::new("T", "broker-a", 0);
    let locked = broker
        .locks
        .try_lock_batch("G", BTreeSet::from([queue]), "client-1");
    assert_eq!(locked.len(), 1);
    assert_eq!(
        divert(&broker, &retry_send("%RETRY%G", 0, None)).0,
        Some(("%DLQ%G".to_owned(), 0))
    );
    assert_eq!(
        divert(&broker, &retry_send("%RETRY%OTHER", 0, None)).0,
        None
    );
    broker.store.shutdown();
}

#[test]
fn unknown_groups_are_refused_when_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.auto_create_subscription_group = false;
    let broker = Broker::open(config).unwrap();
    let header = retry_send("%RETRY%G", 0, None);
    let request = RemotingCommand::request(RequestCode::SEND_MESSAGE, &header);
    let refused = broker
        .divert_exhausted_retry(&request, &header, &mut Properties::new())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refused.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
    broker.store.shutdown();
}

#[test]
fn retry_topic_groups() {
    assert_eq!(group_of_retry_topic("%RETRY%G"), Some("G"));
    assert_eq!(group_of_retry_topic("%RETRY%G+T"), Some("G"));
    assert_eq!(group_of_retry_topic("%RETRY%G+T+U"), Some("G+T+U"));
    assert_eq!(group_of_retry_topic("%DLQ%G"), None);
    assert_eq!(group_of_retry_topic("T"), None);
}

#[tokio::test]
async fn a_broker_without_write_permission_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.broker_permission = PermName::READ;
    let broker = Broker::open(config).unwrap();
    let offset = store(&broker, "T", 0, &[]);
    let response = send_back(&broker, &send_back_request(offset, "G", 0)).await;
    assert_eq!(response.response_code(), ResponseCode::NO_PERMISSION);
    assert!(
        response
            .remark
            .unwrap()
            .contains("sending message is forbidden")
    );
    assert!(broker.topics.get("%RETRY%G").is_none());
    broker.store.shutdown();
}
