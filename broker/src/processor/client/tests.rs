//! The client codes over real loopback connections to a served broker.

use std::collections::BTreeSet;

use skylark_protocol::body::{
    ConsumerConnection, GetConsumerListByGroupResponseBody, HeartbeatData, LockBatchRequestBody,
    LockBatchResponseBody, MessageQueue, ProducerConnection, UnlockBatchRequestBody,
};
use skylark_protocol::headers::client::{IS_SUB_CHANGE, IS_SUPPORT_HEART_BEAT_V2};
use skylark_protocol::headers::{
    GetConsumerConnectionListRequestHeader, GetConsumerListByGroupRequestHeader,
    GetProducerConnectionListRequestHeader, UnregisterClientRequestHeader,
};
use skylark_protocol::{LanguageCode, ResponseCode};

use super::*;
use crate::client::test_support::{TestBroker, TestClient, push_consumer};

fn consumer_list_request(group: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &GetConsumerListByGroupRequestHeader {
            consumer_group: group.to_owned(),
            broker_name: None,
        },
    )
}

async fn consumer_ids(client: &TestClient, group: &str) -> Vec<String> {
    let response = client.invoke(consumer_list_request(group)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    GetConsumerListByGroupResponseBody::decode(&response.body)
        .unwrap()
        .consumer_id_list
}

#[tokio::test]
async fn heartbeat_registers_the_group_its_subscription_and_retry_topic() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "10.0.0.1@a").await;
    let response = client
        .heartbeat(vec![push_consumer("CG", &["T"])], &["PG"])
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(response.ext(IS_SUPPORT_HEART_BEAT_V2), Some("true"));
    assert_eq!(response.ext(IS_SUB_CHANGE), Some("true"));

    let b = &broker.broker;
    let sub = b.consumers.subscription("CG", "T").unwrap();
    assert_eq!(sub.sub_string, "*");
    let info = b.consumers.group_info("CG").unwrap();
    assert_eq!(info.client_ids, ["10.0.0.1@a"]);
    let retry = b.topics.get("%RETRY%CG").unwrap();
    assert_eq!(
        (retry.read_queue_nums, retry.write_queue_nums, retry.perm),
        (1, 1, 6)
    );
    assert!(b.producers.is_online("PG"));
    assert_eq!(consumer_ids(&client, "CG").await, ["10.0.0.1@a"]);
}

#[tokio::test]
async fn members_joining_and_leaving_notify_the_group() {
    let broker = TestBroker::start(|_| {}).await;
    let mut a = TestClient::connect(&broker.addr, "a").await;
    let mut b = TestClient::connect(&broker.addr, "b").await;
    let data = push_consumer("CG", &["T"]);

    a.heartbeat(vec![data.clone()], &[]).await;
    assert_eq!(a.received.next_notified_group().await, "CG");
    b.heartbeat(vec![data.clone()], &[]).await;
    assert_eq!(a.received.next_notified_group().await, "CG");
    assert_eq!(b.received.next_notified_group().await, "CG");
    assert_eq!(consumer_ids(&a, "CG").await, ["a", "b"]);

    // b's process exits: its connection closes and a is told at once.
    b.close();
    assert_eq!(a.received.next_notified_group().await, "CG");
    assert_eq!(consumer_ids(&a, "CG").await, ["a"]);

    // A later member joining is announced too.
    let c = TestClient::connect(&broker.addr, "c").await;
    c.heartbeat(vec![data], &[]).await;
    assert_eq!(a.received.next_notified_group().await, "CG");
    assert_eq!(consumer_ids(&a, "CG").await, ["a", "c"]);
}

#[tokio::test]
async fn unregister_client_removes_producer_and_consumer() {
    let broker = TestBroker::start(|_| {}).await;
    let mut a = TestClient::connect(&broker.addr, "a").await;
    let b = TestClient::connect(&broker.addr, "b").await;
    let data = push_consumer("CG", &["T"]);
    a.heartbeat(vec![data.clone()], &[]).await;
    assert_eq!(a.received.next_notified_group().await, "CG");
    b.heartbeat(vec![data], &["PG"]).await;
    assert_eq!(a.received.next_notified_group().await, "CG");

    let unregister = RemotingCommand::request(
        RequestCode::UNREGISTER_CLIENT,
        &UnregisterClientRequestHeader {
            client_id: "b".into(),
            producer_group: Some("PG".into()),
            consumer_group: Some("CG".into()),
            broker_name: None,
        },
    );
    assert_eq!(
        b.invoke(unregister).await.response_code(),
        ResponseCode::SUCCESS
    );
    assert_eq!(a.received.next_notified_group().await, "CG");
    assert_eq!(consumer_ids(&a, "CG").await, ["a"]);
    assert!(!broker.broker.producers.is_online("PG"));

    // A header without clientID is refused.
    let bad = RemotingCommand::bare_request(RequestCode::UNREGISTER_CLIENT);
    assert_eq!(
        b.invoke(bad).await.response_code(),
        ResponseCode::SYSTEM_ERROR
    );
}

