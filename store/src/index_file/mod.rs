//! IndexFiles: the hash index from message keys to commit-log offsets, in
//! RocketMQ's layout (`index/IndexFile.java`, `IndexHeader.java`,
//! `IndexService.java`).
//!
//! A file is `40 + slots × 4 + entries × 20` bytes (420 000 040 with the
//! defaults): a header (begin/end timestamp, begin/end commit-log offset,
//! hash-slot count, index count), a table of `i32` slots holding the newest
//! entry number for `keyHash % slots`, and 20-byte entries `keyHash i32 |
//! phyOffset i64 | timeDiff i32 (seconds since the header's begin
//! timestamp) | prevIndex i32`, all big-endian. Entry numbers start at 1.
//! Files live in `index/` named by creation time (see [`name`] — UTC here,
//! local time in Java).
//!
//! The keys of a record are `topic#UNIQ_KEY` and `topic#k` for every
//! space-separated `KEYS` token; ROLLBACK records are not indexed. A key's
//! hash is `|String.hashCode()|` with `i32::MIN` mapped to 0. Lookups match
//! on the hash only: callers filter the records by their real keys.
//!
//! Index files are few and large; each is mapped once for its lifetime and
//! created sparse, so only touched pages cost memory or disk.

mod file;
mod name;
mod service;

use std::io;
use std::path::PathBuf;

pub use file::{IndexFile, IndexHeader};
pub use service::{IndexRequest, IndexService, QueryOffsetResult};

/// Header size (`IndexHeader.INDEX_HEADER_SIZE`).
pub const HEADER_SIZE: usize = 40;
/// Size of a hash slot.
pub const SLOT_SIZE: usize = 4;
/// Size of an entry.
pub const ENTRY_SIZE: usize = 20;
/// Default hash slots per file (`maxHashSlotNum`).
pub const DEFAULT_HASH_SLOT_NUM: u32 = 5_000_000;
/// Default entries per file (`maxIndexNum`).
pub const DEFAULT_INDEX_NUM: u32 = 20_000_000;

/// Sizing of index files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Hash slots per file (`maxHashSlotNum`).
    pub hash_slot_num: u32,
    /// Entries per file, entry 0 included (`maxIndexNum`); a file is full
    /// once the index count reaches it, so it holds `index_num - 1` keys.
    pub index_num: u32,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            hash_slot_num: DEFAULT_HASH_SLOT_NUM,
            index_num: DEFAULT_INDEX_NUM,
        }
    }
}

impl IndexConfig {
    /// The file size; Java computes it in an `int`, so it must fit one.
    pub fn file_size(&self) -> Result<usize> {
        if self.hash_slot_num == 0 || self.index_num < 2 {
            return Err(IndexError::Config(
                "need at least 1 hash slot and 2 entries",
            ));
        }
        let size = HEADER_SIZE as u64
            + u64::from(self.hash_slot_num) * SLOT_SIZE as u64
            + u64::from(self.index_num) * ENTRY_SIZE as u64;
        if size > i32::MAX as u64 {
            return Err(IndexError::Config("index file size must fit in an i32"));
        }
        usize::try_from(size).map_err(|_| IndexError::Config("index file size"))
    }
}

/// The key hash (`indexKeyHashMethod`): `|String.hashCode()|`, with
/// `i32::MIN` (whose absolute value overflows) mapped to 0.
pub fn key_hash(key: &str) -> i32 {
    abs_hash(skylark_protocol::message::java_string_hash(key))
}

/// [`key_hash`] of [`build_key`]`(topic, key)`, without allocating the key:
/// dispatch hashes every key of every message.
pub fn topic_key_hash(topic: &str, key: &str) -> i32 {
    use skylark_protocol::message::{java_string_hash, java_string_hash_from};
    let h = java_string_hash_from(java_string_hash(topic), "#");
    abs_hash(java_string_hash_from(h, key))
}

/// Java's `Math.abs` of the hash, with `Integer.MIN_VALUE` mapped to 0.
fn abs_hash(h: i32) -> i32 {
    h.wrapping_abs().max(0)
}

/// The indexed form of a key (`buildKey`): `topic#key`.
pub fn build_key(topic: &str, key: &str) -> String {
    let mut s = String::with_capacity(topic.len() + 1 + key.len());
    s.push_str(topic);
    s.push('#');
    s.push_str(key);
    s
}

/// Errors of the index service.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An I/O call failed.
    #[error("index I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file does not have the configured size.
    #[error("index file {path} has {actual} bytes, expected {expected}")]
    BadFileSize {
        /// The file.
        path: PathBuf,
        /// Its length.
        actual: u64,
        /// The configured size.
        expected: u64,
    },
    /// The configuration is unusable.
    #[error("invalid index config: {0}")]
    Config(&'static str),
}

impl IndexError {
    /// Wraps an I/O error with its path.
    fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this module.
type Result<T> = std::result::Result<T, IndexError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_size_matches_rocketmq() {
        assert_eq!(IndexConfig::default().file_size().ok(), Some(420_000_040));
        let bad = IndexConfig {
            hash_slot_num: 0,
            index_num: 10,
        };
        assert!(bad.file_size().is_err());
        let huge = IndexConfig {
            hash_slot_num: u32::MAX,
            index_num: u32::MAX,
        };
        assert!(huge.file_size().is_err());
    }

    #[test]
    fn key_hash_is_abs_of_java_hash_code() {
        assert_eq!(key_hash("a"), 97);
        assert_eq!(key_hash("polygenelubricants"), 0);
        // "TopicTest#KEY1".hashCode() is negative: its absolute value is used.
        let raw = skylark_protocol::message::java_string_hash("TopicTest#KEY1");
        assert_eq!(key_hash("TopicTest#KEY1"), raw.abs());
        assert_eq!(build_key("T", "k"), "T#k");
        for (topic, key) in [("TopicTest", "KEY1"), ("T", "k"), ("标签", "😀")] {
            assert_eq!(topic_key_hash(topic, key), key_hash(&build_key(topic, key)));
        }
    }
}
