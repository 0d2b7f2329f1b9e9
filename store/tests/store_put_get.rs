#![allow(clippy::unwrap_used)]
//! MessageStore round trips: puts are dispatched into ConsumeQueues and the
//! index, pulls return the stored records, filters, batches, time and key
//! lookups, the arrival listener, and refused puts.

mod store_support;

use std::sync::{Arc, Mutex};

use skylark_protocol::message::tag_hash::tags_code;
use skylark_protocol::message::topic::RMQ_SYS_SCHEDULE_TOPIC;
use skylark_protocol::message::{MessageSysFlag, property};
use skylark_store::MessageStore;
use skylark_store::error::{PutMessageStatus, StoreError};
use skylark_store::message_store::GetMessageStatus;
use store_support::{all, bodies, config, decode, msg, open, put, put_ok, settle};
use tempfile::TempDir;

#[test]
fn many_topics_and_queues_round_trip() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut expected: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 12];
    for i in 0..600usize {
        let (t, q) = (i % 3, (i / 3) % 4);
        let body = format!("msg-{i}").into_bytes();
        let qo = put_ok(
            &store,
            &msg(&format!("Topic{t}"), q as i32, &body, "TagA", &[]),
        );
        assert_eq!(qo, expected[t * 4 + q].len() as i64);
        expected[t * 4 + q].push(body);
    }
    settle(&store);
    assert_eq!(store.dispatch_behind_bytes(), 0);
    for t in 0..3 {
        for q in 0..4 {
            let topic = format!("Topic{t}");
            let want = &expected[t * 4 + q];
            assert_eq!(store.max_offset(&topic, q as i32), want.len() as i64);
            assert_eq!(store.min_offset(&topic, q as i32), 0);
            let mut got = Vec::new();
            let mut offset = 0;
            while offset < want.len() as i64 {
                let r = store.get_messages(&topic, q as i32, offset, 32, 1 << 20, &all);
                assert_eq!(r.status, GetMessageStatus::Found);
                assert_eq!(r.queue_offsets[0], offset);
                got.extend(bodies(&r.messages));
                offset = r.next_begin_offset;
            }
            assert_eq!(&got, want);
            for (i, m) in got.iter().enumerate().take(3) {
                let r = store.get_messages(&topic, q as i32, i as i64, 1, 1 << 20, &all);
                let d = decode(&r.messages[0]);
                assert_eq!(&d.body[..], &m[..]);
                assert_eq!(d.queue_offset, i as i64);
                assert_eq!(d.topic, topic);
                assert_eq!(
                    store.message_by_phys_offset(d.physical_offset).unwrap(),
                    r.messages[0]
                );
            }
        }
    }
}

#[test]
fn put_result_reports_where_the_message_went() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let before = store.commit_log_max_offset();
    let r = put(&store, &msg("T", 0, b"hello", "", &[]));
    assert_eq!(r.status, PutMessageStatus::PutOk);
    let a = r.append.unwrap();
    assert_eq!(a.wrote_offset, before);
    assert_eq!(store.commit_log_max_offset(), before + a.wrote_bytes as i64);
    assert!(a.store_timestamp > 1_700_000_000_000);
    let id = r.offset_msg_id().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.ends_with(&format!("{:016X}", a.wrote_offset)));
    settle(&store);
    let rec = decode(&store.message_by_phys_offset(a.wrote_offset).unwrap());
    assert_eq!(rec.store_timestamp, a.store_timestamp);
    assert_eq!(rec.physical_offset, a.wrote_offset);
}

#[test]
fn async_put_resolves_under_tokio() {
    let dir = TempDir::new().unwrap();
    let mut c = config(dir.path());
    c.flush_disk_type = skylark_store::config::FlushDiskType::SyncFlush;
    let store = MessageStore::open(c).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(store.put_message(&msg("T", 0, b"sync", "", &[])));
    assert_eq!(r.status, PutMessageStatus::PutOk);
    assert!(store.commit_log().flushed_offset() >= r.append.unwrap().end_offset());
    let mut m = msg("T", 0, b"nowait", "", &[]);
    m.properties.set_wait_store_msg_ok(false);
    let r = rt.block_on(store.put_message(&m));
    assert_eq!(r.status, PutMessageStatus::PutOk);
}

#[test]
fn tag_filter_by_hash_and_next_offsets() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    for i in 0..20 {
        let tag = if i % 4 == 0 { "TagA" } else { "TagB" };
        put_ok(&store, &msg("Filt", 0, format!("{i}").as_bytes(), tag, &[]));
    }
    settle(&store);
    let a = tags_code(Some("TagA"));
    let only_a = move |code: i64| code == a;
    let r = store.get_messages("Filt", 0, 0, 32, 1 << 20, &only_a);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(
        bodies(&r.messages),
        ["0", "4", "8", "12", "16"].map(|s| s.as_bytes().to_vec())
    );
    assert_eq!(r.queue_offsets, [0, 4, 8, 12, 16]);
    assert_eq!(r.next_begin_offset, 20);
    // Non-matching entries do not count against max_count; the next offset
    // is past the last entry scanned.
    let r = store.get_messages("Filt", 0, 1, 2, 1 << 20, &only_a);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.queue_offsets, [4, 8]);
    assert_eq!(r.next_begin_offset, 9);
    let none = |_: i64| false;
    let r = store.get_messages("Filt", 0, 5, 32, 1 << 20, &none);
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 20);
    assert!(r.messages.is_empty());
}

