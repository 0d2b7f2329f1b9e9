//! Topic and group names: validation as `TopicValidator` does it, the system
//! topics, and the retry/DLQ naming of `MixAll`.

/// Template topic auto-created topics copy their config from.
pub const AUTO_CREATE_TOPIC_KEY_TOPIC: &str = "TBW102";
/// Holds delayed messages until their level's time passes (18 queues).
pub const RMQ_SYS_SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Benchmark topic.
pub const RMQ_SYS_BENCHMARK_TOPIC: &str = "BenchmarkTest";
/// Holds transactional half messages.
pub const RMQ_SYS_TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Default message-trace topic.
pub const RMQ_SYS_TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// Records commit/rollback of half messages.
pub const RMQ_SYS_TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Receives half messages checked too often.
pub const RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Self-test topic.
pub const RMQ_SYS_SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Receives offset-moved events.
pub const RMQ_SYS_OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// RocksDB offset checkpoint topic.
pub const RMQ_SYS_ROCKSDB_OFFSET_TOPIC: &str = "CHECKPOINT_TOPIC";
/// Prefix making any topic a system topic.
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";
/// Prefix of retry topics: `%RETRY%<group>`.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of dead-letter topics: `%DLQ%<group>`.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Prefix of light message queue topics.
pub const LMQ_PREFIX: &str = "%LMQ%";

/// Longest ordinary topic name.
pub const TOPIC_MAX_LEN: usize = 127;
/// Longest retry or DLQ topic name.
pub const RETRY_OR_DLQ_TOPIC_MAX_LEN: usize = 255;
/// Longest group name (leaves room for `%RETRY%` and suffixes).
pub const GROUP_MAX_LEN: usize = 120;

/// Topics the broker creates and treats as internal (`SYSTEM_TOPIC_SET`).
pub const SYSTEM_TOPICS: &[&str] = &[
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_BENCHMARK_TOPIC,
    RMQ_SYS_TRANS_HALF_TOPIC,
    RMQ_SYS_TRACE_TOPIC,
    RMQ_SYS_TRANS_OP_HALF_TOPIC,
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC,
    RMQ_SYS_OFFSET_MOVED_EVENT,
    RMQ_SYS_ROCKSDB_OFFSET_TOPIC,
];

/// Topics clients may not send to (`NOT_ALLOWED_SEND_TOPIC_SET`).
pub const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_TRANS_HALF_TOPIC,
    RMQ_SYS_TRANS_OP_HALF_TOPIC,
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC,
    RMQ_SYS_OFFSET_MOVED_EVENT,
];

/// Why a topic or group name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or only whitespace.
    #[error("the name is blank")]
    Blank,
    /// Contains a character outside `[%|a-zA-Z0-9_-]`.
    #[error("the name contains {0:?}; only [%|a-zA-Z0-9_-] are allowed")]
    IllegalChar(char),
    /// Longer than allowed.
    #[error("the name is {len} characters long, more than the {max} allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit that applies to it.
        max: usize,
    },
}

/// Whether `c` may appear in a topic or group name.
pub const fn is_valid_name_char(c: char) -> bool {
    matches!(c, '%' | '|' | '-' | '_' | '0'..='9' | 'a'..='z' | 'A'..='Z')
}

/// Blank and character checks shared by topics and groups.
fn check_chars(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Blank);
    }
    match name.chars().find(|&c| !is_valid_name_char(c)) {
        Some(c) => Err(NameError::IllegalChar(c)),
        None => Ok(()),
    }
}

/// Validates a topic name (`validateTopic`): allowed characters, at most 127
/// characters, or 255 for `%RETRY%` and `%DLQ%` topics.
pub fn validate_topic(topic: &str) -> Result<(), NameError> {
    check_chars(topic)?;
    let max = if is_retry_topic(topic) || is_dlq_topic(topic) {
        RETRY_OR_DLQ_TOPIC_MAX_LEN
    } else {
        TOPIC_MAX_LEN
    };
    // Only ASCII passed the character check, so bytes are characters.
    if topic.len() > max {
        return Err(NameError::TooLong {
            len: topic.len(),
            max,
        });
    }
    Ok(())
}

