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
