//! Property names (`MessageConst`) and typed accessors for the common ones.
//!
//! Numeric getters return `None` both when the property is absent and when it
//! does not parse, where Java's `Integer.parseInt` would throw.

use super::properties::Properties;

/// `KEYS`: space-separated business keys, indexed for QUERY_MESSAGE.
pub const KEYS: &str = "KEYS";
/// `TAGS`: the tag consumers filter on.
pub const TAGS: &str = "TAGS";
/// `WAIT`: whether a sync send waits for flush/replication ("true" when absent).
pub const WAIT_STORE_MSG_OK: &str = "WAIT";
/// `DELAY`: the delay level (1–18) of a scheduled message.
pub const DELAY_TIME_LEVEL: &str = "DELAY";
/// `RETRY_TOPIC`: the original topic of a message in `%RETRY%<group>`.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// `REAL_TOPIC`: the topic a scheduled or half message really belongs to.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// `REAL_QID`: the queue a scheduled or half message really belongs to.
pub const REAL_QUEUE_ID: &str = "REAL_QID";
/// `TRAN_MSG`: "true" on transactional (half) messages.
pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
/// `PGROUP`: the producer group, for transaction checks.
pub const PRODUCER_GROUP: &str = "PGROUP";
/// `MIN_OFFSET`: the queue's minimum offset, set on pulled messages.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// `MAX_OFFSET`: the queue's maximum offset, set on pulled messages.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// `BUYER_ID`.
pub const BUYER_ID: &str = "BUYER_ID";
/// `ORIGIN_MESSAGE_ID`: the first message id of a retried message.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// `TRANSFER_FLAG`.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// `CORRECTION_FLAG`.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// `MQ2_FLAG`.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// `RECONSUME_TIME`: reconsume count carried on retry messages.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// `MSG_REGION`: the region the message was sent from.
pub const MSG_REGION: &str = "MSG_REGION";
/// `TRACE_ON`: whether message tracing is on.
pub const TRACE_SWITCH: &str = "TRACE_ON";
/// `UNIQ_KEY`: the client-created message id (`PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`).
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// `EXTEND_UNIQ_INFO`.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// `MAX_RECONSUME_TIMES`: the consumer's retry limit, sent with send-back.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// `CONSUME_START_TIME`: when the client started consuming (ms).
pub const CONSUME_START_TIMESTAMP: &str = "CONSUME_START_TIME";
/// `INNER_NUM`: messages inside an inner batch.
pub const INNER_NUM: &str = "INNER_NUM";
/// `INNER_BASE`: queue offset of an inner batch's first message.
pub const INNER_BASE: &str = "INNER_BASE";
/// `DUP_INFO`: duplication info checked by some recovery paths.
pub const DUP_INFO: &str = "DUP_INFO";
/// `CHECK_IMMUNITY_TIME_IN_SECONDS`: delay before the first transaction check.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// `TRAN_PREPARED_QUEUE_OFFSET`: the half message's queue offset.
pub const TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// `__transactionId__`: the producer's transaction id.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// `TRANSACTION_CHECK_TIMES`: how often the broker checked a half message.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// `INSTANCE_ID`.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// `CORRELATION_ID`: links a reply to its request.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// `REPLY_TO_CLIENT`: the client id a reply goes to.
pub const MESSAGE_REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// `TTL`: a request's time to live (ms).
pub const MESSAGE_TTL: &str = "TTL";
/// `ARRIVE_TIME`: when a reply reached the broker.
pub const REPLY_MESSAGE_ARRIVE_TIME: &str = "ARRIVE_TIME";
/// `PUSH_REPLY_TIME`: when the broker pushed a reply.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// `CLUSTER`: the broker cluster, set on requests for replies.
pub const CLUSTER: &str = "CLUSTER";
/// `MSG_TYPE`: "reply" on reply messages.
pub const MESSAGE_TYPE: &str = "MSG_TYPE";
/// `POP_CK`: pop checkpoint.
pub const POP_CK: &str = "POP_CK";
/// `POP_CK_OFFSET`: pop checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// `1ST_POP_TIME`: first pop time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// `__SHARDINGKEY`: the ordering key of 5.x clients.
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// `PROPERTY_FORWARD_QUEUE_ID`.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// `REDIRECT`.
pub const REDIRECT: &str = "REDIRECT";
/// `INNER_MULTI_DISPATCH`: LMQ queues a message is also dispatched to.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// `INNER_MULTI_QUEUE_OFFSET`: the offsets in those LMQ queues.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// `TRACE_CONTEXT`.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// `TIMER_DELAY_SEC`: timer-message delay in seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// `TIMER_DELIVER_MS`: timer-message delivery time (epoch ms).
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// `__BORNHOST`: born host as text.
pub const BORN_HOST: &str = "__BORNHOST";
/// `BORN_TIMESTAMP`: born timestamp as text.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Prefix of properties that live only inside the broker and are never stored.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// `__RMQ.TRANSIENT.TOPIC_SYS_FLAG`.
pub const TRANSIENT_TOPIC_CONFIG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
/// `__RMQ.TRANSIENT.GROUP_SYS_FLAG`.
pub const TRANSIENT_GROUP_CONFIG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";
/// Separates the keys inside `KEYS`.
pub const KEY_SEPARATOR: &str = " ";
/// `TIMER_ENQUEUE_MS`.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// `TIMER_DEQUEUE_MS`.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// `TIMER_ROLL_TIMES`.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// `TIMER_OUT_MS`.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// `TIMER_DEL_UNIQKEY`: the UNIQ_KEY of a timer message being cancelled.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// `TIMER_DELAY_LEVEL`.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// `TIMER_DELAY_MS`: timer-message delay in milliseconds.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// `__CRC32#`: the whole-record CRC appended when `enabledAppendPropCRC` is on.
pub const CRC32: &str = "__CRC32#";
/// `DLQ_ORIGIN_TOPIC`: the topic a dead-lettered message came from.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// `DLQ_ORIGIN_MESSAGE_ID`: the message id a dead-lettered message had.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// Bytes the broker reserves at the end of the properties for
/// `__CRC32#` 0x01 ten digits 0x02 (`CommitLog.CRC32_RESERVED_LEN`).
pub const CRC32_RESERVED_LEN: usize = CRC32.len() + 1 + 10 + 1;

