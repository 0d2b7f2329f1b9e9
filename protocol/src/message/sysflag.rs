//! System flag words: `MessageSysFlag` (records and send headers),
//! `PullSysFlag` (pull headers) and `TopicSysFlag` (topic configs).
//!
//! Each is an uninhabited namespace holding the bit constants and the helpers
//! Java has, so code reads like the Java it is checked against.

/// The transaction bits (2–3) of a message sysflag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// A normal message (0).
    Not,
    /// A half message awaiting commit or rollback (0x4).
    Prepared,
    /// A commit of a half message (0x8).
    Commit,
    /// A rollback of a half message (0xC).
    Rollback,
}

impl TransactionType {
    /// The type held in `sys_flag`.
    pub const fn from_sys_flag(sys_flag: i32) -> Self {
        match sys_flag & MessageSysFlag::TRANSACTION_ROLLBACK_TYPE {
            MessageSysFlag::TRANSACTION_PREPARED_TYPE => Self::Prepared,
            MessageSysFlag::TRANSACTION_COMMIT_TYPE => Self::Commit,
            MessageSysFlag::TRANSACTION_ROLLBACK_TYPE => Self::Rollback,
            _ => Self::Not,
        }
    }

    /// The type's bits within a sysflag.
    pub const fn bits(self) -> i32 {
        match self {
            Self::Not => MessageSysFlag::TRANSACTION_NOT_TYPE,
            Self::Prepared => MessageSysFlag::TRANSACTION_PREPARED_TYPE,
            Self::Commit => MessageSysFlag::TRANSACTION_COMMIT_TYPE,
            Self::Rollback => MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
        }
    }
}

/// The body compression named by bits 8–10 of a message sysflag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// LZ4 (1).
    Lz4,
    /// Zstandard (2).
    Zstd,
    /// zlib (3, and 0 from clients older than compression types).
    Zlib,
}

impl CompressionType {
    /// The type for a 3-bit value; `None` for 4–7, which Java rejects.
    pub const fn from_value(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::Lz4),
            2 => Some(Self::Zstd),
            0 | 3 => Some(Self::Zlib),
            _ => None,
        }
    }

    /// The type named by `sys_flag` (`MessageSysFlag.getCompressionType`).
    pub const fn from_sys_flag(sys_flag: i32) -> Option<Self> {
        Self::from_value((sys_flag & MessageSysFlag::COMPRESSION_TYPE_COMPARATOR) >> 8)
    }

    /// The type's 3-bit value.
    pub const fn value(self) -> i32 {
        match self {
            Self::Lz4 => 1,
            Self::Zstd => 2,
            Self::Zlib => 3,
        }
    }

    /// The type's bits within a sysflag.
    pub const fn sys_flag_bits(self) -> i32 {
        self.value() << 8
    }
}

/// `MessageSysFlag`: bits of the SYSFLAG field of records and send headers.
#[derive(Debug)]
pub enum MessageSysFlag {}

impl MessageSysFlag {
    /// The body is compressed (type in bits 8–10).
    pub const COMPRESSED_FLAG: i32 = 0x1;
    /// The tags hold several tags (unused by current clients).
    pub const MULTI_TAGS_FLAG: i32 = 0x1 << 1;
    /// Not a transactional message.
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    /// A transactional half message.
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
    /// Commits a half message.
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
    /// Rolls back a half message; also the mask of the transaction bits.
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
    /// The born host is IPv6 (20 bytes instead of 8).
    pub const BORNHOST_V6_FLAG: i32 = 0x1 << 4;
    /// The store host is IPv6 (20 bytes instead of 8).
    pub const STOREHOSTADDRESS_V6_FLAG: i32 = 0x1 << 5;
    /// The body is a batch the broker must unwrap.
    pub const NEED_UNWRAP_FLAG: i32 = 0x1 << 6;
    /// The record is an inner batch (several messages in one record).
    pub const INNER_BATCH_FLAG: i32 = 0x1 << 7;
    /// Compression type LZ4.
    pub const COMPRESSION_LZ4_TYPE: i32 = 0x1 << 8;
    /// Compression type Zstandard.
    pub const COMPRESSION_ZSTD_TYPE: i32 = 0x2 << 8;
    /// Compression type zlib.
    pub const COMPRESSION_ZLIB_TYPE: i32 = 0x3 << 8;
    /// Mask of the compression type bits.
    pub const COMPRESSION_TYPE_COMPARATOR: i32 = 0x7 << 8;

    /// The transaction bits of `flag` (`getTransactionValue`).
    pub const fn transaction_value(flag: i32) -> i32 {
        flag & Self::TRANSACTION_ROLLBACK_TYPE
    }

    /// The transaction type of `flag`.
    pub const fn transaction_type(flag: i32) -> TransactionType {
        TransactionType::from_sys_flag(flag)
    }

