//! Helpers shared by the MessageStore integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use skylark_protocol::message::{Message, StoredMessage, record};
use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;
use skylark_store::message_store::PutMessageResult;

/// CommitLog file size of the tests: a few dozen records per file.
pub const CL_FILE: usize = 64 * 1024;
/// ConsumeQueue entries per file.
pub const CQ_PER_FILE: usize = 50;

/// A config for small files under `dir`.
pub fn config(dir: &Path) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(dir);
    c.mapped_file_size_commit_log = CL_FILE;
    c.mapped_file_size_consume_queue = CQ_PER_FILE * 20;
    c.max_hash_slot_num = 512;
    c.max_index_num = 2_000;
    c.flush_interval_consume_queue = 50;
    c.max_message_size = 16 * 1024;
    c
}

/// Opens a store with [`config`].
pub fn open(dir: &Path) -> MessageStore {
    MessageStore::open(config(dir)).unwrap()
}

/// A message for `topic`/`queue_id` with `tags` and `keys`, as a broker builds it.
pub fn msg(topic: &str, queue_id: i32, body: &[u8], tags: &str, keys: &[&str]) -> StoredMessage {
    let born: SocketAddr = "192.168.0.7:40000".parse().unwrap();
    let store: SocketAddr = "10.0.0.1:10911".parse().unwrap();
    let mut m = Message::new(topic, body.to_vec());
    if !tags.is_empty() {
        m = m.with_tags(tags);
    }
    if !keys.is_empty() {
        m = m.with_keys(keys.iter().copied());
    }
    let mut s = StoredMessage::new(m, born, store);
    s.queue_id = queue_id;
    s.born_timestamp = 1_700_000_000_000;
    s
}

/// Puts `m` and waits for the result.
pub fn put(store: &MessageStore, m: &StoredMessage) -> PutMessageResult {
    store.put_message(m).wait_blocking()
}

/// Puts `m`, checks it was stored, and returns its queue offset.
pub fn put_ok(store: &MessageStore, m: &StoredMessage) -> i64 {
    let r = put(store, m);
    assert!(r.is_stored(), "{:?}", r);
    r.append.unwrap().queue_offset
}

/// Waits until everything stored is dispatched.
pub fn settle(store: &MessageStore) {
    assert!(store.wait_dispatched_all(Duration::from_secs(10)));
}

/// Decodes one record and checks its CRC.
pub fn decode(bytes: &Bytes) -> StoredMessage {
    let (m, len) = record::decode(bytes).unwrap();
    assert_eq!(len, bytes.len());
    m.verify_body_crc().unwrap();
    m
}

/// Bodies of the records of a pull.
pub fn bodies(messages: &[Bytes]) -> Vec<Vec<u8>> {
    messages.iter().map(|b| decode(b).body.to_vec()).collect()
}

/// A filter accepting every tags code.
pub fn all(_: i64) -> bool {
    true
}

/// Every record of `topic`/`queue_id` from its min offset on, with the queue
/// offset of each, checking that no offset in between is skipped.
pub fn read_queue(store: &MessageStore, topic: &str, queue_id: i32) -> Vec<(i64, Bytes)> {
    let (min, max) = (
        store.min_offset(topic, queue_id),
        store.max_offset(topic, queue_id),
    );
    let mut out = Vec::new();
    let mut offset = min;
    // Each round returns at least one record or stops: bounded by max - min.
    while offset < max {
        let r = store.get_messages(topic, queue_id, offset, 32, 1 << 20, &all);
        assert_eq!(
            r.status,
            skylark_store::message_store::GetMessageStatus::Found,
            "{topic}/{queue_id} at {offset} of [{min}, {max})"
        );
        for (qo, rec) in r.queue_offsets.iter().zip(r.messages) {
            assert_eq!(*qo, offset, "{topic}/{queue_id}: no offset is skipped");
            out.push((*qo, rec));
            offset += 1;
        }
        assert_eq!(r.next_begin_offset, offset);
    }
    out
}

/// FNV-1a over `bytes` (the checksum closing a [`seq_body`]).
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A body fully determined by `seq`: the sequence number (8 bytes BE), a
/// pseudo-random payload of `len - 12` bytes seeded by it, and the FNV-1a
/// checksum of all that (4 bytes BE). `len` is at least 12.
pub fn seq_body(seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(12);
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while body.len() < len - 4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body.push(x as u8);
    }
    let sum = fnv1a(&body);
    body.extend_from_slice(&sum.to_be_bytes());
    body
}

/// The sequence number of a body made by [`seq_body`], if it is intact
/// (same length, same bytes, checksum right).
pub fn check_seq_body(body: &[u8]) -> Option<u64> {
    let seq = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
    let (data, sum) = body.split_at(body.len().checked_sub(4)?);
    (u32::from_be_bytes(sum.try_into().ok()?) == fnv1a(data) && body == seq_body(seq, body.len()))
        .then_some(seq)
}
