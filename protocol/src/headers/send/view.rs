//! [`SendMessageRequestView`]: a send request's header read without copying
//! its strings, for the broker's hot path.

use crate::ext_fields::ExtFields;
use crate::headers::{ExtValue, HeaderError};
use crate::text::Text;

use super::{SendMessageRequestHeader, SendMessageRequestHeaderV2};

/// The keys of one header form, in [`SendMessageRequestHeader`]'s field order.
struct Keys {
    producer_group: &'static str,
    topic: &'static str,
    default_topic: &'static str,
    default_topic_queue_nums: &'static str,
    queue_id: &'static str,
    sys_flag: &'static str,
    born_timestamp: &'static str,
    flag: &'static str,
    properties: &'static str,
    reconsume_times: &'static str,
    unit_mode: &'static str,
    batch: &'static str,
    max_reconsume_times: &'static str,
    broker_name: &'static str,
}

/// Java's long field names (codes 10 and 324).
const LONG: Keys = Keys {
    producer_group: "producerGroup",
    topic: "topic",
    default_topic: "defaultTopic",
    default_topic_queue_nums: "defaultTopicQueueNums",
    queue_id: "queueId",
    sys_flag: "sysFlag",
    born_timestamp: "bornTimestamp",
    flag: "flag",
    properties: "properties",
    reconsume_times: "reconsumeTimes",
    unit_mode: "unitMode",
    batch: "batch",
    max_reconsume_times: "maxReconsumeTimes",
    broker_name: "bname",
};

/// `SendMessageRequestHeaderV2`'s one-letter keys (codes 310, 320 and 325).
const SHORT: Keys = Keys {
    producer_group: "a",
    topic: "b",
    default_topic: "c",
    default_topic_queue_nums: "d",
    queue_id: "e",
    sys_flag: "f",
    born_timestamp: "g",
    flag: "h",
    properties: "i",
    reconsume_times: "j",
    unit_mode: "k",
    max_reconsume_times: "l",
    batch: "m",
    broker_name: "n",
};

/// The fields of [`SendMessageRequestHeader`], borrowed from the request's
/// `extFields` (so, for a binary header, from the frame): reading it
/// allocates nothing when the header is well formed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendMessageRequestView<'a> {
    /// The producer group.
    pub producer_group: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The topic to create the topic from (`TBW102`).
    pub default_topic: &'a str,
    /// Queues of an auto-created topic.
    pub default_topic_queue_nums: i32,
    /// The queue; negative lets the broker pick.
    pub queue_id: i32,
    /// The message's sys flag.
    pub sys_flag: i32,
    /// When the producer made the message (ms).
    pub born_timestamp: i64,
    /// The message's flag.
    pub flag: i32,
    /// The property string (a view of the frame when it came in binary).
    pub properties: Option<&'a Text>,
    /// How often a retried message was consumed.
    pub reconsume_times: Option<i32>,
    /// Unit mode.
    pub unit_mode: Option<bool>,
    /// Whether the body is a batch.
    pub batch: Option<bool>,
    /// The producer's retry limit for a retry topic.
    pub max_reconsume_times: Option<i32>,
    /// The broker name the producer addressed.
    pub broker_name: Option<&'a str>,
}

impl<'a> SendMessageRequestView<'a> {
    /// Reads the header of a send request with code `code`, with the same
    /// keys, defaults and errors as [`SendMessageRequestHeader::read_any`].
    pub fn read(code: i32, fields: &'a ExtFields) -> Result<Self, HeaderError> {
        let keys = if SendMessageRequestHeaderV2::is_v2_code(code) {
            &SHORT
        } else {
            &LONG
        };
        let text = |key: &'static str| fields.get(key).ok_or(HeaderError::Missing(key));
        Ok(Self {
            producer_group: text(keys.producer_group)?,
            topic: text(keys.topic)?,
            default_topic: text(keys.default_topic)?,
            default_topic_queue_nums: i32::required(fields, keys.default_topic_queue_nums)?,
            queue_id: i32::required(fields, keys.queue_id)?,
            sys_flag: i32::required(fields, keys.sys_flag)?,
            born_timestamp: i64::required(fields, keys.born_timestamp)?,
            flag: i32::required(fields, keys.flag)?,
            properties: fields.get_text(keys.properties),
            reconsume_times: i32::optional(fields, keys.reconsume_times)?,
            unit_mode: bool::optional(fields, keys.unit_mode)?,
            batch: bool::optional(fields, keys.batch)?,
            max_reconsume_times: i32::optional(fields, keys.max_reconsume_times)?,
            broker_name: fields.get(keys.broker_name),
        })
    }

    /// The owned header, for code that keeps or changes it.
    pub fn to_header(&self) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: self.producer_group.to_owned(),
            topic: self.topic.to_owned(),
            default_topic: self.default_topic.to_owned(),
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.flag,
            properties: self.properties.map(|p| p.as_str().to_owned()),
            reconsume_times: self.reconsume_times,
            unit_mode: self.unit_mode,
            batch: self.batch,
            max_reconsume_times: self.max_reconsume_times,
            broker_name: self.broker_name.map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::CommandHeader;

    fn full() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: -1,
            sys_flag: 2,
            born_timestamp: 1_700_000_000_000,
            flag: 7,
            properties: Some("WAIT\u{1}true\u{2}".into()),
            reconsume_times: Some(3),
            unit_mode: Some(false),
            batch: Some(true),
            max_reconsume_times: Some(16),
            broker_name: Some("b0".into()),
        }
    }

    #[test]
    fn reads_what_the_owned_header_reads_in_both_forms() {
        let long = full().to_ext_fields();
        let short = SendMessageRequestHeaderV2::from(full()).to_ext_fields();
        for (code, fields) in [(10, &long), (324, &long), (310, &short), (320, &short)] {
            let view = SendMessageRequestView::read(code, fields).unwrap();
            assert_eq!(view.to_header(), full());
            assert_eq!(
                view.to_header(),
                SendMessageRequestHeader::read_any(code, fields).unwrap()
            );
        }
    }

    #[test]
    fn errors_are_the_owned_header_errors() {
        let mut cases = Vec::new();
        let mut f = full().to_ext_fields();
        f.remove("topic");
        cases.push((10, f));
        let mut f = SendMessageRequestHeaderV2::from(full()).to_ext_fields();
        f.insert("g", "17e9");
        cases.push((310, f));
        let mut f = SendMessageRequestHeaderV2::from(full()).to_ext_fields();
        f.insert("j", "x");
        cases.push((310, f));
        cases.push((310, full().to_ext_fields()));
        for (code, fields) in &cases {
            assert_eq!(
                SendMessageRequestView::read(*code, fields).unwrap_err(),
                SendMessageRequestHeader::read_any(*code, fields).unwrap_err()
            );
        }
        let mut sparse = SendMessageRequestHeaderV2::from(full()).to_ext_fields();
        for key in ["i", "j", "k", "l", "m", "n"] {
            sparse.remove(key);
        }
        assert_eq!(
            SendMessageRequestView::read(310, &sparse)
                .unwrap()
                .to_header(),
            SendMessageRequestHeader::read_any(310, &sparse).unwrap()
        );
    }
}