/// Names users may not set (`MessageConst.STRING_HASH_SET`; Java's
/// `putUserProperty` throws for them).
pub const SYSTEM_PROPERTIES: &[&str] = &[
    TRACE_SWITCH,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT_STORE_MSG_OK,
    DELAY_TIME_LEVEL,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QUEUE_ID,
    TRANSACTION_PREPARED,
    PRODUCER_GROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_KEY,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIMESTAMP,
    POP_CK,
    POP_CK_OFFSET,
    FIRST_POP_TIME,
    TRANSACTION_PREPARED_QUEUE_OFFSET,
    DUP_INFO,
    EXTEND_UNIQ_INFO,
    INSTANCE_ID,
    CORRELATION_ID,
    MESSAGE_REPLY_TO_CLIENT,
    MESSAGE_TTL,
    REPLY_MESSAGE_ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MESSAGE_TYPE,
    INNER_MULTI_QUEUE_OFFSET,
    TIMER_DELAY_MS,
    TIMER_DELAY_SEC,
    TIMER_DELIVER_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_OUT_MS,
    TIMER_DEL_UNIQKEY,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
    DLQ_ORIGIN_TOPIC,
    DLQ_ORIGIN_MESSAGE_ID,
    CRC32,
];

/// Whether `name` is reserved for the system (see [`SYSTEM_PROPERTIES`]).
pub fn is_system_property(name: &str) -> bool {
    SYSTEM_PROPERTIES.contains(&name)
}

/// Java's `Boolean.parseBoolean`: "true" in any case is true, all else false.
fn java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

impl Properties {
    fn get_i32(&self, name: &str) -> Option<i32> {
        self.get(name)?.parse().ok()
    }

    fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name)?.parse().ok()
    }

    fn insert_i64(&mut self, name: &str, value: i64) {
        self.insert(name, itoa::Buffer::new().format(value));
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.get(TAGS)
    }

    /// Sets `TAGS`.
    pub fn set_tags(&mut self, tags: &str) {
        self.insert(TAGS, tags);
    }

    /// `KEYS` as stored (space-separated).
    pub fn keys(&self) -> Option<&str> {
        self.get(KEYS)
    }

    /// The individual keys of `KEYS`, skipping empty ones as the indexer does.
    pub fn key_list(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys()
            .unwrap_or("")
            .split(KEY_SEPARATOR)
            .filter(|k| !k.is_empty())
    }

    /// Sets `KEYS` to `keys` joined by spaces.
    pub fn set_keys<'k>(&mut self, keys: impl IntoIterator<Item = &'k str>) {
        let joined = keys.into_iter().collect::<Vec<_>>().join(KEY_SEPARATOR);
        self.insert(KEYS, joined);
    }

    /// `UNIQ_KEY`, the client-created message id.
    pub fn uniq_key(&self) -> Option<&str> {
        self.get(UNIQ_KEY)
    }

    /// Sets `UNIQ_KEY`.
    pub fn set_uniq_key(&mut self, id: &str) {
        self.insert(UNIQ_KEY, id);
    }

    /// `DELAY`, the delay level (Java treats absent as 0).
    pub fn delay_time_level(&self) -> Option<i32> {
        self.get_i32(DELAY_TIME_LEVEL)
    }

    /// Sets `DELAY`.
    pub fn set_delay_time_level(&mut self, level: i32) {
        self.insert_i64(DELAY_TIME_LEVEL, i64::from(level));
    }

    /// `WAIT`: true unless present and not "true" (any case).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.get(WAIT_STORE_MSG_OK).is_none_or(java_bool)
    }

    /// Sets `WAIT` to "true" or "false".
    pub fn set_wait_store_msg_ok(&mut self, wait: bool) {
        self.insert(WAIT_STORE_MSG_OK, if wait { "true" } else { "false" });
    }

    /// Whether `TRAN_MSG` is "true" (any case): a transactional half message.
    pub fn is_transaction_prepared(&self) -> bool {
        self.get(TRANSACTION_PREPARED).is_some_and(java_bool)
    }

    /// `PGROUP`.
    pub fn producer_group(&self) -> Option<&str> {
        self.get(PRODUCER_GROUP)
    }

    /// `REAL_TOPIC`.
    pub fn real_topic(&self) -> Option<&str> {
        self.get(REAL_TOPIC)
    }

    /// `REAL_QID`.
    pub fn real_queue_id(&self) -> Option<i32> {
        self.get_i32(REAL_QUEUE_ID)
    }

    /// `RETRY_TOPIC`.
    pub fn retry_topic(&self) -> Option<&str> {
        self.get(RETRY_TOPIC)
    }

    /// `ORIGIN_MESSAGE_ID`.
    pub fn origin_message_id(&self) -> Option<&str> {
        self.get(ORIGIN_MESSAGE_ID)
    }

    /// `RECONSUME_TIME`.
    pub fn reconsume_time(&self) -> Option<i32> {
        self.get_i32(RECONSUME_TIME)
    }

    /// `MAX_RECONSUME_TIMES`.
    pub fn max_reconsume_times(&self) -> Option<i32> {
        self.get_i32(MAX_RECONSUME_TIMES)
    }

    /// `__transactionId__`.
    pub fn transaction_id(&self) -> Option<&str> {
        self.get(TRANSACTION_ID)
    }

    /// `TRANSACTION_CHECK_TIMES`.
    pub fn transaction_check_times(&self) -> Option<i32> {
        self.get_i32(TRANSACTION_CHECK_TIMES)
    }

    /// `__SHARDINGKEY`.
    pub fn sharding_key(&self) -> Option<&str> {
        self.get(SHARDING_KEY)
    }

    /// `CLUSTER`.
    pub fn cluster(&self) -> Option<&str> {
        self.get(CLUSTER)
    }

    /// `TIMER_DELIVER_MS`.
    pub fn timer_deliver_ms(&self) -> Option<i64> {
        self.get_i64(TIMER_DELIVER_MS)
    }

    /// `TIMER_DELAY_SEC`.
    pub fn timer_delay_sec(&self) -> Option<i64> {
        self.get_i64(TIMER_DELAY_SEC)
    }

    /// `TIMER_DELAY_MS`.
    pub fn timer_delay_ms(&self) -> Option<i64> {
        self.get_i64(TIMER_DELAY_MS)
    }

    /// `MIN_OFFSET`.
    pub fn min_offset(&self) -> Option<i64> {
        self.get_i64(MIN_OFFSET)
    }

    /// `MAX_OFFSET`.
    pub fn max_offset(&self) -> Option<i64> {
        self.get_i64(MAX_OFFSET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_properties_match_message_const() {
        assert_eq!(SYSTEM_PROPERTIES.len(), 51);
        assert!(is_system_property("UNIQ_KEY"));
        assert!(is_system_property("__CRC32#"));
        assert!(!is_system_property("__transactionId__"));
        assert!(!is_system_property("myKey"));
        assert_eq!(CRC32_RESERVED_LEN, 20);
    }

    #[test]
    fn typed_accessors() {
        let mut p = Properties::new();
        assert!(p.wait_store_msg_ok(), "absent WAIT means true");
        assert_eq!(p.key_list().count(), 0);
        p.set_tags("TagA");
        p.set_keys(["k1", "k2"]);
        p.set_uniq_key("ABC");
        p.set_delay_time_level(3);
        p.set_wait_store_msg_ok(false);
        assert_eq!(p.tags(), Some("TagA"));
        assert_eq!(p.keys(), Some("k1 k2"));
        assert_eq!(p.uniq_key(), Some("ABC"));
        assert_eq!(p.delay_time_level(), Some(3));
        assert!(!p.wait_store_msg_ok());
        p.insert(WAIT_STORE_MSG_OK, "TRUE");
        assert!(p.wait_store_msg_ok());
        p.insert(KEYS, " a  b ");
        assert_eq!(p.key_list().collect::<Vec<_>>(), ["a", "b"]);

        assert!(!p.is_transaction_prepared());
        p.insert(TRANSACTION_PREPARED, "true");
        assert!(p.is_transaction_prepared());

        p.insert(REAL_QUEUE_ID, "7");
        p.insert(RECONSUME_TIME, "x");
        p.insert(TIMER_DELIVER_MS, "1700000000000");
        p.insert(MAX_OFFSET, "-1");
        assert_eq!(p.real_queue_id(), Some(7));
        assert_eq!(p.reconsume_time(), None, "unparsable reads as absent");
        assert_eq!(p.timer_deliver_ms(), Some(1_700_000_000_000));
        assert_eq!(p.max_offset(), Some(-1));
        assert_eq!(p.min_offset(), None);
        for name in [
            PRODUCER_GROUP,
            REAL_TOPIC,
            RETRY_TOPIC,
            ORIGIN_MESSAGE_ID,
            TRANSACTION_ID,
            SHARDING_KEY,
            CLUSTER,
        ] {
            p.insert(name, name);
        }
        assert_eq!(p.producer_group(), Some(PRODUCER_GROUP));
        assert_eq!(p.real_topic(), Some(REAL_TOPIC));
        assert_eq!(p.retry_topic(), Some(RETRY_TOPIC));
        assert_eq!(p.origin_message_id(), Some(ORIGIN_MESSAGE_ID));
        assert_eq!(p.transaction_id(), Some(TRANSACTION_ID));
        assert_eq!(p.sharding_key(), Some(SHARDING_KEY));
        assert_eq!(p.cluster(), Some(CLUSTER));
        p.insert(MAX_RECONSUME_TIMES, "16");
        p.insert(TRANSACTION_CHECK_TIMES, "2");
        p.insert(TIMER_DELAY_SEC, "10");
        p.insert(TIMER_DELAY_MS, "10000");
        assert_eq!(p.max_reconsume_times(), Some(16));
        assert_eq!(p.transaction_check_times(), Some(2));
        assert_eq!(p.timer_delay_sec(), Some(10));
        assert_eq!(p.timer_delay_ms(), Some(10_000));
    }
}
