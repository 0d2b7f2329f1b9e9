//! The message model and RocketMQ's stored-message encodings.
//!
//! - [`Message`]: what a producer sends (topic, flag, properties, body);
//! - [`properties`] and [`property`]: the property map, its
//!   `name 0x01 value 0x02` string, and the `MessageConst` names;
//!   [`java_order`] orders properties as Java's `HashMap` writes them;
//! - [`record`]: the CommitLog record ([`StoredMessage`]), also the unit of
//!   pull, query and view bodies;
//! - [`batch`]: SEND_BATCH_MESSAGE bodies;
//! - [`msg_id`] and [`uniq_key`]: offset message ids and client UNIQ_KEYs;
//! - [`sysflag`] and [`perm`]: flag words and permissions;
//! - [`tag_hash`]: Java's `String.hashCode` and ConsumeQueue tags codes;
//! - [`topic`]: topic and group validation and the system topic names.
//!
//! Decoders take untrusted bytes and never panic; bodies and property bytes
//! are zero-copy slices of the input. Encoders write into any `BufMut` after
//! checking every size, so a failed encode writes nothing.

pub mod batch;
mod cursor;
pub mod error;
mod hex;
mod host;
pub mod java_order;
pub mod msg_id;
pub mod perm;
pub mod properties;
pub mod property;
pub mod record;
pub mod sysflag;
pub mod tag_hash;
pub mod topic;
pub mod uniq_key;

use bytes::Bytes;

pub use batch::{BatchEntry, BatchIter, decode_batch, encode_batch};
pub use error::{DecodeError, EncodeError};
pub use msg_id::{MsgIdError, OffsetMsgId};
pub use perm::PermName;
pub use properties::Properties;
pub use record::{MessageVersion, RecordIter, StoredMessage};
pub use sysflag::{CompressionType, MessageSysFlag, PullSysFlag, TopicSysFlag, TransactionType};
pub use tag_hash::{java_string_hash, java_string_hash_from, tags_code};
pub use topic::NameError;
pub use uniq_key::{UniqIdGenerator, UniqKey};

/// A message as a producer sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The topic.
    pub topic: String,
    /// A flag word for the application; the broker stores it untouched.
    pub flag: i32,
    /// The properties (tags, keys, UNIQ_KEY, delay level, …).
    pub properties: Properties,
    /// The body.
    pub body: Bytes,
}

impl Message {
    /// A message with no flag and no properties.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            body: body.into(),
            ..Self::default()
        }
    }

    /// The message with `TAGS` set.
    #[must_use]
    pub fn with_tags(mut self, tags: &str) -> Self {
        self.properties.set_tags(tags);
        self
    }

    /// The message with `KEYS` set to `keys` joined by spaces.
    #[must_use]
    pub fn with_keys<'k>(mut self, keys: impl IntoIterator<Item = &'k str>) -> Self {
        self.properties.set_keys(keys);
        self
    }

    /// The message with the property `name` set.
    #[must_use]
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name, value);
        self
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    /// `KEYS` as stored (space-separated).
    pub fn keys(&self) -> Option<&str> {
        self.properties.keys()
    }

    /// `UNIQ_KEY`, the client-created id.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.uniq_key()
    }

    /// `DELAY`, the delay level.
    pub fn delay_time_level(&self) -> Option<i32> {
        self.properties.delay_time_level()
    }

    /// `WAIT` (true when absent).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.properties.wait_store_msg_ok()
    }

    /// Whether this is a transactional half message (`TRAN_MSG`).
    pub fn is_transaction_prepared(&self) -> bool {
        self.properties.is_transaction_prepared()
    }

    /// The ConsumeQueue tags code of `TAGS`.
    pub fn tags_code(&self) -> i64 {
        tags_code(self.tags())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_message() {
        let m = Message::new("TopicTest", &b"hi"[..])
            .with_tags("TagA")
            .with_keys(["k1", "k2"])
            .with_property(property::DELAY_TIME_LEVEL, "3");
        assert_eq!(m.topic, "TopicTest");
        assert_eq!(&m.body[..], b"hi");
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys(), Some("k1 k2"));
        assert_eq!(m.uniq_key(), None);
        assert_eq!(m.delay_time_level(), Some(3));
        assert!(m.wait_store_msg_ok());
        assert!(!m.is_transaction_prepared());
        assert_eq!(m.tags_code(), 2_598_919);
        assert_eq!(
            m.properties.to_property_string(),
            "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}DELAY\u{1}3\u{2}"
        );
    }
}