#[tokio::test]
async fn consumer_list_of_an_unknown_group_is_an_error() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "a").await;
    let response = client.invoke(consumer_list_request("NOBODY")).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        response.remark.as_deref(),
        Some("no consumer for this group, NOBODY")
    );
}

fn lock_request(client_id: &str, ids: &[i32]) -> RemotingCommand {
    let body = LockBatchRequestBody {
        client_id: client_id.into(),
        consumer_group: "CG".into(),
        mq_set: mqs(ids),
        only_this_broker: false,
    };
    RemotingCommand::bare_request(RequestCode::LOCK_BATCH_MQ)
        .with_body(body.encode(KeyStyle::Unquoted))
}

fn unlock_request(client_id: &str, ids: &[i32]) -> RemotingCommand {
    let body = UnlockBatchRequestBody {
        client_id: client_id.into(),
        consumer_group: "CG".into(),
        mq_set: mqs(ids),
        only_this_broker: false,
    };
    RemotingCommand::bare_request(RequestCode::UNLOCK_BATCH_MQ)
        .with_body(body.encode(KeyStyle::Unquoted))
}

fn mqs(ids: &[i32]) -> BTreeSet<MessageQueue> {
    ids.iter()
        .map(|&id| MessageQueue::new("T", "broker-a", id))
        .collect()
}

async fn lock(client: &TestClient, ids: &[i32]) -> BTreeSet<MessageQueue> {
    let response = client.invoke(lock_request(&client.client_id, ids)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    LockBatchResponseBody::decode(&response.body)
        .unwrap()
        .lock_ok_mq_set
}

#[tokio::test]
async fn queue_locks_over_the_wire() {
    let broker = TestBroker::start(|_| {}).await;
    let c1 = TestClient::connect(&broker.addr, "c1").await;
    let c2 = TestClient::connect(&broker.addr, "c2").await;

    assert_eq!(lock(&c1, &[0, 1]).await, mqs(&[0, 1]));
    assert_eq!(lock(&c2, &[1, 2]).await, mqs(&[2]));
    // c2 cannot release c1's lock.
    let response = c2.invoke(unlock_request("c2", &[0, 1])).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(lock(&c2, &[0, 1]).await, BTreeSet::new());
    // c1 can.
    c1.invoke(unlock_request("c1", &[0])).await;
    assert_eq!(lock(&c2, &[0, 1]).await, mqs(&[0]));
    // Locks survive the holder's connection closing (Java keeps them until
    // they expire).
    c1.close();
    assert_eq!(lock(&c2, &[1]).await, BTreeSet::new());

    // No body: SYSTEM_ERROR, not a panic.
    let bare = RemotingCommand::bare_request(RequestCode::LOCK_BATCH_MQ);
    let response = c2.invoke(bare).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    let garbage =
        RemotingCommand::bare_request(RequestCode::UNLOCK_BATCH_MQ).with_body(&b"[1]"[..]);
    assert_eq!(
        c2.invoke(garbage).await.response_code(),
        ResponseCode::SYSTEM_ERROR
    );
}

fn check_request(expression_type: Option<&str>) -> RemotingCommand {
    let sub = match expression_type {
        Some(t) => format!(
            r#","subscriptionData":{{"topic":"T","subString":"a > 1","expressionType":"{t}"}}"#
        ),
        None => String::new(),
    };
    let body = format!(r#"{{"clientId":"c","group":"CG"{sub}}}"#);
    RemotingCommand::bare_request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.into_bytes())
}

#[tokio::test]
async fn check_client_config() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "c").await;
    for ok in [
        check_request(Some("TAG")),
        check_request(Some("")),
        check_request(None),
        RemotingCommand::bare_request(RequestCode::CHECK_CLIENT_CONFIG),
    ] {
        assert_eq!(
            client.invoke(ok).await.response_code(),
            ResponseCode::SUCCESS
        );
    }
    let response = client.invoke(check_request(Some("SQL92"))).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        response.remark.as_deref(),
        Some("The broker does not support consumer to filter message by SQL92")
    );
    let garbage =
        RemotingCommand::bare_request(RequestCode::CHECK_CLIENT_CONFIG).with_body(&b"{"[..]);
    assert_eq!(
        client.invoke(garbage).await.response_code(),
        ResponseCode::SYSTEM_ERROR
    );

    let filtering = TestBroker::start(|c| c.enable_property_filter = true).await;
    let client = TestClient::connect(&filtering.addr, "c").await;
    assert_eq!(
        client
            .invoke(check_request(Some("SQL92")))
            .await
            .response_code(),
        ResponseCode::SUCCESS
    );
    assert_eq!(
        client
            .invoke(check_request(Some("XPATH")))
            .await
            .response_code(),
        ResponseCode::SUBSCRIPTION_PARSE_FAILED
    );
}

