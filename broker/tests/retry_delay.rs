#![allow(clippy::unwrap_used)]
//! Delay levels and retries over loopback: a delayed message shows up in
//! its real queue only once its level's delay has passed, also across a
//! restart; CONSUMER_SEND_MSG_BACK retries a message through its delay
//! levels and then dead-letters it.
//!
//! These tests are about time, so they check it, with wide margins: a
//! message must not arrive before its delay (less 50 ms for the wall clock
//! against the monotonic one), and must arrive within 10 s of it.

mod support;
use support::assert_success;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use skylark_protocol::headers::send::SendMessageRequestHeaderV2;
use skylark_protocol::message::{Message, Properties, StoredMessage, encode_batch};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use support::{TestBroker, now_ms};

/// Slack for the store's wall-clock timestamps against `Instant`.
const CLOCK_SLACK: Duration = Duration::from_millis(50);
/// How late a delayed message may arrive before the test calls it lost.
const LATE: Duration = Duration::from_secs(10);

fn assert_delivered_in_time(sent: Instant, arrived: Instant, delay: Duration) {
    let took = arrived - sent;
    assert!(
        took + CLOCK_SLACK >= delay,
        "arrived after {took:?}, before its {delay:?} delay"
    );
    assert!(
        took <= delay + LATE,
        "arrived after {took:?}, long after its {delay:?} delay"
    );
}

#[tokio::test]
async fn a_level_one_message_arrives_after_a_second() {
    let broker = TestBroker::start(|_| {}).await;
    let sent = Instant::now();
    let response = broker.send_delayed("Delayed", 1, 1, "d1").await;
    assert_success(&response);
    // Not in its real queue yet.
    assert!(broker.nothing_at("G", "Delayed", 1, 0).await);

    let (got, arrived) = broker.pull_until_found("G", "Delayed", 1, 0).await;
    assert_delivered_in_time(sent, arrived, Duration::from_secs(1));
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (m.topic.as_str(), m.queue_id, m.queue_offset),
        ("Delayed", 1, 0)
    );
    assert_eq!(&m.body[..], b"d1");
    assert_eq!(m.tags(), Some("TagA"));
    assert_eq!(m.uniq_key(), Some("d1"));
    // As Java writes it: the level stays among the properties.
    assert_eq!(m.properties.delay_time_level(), Some(1));
    assert_eq!(m.properties.real_topic(), Some("Delayed"));
    assert_eq!(m.properties.real_queue_id(), Some(1));
    // Delivered once: nothing follows it.
    assert!(broker.nothing_at("G", "Delayed", 1, 1).await);
    broker.stop().await;
}

#[tokio::test]
async fn a_delayed_message_survives_a_restart_and_is_delivered_once() {
    let broker = TestBroker::start(|_| {}).await;
    let sent = Instant::now();
    // Level 2 waits 5 s: the broker is stopped long before.
    let response = broker.send_delayed("Restarted", 0, 2, "r1").await;
    assert_success(&response);
    assert!(broker.nothing_at("G", "Restarted", 0, 0).await);
    let dir = broker.stop().await;
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "the broker took {:?} to stop; the test needs it down before delivery",
        sent.elapsed()
    );

    let broker = TestBroker::start_in(dir, |_| {}).await;
    let (got, arrived) = broker.pull_until_found("G", "Restarted", 0, 0).await;
    assert_delivered_in_time(sent, arrived, Duration::from_secs(5));
    assert_eq!(bodies(&got), ["r1"]);

    // The delivery is remembered (delayOffset.json): another restart does not repeat it.
    let dir = broker.stop().await;
    let saved = std::fs::read_to_string(dir.path().join("config/delayOffset.json")).unwrap();
    assert!(saved.contains(r#""offsetTable":{2:1}"#), "{saved}");
    let broker = TestBroker::start_in(dir, |_| {}).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(broker.nothing_at("G", "Restarted", 0, 1).await);
    broker.stop().await;
}

#[tokio::test]
async fn failed_messages_are_retried_then_dead_lettered() {
    // Every retry level waits a second.
    let broker = TestBroker::start(|config| {
        config.set("messageDelayLevel", "1s 1s 1s 1s").unwrap();
    })
    .await;
    let response = broker.send("Orders", 0, "TagA", b"o1").await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let (got, _) = broker.pull_until_found("CG", "Orders", 0, 0).await;
    let original = &got[0];

    // First failure: back in %RETRY%CG after its level, reconsumed once.
    let failed = Instant::now();
    let response = broker
        .send_back(original.physical_offset, "CG", 0, Some(2))
        .await;
    assert_success(&response);
    assert!(broker.nothing_at("CG", "%RETRY%CG", 0, 0).await);
    let (retried, arrived) = broker.pull_until_found("CG", "%RETRY%CG", 0, 0).await;
    assert_delivered_in_time(failed, arrived, Duration::from_secs(1));
    let first = &retried[0];
    assert_eq!(bodies(&retried), ["o1"]);
    assert_eq!(first.reconsume_times, 1);
    assert_eq!(first.properties.retry_topic(), Some("Orders"));
    assert_eq!(
        first.properties.origin_message_id(),
        Some(original.offset_msg_id().as_str())
    );

    // Second failure: retried again.
    broker
        .send_back(first.physical_offset, "CG", 0, Some(2))
        .await;
    let (retried, _) = broker.pull_until_found("CG", "%RETRY%CG", 0, 1).await;
    let second = &retried[0];
    assert_eq!(second.reconsume_times, 2);
    assert_eq!(
        second.properties.origin_message_id(),
        Some(original.offset_msg_id().as_str())
    );

    // Third failure: reconsumed twice already, the maximum — the DLQ, at once.
    let response = broker
        .send_back(second.physical_offset, "CG", 0, Some(2))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let (dead, _) = broker.pull_until_found("CG", "%DLQ%CG", 0, 0).await;
    assert_eq!(bodies(&dead), ["o1"]);
    assert_eq!(dead[0].reconsume_times, 3);
    assert_eq!(dead[0].properties.retry_topic(), Some("Orders"));
    assert!(broker.nothing_at("CG", "%RETRY%CG", 0, 2).await);
    broker.stop().await;
}

#[tokio::test]
async fn level_zero_is_not_delayed_and_delayed_batches_are_refused() {
    let broker = TestBroker::start(|_| {}).await;
    let response = broker.send_delayed("T", 0, 0, "not delayed").await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    broker.wait_dispatched();
    assert!(!broker.nothing_at("G", "T", 0, 0).await);

    let mut properties = Properties::new();
    properties.set_delay_time_level(1);
    let header = SendMessageRequestHeaderV2 {
        producer_group: "PG".into(),
        topic: "T".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        sys_flag: 0,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(properties.to_property_string()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(true),
        broker_name: None,
    };
    let mut body = BytesMut::new();
    encode_batch(
        &[
            Message::new("T", b"b1".to_vec()),
            Message::new("T", b"b2".to_vec()),
        ],
        &mut body,
    )
    .unwrap();
    let response = broker
        .invoke(
            RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE, &header)
                .with_body(body.freeze()),
        )
        .await;
    assert_eq!(response.response_code(), ResponseCode::MESSAGE_ILLEGAL);
    assert!(broker.nothing_at("G", "T", 0, 1).await);
    broker.stop().await;
}

fn bodies(records: &[StoredMessage]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}
