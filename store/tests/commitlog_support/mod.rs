//! Helpers shared by the CommitLog and flush integration tests.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use skylark_protocol::message::{Message, StoredMessage, record};
use skylark_store::commitlog::CommitLogOptions;
use skylark_store::mapped_file::{DiskSync, MappedFile};

/// An encoded record as a broker would hand it to the store.
pub fn record(topic: &str, queue_id: i32, body: &[u8]) -> Vec<u8> {
    record_with_sys_flag(topic, queue_id, body, 0)
}

/// An encoded record with extra sysflag bits (transaction types).
pub fn record_with_sys_flag(topic: &str, queue_id: i32, body: &[u8], sys_flag: i32) -> Vec<u8> {
    let born: SocketAddr = "192.168.0.7:40000".parse().unwrap();
    let store: SocketAddr = "10.0.0.1:10911".parse().unwrap();
    let mut msg = StoredMessage::new(
        Message::new(topic, body.to_vec()).with_tags("TagA"),
        born,
        store,
    );
    msg.queue_id = queue_id;
    msg.sys_flag |= sys_flag;
    msg.born_timestamp = 1_700_000_000_000;
    msg.to_bytes().unwrap().to_vec()
}

/// Decodes one stored record.
pub fn decode(bytes: &Bytes) -> StoredMessage {
    let (msg, len) = record::decode(bytes).unwrap();
    assert_eq!(len, bytes.len());
    msg.verify_body_crc().unwrap();
    msg
}

/// Options for small files in `dir`.
pub fn options(dir: &Path, file_size: usize) -> CommitLogOptions {
    CommitLogOptions::new(dir.join("commitlog"), file_size)
}

/// A [`DiskSync`] that counts flushes and can be slowed down.
#[derive(Debug, Default)]
pub struct CountingSync {
    pub calls: AtomicU64,
    pub delay_ms: AtomicU64,
}

impl CountingSync {
    pub fn new(delay_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU64::new(0),
            delay_ms: AtomicU64::new(delay_ms),
        })
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl DiskSync for CountingSync {
    fn sync_range(&self, file: &MappedFile, offset: usize, len: usize) -> std::io::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        file.msync(offset, len)
    }
}