#[tokio::test]
async fn connection_lists_for_admin() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "10.0.0.1@x").await;
    client
        .heartbeat(vec![push_consumer("CG", &["T"])], &["PG"])
        .await;

    let request = RemotingCommand::request(
        RequestCode::GET_CONSUMER_CONNECTION_LIST,
        &GetConsumerConnectionListRequestHeader {
            consumer_group: "CG".into(),
            broker_name: None,
        },
    );
    let response = client.invoke(request).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let cc = ConsumerConnection::decode(&response.body).unwrap();
    assert_eq!(cc.connection_set.len(), 1);
    let conn = &cc.connection_set[0];
    assert_eq!(conn.client_id, "10.0.0.1@x");
    // The test client speaks as Skylark's own (RUST, 479).
    assert_eq!(conn.language, Some(LanguageCode::Rust));
    assert_eq!(conn.version, skylark_protocol::command::SKYLARK_VERSION);
    assert!(
        conn.client_addr.starts_with("127.0.0.1:"),
        "{}",
        conn.client_addr
    );
    assert_eq!(cc.subscription_table["T"].sub_string, "*");

    let request = RemotingCommand::request(
        RequestCode::GET_PRODUCER_CONNECTION_LIST,
        &GetProducerConnectionListRequestHeader {
            producer_group: "PG".into(),
            broker_name: None,
        },
    );
    let response = client.invoke(request).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let pc = ProducerConnection::decode(&response.body).unwrap();
    assert_eq!(pc.connection_set[0].client_id, "10.0.0.1@x");

    let request = RemotingCommand::request(
        RequestCode::GET_CONSUMER_CONNECTION_LIST,
        &GetConsumerConnectionListRequestHeader {
            consumer_group: "NONE".into(),
            broker_name: None,
        },
    );
    let response = client.invoke(request).await;
    assert_eq!(response.response_code(), ResponseCode::CONSUMER_NOT_ONLINE);
    assert_eq!(
        response.remark.as_deref(),
        Some("the consumer group[NONE] not online")
    );
    let request = RemotingCommand::request(
        RequestCode::GET_PRODUCER_CONNECTION_LIST,
        &GetProducerConnectionListRequestHeader {
            producer_group: "NONE".into(),
            broker_name: None,
        },
    );
    let response = client.invoke(request).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        response.remark.as_deref(),
        Some("the producer group[NONE] not exist")
    );
}

#[tokio::test]
async fn heartbeat_v2_answers() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "c").await;
    let full = HeartbeatData {
        client_id: "c".into(),
        consumer_data_set: vec![push_consumer("CG", &["T"])],
        heartbeat_fingerprint: 42,
        ..HeartbeatData::default()
    };
    let mut light = full.clone();
    light.without_sub = true;
    light.consumer_data_set[0].subscription_data_set.clear();

    // A light heartbeat the broker cannot use: it asks for a full one.
    let response = client.send_heartbeat(&light).await;
    assert_eq!(response.ext(IS_SUB_CHANGE), Some("true"));
    let response = client.send_heartbeat(&full).await;
    assert_eq!(response.ext(IS_SUPPORT_HEART_BEAT_V2), Some("true"));
    assert_eq!(response.ext(IS_SUB_CHANGE), Some("false"));
    let response = client.send_heartbeat(&light).await;
    assert_eq!(response.ext(IS_SUB_CHANGE), Some("false"));
    assert!(broker.broker.consumers.subscription("CG", "T").is_some());
}

#[tokio::test]
async fn bad_heartbeats_are_refused() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "c").await;
    for body in [
        &b""[..],
        b"not json",
        br#"{"consumerDataSet":[{"consumeType":true}]}"#,
    ] {
        let request = RemotingCommand::bare_request(RequestCode::HEART_BEAT).with_body(body);
        let response = client.invoke(request).await;
        assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
        assert!(response.remark.unwrap().contains("HeartbeatData"));
    }
    // A group without a name is skipped, the rest registered.
    let mut nameless = push_consumer("", &["T"]);
    nameless.group_name.clear();
    let response = client
        .heartbeat(vec![nameless, push_consumer("CG", &["T"])], &[])
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        broker.broker.consumers.groups(),
        BTreeSet::from(["CG".to_owned()])
    );
}

#[tokio::test]
async fn closing_forgets_producers_and_scan_keeps_live_clients() {
    let broker = TestBroker::start(|_| {}).await;
    let client = TestClient::connect(&broker.addr, "c").await;
    client
        .heartbeat(vec![push_consumer("CG", &["T"])], &["PG"])
        .await;
    // Nothing is 120 s silent yet.
    broker.broker.scan_not_active_channels();
    assert!(broker.broker.producers.is_online("PG"));
    assert!(broker.broker.consumers.is_online("CG"));

    client.close();
    // The broker handles the close on its connection task; wait for it.
    tokio::time::timeout(crate::client::test_support::WAIT, async {
        while broker.broker.producers.is_online("PG") || broker.broker.consumers.is_online("CG") {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("close was not handled");
}
