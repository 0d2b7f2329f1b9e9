//! [`MessageExt`]: a pulled message as listeners see it, and the decoding
//! of pull bodies into them.
//!
//! Bodies stay slices of the pull response (`bytes::Bytes`): decoding copies
//! no body unless the producer compressed it.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use skylark_protocol::body::MessageQueue;
use skylark_protocol::message::{MessageSysFlag, RecordIter, StoredMessage, property};

use crate::error::ClientError;
use crate::message::uncompress_stored;

/// A consumed message: the stored record and the broker it came from
/// (Java's `MessageExt` with `brokerName` set).
#[derive(Debug, Clone)]
pub struct MessageExt {
    /// Every stored field; `body` is a slice of the pull response.
    pub stored: StoredMessage,
    /// The broker (group) name of the queue it was pulled from.
    pub broker_name: Arc<str>,
}

impl MessageExt {
    /// The topic (for a redelivery from `%RETRY%group`, the original topic).
    pub fn topic(&self) -> &str {
        &self.stored.topic
    }

    /// The body, uncompressed.
    pub fn body(&self) -> &Bytes {
        &self.stored.body
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.stored.tags()
    }

    /// `KEYS`, space-separated.
    pub fn keys(&self) -> Option<&str> {
        self.stored.keys()
    }

    /// A property by name.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.stored.properties.get(name)
    }

    /// The id applications see (`msgId`): the producer's UNIQ_KEY, else the
    /// offset message id.
    pub fn msg_id(&self) -> String {
        match self.stored.uniq_key() {
            Some(id) => id.to_owned(),
            None => self.stored.offset_msg_id(),
        }
    }

    /// The broker's offset message id (store host + CommitLog offset).
    pub fn offset_msg_id(&self) -> String {
        self.stored.offset_msg_id()
    }

    /// Queue id within the topic.
    pub fn queue_id(&self) -> i32 {
        self.stored.queue_id
    }

    /// Offset within the queue.
    pub fn queue_offset(&self) -> i64 {
        self.stored.queue_offset
    }

    /// Offset in the broker's CommitLog (what CONSUMER_SEND_MSG_BACK names).
    pub fn commit_log_offset(&self) -> i64 {
        self.stored.physical_offset
    }

    /// How often this message was redelivered.
    pub fn reconsume_times(&self) -> i32 {
        self.stored.reconsume_times
    }

    /// When the broker stored it (epoch ms).
    pub fn store_timestamp(&self) -> i64 {
        self.stored.store_timestamp
    }

    /// When the producer made it (epoch ms).
    pub fn born_timestamp(&self) -> i64 {
        self.stored.born_timestamp
    }

    /// The queue it was pulled from.
    pub fn message_queue(&self) -> MessageQueue {
        MessageQueue::new(
            self.stored.topic.clone(),
            &*self.broker_name,
            self.stored.queue_id,
        )
    }
}

/// Decodes a pull body: every record, bodies inflated where compressed,
/// those whose tag is not in `tags` dropped (unless `tags` is empty, which
/// matches all), and messages of `retry_topic` renamed to their original
/// topic (`RETRY_TOPIC`), as Java's consumer does before its listener.
pub(crate) fn decode_pulled(
    body: Bytes,
    broker_name: &Arc<str>,
    tags: &BTreeSet<String>,
    retry_topic: Option<&str>,
) -> Result<Vec<MessageExt>, ClientError> {
    let mut out = Vec::new();
    for record in RecordIter::new(body) {
        let mut stored = record?;
        if !tags.is_empty() && !stored.tags().is_some_and(|t| tags.contains(t)) {
            continue;
        }
        if stored.sys_flag & MessageSysFlag::INNER_BATCH_FLAG != 0 {
            return Err(ClientError::Unsupported(
                "inner-batch (autoBatch) records in pull results",
            ));
        }
        uncompress_stored(&mut stored)?;
        if retry_topic.is_some_and(|r| r == stored.topic)
            && let Some(original) = stored.properties.get(property::RETRY_TOPIC)
        {
            stored.topic = original.to_owned();
        }
        out.push(MessageExt {
            stored,
            broker_name: broker_name.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::BytesMut;
    use skylark_protocol::message::Message;

    use super::*;
    use crate::message::compress_body;

    fn record(topic: &str, tags: Option<&str>, body: &[u8], offset: i64) -> StoredMessage {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let mut m = Message::new(topic, Bytes::copy_from_slice(body));
        if let Some(t) = tags {
            m = m.with_tags(t);
        }
        let mut s = StoredMessage::new(m, host, host);
        s.queue_offset = offset;
        s
    }

    fn body_of(records: &[StoredMessage]) -> Bytes {
        let mut buf = BytesMut::new();
        for r in records {
            r.encode(&mut buf).unwrap();
        }
        buf.freeze()
    }

    #[test]
    fn decodes_filters_and_keeps_bodies_as_slices() {
        let body = body_of(&[
            record("T", Some("A"), b"one", 0),
            record("T", Some("B"), b"two", 1),
            record("T", None, b"three", 2),
        ]);
        let broker: Arc<str> = Arc::from("broker-a");
        let all = decode_pulled(body.clone(), &broker, &BTreeSet::new(), None).unwrap();
        assert_eq!(all.len(), 3);
        // The body points into the response buffer: no copy.
        let start = body.as_ptr() as usize;
        let p = all[1].body().as_ptr() as usize;
        assert!(p > start && p < start + body.len());
        let only_a = decode_pulled(body, &broker, &["A".to_owned()].into(), None).unwrap();
        assert_eq!(only_a.len(), 1);
        assert_eq!(&only_a[0].body()[..], b"one");
        assert_eq!(only_a[0].queue_offset(), 0);
        assert_eq!(&*only_a[0].broker_name, "broker-a");
    }

    #[test]
    fn inflates_and_restores_retry_topic() {
        let plain = vec![b'z'; 9000];
        let mut r = record("%RETRY%G", None, &compress_body(&plain, 5).unwrap(), 0);
        r.sys_flag |= MessageSysFlag::COMPRESSED_FLAG;
        r.properties.insert(property::RETRY_TOPIC, "Orig");
        r.update_body_crc();
        let got = decode_pulled(
            body_of(&[r]),
            &Arc::from("b"),
            &BTreeSet::new(),
            Some("%RETRY%G"),
        )
        .unwrap();
        assert_eq!(got[0].body().len(), 9000);
        assert_eq!(got[0].topic(), "Orig");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let err = decode_pulled(
            Bytes::from_static(&[0, 0, 0, 200, 1, 2, 3, 4, 5]),
            &Arc::from("b"),
            &BTreeSet::new(),
            None,
        );
        assert!(err.is_err());
    }
}