#[test]
fn batch_puts_take_consecutive_offsets() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    put_ok(&store, &msg("Batch", 2, b"single", "", &[]));
    let batch: Vec<_> = (0..10)
        .map(|i| msg("Batch", 2, format!("b{i}").as_bytes(), "TagA", &[]))
        .collect();
    let r = store.put_messages(&batch).wait_blocking();
    let a = r.append.unwrap();
    assert_eq!((a.queue_offset, a.msg_num), (1, 10));
    settle(&store);
    let got = store.get_messages("Batch", 2, 1, 32, 1 << 20, &all);
    assert_eq!(got.queue_offsets, (1..11).collect::<Vec<i64>>());
    for (i, m) in got.messages.iter().enumerate() {
        let d = decode(m);
        assert_eq!(d.queue_offset, i as i64 + 1);
        assert_eq!(&d.body[..], format!("b{i}").as_bytes());
    }
    let mixed = vec![
        msg("Batch", 2, b"x", "", &[]),
        msg("Batch", 3, b"y", "", &[]),
    ];
    let r = store.put_messages(&mixed).wait_blocking();
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    assert_eq!(
        store.put_messages(&[]).wait_blocking().status,
        PutMessageStatus::MessageIllegal
    );
}

#[test]
fn invalid_input_is_refused_and_nothing_is_stored() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let end = store.commit_log_max_offset();
    let big = vec![0u8; store.config().max_message_size + 1];
    let r = put(&store, &msg("T", 0, &big, "", &[]));
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    assert!(matches!(r.error, Some(StoreError::MessageTooLarge { .. })));
    let r = put(&store, &msg("bad topic!", 0, b"x", "", &[]));
    assert!(matches!(r.error, Some(StoreError::InvalidTopic { .. })));
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    let r = put(&store, &msg(&"T".repeat(128), 0, b"x", "", &[]));
    assert!(matches!(r.error, Some(StoreError::InvalidTopic { .. })));
    let mut m = msg("T", 0, b"x", "", &[]);
    m.properties.insert("P", "v".repeat(40_000));
    let r = put(&store, &m);
    assert_eq!(r.status, PutMessageStatus::PropertiesSizeExceeded);
    assert!(matches!(
        r.error,
        Some(StoreError::PropertiesTooLong { .. })
    ));
    let r = put(&store, &msg("T", -1, b"x", "", &[]));
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    assert!(r.append.is_none());
    assert_eq!(store.commit_log_max_offset(), end);
    assert_eq!(store.max_offset("T", 0), 0);

    // A full disk (retention's hook) refuses puts until cleared.
    store.set_disk_full(true);
    assert!(!store.is_writable());
    let r = put(&store, &msg("T", 0, b"x", "", &[]));
    assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable);
    store.set_disk_full(false);
    assert_eq!(
        put(&store, &msg("T", 0, b"x", "", &[])).status,
        PutMessageStatus::PutOk
    );
    store.shutdown();
    let r = put(&store, &msg("T", 0, b"x", "", &[]));
    assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable);
}

#[test]
fn prepared_and_rollback_records_get_no_queue_entry() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut half = msg("Tx", 0, b"half", "", &[]);
    half.sys_flag |= MessageSysFlag::TRANSACTION_PREPARED_TYPE;
    let r = put(&store, &half);
    assert_eq!(r.append.unwrap().queue_offset, 0);
    put_ok(&store, &msg("Tx", 0, b"normal", "", &[]));
    settle(&store);
    assert_eq!(store.max_offset("Tx", 0), 1);
    let got = store.get_messages("Tx", 0, 0, 8, 1 << 20, &all);
    assert_eq!(bodies(&got.messages), [b"normal".to_vec()]);
}

#[test]
fn arrival_listener_sees_every_entry() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    store.set_arrival_listener(Arc::new(move |topic, q, next, code, ts| {
        sink.lock()
            .unwrap()
            .push((topic.to_owned(), q, next, code, ts));
    }));
    for i in 0..5 {
        put_ok(&store, &msg("Arr", i % 2, b"x", "TagA", &[]));
    }
    settle(&store);
    let seen = seen.lock().unwrap().clone();
    let nexts: Vec<_> = seen.iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(nexts, [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3)]);
    assert!(
        seen.iter()
            .all(|s| s.0 == "Arr" && s.3 == tags_code(Some("TagA")) && s.4 > 0)
    );
}

