//! The op queue, `RMQ_SYS_TRANS_OP_HALF_TOPIC`: what became of half
//! messages. Queue N of the op topic speaks of queue N of the half topic;
//! each op record is tagged `d` (`TransactionalMessageUtil.REMOVE_TAG`)
//! and its body lists the queue offsets of the halves it resolves.
//!
//! Java 5 writes the offsets each followed by `,` and batches several into
//! one body; Java 4 wrote one offset without a separator. Both read here.
//! Skylark writes one op record per END_TRANSACTION, at once (`7,`), so
//! that a resolved half is never checked again after a crash.

use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use skylark_protocol::message::topic::RMQ_SYS_TRANS_OP_HALF_TOPIC;
use skylark_protocol::message::{Message, Properties, StoredMessage, UniqIdGenerator};

use crate::broker::Broker;
use crate::topic_config::now_ms;

/// The tag of every op record (`TransactionalMessageUtil.REMOVE_TAG`).
pub(crate) const REMOVE_TAG: &str = "d";
/// Ends each half offset in an op body (`OFFSET_SEPARATOR`).
const OFFSET_SEPARATOR: u8 = b',';

/// The op body naming `half_offsets`: each offset followed by `,`.
pub(crate) fn encode_body(half_offsets: &[i64]) -> Bytes {
    let mut out = Vec::with_capacity(half_offsets.len() * 8);
    let mut digits = itoa::Buffer::new();
    for &offset in half_offsets {
        out.extend_from_slice(digits.format(offset).as_bytes());
        out.push(OFFSET_SEPARATOR);
    }
    Bytes::from(out)
}

/// The half offsets an op body names, in either Java's format; a piece
/// that is not a number is skipped (Java reads it as -1, below every
/// offset, and so ignores it too).
pub(crate) fn decode_body(body: &[u8]) -> impl Iterator<Item = i64> + '_ {
    body.split(|&b| b == OFFSET_SEPARATOR)
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| std::str::from_utf8(piece).ok()?.trim().parse().ok())
}

/// The op record resolving the half at `half_offset` of half queue
/// `queue_id` (`TransactionalMessageBridge.makeOpMessageInner`): born and
/// stored by this broker, with a UNIQ_KEY of its own.
pub(crate) fn op_record(queue_id: i32, half_offset: i64, store_host: SocketAddr) -> StoredMessage {
    static IDS: OnceLock<UniqIdGenerator> = OnceLock::new();
    let mut properties = Properties::new();
    properties.set_tags(REMOVE_TAG);
    properties.set_uniq_key(
        &IDS.get_or_init(|| UniqIdGenerator::new(store_host.ip()))
            .next_id(),
    );
    let mut record = StoredMessage::new(
        Message {
            topic: RMQ_SYS_TRANS_OP_HALF_TOPIC.to_owned(),
            flag: 0,
            properties,
            body: encode_body(&[half_offset]),
        },
        store_host,
        store_host,
    );
    record.queue_id = queue_id;
    record.born_timestamp = now_ms();
    record
}

impl Broker {
    /// Records that the half at `half_offset` of half queue `queue_id` is
    /// committed or rolled back (Java's `deletePrepareMessage`); false,
    /// logged, when the store refused the op record.
    pub(crate) async fn write_op(&self, queue_id: i32, half_offset: i64) -> bool {
        let record = op_record(queue_id, half_offset, self.store_host);
        let result = self.store.put_message(&record).await;
        if result.is_stored() {
            return true;
        }
        tracing::error!(
            queue_id, half_offset, status = %result.status, error = ?result.error,
            "cannot write the transaction op record; the half will be checked again"
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_bodies_end_each_offset_with_a_comma() {
        assert_eq!(encode_body(&[7]), Bytes::from_static(b"7,"));
        assert_eq!(encode_body(&[0, 12, 345]), Bytes::from_static(b"0,12,345,"));
        assert_eq!(encode_body(&[]), Bytes::new());
    }

    #[test]
    fn op_bodies_of_both_java_versions_decode() {
        let of = |body: &[u8]| decode_body(body).collect::<Vec<_>>();
        assert_eq!(of(b"7"), [7], "Java 4: one offset, no separator");
        assert_eq!(of(b"7,8,9,"), [7, 8, 9], "Java 5: batched");
        assert_eq!(of(b"7,x,,9"), [7, 9], "junk pieces are skipped");
        assert_eq!(of(b""), Vec::<i64>::new());
        assert_eq!(of(&encode_body(&[1, 2, 3])), [1, 2, 3]);
    }

    #[test]
    fn an_op_record_is_tagged_d_in_the_half_queues_op_queue() {
        let host: SocketAddr = "10.0.0.1:10911".parse().unwrap();
        let op = op_record(0, 42, host);
        assert_eq!(op.topic, RMQ_SYS_TRANS_OP_HALF_TOPIC);
        assert_eq!(op.queue_id, 0);
        assert_eq!(op.tags(), Some(REMOVE_TAG));
        assert_eq!(op.body, Bytes::from_static(b"42,"));
        assert!(op.uniq_key().is_some());
        assert_eq!((op.born_host, op.store_host), (host, host));
    }
}