    /// `flag` with its transaction bits replaced by `ty`.
    pub const fn reset_transaction_value(flag: i32, ty: TransactionType) -> i32 {
        (flag & !Self::TRANSACTION_ROLLBACK_TYPE) | ty.bits()
    }

    /// `flag` without the compressed bit.
    pub const fn clear_compressed_flag(flag: i32) -> i32 {
        flag & !Self::COMPRESSED_FLAG
    }

    /// The compression type of `flag` (meaningful only with the compressed bit).
    pub const fn compression_type(flag: i32) -> Option<CompressionType> {
        CompressionType::from_sys_flag(flag)
    }

    /// Whether `flag` has any bit of `expected` (Java's `check`).
    pub const fn check(flag: i32, expected: i32) -> bool {
        flag & expected != 0
    }

    /// Whether the body is compressed.
    pub const fn is_compressed(flag: i32) -> bool {
        Self::check(flag, Self::COMPRESSED_FLAG)
    }

    /// Whether the born host is stored as IPv6.
    pub const fn is_born_host_v6(flag: i32) -> bool {
        Self::check(flag, Self::BORNHOST_V6_FLAG)
    }

    /// Whether the store host is stored as IPv6.
    pub const fn is_store_host_v6(flag: i32) -> bool {
        Self::check(flag, Self::STOREHOSTADDRESS_V6_FLAG)
    }
}

/// `PullSysFlag`: bits of the `sysFlag` field of PULL_MESSAGE headers.
#[derive(Debug)]
pub enum PullSysFlag {}

impl PullSysFlag {
    /// The request carries the consumer's offset to commit.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// The broker may hold the request (long polling).
    pub const SUSPEND: i32 = 0x1 << 1;
    /// The request carries its subscription expression.
    pub const SUBSCRIPTION: i32 = 0x1 << 2;
    /// Class filtering (removed in 5.x, still a bit).
    pub const CLASS_FILTER: i32 = 0x1 << 3;
    /// The request comes from a lite pull consumer.
    pub const LITE_PULL: i32 = 0x1 << 4;

    /// Builds a flag word from its parts (`buildSysFlag`).
    pub const fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= Self::COMMIT_OFFSET;
        }
        if suspend {
            flag |= Self::SUSPEND;
        }
        if subscription {
            flag |= Self::SUBSCRIPTION;
        }
        if class_filter {
            flag |= Self::CLASS_FILTER;
        }
        if lite_pull {
            flag |= Self::LITE_PULL;
        }
        flag
    }

    /// `flag` without COMMIT_OFFSET (the broker clears it for slaves).
    pub const fn clear_commit_offset(flag: i32) -> i32 {
        flag & !Self::COMMIT_OFFSET
    }

    /// `flag` without SUSPEND.
    pub const fn clear_suspend(flag: i32) -> i32 {
        flag & !Self::SUSPEND
    }

    /// `flag` with SUBSCRIPTION.
    pub const fn with_subscription(flag: i32) -> i32 {
        flag | Self::SUBSCRIPTION
    }

    /// Whether COMMIT_OFFSET is set.
    pub const fn has_commit_offset(flag: i32) -> bool {
        flag & Self::COMMIT_OFFSET == Self::COMMIT_OFFSET
    }

    /// Whether SUSPEND is set.
    pub const fn has_suspend(flag: i32) -> bool {
        flag & Self::SUSPEND == Self::SUSPEND
    }

    /// Whether SUBSCRIPTION is set.
    pub const fn has_subscription(flag: i32) -> bool {
        flag & Self::SUBSCRIPTION == Self::SUBSCRIPTION
    }

    /// Whether CLASS_FILTER is set.
    pub const fn has_class_filter(flag: i32) -> bool {
        flag & Self::CLASS_FILTER == Self::CLASS_FILTER
    }

    /// Whether LITE_PULL is set.
    pub const fn has_lite_pull(flag: i32) -> bool {
        flag & Self::LITE_PULL == Self::LITE_PULL
    }
}

/// `TopicSysFlag`: bits of a topic config's `topicSysFlag`.
#[derive(Debug)]
pub enum TopicSysFlag {}

impl TopicSysFlag {
    /// A unit (cell) topic.
    pub const UNIT: i32 = 0x1;
    /// A topic with unit subscriptions.
    pub const UNIT_SUB: i32 = 0x1 << 1;

    /// Builds a flag word from its parts.
    pub const fn build(unit: bool, unit_sub: bool) -> i32 {
        let mut flag = 0;
        if unit {
            flag |= Self::UNIT;
        }
        if unit_sub {
            flag |= Self::UNIT_SUB;
        }
        flag
    }

    /// `flag` with UNIT.
    pub const fn set_unit(flag: i32) -> i32 {
        flag | Self::UNIT
    }

    /// `flag` without UNIT.
    pub const fn clear_unit(flag: i32) -> i32 {
        flag & !Self::UNIT
    }

    /// Whether UNIT is set.
    pub const fn has_unit(flag: i32) -> bool {
        flag & Self::UNIT == Self::UNIT
    }

