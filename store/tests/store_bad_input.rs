#![allow(clippy::unwrap_used)]
//! Refused puts: messages over `maxMessageSize`, illegal or too long
//! topics, properties over 32767 bytes, negative queue ids and malformed
//! batches each fail with a typed error and status, and leave everything
//! already stored as it was (CommitLog bytes and end, queue offsets, the
//! records served, the index), also after a restart. A put after shutdown
//! is refused, puts racing a shutdown are stored or refused but never lost,
//! and a second store on a locked directory fails to open.

mod store_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use skylark_protocol::message::{MessageVersion, NameError, StoredMessage};
use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;
use skylark_store::error::{PutMessageStatus, StoreError};
use skylark_store::mapped_file::MappedFile;
use skylark_store::message_store::PutMessageResult;
use store_support::{decode, msg, put, put_ok, read_queue, settle};
use tempfile::TempDir;

/// `maxMessageSize` of these tests: room for a record with 32767 bytes of
/// properties.
const MAX_MESSAGE: usize = 40 * 1024;

fn big_config(dir: &Path) -> MessageStoreConfig {
    let mut c = store_support::config(dir);
    c.max_message_size = MAX_MESSAGE;
    c
}

/// A topic of exactly 127 characters, the longest a plain topic may be.
fn longest_topic() -> String {
    format!("Long{}", "x".repeat(123))
}

/// Puts what the refusals must leave alone: three topics (one with the
/// longest allowed name, one a retry topic), several queues, tags and keys,
/// 1 KiB bodies rolling over several CommitLog files, and one message with
/// the largest property block a record can hold.
fn baseline(store: &MessageStore) {
    let long = longest_topic();
    let topics = ["Good", long.as_str(), "%RETRY%group"];
    for i in 0..150usize {
        let topic = topics[i % 3];
        let body = vec![b'a' + (i % 26) as u8; 1000 + i];
        let key = format!("k{i}");
        put_ok(store, &msg(topic, (i % 4) as i32, &body, "TagA", &[&key]));
    }
    let mut m = msg("Good", 0, b"full properties", "", &[]);
    let room = skylark_protocol::message::properties::MAX_ENCODED_LEN - m.properties.encoded_len();
    // name 0x01 value 0x02: two bytes of separators.
    m.properties.insert("PAD", "p".repeat(room - 5));
    assert_eq!(m.properties.encoded_len(), 32_767);
    put_ok(store, &m);
    settle(store);
}

/// Topic, queue id, min and max offset, and the records served.
type QueueState = (String, i32, i64, i64, Vec<Vec<u8>>);

/// Everything a refused put must not change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    commit_log: (i64, i64),
    dispatched: i64,
    queues: Vec<QueueState>,
    /// Topic directories under `consumequeue/`.
    cq_dirs: BTreeSet<String>,
    /// CommitLog bytes on disk from 0 to the end, plus the zeros after it
    /// in the last file.
    cl_bytes: Vec<u8>,
}

