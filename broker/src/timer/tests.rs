use std::net::SocketAddr;

use skylark_protocol::message::property::DELAY_TIME_LEVEL;
use skylark_protocol::message::{Message, MessageSysFlag};

use super::*;
use crate::test_support::config_in;

fn record(topic: &str, queue_id: i32, props: &[(&str, &str)]) -> StoredMessage {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    let mut message = Message::new(topic, b"body".to_vec()).with_tags("TagA");
    for (name, value) in props {
        message = message.with_property(*name, *value);
    }
    let mut record = StoredMessage::new(message, host, host);
    record.queue_id = queue_id;
    record
}

fn service(dir: &std::path::Path, enable: bool) -> (TimerMessageService, MessageStore) {
    let mut config = config_in(dir);
    config.timer_wheel_enable = enable;
    let store = MessageStore::open(config.store.clone()).unwrap();
    (TimerMessageService::load(&config, &store).unwrap(), store)
}

#[test]
fn a_future_deliver_time_goes_to_the_timer_topic_rounded_down() {
    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), true);
    let at = now_ms() + 60_000;
    let mut r = record("T", 3, &[(TIMER_DELIVER_MS, &at.to_string())]);
    assert_eq!(timer.schedule(&mut r), Ok(true));
    assert_eq!((r.topic.as_str(), r.queue_id), (TIMER_TOPIC, 0));
    assert_eq!(r.properties.real_topic(), Some("T"));
    assert_eq!(r.properties.real_queue_id(), Some(3));
    let out: i64 = r.properties.get(TIMER_OUT_MS).unwrap().parse().unwrap();
    let expected = if at % 1000 == 0 {
        at - 1000
    } else {
        at / 1000 * 1000
    };
    assert_eq!(out, expected);
    // An exact boundary goes one slot earlier, as Java does.
    let exact = (now_ms() / 1000 + 30) * 1000;
    let mut r = record("T", 0, &[(TIMER_DELIVER_MS, &exact.to_string())]);
    assert_eq!(timer.schedule(&mut r), Ok(true));
    assert_eq!(
        r.properties.get(TIMER_OUT_MS),
        Some((exact - 1000).to_string().as_str())
    );
    store.shutdown();
}

#[test]
fn delays_in_seconds_and_ms_count_from_now() {
    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), true);
    for (name, value, delay) in [
        (TIMER_DELAY_SEC, "10", 10_000),
        (TIMER_DELAY_MS, "5500", 5500),
    ] {
        let before = now_ms();
        let mut r = record("T", 1, &[(name, value)]);
        assert_eq!(timer.schedule(&mut r), Ok(true));
        let out: i64 = r.properties.get(TIMER_OUT_MS).unwrap().parse().unwrap();
        assert!(out >= (before + delay) / 1000 * 1000 - 1000, "{name}");
        assert!(out <= now_ms() + delay, "{name}");
    }
    store.shutdown();
}

#[test]
fn past_delay_level_and_already_timed_records_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), true);
    let past = (now_ms() - 1000).to_string();
    let future = (now_ms() + 10_000).to_string();
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[(TIMER_DELIVER_MS, &past)],
        &[(TIMER_DELIVER_MS, &future), (DELAY_TIME_LEVEL, "2")],
        &[(TIMER_DELIVER_MS, &future), (TIMER_OUT_MS, "5")],
    ];
    for props in cases {
        let mut r = record("T", 1, props);
        let before = r.clone();
        assert_eq!(timer.schedule(&mut r), Ok(false), "{props:?}");
        assert_eq!(r, before);
    }
    let mut r = record(TIMER_TOPIC, 0, &[(TIMER_DELIVER_MS, &future)]);
    assert_eq!(timer.schedule(&mut r), Ok(false));
    let mut r = record("T", 0, &[(TIMER_DELIVER_MS, &future)]);
    r.sys_flag |= MessageSysFlag::TRANSACTION_PREPARED_TYPE;
    assert_eq!(timer.schedule(&mut r), Ok(false));
    store.shutdown();
}

#[test]
fn illegal_timers_and_a_disabled_wheel_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), true);
    let too_far = (now_ms() + 4 * 24 * 3600 * 1000).to_string();
    let past = (now_ms() - 1).to_string();
    let cases: [&[(&str, &str)]; 4] = [
        &[(TIMER_DELIVER_MS, "soon")],
        &[(TIMER_DELAY_SEC, "1.5")],
        &[(TIMER_DELIVER_MS, &too_far)],
        &[(TIMER_DELIVER_MS, &past), (TIMER_DEL_UNIQKEY, "T+abc")],
    ];
    for props in cases {
        let mut r = record("T", 1, props);
        assert_eq!(
            timer.schedule(&mut r),
            Err(TimerRefusal::Illegal),
            "{props:?}"
        );
    }
    // A cancellation due in the future is refused loudly: the wheel does not apply it yet.
    let soon = (now_ms() + 60_000).to_string();
    let mut r = record(
        "T",
        1,
        &[(TIMER_DELIVER_MS, &soon), (TIMER_DEL_UNIQKEY, "T+abc")],
    );
    assert_eq!(timer.schedule(&mut r), Err(TimerRefusal::CancelUnsupported));
    let (code, remark) = TimerRefusal::Illegal.response(&BrokerConfig::default());
    assert_eq!(code, ResponseCode::MESSAGE_ILLEGAL);
    assert!(remark.contains("259200000ms"), "{remark}");
    store.shutdown();

    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), false);
    let future = (now_ms() + 10_000).to_string();
    let mut r = record("T", 1, &[(TIMER_DELIVER_MS, &future)]);
    assert_eq!(timer.schedule(&mut r), Err(TimerRefusal::NotEnabled));
    assert_eq!(
        TimerRefusal::NotEnabled
            .response(&BrokerConfig::default())
            .0,
        ResponseCode::SYSTEM_ERROR
    );
    assert_eq!(timer.pending(&store), 0);
    assert!(!dir.path().join("timer").exists());
    store.shutdown();
}

#[test]
fn a_bad_precision_stops_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.timer_precision_ms = 0;
    let store = MessageStore::open(config.store.clone()).unwrap();
    let error = TimerMessageService::load(&config, &store).unwrap_err();
    assert!(error.to_string().contains("timerPrecisionMs"), "{error}");
    store.shutdown();
}

#[test]
fn the_checkpoint_survives_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (timer, store) = service(dir.path(), true);
    timer
        .read_time_ms
        .store(now_ms() / 1000 * 1000 - 5000, Ordering::Release);
    let wheel = timer.store.as_ref().unwrap();
    let due = timer.read_time_ms.load(Ordering::Acquire) + 2000;
    let entry = wheel::Entry {
        phys_offset: 0,
        size: 1,
        flags: 0,
        deliver_ms: due,
        enqueue_ms: 0,
    };
    wheel.insert(due, &entry).unwrap();
    timer.persist().unwrap();
    let read_time = timer.read_time_ms.load(Ordering::Acquire);
    drop(timer);
    let config = config_in(dir.path());
    let again = TimerMessageService::load(&config, &store).unwrap();
    assert_eq!(again.read_time_ms.load(Ordering::Acquire), read_time);
    assert_eq!(again.write_time_ms.load(Ordering::Acquire), read_time);
    assert_eq!(again.in_wheel.load(Ordering::Acquire), 1);
    assert_eq!(again.pending(&store), 1);
    store.shutdown();
}
