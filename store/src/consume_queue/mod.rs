//! ConsumeQueues: per topic/queue arrays of 20-byte entries pointing into the
//! CommitLog, in RocketMQ's on-disk layout.
//!
//! Layout (`ConsumeQueue.java`): `consumequeue/<topic>/<queueId>/<20-digit
//! start byte offset>` files of [`ConsumeQueueConfig::file_size`] bytes
//! (300 000 entries by default). Entry *n* lives at logical byte `n × 20`:
//! commit-log offset `i64` | size `i32` | tags code `i64`, big-endian. A queue
//! whose first entry is not offset 0 pads its first file up to that entry with
//! `(0, i32::MAX, 0)`.
//!
//! Scale: a broker may hold 100 000 queues, and one mapping per file would hit
//! `vm.max_map_count`. So only the *tail* file of a queue (the one being
//! appended to) is ever mapped, and only while it holds a place in a shared
//! [`budget`] of mappings (a CLOCK approximation of LRU); an evicted queue maps
//! its tail again on its next append. Every read goes through `pread`, which
//! also keeps readers out of the writer's memory: the only thread touching a
//! mapping is the queue's writer (and `msync`). Idle queues hold no mapping and
//! no file descriptor.
//!
//! Files are mapped with `MAP_SHARED`; this assumes the store directory is
//! owned by this process (the store takes its `lock` file), so nobody else
//! truncates a file under a live mapping.

mod budget;
mod flush;
mod queue;
mod scan;
mod store;
mod write;

use std::io;
use std::path::PathBuf;

pub use queue::{AppendOutcome, ConsumeQueue};
pub use store::{ConsumeQueueStore, FlushRound};

/// Size of one ConsumeQueue entry (`CQ_STORE_UNIT_SIZE`).
pub const CQ_ENTRY_SIZE: usize = 20;

/// [`CQ_ENTRY_SIZE`] as an `i64`, for logical offset arithmetic.
const UNIT: i64 = CQ_ENTRY_SIZE as i64;

/// Default entries per file (`mappedFileSizeConsumeQueue` = 300 000 × 20).
pub const DEFAULT_ENTRIES_PER_FILE: usize = 300_000;

/// Default cap on simultaneously mapped tail files.
///
/// The kernel's default `vm.max_map_count` is 65 530 mappings per process;
/// the CommitLog (two or three 1 GiB segments mapped at a time), the
/// IndexFiles (a handful) and the rest of the process need few, so about
/// half of it goes to ConsumeQueue tails. It must exceed the number of queues written
/// round-robin, or CLOCK evicts and remaps a tail on every append: 8 192 was
/// below 10 000 queues. 100 000 queues still evict (see `BENCHMARKS.md`).
/// The budget never holds more live mappings than this (see [`budget`]).
/// Each mapped tail also keeps its file open, so the store lowers the cap to
/// what `RLIMIT_NOFILE` allows (see `ConsumeQueueStore::open`): raise
/// `ulimit -n` above the queue count as well.
pub const DEFAULT_MAX_MAPPED_TAILS: usize = 32_768;

/// One ConsumeQueue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CqEntry {
    /// Commit-log offset of the record.
    pub phys_offset: i64,
    /// Size of the record in bytes.
    pub size: i32,
    /// Tags hash code (or delivery time for the schedule topic).
    pub tags_code: i64,
}

impl CqEntry {
    /// The filler written before the first entry of a queue that starts
    /// mid-file (`fillPreBlank`).
    pub const PAD: CqEntry = CqEntry {
        phys_offset: 0,
        size: i32::MAX,
        tags_code: 0,
    };

