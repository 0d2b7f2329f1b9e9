//! The disk: RocketMQ's store layout, byte for byte.
//!
//! - [`mapped_file`]: one fixed-size memory-mapped file;
//! - [`mapped_file_queue`]: a directory of them named by start offset;
//! - [`commitlog`]: the append-only log of stored records;
//! - [`flush`]: group-commit (sync) and interval (async) flushing;
//! - [`checkpoint`]: the checkpoint file;
//! - [`consume_queue`]: 20-byte per-queue index entries;
//! - [`index_file`]: the hash index by message key;
//! - [`retention`]: deleting expired files, and the disk-full flag;
//! - [`message_store`]: the facade tying them together — recovery,
//!   dispatch, puts, reads, queries.

pub mod checkpoint;
pub mod commitlog;
pub mod config;
pub mod consume_queue;
pub mod error;
pub mod flush;
pub mod index_file;
pub mod mapped_file;
pub mod mapped_file_queue;
pub mod message_store;
pub mod retention;

pub use message_store::MessageStore;