/// Validates a group name (`validateGroup`): allowed characters, at most 120.
pub fn validate_group(group: &str) -> Result<(), NameError> {
    check_chars(group)?;
    if group.len() > GROUP_MAX_LEN {
        return Err(NameError::TooLong {
            len: group.len(),
            max: GROUP_MAX_LEN,
        });
    }
    Ok(())
}

/// Whether `topic` is a system topic (listed, or prefixed `rmq_sys_`).
pub fn is_system_topic(topic: &str) -> bool {
    SYSTEM_TOPICS.contains(&topic) || topic.starts_with(SYSTEM_TOPIC_PREFIX)
}

/// Whether clients are refused when sending to `topic`.
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
}

/// The retry topic of a consumer group: `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    [RETRY_GROUP_TOPIC_PREFIX, group].concat()
}

/// The dead-letter topic of a consumer group: `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    [DLQ_GROUP_TOPIC_PREFIX, group].concat()
}

/// Whether `topic` is a retry topic.
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a dead-letter topic.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// The group of a retry topic (`%RETRY%g` gives `g`).
pub fn group_of_retry_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX)
}

/// The group of a dead-letter topic (`%DLQ%g` gives `g`).
pub fn group_of_dlq_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(DLQ_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a light message queue topic (`%LMQ%…`).
pub fn is_lmq_topic(topic: &str) -> bool {
    topic.starts_with(LMQ_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_topics() {
        assert_eq!(validate_topic("TopicTest"), Ok(()));
        assert_eq!(validate_topic("a|b%c-d_e09"), Ok(()));
        assert_eq!(validate_topic(""), Err(NameError::Blank));
        assert_eq!(validate_topic("  "), Err(NameError::Blank));
        assert_eq!(validate_topic("a b"), Err(NameError::IllegalChar(' ')));
        assert_eq!(validate_topic("a.b"), Err(NameError::IllegalChar('.')));
        assert_eq!(validate_topic("tópico"), Err(NameError::IllegalChar('ó')));
        assert_eq!(validate_topic(&"t".repeat(127)), Ok(()));
        assert_eq!(
            validate_topic(&"t".repeat(128)),
            Err(NameError::TooLong { len: 128, max: 127 })
        );
        let retry = retry_topic(&"g".repeat(248));
        assert_eq!(retry.len(), 255);
        assert_eq!(validate_topic(&retry), Ok(()));
        assert_eq!(
            validate_topic(&dlq_topic(&"g".repeat(251))),
            Err(NameError::TooLong { len: 256, max: 255 })
        );
    }

    #[test]
    fn validates_groups() {
        assert_eq!(validate_group("CID_consumer-1"), Ok(()));
        assert_eq!(validate_group(""), Err(NameError::Blank));
        assert_eq!(validate_group("g/1"), Err(NameError::IllegalChar('/')));
        assert_eq!(validate_group(&"g".repeat(120)), Ok(()));
        assert_eq!(
            validate_group(&"g".repeat(121)),
            Err(NameError::TooLong { len: 121, max: 120 })
        );
    }

    #[test]
    fn system_topics_and_prefixes() {
        assert!(is_system_topic("TBW102"));
        assert!(is_system_topic("rmq_sys_anything"));
        assert!(!is_system_topic("TopicTest"));
        assert!(is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(is_not_allowed_send_topic("OFFSET_MOVED_EVENT"));
        assert!(!is_not_allowed_send_topic("TBW102"));
        assert!(!is_not_allowed_send_topic("RMQ_SYS_TRACE_TOPIC"));
        assert_eq!(retry_topic("g"), "%RETRY%g");
        assert_eq!(dlq_topic("g"), "%DLQ%g");
        assert!(is_retry_topic("%RETRY%g") && !is_retry_topic("%DLQ%g"));
        assert!(is_dlq_topic("%DLQ%g"));
        assert_eq!(group_of_retry_topic("%RETRY%g"), Some("g"));
        assert_eq!(group_of_dlq_topic("%DLQ%g"), Some("g"));
        assert_eq!(group_of_retry_topic("g"), None);
        assert!(is_lmq_topic("%LMQ%x"));
        assert!(is_valid_name_char('|') && !is_valid_name_char('#'));
    }
}
