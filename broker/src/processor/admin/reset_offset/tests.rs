use skylark_protocol::body::SubscriptionGroupConfig;
use skylark_protocol::headers::CreateTopicRequestHeader;
use skylark_protocol::message::PermName;

use super::*;
use crate::client::test_support::{TestBroker, TestClient, push_consumer};
use crate::test_support::{broker_in, put, remote};

const TOPIC: &str = "Orders";
const GROUP: &str = "G";

fn call(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    broker
        .handle_admin(remote(), request)
        .expect("an admin code")
        .expect("a response")
}

fn reset(timestamp: i64, force: bool) -> RemotingCommand {
    reset_request(TOPIC, GROUP, timestamp, force, None, Some(-1))
}

fn reset_request(
    topic: &str,
    group: &str,
    timestamp: i64,
    force: bool,
    queue_id: Option<i32>,
    offset: Option<i64>,
) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
        &ResetOffsetRequestHeader {
            group: group.into(),
            topic: topic.into(),
            queue_id,
            offset,
            timestamp,
            is_force: force,
            broker_name: None,
        },
    )
}

fn create_topic(topic: &str, queues: i32) -> RemotingCommand {
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
            attributes: None,
            force: None,
            broker_name: None,
        },
    )
}

/// A broker with `TOPIC` (2 queues, 5 messages on queue 0, 3 on queue 1)
/// and `GROUP`, which has consumed everything.
fn broker_with_messages(dir: &std::path::Path) -> Broker {
    let broker = broker_in(dir);
    assert_eq!(
        call(&broker, &create_topic(TOPIC, 2)).response_code(),
        ResponseCode::SUCCESS
    );
    broker
        .groups
        .update(SubscriptionGroupConfig::new(GROUP))
        .unwrap();
    for i in 0..5 {
        put(&broker.store, TOPIC, 0, format!("q0-{i}").as_bytes());
    }
    for i in 0..3 {
        put(&broker.store, TOPIC, 1, format!("q1-{i}").as_bytes());
    }
    broker.offsets.commit(GROUP, TOPIC, 0, 5);
    broker.offsets.commit(GROUP, TOPIC, 1, 3);
    broker
}

fn table(response: &RemotingCommand) -> BTreeMap<i32, i64> {
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{response:?}"
    );
    ResetOffsetBody::decode(&response.body)
        .unwrap()
        .offset_table
        .into_iter()
        .map(|(mq, offset)| {
            assert_eq!(
                (mq.topic.as_str(), mq.broker_name.as_str()),
                (TOPIC, "broker-a")
            );
            (mq.queue_id, offset)
        })
        .collect()
}

#[test]
fn by_time_rewrites_every_queue_of_an_offline_group() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_with_messages(dir.path());
    // Back to the time of queue 0's third message: the first message stored
    // at or after it, on each queue.
    let at = broker.store.message_store_time(TOPIC, 0, 2);
    let expected = |queue_id: i32, count: i64| {
        (0..count)
            .find(|&o| broker.store.message_store_time(TOPIC, queue_id, o) >= at)
            .unwrap_or(count)
    };
    let (want0, want1) = (expected(0, 5), expected(1, 3));
    assert!(want0 <= 2);

    let offsets = table(&call(&broker, &reset(at, true)));
    assert_eq!(offsets, BTreeMap::from([(0, want0), (1, want1)]));
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 0), Some(want0));
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 1), Some(want1));

    // Time 0 is the start of every queue; -1 is the end.
    assert_eq!(
        table(&call(&broker, &reset(0, true))),
        BTreeMap::from([(0, 0), (1, 0)])
    );
    assert_eq!(
        table(&call(&broker, &reset(-1, true))),
        BTreeMap::from([(0, 5), (1, 3)])
    );
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 1), Some(3));
}

#[test]
fn without_force_offsets_only_move_back() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_with_messages(dir.path());
    broker.offsets.commit(GROUP, TOPIC, 0, 1);
    // The end of each queue: queue 0 stays at 1, queue 1 is already there.
    assert_eq!(
        table(&call(&broker, &reset(-1, false))),
        BTreeMap::from([(0, 1), (1, 3)])
    );
    // Back to the start moves both.
    assert_eq!(
        table(&call(&broker, &reset(0, false))),
        BTreeMap::from([(0, 0), (1, 0)])
    );
}

#[test]
fn one_queue_to_an_explicit_offset_within_range() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_with_messages(dir.path());
    let one = |offset: i64| reset_request(TOPIC, GROUP, 0, false, Some(0), Some(offset));
    assert_eq!(table(&call(&broker, &one(3))), BTreeMap::from([(0, 3)]));
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 0), Some(3));
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 1), Some(3));
    // Java's bound is [min, max + 1].
    assert_eq!(table(&call(&broker, &one(6))), BTreeMap::from([(0, 6)]));
    let out = call(&broker, &one(7));
    assert_eq!(out.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        out.remark.as_deref(),
        Some("Target offset 7 not in consume queue range [0-5]")
    );
    // One queue by time when no offset is given.
    let by_time = reset_request(TOPIC, GROUP, -1, true, Some(1), None);
    assert_eq!(table(&call(&broker, &by_time)), BTreeMap::from([(1, 3)]));
}

#[test]
fn unknown_topic_or_group_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_with_messages(dir.path());
    let out = call(&broker, &reset_request("Nope", GROUP, 0, true, None, None));
    assert_eq!(out.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(out.remark.as_deref(), Some("Topic Nope does not exist"));
    let out = call(
        &broker,
        &reset_request(TOPIC, "NoGroup", 0, true, None, None),
    );
    assert_eq!(
        out.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
    assert_eq!(broker.offsets.query("NoGroup", TOPIC, 0), None);
    // A header without the group is a clear error, not a panic.
    let bad = RemotingCommand::bare_request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET);
    assert!(broker.handle_admin(remote(), &bad).unwrap().is_err());
}

#[tokio::test]
async fn an_online_group_is_told_the_new_offsets() {
    let served = TestBroker::start(|_| {}).await;
    let broker = &served.broker;
    let consumer = TestClient::connect(&served.addr, "10.0.0.1@c").await;
    let heartbeat = consumer
        .heartbeat(vec![push_consumer(GROUP, &[TOPIC])], &[])
        .await;
    assert_eq!(heartbeat.response_code(), ResponseCode::SUCCESS);
    let admin = TestClient::connect(&served.addr, "10.0.0.2@admin").await;
    assert_eq!(
        admin.invoke(create_topic(TOPIC, 2)).await.response_code(),
        ResponseCode::SUCCESS
    );
    for i in 0..4 {
        put(&broker.store, TOPIC, 0, format!("m{i}").as_bytes());
    }
    broker.offsets.commit(GROUP, TOPIC, 0, 4);

    let response = admin.invoke(reset(0, true)).await;
    assert_eq!(table(&response), BTreeMap::from([(0, 0), (1, 0)]));
    assert_eq!(broker.offsets.query(GROUP, TOPIC, 0), Some(0));

    let mut received = consumer.received;
    let notice = loop {
        let request = received.next().await;
        if request.request_code() == RequestCode::RESET_CONSUMER_CLIENT_OFFSET {
            break request;
        }
    };
    assert!(notice.is_oneway());
    let h: ResetOffsetRequestHeader = notice.read_header().unwrap();
    assert_eq!((h.topic.as_str(), h.group.as_str()), (TOPIC, GROUP));
    assert_eq!((h.timestamp, h.is_force), (0, true));
    assert_eq!(
        ResetOffsetBody::decode(&notice.body).unwrap(),
        ResetOffsetBody::decode(&response.body).unwrap()
    );
}
