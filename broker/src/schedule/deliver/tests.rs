use std::net::SocketAddr;

use skylark_protocol::message::Message;
use skylark_protocol::message::property::{REAL_QUEUE_ID, REAL_TOPIC};

use super::*;
use crate::test_support::config_in;

const HANG_GUARD: Duration = Duration::from_secs(10);

fn born() -> SocketAddr {
    "192.168.0.7:40000".parse().unwrap()
}

/// A broker whose level 1 waits nothing and level 2 an hour.
fn broker(dir: &std::path::Path) -> Broker {
    let mut config = config_in(dir);
    config.store.message_delay_level = "0s 1h".to_owned();
    Broker::open(config).unwrap()
}

/// Sends `body` to `topic`/`queue_id` with delay `level` as the send path
/// does, and waits until the schedule queue has it.
fn put_delayed(broker: &Broker, topic: &str, queue_id: i32, level: i32, body: &str) {
    let message = Message::new(topic, body.as_bytes().to_vec())
        .with_tags("TagA")
        .with_property("DELAY", level.to_string())
        .with_property("UNIQ_KEY", format!("U-{body}"));
    let mut record = StoredMessage::new(message, born(), broker.store_host);
    record.queue_id = queue_id;
    record.reconsume_times = 2;
    record.born_timestamp = 1234;
    assert!(broker.schedule.schedule(&mut record));
    let result = broker.store.put_message(&record).wait_blocking();
    assert!(result.is_stored(), "{result:?}");
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
}

fn bodies(broker: &Broker, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
    let got = broker
        .store
        .get_messages(topic, queue_id, 0, 32, usize::MAX, &|_| true);
    got.messages
        .iter()
        .map(|raw| record::decode(raw).unwrap().0)
        .collect()
}

fn running() -> watch::Receiver<bool> {
    watch::channel(false).1
}

#[tokio::test]
async fn due_messages_go_to_their_real_queue_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path());
    for i in 0..3 {
        put_delayed(&broker, "T", 2, 1, &format!("m{i}"));
    }
    assert!(bodies(&broker, "T", 2).is_empty());
    assert_eq!(broker.deliver_due(1, &running()).await, Next::Idle);
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    let got = bodies(&broker, "T", 2);
    let texts: Vec<_> = got.iter().map(|r| r.body.clone()).collect();
    assert_eq!(texts, [&b"m0"[..], b"m1", b"m2"]);
    let first = &got[0];
    assert_eq!(first.topic, "T");
    assert_eq!(first.tags(), Some("TagA"));
    assert_eq!(first.uniq_key(), Some("U-m0"));
    // Java keeps the level and where it was scheduled for.
    assert_eq!(first.properties.delay_time_level(), Some(1));
    assert_eq!(first.properties.get(REAL_TOPIC), Some("T"));
    assert_eq!(first.properties.get(REAL_QUEUE_ID), Some("2"));
    assert_eq!((first.reconsume_times, first.born_timestamp), (2, 1234));
    assert_eq!(first.born_host, born());
    // The ConsumeQueue tags code is the tag's again, so tag filters work.
    assert!(
        broker
            .store
            .get_messages("T", 2, 0, 32, usize::MAX, &|code| code
                == skylark_protocol::message::tags_code(Some("TagA")))
            .messages
            .len()
            == 3
    );
    assert_eq!(broker.schedule.offsets.get(1), 3);
    assert_eq!(broker.schedule.pending(&broker.store)[0], (1, 0));
    // Nothing is delivered twice.
    assert_eq!(broker.deliver_due(1, &running()).await, Next::Idle);
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    assert_eq!(bodies(&broker, "T", 2).len(), 3);
    broker.store.shutdown();
}

