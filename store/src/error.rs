//! Store errors and RocketMQ's `PutMessageStatus`.

use std::io;
use std::path::PathBuf;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O call failed; `op` says what the store was doing to `path`.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What the store was doing ("create", "map", "flush", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A record is larger than `maxMessageSize` or than a file can hold.
    #[error("record of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// The record's size.
        len: usize,
        /// The limit it exceeds.
        max: usize,
    },
    /// The bytes handed to an append are not a well-formed record (or batch).
    #[error("illegal record: {0}")]
    MessageIllegal(&'static str),
    /// A ConsumeQueue operation failed.
    #[error(transparent)]
    ConsumeQueue(#[from] crate::consume_queue::ConsumeQueueError),
    /// An IndexFile operation failed.
    #[error(transparent)]
    Index(#[from] crate::index_file::IndexError),
    /// The store directory is locked by another process (or store).
    #[error("store {} is in use by another process", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The topic name is not allowed (`validateTopic`).
    #[error("illegal topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The topic.
        topic: String,
        /// What is wrong with it.
        #[source]
        reason: skylark_protocol::message::NameError,
    },
    /// The properties exceed the 32767 bytes a record can hold.
    #[error("properties of {len} bytes exceed 32767")]
    PropertiesTooLong {
        /// Their encoded length.
        len: usize,
    },
    /// The store refuses writes (a flush failed, the disk is full, or it shut down).
    #[error("store is not writable")]
    NotWritable,
    /// The disk holding `path` has no room left.
    #[error("disk full at {}", path.display())]
    DiskFull {
        /// The file that could not grow.
        path: PathBuf,
    },
    /// Bytes at `offset` are not a valid record.
    #[error("corrupt record at offset {offset}: {fault}")]
    CorruptRecord {
        /// CommitLog offset of the bad record.
        offset: i64,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// A setting is out of range.
    #[error("invalid store config: {0}")]
    InvalidConfig(&'static str),
    /// A store file has a size other than the configured one.
    #[error("{} is {actual} bytes, expected {expected}", path.display())]
    BadFileSize {
        /// The file.
        path: PathBuf,
        /// The configured file size.
        expected: u64,
        /// The size on disk.
        actual: u64,
    },
    /// A store file's name is not a 20-digit offset.
    #[error("{} is not named by a 20-digit offset", path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
    },
    /// The files of a queue do not follow each other without gaps.
    #[error("{} does not follow the previous file (expected start offset {expected})", path.display())]
    FileGap {
        /// The out-of-place file.
        path: PathBuf,
        /// The start offset it should have.
        expected: i64,
    },
    /// An append was asked to start at an offset other than the log's end.
    #[error("append at offset {requested}, but the log ends at {expected}")]
    OffsetMismatch {
        /// Where the log ends (the only offset an append may start at).
        expected: i64,
        /// Where the caller wanted to write.
        requested: i64,
    },
    /// Dispatch did not reach the CommitLog end in time (a truncation
    /// waits for it).
    #[error(
        "dispatch only reached offset {dispatched} of {end} in time; retry when it has caught up"
    )]
    DispatchBehind {
        /// Where dispatch stood.
        dispatched: i64,
        /// The CommitLog end.
        end: i64,
    },
    /// An offset lies outside the stored range.
    #[error("offset {offset} is outside the stored range [{min}, {max})")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The smallest stored offset.
        min: i64,
        /// The end of the stored data.
        max: i64,
    },
}

impl StoreError {
    /// An [`Io`](Self::Io) error for `op` on `path`; `ENOSPC` becomes [`DiskFull`](Self::DiskFull).
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.kind() == io::ErrorKind::StorageFull {
            return Self::DiskFull { path };
        }
        Self::Io { op, path, source }
    }

    /// The status a put that failed with this error reports to the producer.
    pub fn put_status(&self) -> PutMessageStatus {
        match self {
            Self::MessageTooLarge { .. } | Self::MessageIllegal(_) | Self::InvalidTopic { .. } => {
                PutMessageStatus::MessageIllegal
            }
            Self::PropertiesTooLong { .. } => PutMessageStatus::PropertiesSizeExceeded,
            Self::NotWritable | Self::DiskFull { .. } => PutMessageStatus::ServiceNotAvailable,
            Self::Io { op: "create", .. } => PutMessageStatus::CreateMappedFileFailed,
            _ => PutMessageStatus::UnknownError,
        }
    }
}

