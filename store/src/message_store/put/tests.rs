//! What `put_message` and `put_messages` store is byte for byte what the
//! old path stored: protocol's encode into a buffer, BODYCRC computed, then
//! the queue offset, physical offset and store timestamp patched in.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use skylark_protocol::message::record::{BODY_CRC_POS, MessageVersion, body_crc, decode};
use skylark_protocol::message::sysflag::MessageSysFlag;
use skylark_protocol::message::{Message, StoredMessage};

use crate::MessageStore;
use crate::commitlog::AppendResult;
use crate::config::MessageStoreConfig;
use crate::error::{PutMessageStatus, StoreError};

fn open(dir: &std::path::Path) -> MessageStore {
    let mut c = MessageStoreConfig::with_root(dir);
    c.mapped_file_size_commit_log = 64 * 1024;
    c.mapped_file_size_consume_queue = 50 * 20;
    c.max_hash_slot_num = 512;
    c.max_index_num = 2_000;
    c.max_message_size = 16 * 1024;
    MessageStore::open(c).unwrap()
}

fn msg(topic: &str, body: &[u8], born: &str, store: &str) -> StoredMessage {
    let m = Message::new(topic, body.to_vec())
        .with_tags("TagA")
        .with_keys(["k1"]);
    let mut s = StoredMessage::new(m, born.parse().unwrap(), store.parse().unwrap());
    s.queue_id = 2;
    s.born_timestamp = 1_700_000_000_000;
    s.flag = 5;
    s
}

/// The record the two-copy path stored for `m` at `r`.
fn two_copy(m: &StoredMessage, queue_offset: i64, r: &AppendResult, physical: i64) -> Vec<u8> {
    let mut m = m.clone();
    (m.queue_offset, m.physical_offset, m.store_timestamp) =
        (queue_offset, physical, r.store_timestamp);
    let mut v = Vec::new();
    m.encode(&mut v).unwrap();
    v[BODY_CRC_POS..BODY_CRC_POS + 4].copy_from_slice(&body_crc(&m.body).to_be_bytes());
    v
}

fn stored(store: &MessageStore, offset: i64) -> Vec<u8> {
    store
        .commit_log()
        .get_record(offset)
        .unwrap()
        .unwrap()
        .to_vec()
}

#[test]
fn put_message_stores_the_two_copy_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut v2 = msg("TopicV2", b"v2 record", "[fe80::1]:2", "[::1]:10911");
    v2.version = MessageVersion::V2;
    let mut prepared = msg("TopicA", b"half", "10.0.0.2:1", "10.0.0.1:10911");
    prepared.sys_flag |= MessageSysFlag::TRANSACTION_PREPARED_TYPE;
    let mut stale_crc = msg("TopicA", &[9; 3000], "10.0.0.2:1", "10.0.0.1:10911");
    stale_crc.body_crc = 12345;
    let (raw, _) = decode(&Bytes::from(two_copy(
        &msg("TopicA", b"raw props", "10.0.0.2:1", "10.0.0.1:10911"),
        0,
        &AppendResult {
            wrote_offset: 0,
            wrote_bytes: 0,
            queue_offset: 0,
            msg_num: 1,
            store_timestamp: 0,
        },
        0,
    )))
    .unwrap();
    let cases = [
        msg("TopicA", b"hello", "10.0.0.2:1", "10.0.0.1:10911"),
        msg("TopicA", b"", "[fe80::1]:2", "10.0.0.1:10911"),
        msg("TopicA", &[1; 1024], "10.0.0.2:1", "[::1]:10911"),
        v2,
        prepared,
        stale_crc,
        raw,
    ];
    // Over and over, so records also land after file rolls.
    for round in 0..16 {
        for (i, m) in cases.iter().enumerate() {
            let r = store.put_message(m).wait_blocking();
            assert_eq!(r.status, PutMessageStatus::PutOk, "{i}: {:?}", r.error);
            let a = r.append.unwrap();
            assert_eq!(a.msg_num, 1);
            assert_eq!(
                stored(&store, a.wrote_offset),
                two_copy(m, a.queue_offset, &a, a.wrote_offset),
                "round {round}, case {i}"
            );
        }
    }
    assert!(store.commit_log().queue().files().len() >= 2);
}

#[test]
fn put_messages_stores_each_record_as_the_two_copy_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut batch: Vec<_> = (0..5)
        .map(|i| {
            msg(
                "Batch",
                format!("body {i}").as_bytes(),
                "10.0.0.2:1",
                "10.0.0.1:10911",
            )
        })
        .collect();
    batch[1].born_host = "[fe80::2]:3".parse().unwrap();
    for _ in 0..2 {
        let r = store.put_messages(&batch).wait_blocking();
        assert!(r.is_stored(), "{:?}", r.error);
        let a = r.append.unwrap();
        assert_eq!(a.msg_num, 5);
        let mut at = a.wrote_offset;
        for (i, m) in batch.iter().enumerate() {
            let want = two_copy(m, a.queue_offset + i as i64, &a, at);
            assert_eq!(stored(&store, at), want, "record {i}");
            at += want.len() as i64;
        }
        assert_eq!(at, a.end_offset());
    }
}

#[test]
fn refused_puts_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let end = store.commit_log_max_offset();
    // Body within maxMessageSize, record over it: refused before the lock.
    let big = msg("TopicA", &[0; 16 * 1024], "10.0.0.2:1", "10.0.0.1:10911");
    let r = store.put_message(&big).wait_blocking();
    assert!(matches!(r.error, Some(StoreError::MessageTooLarge { .. })));
    let mut mixed = vec![msg("TopicA", b"a", "10.0.0.2:1", "10.0.0.1:10911"); 2];
    mixed[1].queue_id = 3;
    let r = store.put_messages(&mixed).wait_blocking();
    assert!(matches!(r.error, Some(StoreError::MessageIllegal(_))));
    assert_eq!(store.commit_log_max_offset(), end);
}