    /// `flag` with UNIT_SUB.
    pub const fn set_unit_sub(flag: i32) -> i32 {
        flag | Self::UNIT_SUB
    }

    /// `flag` without UNIT_SUB.
    pub const fn clear_unit_sub(flag: i32) -> i32 {
        flag & !Self::UNIT_SUB
    }

    /// Whether UNIT_SUB is set.
    pub const fn has_unit_sub(flag: i32) -> bool {
        flag & Self::UNIT_SUB == Self::UNIT_SUB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sys_flag_bits() {
        assert_eq!(MessageSysFlag::TRANSACTION_PREPARED_TYPE, 0x4);
        assert_eq!(MessageSysFlag::TRANSACTION_COMMIT_TYPE, 0x8);
        assert_eq!(MessageSysFlag::TRANSACTION_ROLLBACK_TYPE, 0xC);
        assert_eq!(MessageSysFlag::BORNHOST_V6_FLAG, 0x10);
        assert_eq!(MessageSysFlag::STOREHOSTADDRESS_V6_FLAG, 0x20);
        assert_eq!(MessageSysFlag::NEED_UNWRAP_FLAG, 0x40);
        assert_eq!(MessageSysFlag::INNER_BATCH_FLAG, 0x80);
        assert_eq!(MessageSysFlag::COMPRESSION_TYPE_COMPARATOR, 0x700);
    }

    #[test]
    fn transaction_type_round_trips() {
        for ty in [
            TransactionType::Not,
            TransactionType::Prepared,
            TransactionType::Commit,
            TransactionType::Rollback,
        ] {
            let flag = MessageSysFlag::reset_transaction_value(0x7F3, ty);
            assert_eq!(MessageSysFlag::transaction_type(flag), ty);
            assert_eq!(MessageSysFlag::transaction_value(flag), ty.bits());
            assert_eq!(flag & !0xC, 0x7F3 & !0xC, "other bits untouched");
        }
    }

    #[test]
    fn compression_type() {
        assert_eq!(
            MessageSysFlag::compression_type(0x1),
            Some(CompressionType::Zlib)
        );
        assert_eq!(
            MessageSysFlag::compression_type(0x101),
            Some(CompressionType::Lz4)
        );
        assert_eq!(
            MessageSysFlag::compression_type(0x201),
            Some(CompressionType::Zstd)
        );
        assert_eq!(
            MessageSysFlag::compression_type(0x301),
            Some(CompressionType::Zlib)
        );
        assert_eq!(MessageSysFlag::compression_type(0x401), None);
        assert_eq!(
            CompressionType::Zstd.sys_flag_bits(),
            MessageSysFlag::COMPRESSION_ZSTD_TYPE
        );
        assert_eq!(
            CompressionType::Lz4.sys_flag_bits(),
            MessageSysFlag::COMPRESSION_LZ4_TYPE
        );
        assert_eq!(
            CompressionType::Zlib.sys_flag_bits(),
            MessageSysFlag::COMPRESSION_ZLIB_TYPE
        );
        assert!(MessageSysFlag::is_compressed(0x301));
        assert_eq!(MessageSysFlag::clear_compressed_flag(0x301), 0x300);
        assert!(MessageSysFlag::is_born_host_v6(0x10));
        assert!(!MessageSysFlag::is_store_host_v6(0x10));
        assert!(MessageSysFlag::is_store_host_v6(0x20));
        assert!(MessageSysFlag::check(0x30, 0x21));
    }

    #[test]
    fn pull_sys_flag() {
        let f = PullSysFlag::build(true, true, false, false, true);
        assert_eq!(f, 0x13);
        assert!(PullSysFlag::has_commit_offset(f));
        assert!(PullSysFlag::has_suspend(f));
        assert!(!PullSysFlag::has_subscription(f));
        assert!(!PullSysFlag::has_class_filter(f));
        assert!(PullSysFlag::has_lite_pull(f));
        assert_eq!(PullSysFlag::clear_commit_offset(f), 0x12);
        assert_eq!(PullSysFlag::clear_suspend(f), 0x11);
        assert!(PullSysFlag::has_subscription(
            PullSysFlag::with_subscription(f)
        ));
        assert_eq!(PullSysFlag::build(false, false, true, true, false), 0xC);
    }

    #[test]
    fn topic_sys_flag() {
        assert_eq!(TopicSysFlag::build(true, true), 3);
        assert_eq!(TopicSysFlag::build(false, false), 0);
        assert!(TopicSysFlag::has_unit(TopicSysFlag::set_unit(0)));
        assert!(!TopicSysFlag::has_unit(TopicSysFlag::clear_unit(3)));
        assert!(TopicSysFlag::has_unit_sub(TopicSysFlag::set_unit_sub(0)));
        assert_eq!(TopicSysFlag::clear_unit_sub(3), 1);
    }
}