/// What is wrong with a record found while reading or scanning the CommitLog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    /// The magic code is neither a record version nor BLANK.
    #[error("bad magic code {0:#010x}")]
    BadMagic(u32),
    /// TOTALSIZE is impossible (too small, too large, or past the file end).
    #[error("bad total size {0}")]
    BadTotalSize(i32),
    /// The record's field lengths do not add up to TOTALSIZE.
    #[error("field lengths disagree with the total size {0}")]
    SizeMismatch(i32),
    /// The bytes end before the record does.
    #[error("record needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// The body does not match BODYCRC.
    #[error("body CRC {computed} does not match the stored {stored}")]
    BodyCrc {
        /// BODYCRC as stored.
        stored: i32,
        /// CRC of the body as found.
        computed: i32,
    },
    /// A BLANK record whose TOTALSIZE is not the room left in its file.
    #[error("BLANK record of {total_size} bytes with {left} bytes left in the file")]
    BadBlank {
        /// TOTALSIZE of the BLANK record.
        total_size: i32,
        /// Bytes from the record to the end of its file.
        left: usize,
    },
    /// PHYSICALOFFSET disagrees with where the record lies.
    #[error("record says it is at offset {stored}")]
    WrongPhysicalOffset {
        /// PHYSICALOFFSET as stored.
        stored: i64,
    },
}

/// The outcome of a put, named as RocketMQ's `PutMessageStatus`.
///
/// Flush and replica timeouts mean the message *is* stored; clients treat
/// them as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutMessageStatus {
    /// Stored (and flushed / replicated as configured).
    PutOk,
    /// Stored, but the sync flush did not finish within `syncFlushTimeout`.
    FlushDiskTimeout,
    /// Stored, but no in-sync replica acknowledged it in time.
    FlushSlaveTimeout,
    /// Stored, but no replica was available for a SYNC_MASTER.
    SlaveNotAvailable,
    /// The store is shut down, a slave, or not writable.
    ServiceNotAvailable,
    /// A new CommitLog file could not be created.
    CreateMappedFileFailed,
    /// The message is malformed or too large.
    MessageIllegal,
    /// The properties exceed 32767 bytes.
    PropertiesSizeExceeded,
    /// The page cache is too busy (the append lock was held too long).
    OsPageCacheBusy,
    /// Anything else.
    UnknownError,
    /// Fewer in-sync replicas than required.
    InSyncReplicasNotEnough,
    /// Forwarding to a remote broker failed.
    PutToRemoteBrokerFail,
    /// Too many light-message-queue consume queues.
    LmqConsumeQueueNumExceeded,
    /// The timer wheel is flow controlled.
    WheelTimerFlowControl,
    /// The timer message is illegal.
    WheelTimerMsgIllegal,
    /// The timer wheel is disabled.
    WheelTimerNotEnable,
}

impl PutMessageStatus {
    /// The Java enum constant's name, e.g. `FLUSH_DISK_TIMEOUT`.
    pub const fn java_name(self) -> &'static str {
        match self {
            Self::PutOk => "PUT_OK",
            Self::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            Self::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            Self::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
            Self::ServiceNotAvailable => "SERVICE_NOT_AVAILABLE",
            Self::CreateMappedFileFailed => "CREATE_MAPPED_FILE_FAILED",
            Self::MessageIllegal => "MESSAGE_ILLEGAL",
            Self::PropertiesSizeExceeded => "PROPERTIES_SIZE_EXCEEDED",
            Self::OsPageCacheBusy => "OS_PAGE_CACHE_BUSY",
            Self::UnknownError => "UNKNOWN_ERROR",
            Self::InSyncReplicasNotEnough => "IN_SYNC_REPLICAS_NOT_ENOUGH",
            Self::PutToRemoteBrokerFail => "PUT_TO_REMOTE_BROKER_FAIL",
            Self::LmqConsumeQueueNumExceeded => "LMQ_CONSUME_QUEUE_NUM_EXCEEDED",
            Self::WheelTimerFlowControl => "WHEEL_TIMER_FLOW_CONTROL",
            Self::WheelTimerMsgIllegal => "WHEEL_TIMER_MSG_ILLEGAL",
            Self::WheelTimerNotEnable => "WHEEL_TIMER_NOT_ENABLE",
        }
    }

    /// Whether the message was stored (possibly with a flush or replica timeout).
    pub const fn is_stored(self) -> bool {
        matches!(
            self,
            Self::PutOk
                | Self::FlushDiskTimeout
                | Self::FlushSlaveTimeout
                | Self::SlaveNotAvailable
        )
    }
}

impl std::fmt::Display for PutMessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.java_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_becomes_disk_full() {
        let e = StoreError::io("write", "/x", io::Error::from(io::ErrorKind::StorageFull));
        assert!(matches!(e, StoreError::DiskFull { .. }));
        assert_eq!(e.put_status(), PutMessageStatus::ServiceNotAvailable);
        let e = StoreError::io(
            "create",
            "/x",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert_eq!(e.put_status(), PutMessageStatus::CreateMappedFileFailed);
        assert!(e.to_string().starts_with("create /x: "));
    }

    #[test]
    fn status_names_match_java() {
        assert_eq!(
            PutMessageStatus::FlushDiskTimeout.to_string(),
            "FLUSH_DISK_TIMEOUT"
        );
        assert!(PutMessageStatus::FlushDiskTimeout.is_stored());
        assert!(!PutMessageStatus::MessageIllegal.is_stored());
    }
}
