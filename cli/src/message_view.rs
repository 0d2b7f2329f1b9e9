//! How `consume` and `message query` print a message: one text line for
//! people or one JSON object per line for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use skylark_client::StoredMessage;

use crate::time_arg::format_millis;

/// A received message as printed.
#[derive(Debug, Serialize)]
pub(crate) struct MessageView<'a> {
    /// The topic.
    pub(crate) topic: &'a str,
    /// The broker (group) it came from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) broker: Option<&'a str>,
    /// Queue id.
    pub(crate) queue_id: i32,
    /// Offset in the queue.
    pub(crate) queue_offset: i64,
    /// The producer's unique id (UNIQ_KEY), else the broker's offset id.
    pub(crate) msg_id: String,
    /// The broker's offset message id (store host + CommitLog offset).
    pub(crate) offset_msg_id: String,
    /// TAGS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<&'a str>,
    /// KEYS (space separated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keys: Option<&'a str>,
    /// Born time, ms since the epoch.
    pub(crate) born_timestamp: i64,
    /// Store time, ms since the epoch.
    pub(crate) store_timestamp: i64,
    /// Producer address.
    pub(crate) born_host: String,
    /// Broker address.
    pub(crate) store_host: String,
    /// Redeliveries so far.
    pub(crate) reconsume_times: i32,
    /// Every property, system ones included.
    pub(crate) properties: BTreeMap<&'a str, &'a str>,
    /// The body as UTF-8 text, when it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<&'a str>,
    /// The body in hex, when it is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body_hex: Option<String>,
    /// Body length in bytes.
    pub(crate) body_len: usize,
}

impl<'a> MessageView<'a> {
    /// The view of `message` (its body already inflated by the client).
    pub(crate) fn of(message: &'a StoredMessage, broker: Option<&'a str>) -> Self {
        let body = std::str::from_utf8(&message.body).ok();
        let offset_msg_id = message.offset_msg_id();
        Self {
            topic: &message.topic,
            broker,
            queue_id: message.queue_id,
            queue_offset: message.queue_offset,
            msg_id: message
                .uniq_key()
                .map_or_else(|| offset_msg_id.clone(), str::to_owned),
            offset_msg_id,
            tags: message.tags(),
            keys: message.keys(),
            born_timestamp: message.born_timestamp,
            store_timestamp: message.store_timestamp,
            born_host: message.born_host.to_string(),
            store_host: message.store_host.to_string(),
            reconsume_times: message.reconsume_times,
            properties: message.properties.iter().collect(),
            body,
            body_hex: body.is_none().then(|| hex(&message.body)),
            body_len: message.body.len(),
        }
    }

    /// One line for people: where it is, its id, tags and keys, then the body.
    pub(crate) fn text(&self) -> String {
        let mut line = String::new();
        let _ = write!(
            line,
            "queue={} offset={} msgId={} stored={}",
            self.queue_id,
            self.queue_offset,
            self.msg_id,
            format_millis(self.store_timestamp)
        );
        if let Some(tags) = self.tags {
            let _ = write!(line, " tags={tags}");
        }
        if let Some(keys) = self.keys {
            let _ = write!(line, " keys={:?}", keys);
        }
        match (self.body, &self.body_hex) {
            (Some(body), _) => {
                let _ = write!(line, " body={}", body.escape_debug());
            }
            (None, Some(hex)) => {
                let _ = write!(line, " body_hex={hex}");
            }
            (None, None) => {}
        }
        line
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use skylark_protocol::message::Message;

    use super::*;

    fn stored(body: &'static [u8]) -> StoredMessage {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let message = Message::new("T", body)
            .with_tags("TagA")
            .with_keys(["k1", "k2"])
            .with_property("p", "v");
        let mut stored = StoredMessage::new(message, host, host);
        stored.queue_id = 3;
        stored.queue_offset = 17;
        stored.physical_offset = 4096;
        stored.store_timestamp = 1_795_791_600_000;
        stored
    }

    #[test]
    fn json_has_the_fields_scripts_need() {
        let message = stored(b"hello\nworld");
        let json = serde_json::to_value(MessageView::of(&message, Some("broker-a"))).unwrap();
        assert_eq!(json["topic"], "T");
        assert_eq!(json["queue_id"], 3);
        assert_eq!(json["queue_offset"], 17);
        assert_eq!(json["tags"], "TagA");
        assert_eq!(json["keys"], "k1 k2");
        assert_eq!(json["properties"]["p"], "v");
        assert_eq!(json["body"], "hello\nworld");
        assert!(json.get("body_hex").is_none());
        assert_eq!(json["msg_id"], json["offset_msg_id"]);
    }

    #[test]
    fn text_is_one_line_and_binary_bodies_are_hex() {
        let message = stored(b"hello\nworld");
        let text = MessageView::of(&message, None).text();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("tags=TagA"), "{text}");
        assert!(text.ends_with("body=hello\\nworld"), "{text}");
        let binary = stored(&[0xff, 0x00]);
        let view = MessageView::of(&binary, None);
        assert_eq!(view.body_hex.as_deref(), Some("ff00"));
        assert!(view.text().ends_with("body_hex=ff00"));
    }
}