    /// The big-endian on-disk form.
    pub fn encode(&self) -> [u8; CQ_ENTRY_SIZE] {
        let mut b = [0u8; CQ_ENTRY_SIZE];
        b[0..8].copy_from_slice(&self.phys_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// Parses the on-disk form.
    pub fn decode(b: &[u8; CQ_ENTRY_SIZE]) -> CqEntry {
        let mut phys = [0u8; 8];
        let mut size = [0u8; 4];
        let mut tags = [0u8; 8];
        phys.copy_from_slice(&b[0..8]);
        size.copy_from_slice(&b[8..12]);
        tags.copy_from_slice(&b[12..20]);
        CqEntry {
            phys_offset: i64::from_be_bytes(phys),
            size: i32::from_be_bytes(size),
            tags_code: i64::from_be_bytes(tags),
        }
    }

    /// Whether recovery treats the entry as written (`offset >= 0 && size > 0`).
    pub fn is_valid(&self) -> bool {
        self.phys_offset >= 0 && self.size > 0
    }

    /// Whether this is the [`CqEntry::PAD`] filler.
    pub fn is_pad(&self) -> bool {
        *self == CqEntry::PAD
    }

    /// Whether all 20 bytes are zero (never written).
    pub fn is_empty(&self) -> bool {
        self.phys_offset == 0 && self.size == 0 && self.tags_code == 0
    }

    /// End of the record in the commit log (`offset + size`).
    fn phys_end(&self) -> i64 {
        self.phys_offset.saturating_add(i64::from(self.size))
    }
}

/// Sizing of ConsumeQueue files and of the mapping budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeQueueConfig {
    /// Bytes per file (`mappedFileSizeConsumeQueue`); rounded up to a whole
    /// number of entries like `getMappedFileSizeConsumeQueue`.
    pub file_size: usize,
    /// Most tail files mapped at once across all queues of a store.
    pub max_mapped_tails: usize,
}

impl Default for ConsumeQueueConfig {
    fn default() -> Self {
        ConsumeQueueConfig {
            file_size: DEFAULT_ENTRIES_PER_FILE * CQ_ENTRY_SIZE,
            max_mapped_tails: DEFAULT_MAX_MAPPED_TAILS,
        }
    }
}

impl ConsumeQueueConfig {
    /// The effective file size: a positive multiple of 20 that fits an `i32`
    /// (Java maps files with `int` positions).
    pub fn effective_file_size(&self) -> Result<i64> {
        let entries = self.file_size.div_ceil(CQ_ENTRY_SIZE).max(1);
        let bytes = entries
            .checked_mul(CQ_ENTRY_SIZE)
            .filter(|b| *b <= i32::MAX as usize)
            .ok_or(ConsumeQueueError::Config("file_size must fit in an i32"))?;
        i64::try_from(bytes).map_err(|_| ConsumeQueueError::Config("file_size too large"))
    }
}

/// Errors of the ConsumeQueue store.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeQueueError {
    /// An I/O call failed.
    #[error("consume queue I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file does not have the configured size.
    #[error("consume queue file {path} has {actual} bytes, expected {expected}")]
    BadFileSize {
        /// The file.
        path: PathBuf,
        /// Its length.
        actual: u64,
        /// The configured file size.
        expected: i64,
    },
    /// The files of a queue do not follow each other.
    #[error("consume queue files in {dir} are not contiguous: {prev} then {next}")]
    NotContiguous {
        /// The queue directory.
        dir: PathBuf,
        /// Start offset of one file.
        prev: i64,
        /// Start offset of the file after it.
        next: i64,
    },
    /// The dispatcher supplied an offset past the next one to write.
    #[error("{topic}/{queue_id}: queue offset {expected} is past the next offset {next}")]
    OffsetGap {
        /// The topic.
        topic: String,
        /// The queue id.
        queue_id: i32,
        /// The offset supplied.
        expected: i64,
        /// The next offset the queue can write.
        next: i64,
    },
    /// A read asked for entries that retention already removed.
    #[error("queue offset {offset} is below the minimum offset {min}")]
    BelowMin {
        /// The requested offset.
        offset: i64,
        /// The queue's minimum offset.
        min: i64,
    },
    /// An offset is negative or overflows byte arithmetic.
    #[error("queue offset {0} is out of range")]
    BadOffset(i64),
    /// A topic cannot be used as a directory name.
    #[error("topic {0:?} is not a valid directory name")]
    InvalidTopic(String),
    /// The configuration is unusable.
    #[error("invalid consume queue config: {0}")]
    Config(&'static str),
    /// A file holds something the layout does not allow.
    #[error("corrupt consume queue file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl ConsumeQueueError {
    /// Wraps an I/O error with the path it concerns.
    fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ConsumeQueueError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this module.
type Result<T> = std::result::Result<T, ConsumeQueueError>;

/// The 20-digit file name of a file starting at `offset` (`UtilAll.offset2FileName`).
pub fn file_name(offset: i64) -> String {
    format!("{offset:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_big_endian() {
        let e = CqEntry {
            phys_offset: 0x0102_0304_0506_0708,
            size: 0x0A0B_0C0D,
            tags_code: -2,
        };
        let b = e.encode();
        assert_eq!(&b[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&b[8..12], &[0x0A, 0x0B, 0x0C, 0x0D]);
        assert_eq!(
            &b[12..20],
            &[0xFF; 7].iter().copied().chain([0xFE]).collect::<Vec<_>>()[..]
        );
        assert_eq!(CqEntry::decode(&b), e);
    }

    #[test]
    fn pad_is_valid_but_recognised() {
        assert!(CqEntry::PAD.is_valid());
        assert!(CqEntry::PAD.is_pad());
        assert!(!CqEntry::PAD.is_empty());
        assert!(CqEntry::decode(&[0; 20]).is_empty());
    }

    #[test]
    fn file_size_rounds_up_to_whole_entries() {
        let mut c = ConsumeQueueConfig::default();
        assert_eq!(c.effective_file_size().ok(), Some(6_000_000));
        c.file_size = 41;
        assert_eq!(c.effective_file_size().ok(), Some(60));
        c.file_size = 0;
        assert_eq!(c.effective_file_size().ok(), Some(20));
        c.file_size = usize::MAX;
        assert!(c.effective_file_size().is_err());
    }

    #[test]
    fn file_names_are_twenty_digits() {
        assert_eq!(file_name(0), "00000000000000000000");
        assert_eq!(file_name(6_000_000), "00000000000006000000");
    }
}