#[test]
fn schedule_topic_tags_code_is_the_delivery_time() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut m = msg(RMQ_SYS_SCHEDULE_TOPIC, 2, b"later", "TagA", &[]);
    m.properties.insert(property::DELAY_TIME_LEVEL, "3");
    let ts = put(&store, &m).append.unwrap().store_timestamp;
    settle(&store);
    let code = std::cell::Cell::new(0);
    let r = store.get_messages(RMQ_SYS_SCHEDULE_TOPIC, 2, 0, 1, 1 << 20, &|c| {
        code.set(c);
        true
    });
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(code.get(), ts + 10_000);
}

#[test]
fn offset_by_time_and_store_times() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut times = Vec::new();
    for i in 0..6 {
        let r = put(&store, &msg("Time", 0, format!("{i}").as_bytes(), "", &[]));
        times.push(r.append.unwrap().store_timestamp);
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    settle(&store);
    assert_eq!(store.offset_by_time("Time", 0, 0), 0);
    assert_eq!(store.offset_by_time("Time", 0, times[3]), 3);
    assert_eq!(store.offset_by_time("Time", 0, times[3] - 1), 3);
    assert_eq!(store.offset_by_time("Time", 0, times[5] + 1), 6);
    assert_eq!(store.offset_by_time("Nope", 0, 0), 0);
    assert_eq!(store.earliest_store_time("Time", 0), times[0]);
    assert_eq!(store.message_store_time("Time", 0, 4), times[4]);
    assert_eq!(store.earliest_store_time("Nope", 0), -1);
}

#[test]
fn query_by_key_finds_keys_and_uniq_keys() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    for i in 0..30 {
        let k = format!("order-{}", i % 5);
        let mut m = msg(
            "Keyed",
            i % 3,
            format!("{i}").as_bytes(),
            "",
            &[&k, "shared"],
        );
        m.properties.set_uniq_key(&format!("UNIQ{i:04}"));
        put_ok(&store, &m);
    }
    put_ok(&store, &msg("Other", 0, b"o", "", &["order-1"]));
    settle(&store);
    let r = store.query_by_key("Keyed", "order-1", 32, 0, i64::MAX);
    assert_eq!(
        bodies(&r.messages),
        ["1", "6", "11", "16", "21", "26"].map(|s| s.as_bytes().to_vec())
    );
    assert!(r.index_last_update_phy_offset > 0);
    let r = store.query_by_key("Keyed", "UNIQ0017", 32, 0, i64::MAX);
    assert_eq!(bodies(&r.messages), [b"17".to_vec()]);
    assert_eq!(
        store
            .query_by_key("Keyed", "shared", 4, 0, i64::MAX)
            .messages
            .len(),
        4
    );
    assert!(
        store
            .query_by_key("Keyed", "missing", 32, 0, i64::MAX)
            .messages
            .is_empty()
    );
    assert!(
        store
            .query_by_key("Keyed", "order-1", 32, 0, 1000)
            .messages
            .is_empty()
    );
}

#[test]
fn a_second_open_of_the_same_store_fails() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let second = MessageStore::open(config(dir.path()));
    assert!(
        matches!(second, Err(StoreError::Locked { .. })),
        "{second:?}"
    );
    drop(store);
    let again = open(dir.path());
    again.shutdown();
}

#[test]
fn concurrent_producers_and_a_reader_see_every_message_in_order() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(dir.path()));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..300 {
                    let body = format!("{p}:{i}");
                    let r = store
                        .put_message(&msg("Conc", p % 2, body.as_bytes(), "", &[]))
                        .wait_blocking();
                    assert!(r.is_stored());
                    // Read your own write.
                    let end = r.append.unwrap().end_offset();
                    assert!(store.wait_dispatched(end, std::time::Duration::from_secs(10)));
                }
            })
        })
        .collect();
    let reader = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut offset = 0;
            while seen.len() < 600 {
                let r = store.get_messages("Conc", 0, offset, 32, 1 << 20, &all);
                if r.status == GetMessageStatus::Found {
                    seen.extend(bodies(&r.messages));
                }
                offset = r.next_begin_offset;
            }
            seen
        })
    };
    for p in producers {
        p.join().unwrap();
    }
    let seen = reader.join().unwrap();
    for p in [0, 2] {
        let mine: Vec<_> = seen
            .iter()
            .filter_map(|b| String::from_utf8(b.clone()).ok())
            .filter(|s| s.starts_with(&format!("{p}:")))
            .collect();
        let want: Vec<_> = (0..300).map(|i| format!("{p}:{i}")).collect();
        assert_eq!(mine, want);
    }
    assert_eq!(store.max_offset("Conc", 0), 600);
    assert_eq!(store.max_offset("Conc", 1), 600);
}