fn snapshot(store: &MessageStore, dir: &Path) -> Snapshot {
    settle(store);
    let mut queues: Vec<_> = store
        .consume_queues()
        .queues()
        .iter()
        .map(|q| {
            let (topic, id) = (q.topic().to_owned(), q.queue_id());
            let records = read_queue(store, &topic, id)
                .into_iter()
                .map(|(_, r)| r.to_vec())
                .collect();
            let (min, max) = (store.min_offset(&topic, id), store.max_offset(&topic, id));
            (topic, id, min, max, records)
        })
        .collect();
    queues.sort();
    let cq_dirs = std::fs::read_dir(dir.join("consumequeue"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    let end = store.commit_log_max_offset();
    let size = store.commit_log().file_size() as i64;
    let mut cl_bytes = Vec::new();
    let mut from = store.commit_log_min_offset();
    // The files holding [min, end), which include the one `end` lies in
    // unless it is a file boundary.
    while from < end {
        let name = MappedFile::file_name(from);
        let bytes = std::fs::read(dir.join("commitlog").join(name)).unwrap();
        cl_bytes.extend_from_slice(&bytes);
        from += size;
    }
    // Past the end only zeros, whatever was refused.
    assert!(cl_bytes[end as usize..].iter().all(|&b| b == 0));
    Snapshot {
        commit_log: (store.commit_log_min_offset(), end),
        dispatched: store.dispatched_offset(),
        queues,
        cq_dirs,
        cl_bytes,
    }
}

/// A put that must be refused.
struct Bad {
    what: &'static str,
    msgs: Vec<StoredMessage>,
    status: PutMessageStatus,
    error: fn(&StoreError) -> bool,
}

fn bad_inputs() -> Vec<Bad> {
    let one = |what, m: StoredMessage, status, error| Bad {
        what,
        msgs: vec![m],
        status,
        error,
    };
    let illegal = PutMessageStatus::MessageIllegal;
    let mut out = vec![
        one(
            "body over maxMessageSize",
            msg("Good", 1, &vec![7; MAX_MESSAGE + 1], "TagA", &["bad-1"]),
            illegal,
            |e| {
                matches!(e, StoreError::MessageTooLarge { len, max }
                    if *len == MAX_MESSAGE + 1 && *max == MAX_MESSAGE)
            },
        ),
        one(
            "body of 1 MiB",
            msg("Good", 1, &vec![7; 1 << 20], "TagA", &["bad-2"]),
            illegal,
            |e| matches!(e, StoreError::MessageTooLarge { .. }),
        ),
        one(
            "topic of 128 characters",
            msg(&format!("{}y", longest_topic()), 0, b"b", "", &["bad-3"]),
            illegal,
            |e| {
                matches!(
                    e,
                    StoreError::InvalidTopic {
                        reason: NameError::TooLong { len: 128, max: 127 },
                        ..
                    }
                )
            },
        ),
        one(
            "topic of 300 characters",
            msg(&"z".repeat(300), 0, b"b", "", &["bad-4"]),
            illegal,
            |e| matches!(e, StoreError::InvalidTopic { .. }),
        ),
        one(
            "retry topic of 256 characters",
            msg(
                &format!("%RETRY%{}", "g".repeat(249)),
                0,
                b"b",
                "",
                &["bad-5"],
            ),
            illegal,
            |e| {
                matches!(
                    e,
                    StoreError::InvalidTopic {
                        reason: NameError::TooLong { len: 256, max: 255 },
                        ..
                    }
                )
            },
        ),
        one(
            "empty topic",
            msg("", 0, b"b", "", &["bad-6"]),
            illegal,
            |e| {
                matches!(
                    e,
                    StoreError::InvalidTopic {
                        reason: NameError::Blank,
                        ..
                    }
                )
            },
        ),
        one(
            "blank topic",
            msg("   ", 0, b"b", "", &["bad-7"]),
            illegal,
            |e| {
                matches!(
                    e,
                    StoreError::InvalidTopic {
                        reason: NameError::Blank,
                        ..
                    }
                )
            },
        ),
        one(
            "properties over 32767 bytes",
            {
                let mut m = msg("Good", 2, b"b", "TagA", &["bad-8"]);
                let len = m.properties.encoded_len();
                m.properties.insert("PAD", "p".repeat(32_768 - len - 5));
                assert_eq!(m.properties.encoded_len(), 32_768);
                m
            },
            PutMessageStatus::PropertiesSizeExceeded,
            |e| matches!(e, StoreError::PropertiesTooLong { len: 32_768 }),
        ),
        one(
            "properties of 100 000 bytes",
            msg("Good", 2, b"b", "", &[&"k".repeat(100_000)]),
            PutMessageStatus::PropertiesSizeExceeded,
            |e| matches!(e, StoreError::PropertiesTooLong { .. }),
        ),
        one(
            "queue id -1",
            msg("Good", -1, b"b", "TagA", &["bad-9"]),
            illegal,
            |e| matches!(e, StoreError::MessageIllegal(_)),
        ),
        one(
            "queue id i32::MIN",
            msg("Good", i32::MIN, b"b", "TagA", &["bad-10"]),
            illegal,
            |e| matches!(e, StoreError::MessageIllegal(_)),
        ),
        one(
            "negative queue id of a new topic",
            msg("Fresh", -3, b"b", "TagA", &["bad-11"]),
            illegal,
            |e| matches!(e, StoreError::MessageIllegal(_)),
        ),
    ];
    for (what, topic) in [
        ("topic with a space", "Bad Topic"),
        ("topic with a slash", "a/b"),
        ("topic with a dot", "a.b"),
        ("topic with a non-ASCII letter", "tópico"),
        ("topic with a NUL", "nul\0"),
        ("topic with a newline", "Good\n"),
    ] {
        out.push(one(
            what,
            msg(topic, 0, b"b", "", &["bad-12"]),
            illegal,
            |e| {
                matches!(
                    e,
                    StoreError::InvalidTopic {
                        reason: NameError::IllegalChar(_),
                        ..
                    }
                )
            },
        ));
    }
    let good = |i: usize| msg("Good", 3, format!("batch {i}").as_bytes(), "", &["bad-13"]);
    out.extend([
        Bad {
            what: "batch with one oversized message last",
            msgs: vec![
                good(0),
                good(1),
                msg("Good", 3, &vec![1; MAX_MESSAGE + 1], "", &[]),
            ],
            status: illegal,
            error: |e| matches!(e, StoreError::MessageTooLarge { .. }),
        },
        Bad {
            what: "batch with a bad topic in the middle",
            msgs: vec![good(0), msg("Bad Topic", 3, b"x", "", &[]), good(2)],
            status: illegal,
            error: |e| matches!(e, StoreError::MessageIllegal(_)),
        },
        Bad {
            what: "batch over two queues",
            msgs: vec![good(0), msg("Good", 2, b"x", "", &[])],
            status: illegal,
            error: |e| matches!(e, StoreError::MessageIllegal(_)),
        },
        Bad {
            what: "batch with too long properties last",
            msgs: vec![good(0), msg("Good", 3, b"x", "", &[&"k".repeat(40_000)])],
            status: PutMessageStatus::PropertiesSizeExceeded,
            error: |e| matches!(e, StoreError::PropertiesTooLong { .. }),
        },
        Bad {
            what: "empty batch",
            msgs: vec![],
            status: illegal,
            error: |e| matches!(e, StoreError::MessageIllegal(_)),
        },
    ]);
    out
}

fn assert_refused(r: &PutMessageResult, bad: &Bad, how: &str) {
    let what = bad.what;
    assert_eq!(r.status, bad.status, "{what} ({how}): {:?}", r.error);
    assert!(!r.is_stored() && r.append.is_none(), "{what} ({how})");
    let e = r.error.as_ref().unwrap();
    assert!((bad.error)(e), "{what} ({how}): {e:?}");
    assert_eq!(e.put_status(), bad.status, "{what}");
    assert!(r.offset_msg_id().is_none());
}

#[test]
fn bad_messages_are_refused_and_touch_nothing_stored() {
    let dir = TempDir::new().unwrap();
    let config = big_config(dir.path());
    let store = MessageStore::open(config.clone()).unwrap();
    baseline(&store);
    let before = snapshot(&store, dir.path());
    assert_eq!(before.queues.len(), 12);
    assert!(before.commit_log.1 > 2 * store_support::CL_FILE as i64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for bad in bad_inputs() {
        if let [m] = bad.msgs.as_slice() {
            assert_refused(&store.put_message(m).wait_blocking(), &bad, "put_message");
            assert_refused(&rt.block_on(store.put_message(m)), &bad, "awaited");
        }
        assert_refused(
            &store.put_messages(&bad.msgs).wait_blocking(),
            &bad,
            "put_messages",
        );
        assert_eq!(snapshot(&store, dir.path()), before, "{}", bad.what);
        assert_eq!(store.max_offset("Fresh", 0), 0);
    }
    // No queue offset was taken: the next put of every queue gets its max.
    for (topic, id, _, max, _) in &before.queues {
        assert_eq!(
            store.commit_log().queue_offset(topic, *id),
            *max,
            "{topic}/{id}"
        );
    }
    assert_eq!(store.commit_log().queue_offset("Fresh", -3), 0);
    for i in 1..=13 {
        let r = store.query_by_key("Good", &format!("bad-{i}"), 32, 0, i64::MAX);
        assert!(r.messages.is_empty(), "bad-{i} is indexed");
    }
    // Nothing of it survives a restart either.
    store.shutdown();
    drop(store);
    let store = MessageStore::open(config).unwrap();
    let report = store.recovery_report().clone();
    assert!(!report.crashed && report.cut.is_none(), "{report:?}");
    assert_eq!(snapshot(&store, dir.path()), before);
    // And the store goes on where it was.
    let r = put(&store, &msg("Good", 3, b"after", "", &[]));
    assert_eq!(r.status, PutMessageStatus::PutOk);
    let a = r.append.unwrap();
    assert_eq!(a.wrote_offset, before.commit_log.1);
    assert_eq!(
        a.queue_offset,
        before
            .queues
            .iter()
            .find(|q| q.0 == "Good" && q.1 == 3)
            .unwrap()
            .3
    );
}

#[test]
fn the_longest_topic_and_properties_round_trip() {
    let dir = TempDir::new().unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    baseline(&store);
    let long = longest_topic();
    let got = read_queue(&store, &long, 1);
    assert_eq!(got.len(), 13);
    let m = decode(&got[0].1);
    assert_eq!(
        (m.topic.as_str(), m.version),
        (long.as_str(), MessageVersion::V1)
    );
    let last = read_queue(&store, "Good", 0).pop().unwrap();
    let m = decode(&last.1);
    assert_eq!(m.body.as_ref(), b"full properties");
    assert_eq!(m.properties.encoded_len(), 32_767);
    assert_eq!(m.properties.get("PAD").unwrap().len(), 32_767 - 5);
}

/// Java's `CommitLog.asyncPutMessage` picks the record version itself: V1,
/// or V2 when the topic is longer than 127 bytes and
/// `autoMessageVersionOnTopicLen` is on (the default). Skylark has the key
/// but never reads it and writes the version the caller's `StoredMessage`
/// holds, refusing a long topic held as V1 with MESSAGE_ILLEGAL ("topic too
/// long for record version 1"). `StoredMessage::new` picks V2 for a long
/// topic, but a message decoded from a V1 record and sent back to a retry
/// topic of a long group name keeps V1, and Java stores it.
#[test]
fn a_retry_topic_over_127_bytes_is_stored_as_version_2_whatever_the_caller_held() {
    let dir = TempDir::new().unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    let topic = format!("%RETRY%{}", "g".repeat(193));
    // As a send-back builds it: a stored V1 record re-addressed to the retry topic.
    let mut m = msg("Short", 0, b"retry me", "", &[]);
    assert_eq!(m.version, MessageVersion::V1);
    m.topic.clone_from(&topic);
    let r = put(&store, &m);
    assert_eq!(r.status, PutMessageStatus::PutOk, "{:?}", r.error);
    settle(&store);
    let got = read_queue(&store, &topic, 0);
    let m = decode(&got[0].1);
    assert_eq!(
        (m.topic.as_str(), m.version),
        (topic.as_str(), MessageVersion::V2)
    );
}

#[test]
fn a_put_after_shutdown_is_refused_cleanly() {
    let dir = TempDir::new().unwrap();
    let config = big_config(dir.path());
    let store = MessageStore::open(config.clone()).unwrap();
    baseline(&store);
    let before = snapshot(&store, dir.path());
    store.shutdown();
    assert!(!store.is_writable());
    let m = msg("Good", 0, b"too late", "", &["late"]);
    for r in [
        store.put_message(&m).wait_blocking(),
        store.put_messages(&[m.clone(), m.clone()]).wait_blocking(),
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.put_message(&m)),
    ] {
        assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable);
        assert!(matches!(r.error, Some(StoreError::NotWritable)), "{r:?}");
        assert!(r.append.is_none());
    }
    // A second shutdown does nothing; the lock is free for the next open.
    store.shutdown();
    assert!(!dir.path().join("abort").exists());
    let next = MessageStore::open(config).unwrap();
    assert!(!next.recovery_report().crashed);
    assert_eq!(snapshot(&next, dir.path()), before);
    drop(store);
    // Dropping the old handle changes nothing for the new one.
    let good0 = before.queues.iter().find(|q| q.0 == "Good" && q.1 == 0);
    assert_eq!(
        put_ok(&next, &msg("Good", 0, b"now", "", &[])),
        good0.unwrap().3
    );
    assert!(dir.path().join("abort").exists());
}

#[test]
fn a_second_store_on_a_locked_directory_fails_to_open() {
    let dir = TempDir::new().unwrap();
    let config = big_config(dir.path());
    let first = MessageStore::open(config.clone()).unwrap();
    assert_eq!(put_ok(&first, &msg("Good", 0, b"one", "", &[])), 0);
    let lock = dir.path().join("lock");
    let err = MessageStore::open(config.clone()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { path } if *path == lock),
        "{err:?}"
    );
    assert!(err.to_string().contains("in use"), "{err}");
    // Checked before anything else: a config the files do not fit (another
    // CommitLog size) still gets Locked, not a file-size error.
    let mut other = config.clone();
    other.mapped_file_size_commit_log = 1 << 20;
    assert!(matches!(
        MessageStore::open(other),
        Err(StoreError::Locked { .. })
    ));
    // The failed opens touched nothing: the first store works on.
    assert!(dir.path().join("abort").exists());
    assert_eq!(put_ok(&first, &msg("Good", 0, b"two", "", &[])), 1);
    settle(&first);
    let bodies: Vec<_> = read_queue(&first, "Good", 0)
        .iter()
        .map(|(_, r)| decode(r).body.to_vec())
        .collect();
    assert_eq!(bodies, [b"one".to_vec(), b"two".to_vec()]);
    // Once it shuts down the directory opens, cleanly.
    first.shutdown();
    let second = MessageStore::open(config.clone()).unwrap();
    assert!(!second.recovery_report().crashed);
    assert_eq!(second.max_offset("Good", 0), 2);
    // The lock is per store, not per process: a third open still fails.
    assert!(matches!(
        MessageStore::open(config),
        Err(StoreError::Locked { .. })
    ));
    drop(first);
    assert!(second.wait_dispatched_all(Duration::from_secs(10)));
}

