//! Helpers shared by the broker's unit tests: configs and brokers in a
//! temporary directory with small store files, and storing messages.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use skylark_protocol::message::{Message, StoredMessage};
use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;

use crate::broker::Broker;
use crate::config::BrokerConfig;

/// A broker config rooted at `dir`, with store files small enough for tests.
pub(crate) fn config_in(dir: &Path) -> BrokerConfig {
    let mut store = MessageStoreConfig::with_root(dir);
    store.mapped_file_size_commit_log = 1024 * 1024;
    store.mapped_file_size_consume_queue = 1000 * 20;
    store.max_hash_slot_num = 512;
    store.max_index_num = 2000;
    BrokerConfig {
        store,
        ..BrokerConfig::default()
    }
}

/// A broker opened on [`config_in`]`(dir)`.
pub(crate) fn broker_in(dir: &Path) -> Broker {
    Broker::open(config_in(dir)).unwrap()
}

/// Stores a message with `body` on `topic`/`queue_id`, waits until it is
/// dispatched, and returns its queue offset.
pub(crate) fn put(store: &MessageStore, topic: &str, queue_id: i32, body: &[u8]) -> i64 {
    let born: SocketAddr = "192.168.0.7:40000".parse().unwrap();
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    let mut m = StoredMessage::new(Message::new(topic, body.to_vec()), born, host);
    m.queue_id = queue_id;
    let result = store.put_message(&m).wait_blocking();
    assert!(result.is_stored(), "{result:?}");
    assert!(store.wait_dispatched_all(Duration::from_secs(10)));
    result.append.unwrap().queue_offset
}

/// The caller's address handlers are given in tests.
pub(crate) fn remote() -> SocketAddr {
    "10.1.2.3:50000".parse().unwrap()
}
