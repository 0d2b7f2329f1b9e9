//! The stored record: one CommitLog entry, also the unit of pull, query and
//! view-message bodies (protocol doc §6.1).
//!
//! [`decode`] reads one record without copying its body (the body and the
//! property bytes are slices of the input), [`RecordIter`] walks concatenated
//! records, and [`StoredMessage::encode`] writes one into a `BufMut`. The
//! store encodes a record before taking its append lock and then fills in the
//! physical offset and store timestamp in place with [`patch_physical_offset`]
//! and [`patch_store_timestamp`] (and the queue offset with
//! [`patch_queue_offset`] where it is assigned late). Brokers with
//! `enabledAppendPropCRC` finish with [`seal_prop_crc`].

mod decode;
mod encode;
mod layout;
mod prop_crc;

use std::net::SocketAddr;

use bytes::Bytes;

pub use decode::{RecordIter, decode, decode_all};
pub use layout::{
    BLANK_LEN, BLANK_MAGIC_CODE, BODY_CRC_POS, BORN_HOST_POS, BORN_TIMESTAMP_POS, FLAG_POS,
    MAGIC_CODE_POS, MAGIC_CODE_V1, MAGIC_CODE_V2, MIN_RECORD_LEN, MessageVersion,
    PHYSICAL_OFFSET_POS, QUEUE_ID_POS, QUEUE_OFFSET_POS, RecordLayout, SYS_FLAG_POS,
    TOTAL_SIZE_POS, body_crc, encoded_len, patch_physical_offset, patch_queue_offset,
    patch_store_timestamp, write_blank,
};
pub use prop_crc::{parse_prop_crc, seal_prop_crc, verify_prop_crc};

use super::Message;
use super::error::DecodeError;
use super::msg_id::offset_msg_id;
use super::properties::Properties;
use super::sysflag::{MessageSysFlag, TransactionType};
use super::tag_hash::tags_code;

/// One stored record with every field (Java's `MessageExt` as stored).
///
/// The record's total size is not kept: it is [`encoded_len`](Self::encoded_len),
/// and [`decode`] rejects records whose stored size disagrees with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Record version (from the magic code).
    pub version: MessageVersion,
    /// BODYCRC as stored: `CRC32(body) & 0x7FFFFFFF` when written by a broker.
    pub body_crc: i32,
    /// Queue id within the topic.
    pub queue_id: i32,
    /// The producer's flag word.
    pub flag: i32,
    /// Index in the ConsumeQueue (0 for PREPARED and ROLLBACK records).
    pub queue_offset: i64,
    /// This record's offset in the CommitLog.
    pub physical_offset: i64,
    /// `MessageSysFlag` bits; the IPv6 bits decide the host encodings.
    pub sys_flag: i32,
    /// When the producer created the message (epoch ms).
    pub born_timestamp: i64,
    /// The producer's address.
    pub born_host: SocketAddr,
    /// When the broker stored the record (epoch ms).
    pub store_timestamp: i64,
    /// The storing broker's address.
    pub store_host: SocketAddr,
    /// How often the message has been redelivered.
    pub reconsume_times: i32,
    /// The half message's offset on COMMIT records, else 0.
    pub prepared_transaction_offset: i64,
    /// The body as stored (still compressed if the sysflag says so).
    pub body: Bytes,
    /// The topic.
    pub topic: String,
    /// The properties; decoded ones re-encode byte for byte until modified.
    pub properties: Properties,
}

impl StoredMessage {
    /// A record for `message` with its CRC computed, the version its topic
    /// needs, the IPv6 sysflag bits set for the hosts, and every other field 0.
    pub fn new(message: Message, born_host: SocketAddr, store_host: SocketAddr) -> Self {
        let mut out = Self {
            version: MessageVersion::for_topic_len(message.topic.len()),
            body_crc: body_crc(&message.body),
            queue_id: 0,
            flag: message.flag,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host,
            store_timestamp: 0,
            store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: message.body,
            topic: message.topic,
            properties: message.properties,
        };
        out.sys_flag = out.normalized_sys_flag();
        out
    }

    /// The sysflag as written: the IPv6 bits follow the hosts' address families.
    pub fn normalized_sys_flag(&self) -> i32 {
        let mut flag = self.sys_flag
            & !(MessageSysFlag::BORNHOST_V6_FLAG | MessageSysFlag::STOREHOSTADDRESS_V6_FLAG);
        if self.born_host.is_ipv6() {
            flag |= MessageSysFlag::BORNHOST_V6_FLAG;
        }
        if self.store_host.is_ipv6() {
            flag |= MessageSysFlag::STOREHOSTADDRESS_V6_FLAG;
        }
        flag
    }

    /// The record's size in bytes (TOTALSIZE).
    pub fn encoded_len(&self) -> usize {
        encoded_len(
            self.version,
            self.normalized_sys_flag(),
            self.body.len(),
            self.topic.len(),
            self.properties.encoded_len(),
        )
    }

    /// `CRC32(body) & 0x7FFFFFFF` of the current body.
    pub fn computed_body_crc(&self) -> i32 {
        body_crc(&self.body)
    }

    /// Sets [`body_crc`](Self::body_crc) from the current body.
    pub fn update_body_crc(&mut self) {
        self.body_crc = self.computed_body_crc();
    }

    /// Checks the stored CRC against the body, skipping empty bodies as Java does.
    pub fn verify_body_crc(&self) -> Result<(), DecodeError> {
        if self.body.is_empty() {
            return Ok(());
        }
        let computed = self.computed_body_crc();
        if computed != self.body_crc {
            return Err(DecodeError::BodyCrcMismatch {
                stored: self.body_crc,
                computed,
            });
        }
        Ok(())
    }

    /// The offset message id (store host + physical offset) consumers see as `msgId`.
    pub fn offset_msg_id(&self) -> String {
        offset_msg_id(self.store_host, self.physical_offset)
    }

    /// The transaction type in the sysflag.
    pub fn transaction_type(&self) -> TransactionType {
        TransactionType::from_sys_flag(self.sys_flag)
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    /// `KEYS`.
    pub fn keys(&self) -> Option<&str> {
        self.properties.keys()
    }

    /// `UNIQ_KEY`.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.uniq_key()
    }

    /// The ConsumeQueue tags code of `TAGS`.
    pub fn tags_code(&self) -> i64 {
        tags_code(self.tags())
    }

    /// The producer's view of the record: topic, flag, properties and body.
    pub fn into_message(self) -> Message {
        Message {
            topic: self.topic,
            flag: self.flag,
            properties: self.properties,
            body: self.body,
        }
    }
}

#[cfg(test)]
mod tests;
