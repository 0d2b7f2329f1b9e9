#![allow(clippy::unwrap_used)]
//! Timer messages over loopback: a message with `TIMER_DELIVER_MS` shows
//! up in its topic only once that time has passed — also across a restart
//! — and 10,000 of them spread over a few seconds are each delivered once,
//! slot after slot; illegal timers are refused with Java's codes.
//!
//! These tests are about time, so they check it, with wide margins: a
//! message must never be stored in its topic before its deliver time
//! (both read from the same wall clock), and must arrive within
//! [`LATE`] of it.

mod support;
use support::assert_success;

use std::collections::HashSet;

use futures::StreamExt;
use skylark_protocol::ResponseCode;
use skylark_protocol::message::StoredMessage;
use skylark_protocol::message::property::{
    TIMER_DELAY_SEC, TIMER_DELIVER_MS, TIMER_DEQUEUE_MS, TIMER_ENQUEUE_MS, TIMER_OUT_MS,
};
use support::{TestBroker, now_ms};

/// How late (ms) a timer message may arrive before the test calls it lost.
const LATE: i64 = 10_000;

/// Asserts `m` was stored in its topic at or after `deliver_ms`, and not
/// long after.
fn assert_in_time(m: &StoredMessage, deliver_ms: i64) {
    assert!(
        m.store_timestamp >= deliver_ms,
        "{:?} stored at {}, {} ms before its deliver time",
        m.uniq_key(),
        m.store_timestamp,
        deliver_ms - m.store_timestamp
    );
    assert!(
        m.store_timestamp <= deliver_ms + LATE,
        "{:?} stored {} ms after its deliver time",
        m.uniq_key(),
        m.store_timestamp - deliver_ms
    );
}

#[tokio::test]
async fn a_message_due_in_two_seconds_is_pullable_then_and_not_before() {
    let broker = TestBroker::start(|_| {}).await;
    let deliver_ms = now_ms() + 2000;
    assert_success(
        &broker
            .send_timer("Timed", 1, TIMER_DELIVER_MS, deliver_ms, "t1")
            .await,
    );
    // Not in its topic yet (the send took far less than 2 s, or the
    // assertion below on its store time catches it).
    let empty = broker.nothing_at("G", "Timed", 1, 0).await;
    assert!(empty || now_ms() >= deliver_ms);

    let (got, _) = broker.pull_until_found("G", "Timed", 1, 0).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_in_time(m, deliver_ms);
    assert_eq!(
        (m.topic.as_str(), m.queue_id, m.queue_offset),
        ("Timed", 1, 0)
    );
    assert_eq!(&m.body[..], b"t1");
    assert_eq!(m.tags(), Some("TagT"));
    // As Java writes it: the timer properties stay, stamped with the
    // times it entered and left the wheel, and so do REAL_TOPIC / REAL_QID.
    assert_eq!(m.properties.timer_deliver_ms(), Some(deliver_ms));
    assert!(m.properties.contains(TIMER_OUT_MS));
    assert!(m.properties.contains(TIMER_ENQUEUE_MS));
    assert!(m.properties.contains(TIMER_DEQUEUE_MS));
    assert_eq!(m.properties.real_topic(), Some("Timed"));
    assert_eq!(m.properties.real_queue_id(), Some(1));
    // Delivered once.
    assert!(broker.nothing_at("G", "Timed", 1, 1).await);
    broker.stop().await;
}

#[tokio::test]
async fn ten_thousand_timer_messages_are_delivered_once_slot_after_slot() {
    const N: i64 = 10_000;
    let broker = TestBroker::start(|_| {}).await;
    // Spread over 3 s, starting 4 s from now so the sends (16 at a time)
    // finish first on a loaded machine; one sent late is stored at once,
    // which the checks below still accept.
    let base = now_ms() + 4000;
    let deliver = |i: i64| base + i * 3000 / N;
    let responses: Vec<_> = futures::stream::iter(0..N)
        .map(|i| {
            let broker = &broker;
            async move {
                broker
                    .send_timer("Spread", 0, TIMER_DELIVER_MS, deliver(i), &i.to_string())
                    .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for response in &responses {
        assert_success(response);
    }

    let got = broker
        .drain("G", "Spread", 0, usize::try_from(N).unwrap(), 3)
        .await;
    let mut seen = HashSet::new();
    let mut last_slot = i64::MIN;
    for m in &got {
        let i: i64 = m.uniq_key().unwrap().parse().unwrap();
        assert!(seen.insert(i), "{i} delivered twice");
        assert_in_time(m, deliver(i));
        if let Some(slot) = m.properties.get(TIMER_OUT_MS) {
            // Slots are delivered in time order.
            let slot: i64 = slot.parse().unwrap();
            assert!(slot >= last_slot, "slot {slot} delivered after {last_slot}");
            last_slot = slot;
        }
    }
    assert_eq!(seen.len(), usize::try_from(N).unwrap());
    // Nothing more follows.
    assert!(broker.nothing_at("G", "Spread", 0, N).await);
    broker.stop().await;
}

#[tokio::test]
async fn timer_messages_stored_before_a_restart_are_delivered_after_it_once() {
    let broker = TestBroker::start(|_| {}).await;
    let deliver_ms = now_ms() + 3000;
    for body in ["r1", "r2", "r3"] {
        assert_success(
            &broker
                .send_timer("Restarted", 0, TIMER_DELIVER_MS, deliver_ms, body)
                .await,
        );
    }
    let dir = broker.stop().await;
    assert!(
        now_ms() < deliver_ms,
        "the broker took too long to stop; the test needs it down before delivery"
    );

    let broker = TestBroker::start_in(dir, |_| {}).await;
    let got = broker.drain("G", "Restarted", 0, 3, 1).await;
    let mut bodies: Vec<_> = got.iter().map(|m| m.uniq_key().unwrap()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["r1", "r2", "r3"]);
    for m in &got {
        assert_in_time(m, deliver_ms);
    }

    // The delivery is remembered: another restart does not repeat it.
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, |_| {}).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(broker.nothing_at("G", "Restarted", 0, 3).await);
    broker.stop().await;
}

#[tokio::test]
async fn illegal_and_past_timers() {
    let broker = TestBroker::start(|_| {}).await;
    // Beyond timerMaxDelaySec (3 days).
    let response = broker
        .send_timer("Bad", 0, TIMER_DELAY_SEC, 4 * 24 * 3600, "far")
        .await;
    assert_eq!(response.response_code(), ResponseCode::MESSAGE_ILLEGAL);
    assert!(
        response
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("timer message illegal"),
        "{:?}",
        response.remark
    );
    // A time already passed is stored in its topic at once.
    assert_success(
        &broker
            .send_timer("Past", 0, TIMER_DELIVER_MS, now_ms() - 1000, "p")
            .await,
    );
    assert!(!broker.nothing_at("G", "Past", 0, 0).await);
    broker.stop().await;

    let broker = TestBroker::start(|config| config.timer_wheel_enable = false).await;
    let response = broker.send_timer("Off", 0, TIMER_DELAY_SEC, 5, "off").await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(
        response
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("timerWheelEnable is false"),
        "{:?}",
        response.remark
    );
    broker.stop().await;
}