#[tokio::test]
async fn messages_not_due_wait_with_the_offset_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path());
    put_delayed(&broker, "T", 0, 2, "later");
    match broker.deliver_due(2, &running()).await {
        Next::Due(wait) => assert!(
            wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(broker.schedule.offsets.get(2), 0);
    assert_eq!(broker.schedule.pending(&broker.store)[1], (2, 1));
    assert!(bodies(&broker, "T", 0).is_empty());
    // Level 1 has nothing, and a stopped task delivers nothing.
    assert_eq!(broker.deliver_due(1, &running()).await, Next::Idle);
    put_delayed(&broker, "T", 0, 1, "now");
    let (stop, stopped) = watch::channel(true);
    assert_eq!(broker.deliver_due(1, &stopped).await, Next::Idle);
    assert!(bodies(&broker, "T", 0).is_empty());
    drop(stop);
    broker.store.shutdown();
}

#[tokio::test]
async fn the_task_delivers_arrivals_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Arc::new(broker(dir.path()));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(deliver_level(broker.clone(), 1, stopped));
    put_delayed(&broker, "T", 1, 1, "a");
    let delivered = tokio::time::timeout(HANG_GUARD, async {
        while bodies(&broker, "T", 1).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(delivered.is_ok(), "not delivered");
    stop.send(true).unwrap();
    tokio::time::timeout(HANG_GUARD, task)
        .await
        .unwrap()
        .unwrap();
    broker.store.shutdown();
}

#[test]
fn the_due_time_is_the_store_time_plus_the_levels_delay() {
    // Java's computeDeliverTimestamp, which the store writes as the tags code.
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path());
    put_delayed(&broker, "T", 0, 2, "an hour");
    put_delayed(&broker, "T", 0, 9, "clamped to an hour");
    let queue = broker
        .store
        .consume_queues()
        .queue(RMQ_SYS_SCHEDULE_TOPIC, 1)
        .unwrap();
    let entries = queue.read(0, 8).unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        let raw = broker
            .store
            .message_by_phys_offset(entry.phys_offset)
            .unwrap();
        let stored = record::decode(&raw).unwrap().0;
        assert_eq!(entry.tags_code, stored.store_timestamp + 3_600_000);
        assert_eq!(stored.properties.delay_time_level(), Some(2));
    }
    broker.store.shutdown();
}

#[tokio::test]
async fn unusable_entries_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path());
    // In the schedule queue without REAL_TOPIC (only the broker could put it there).
    let mut stray = StoredMessage::new(
        Message::new(RMQ_SYS_SCHEDULE_TOPIC, b"stray".to_vec()).with_property("DELAY", "1"),
        born(),
        broker.store_host,
    );
    stray.queue_id = 0;
    assert!(broker.store.put_message(&stray).wait_blocking().is_stored());
    put_delayed(&broker, RMQ_SYS_TRANS_HALF_TOPIC, 0, 1, "half");
    put_delayed(&broker, "T", 0, 1, "good");
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    assert_eq!(broker.deliver_due(1, &running()).await, Next::Idle);
    assert!(broker.store.wait_dispatched_all(HANG_GUARD));
    assert_eq!(broker.schedule.offsets.get(1), 3);
    assert_eq!(bodies(&broker, "T", 0).len(), 1);
    assert!(bodies(&broker, RMQ_SYS_TRANS_HALF_TOPIC, 0).is_empty());
    broker.store.shutdown();
}

#[test]
fn time_up_restores_the_real_topic_and_queue() {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    let long = "L".repeat(200);
    let mut record = StoredMessage::new(
        Message::new(RMQ_SYS_SCHEDULE_TOPIC, b"b".to_vec())
            .with_property("DELAY", "3")
            .with_property(REAL_TOPIC, long.as_str())
            .with_property(REAL_QUEUE_ID, "5"),
        born(),
        host,
    );
    record.queue_offset = 9;
    record.physical_offset = 999;
    record.store_timestamp = 77;
    let delivered = time_up(record.clone()).unwrap();
    assert_eq!(
        (delivered.topic.as_str(), delivered.queue_id),
        (long.as_str(), 5)
    );
    assert_eq!(delivered.version, MessageVersion::V2);
    assert_eq!(
        (
            delivered.queue_offset,
            delivered.physical_offset,
            delivered.store_timestamp
        ),
        (0, 0, 0)
    );
    // The property bytes are the scheduled record's.
    assert_eq!(delivered.properties, record.properties);
    assert_eq!(delivered.properties.delay_time_level(), Some(3));
    assert_eq!(delivered.body, record.body);

    for (name, value) in [(REAL_QUEUE_ID, "x"), (REAL_TOPIC, "")] {
        let mut broken = record.clone();
        if value.is_empty() {
            broken.properties.remove(name);
        } else {
            broken.properties.insert(name, value);
        }
        assert!(time_up(broken).is_none(), "{name}");
    }
}

#[tokio::test]
async fn replicas_do_not_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.store.message_delay_level = "0s 1h".to_owned();
    config.store.broker_role = skylark_store::config::BrokerRole::Slave;
    config.broker_id = 1;
    let broker = Arc::new(Broker::open(config).unwrap());
    let (stop, stopped) = watch::channel(false);
    // A replica's task waits for the broker to become master (roles change
    // at run time), delivering nothing, and ends at the stop.
    let task = tokio::spawn(deliver_level(broker.clone(), 1, stopped));
    tokio::time::sleep(ROLE_POLL * 2).await;
    assert!(!task.is_finished());
    assert_eq!(broker.schedule.offsets.get(1), 0, "nothing delivered");
    stop.send(true).unwrap();
    tokio::time::timeout(HANG_GUARD, task)
        .await
        .unwrap()
        .unwrap();
    broker.store.shutdown();
}