/// Puts racing a shutdown: each completes (none hangs), either stored —
/// then it is there after a restart, at the offsets it was given — or
/// refused with SERVICE_NOT_AVAILABLE; after the first refusal a thread
/// sees no more successes.
#[test]
fn puts_racing_a_shutdown_are_stored_or_refused_never_lost() {
    let dir = TempDir::new().unwrap();
    let mut config = big_config(dir.path());
    config.flush_disk_type = skylark_store::config::FlushDiskType::SyncFlush;
    let store = std::sync::Arc::new(MessageStore::open(config.clone()).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    for t in 0..4i32 {
        let (store, tx) = (std::sync::Arc::clone(&store), tx.clone());
        std::thread::spawn(move || {
            let mut stored = Vec::new();
            let mut refused = 0;
            for i in 0..100_000 {
                let body = format!("t{t}-{i}");
                let r = put(&store, &msg("Race", t, body.as_bytes(), "", &[]));
                match r.status {
                    PutMessageStatus::PutOk => {
                        assert_eq!(refused, 0, "stored after a refusal");
                        let a = r.append.unwrap();
                        stored.push((a.queue_offset, a.wrote_offset, body));
                    }
                    PutMessageStatus::ServiceNotAvailable => refused += 1,
                    other => panic!("{other}: {:?}", r.error),
                }
                if refused >= 10 {
                    break;
                }
            }
            tx.send((t, stored, refused)).unwrap();
        });
    }
    drop(tx);
    std::thread::sleep(Duration::from_millis(200));
    store.shutdown();
    let mut results = Vec::new();
    for _ in 0..4 {
        results.push(
            rx.recv_timeout(Duration::from_secs(30))
                .expect("a put hung"),
        );
    }
    drop(store);
    let store = MessageStore::open(config).unwrap();
    assert!(!store.recovery_report().crashed);
    for (t, stored, refused) in results {
        assert!(refused >= 10, "thread {t} was never refused");
        assert!(!stored.is_empty(), "thread {t} stored nothing");
        let got = read_queue(&store, "Race", t);
        assert_eq!(got.len(), stored.len(), "queue {t}: stored = acknowledged");
        for ((qo, rec), (want_qo, phys, body)) in got.iter().zip(&stored) {
            let m = decode(rec);
            assert_eq!((*qo, m.physical_offset), (*want_qo, *phys));
            assert_eq!(m.body.as_ref(), body.as_bytes());
        }
    }
}
