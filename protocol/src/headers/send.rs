//! Sending messages: long-name and one-letter request headers (codes 10, 310, 320, 324, 325), the send response and the reply push (326).

use crate::ext_fields::ExtFields;
use crate::headers::{CommandHeader, HeaderError};

mod view;

pub use view::SendMessageRequestView;

/// Response extField with the broker's region (`MessageConst.PROPERTY_MSG_REGION`).
///
/// The Java client reads it from every send response without a null check,
/// so a send response must always carry extFields.
pub const MSG_REGION: &str = "MSG_REGION";
/// Response extField with the broker's trace switch, `"true"`/`"false"`
/// (`MessageConst.PROPERTY_TRACE_SWITCH`).
pub const TRACE_ON: &str = "TRACE_ON";
/// The Java broker's default `regionId`.
pub const DEFAULT_REGION: &str = "DefaultRegion";

command_header! {
    /// SEND_MESSAGE (10) and SEND_REPLY_MESSAGE (324) request, with Java's
    /// long field names (`SendMessageRequestHeader`).
    ///
    /// Requests 310, 320 and 325 carry the same fields under one-letter keys
    /// ([`SendMessageRequestHeaderV2`]); [`SendMessageRequestHeader::read_any`]
    /// decodes either form by request code.
    pub struct SendMessageRequestHeader {
        req producer_group: String = "producerGroup",
        req topic: String = "topic",
        req default_topic: String = "defaultTopic",
        req default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        req queue_id: i32 = "queueId",
        req sys_flag: i32 = "sysFlag",
        req born_timestamp: i64 = "bornTimestamp",
        req flag: i32 = "flag",
        opt properties: String = "properties",
        opt reconsume_times: i32 = "reconsumeTimes",
        opt unit_mode: bool = "unitMode",
        opt batch: bool = "batch",
        opt max_reconsume_times: i32 = "maxReconsumeTimes",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and
    /// SEND_REPLY_MESSAGE_V2 (325) request (`SendMessageRequestHeaderV2`):
    /// the fields of [`SendMessageRequestHeader`] under the keys `a`..`n`.
    ///
    /// `n` (broker name) takes the place of V1's inherited `bname`; Java's
    /// fast codec for this header writes and reads no other key.
    pub struct SendMessageRequestHeaderV2 {
        req producer_group: String = "a",
        req topic: String = "b",
        req default_topic: String = "c",
        req default_topic_queue_nums: i32 = "d",
        req queue_id: i32 = "e",
        req sys_flag: i32 = "f",
        req born_timestamp: i64 = "g",
        req flag: i32 = "h",
        opt properties: String = "i",
        opt reconsume_times: i32 = "j",
        opt unit_mode: bool = "k",
        opt max_reconsume_times: i32 = "l",
        opt batch: bool = "m",
        opt broker_name: String = "n",
    }
}

command_header! {
    /// Response to SEND_MESSAGE (10), SEND_MESSAGE_V2 (310),
    /// SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE(_V2) (324/325).
    ///
    /// `msgId` is the offset message id (comma-separated for a batch),
    /// `queueOffset` the first offset of a batch and `transactionId` the
    /// UNIQ_KEY of a half message. Java brokers add the extFields
    /// [`MSG_REGION`] and [`TRACE_ON`] next to these keys.
    pub struct SendMessageResponseHeader {
        req msg_id: String = "msgId",
        req queue_id: i32 = "queueId",
        req queue_offset: i64 = "queueOffset",
        opt transaction_id: String = "transactionId",
        opt batch_uniq_id: String = "batchUniqId",
        opt recall_handle: String = "recallHandle",
    }
}

command_header! {
    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326) request, broker to requesting
    /// client (`ReplyMessageRequestHeader`). Java's `unitMode` defaults to
    /// false when absent.
    pub struct ReplyMessageRequestHeader {
        req producer_group: String = "producerGroup",
        req topic: String = "topic",
        req default_topic: String = "defaultTopic",
        req default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        req queue_id: i32 = "queueId",
        req sys_flag: i32 = "sysFlag",
        req born_timestamp: i64 = "bornTimestamp",
        req flag: i32 = "flag",
        opt properties: String = "properties",
        opt reconsume_times: i32 = "reconsumeTimes",
        opt unit_mode: bool = "unitMode",
        req born_host: String = "bornHost",
        req store_host: String = "storeHost",
        req store_timestamp: i64 = "storeTimestamp",
        opt broker_name: String = "bname",
    }
}

impl SendMessageRequestHeaderV2 {
    /// Whether request `code` carries the one-letter keys: SEND_MESSAGE_V2
    /// (310), SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE_V2 (325).
    pub fn is_v2_code(code: i32) -> bool {
        matches!(code, 310 | 320 | 325)
    }
}

impl SendMessageRequestHeader {
    /// Reads the header of a send request with code `code`, as Java's
    /// `parseRequestHeader` does: one-letter keys for 310, 320 and 325
    /// (see [`SendMessageRequestHeaderV2::is_v2_code`]), long names
    /// otherwise (10 SEND_MESSAGE, 324 SEND_REPLY_MESSAGE).
    pub fn read_any(code: i32, fields: &ExtFields) -> Result<Self, HeaderError> {
        if SendMessageRequestHeaderV2::is_v2_code(code) {
            SendMessageRequestHeaderV2::read_from(fields).map(Self::from)
        } else {
            Self::read_from(fields)
        }
    }

    /// The header as `extFields` for a request with code `code`: one-letter
    /// keys for 310, 320 and 325, long names otherwise.
    pub fn to_ext_fields_for(&self, code: i32) -> ExtFields {
        if SendMessageRequestHeaderV2::is_v2_code(code) {
            SendMessageRequestHeaderV2::from(self.clone()).to_ext_fields()
        } else {
            self.to_ext_fields()
        }
    }
}

/// Java's `createSendMessageRequestHeaderV1`.
impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        Self {
            producer_group: v2.producer_group,
            topic: v2.topic,
            default_topic: v2.default_topic,
            default_topic_queue_nums: v2.default_topic_queue_nums,
            queue_id: v2.queue_id,
            sys_flag: v2.sys_flag,
            born_timestamp: v2.born_timestamp,
            flag: v2.flag,
            properties: v2.properties,
            reconsume_times: v2.reconsume_times,
            unit_mode: v2.unit_mode,
            batch: v2.batch,
            max_reconsume_times: v2.max_reconsume_times,
            broker_name: v2.broker_name,
        }
    }
}

/// Java's `createSendMessageRequestHeaderV2`.
impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            max_reconsume_times: v1.max_reconsume_times,
            batch: v1.batch,
            broker_name: v1.broker_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_v1() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 2,
            sys_flag: 0b100,
            born_timestamp: 1_700_000_000_000,
            flag: 7,
            properties: Some("TAGS\u{1}A\u{2}UNIQ_KEY\u{1}X\u{2}".into()),
            reconsume_times: Some(1),
            unit_mode: Some(false),
            batch: Some(true),
            max_reconsume_times: Some(16),
            broker_name: Some("broker-a".into()),
        }
    }

    #[test]
    fn v1_round_trip_uses_long_names() {
        let h = full_v1();
        let f = h.to_ext_fields();
        assert_eq!(f.len(), 14);
        assert_eq!(f.get("producerGroup"), Some("PG"));
        assert_eq!(f.get("bornTimestamp"), Some("1700000000000"));
        assert_eq!(f.get("batch"), Some("true"));
        assert_eq!(f.get("bname"), Some("broker-a"));
        assert_eq!(SendMessageRequestHeader::read_from(&f).unwrap(), h);
    }

    #[test]
    fn v2_keys_match_java() {
        let v2 = SendMessageRequestHeaderV2::from(full_v1());
        let f = v2.to_ext_fields();
        let got: Vec<_> = f.iter().collect();
        assert_eq!(
            got,
            vec![
                ("a", "PG"),
                ("b", "T"),
                ("c", "TBW102"),
                ("d", "4"),
                ("e", "2"),
                ("f", "4"),
                ("g", "1700000000000"),
                ("h", "7"),
                ("i", "TAGS\u{1}A\u{2}UNIQ_KEY\u{1}X\u{2}"),
                ("j", "1"),
                ("k", "false"),
                ("l", "16"),
                ("m", "true"),
                ("n", "broker-a"),
            ]
        );
        assert_eq!(SendMessageRequestHeaderV2::read_from(&f).unwrap(), v2);
    }

    #[test]
    fn v1_v2_conversion_keeps_every_field() {
        let v1 = full_v1();
        let v2 = SendMessageRequestHeaderV2::from(v1.clone());
        assert_eq!(v2.producer_group, "PG");
        assert_eq!(v2.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(SendMessageRequestHeader::from(v2), v1);
        // Every key survives the trip through the short form.
        let long = v1.to_ext_fields();
        let short = v1.to_ext_fields_for(310);
        assert_eq!(long.len(), short.len());
        assert_eq!(SendMessageRequestHeader::read_any(310, &short).unwrap(), v1);
        // And the absent optionals stay absent.
        let bare = SendMessageRequestHeader {
            properties: None,
            reconsume_times: None,
            unit_mode: None,
            batch: None,
            max_reconsume_times: None,
            broker_name: None,
            ..v1
        };
        let short = bare.to_ext_fields_for(320);
        assert_eq!(short.len(), 8);
        assert_eq!(
            SendMessageRequestHeader::read_any(320, &short).unwrap(),
            bare
        );
    }

    #[test]
    fn read_any_picks_the_form_by_code() {
        let v1 = full_v1();
        let long = v1.to_ext_fields();
        let short = SendMessageRequestHeaderV2::from(v1.clone()).to_ext_fields();
        for code in [10, 324] {
            assert_eq!(SendMessageRequestHeader::read_any(code, &long).unwrap(), v1);
            assert_eq!(
                SendMessageRequestHeader::read_any(code, &short).unwrap_err(),
                HeaderError::Missing("producerGroup")
            );
        }
        for code in [310, 320, 325] {
            assert!(SendMessageRequestHeaderV2::is_v2_code(code));
            assert_eq!(
                SendMessageRequestHeader::read_any(code, &short).unwrap(),
                v1
            );
            assert_eq!(
                SendMessageRequestHeader::read_any(code, &long).unwrap_err(),
                HeaderError::Missing("a")
            );
        }
        assert!(!SendMessageRequestHeaderV2::is_v2_code(10));
        assert_eq!(v1.to_ext_fields_for(10), long);
    }

    #[test]
    fn missing_and_malformed_fields() {
        let mut f = full_v1().to_ext_fields();
        f.remove("defaultTopicQueueNums");
        assert_eq!(
            SendMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("defaultTopicQueueNums")
        );
        let mut f = SendMessageRequestHeaderV2::from(full_v1()).to_ext_fields();
        f.insert("g", "17e9");
        assert_eq!(
            SendMessageRequestHeaderV2::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "g",
                value: "17e9".into(),
                expected: "64-bit integer"
            }
        );
        f.insert("g", "1");
        f.insert("j", "");
        assert!(matches!(
            SendMessageRequestHeaderV2::read_from(&f),
            Err(HeaderError::Malformed { field: "j", .. })
        ));
    }

    #[test]
    fn response_round_trip() {
        let h = SendMessageResponseHeader {
            msg_id: "0A00000100002A9F0000000000000010,0A00000100002A9F0000000000000090".into(),
            queue_id: 3,
            queue_offset: 42,
            transaction_id: Some("7F0000010001".into()),
            batch_uniq_id: None,
            recall_handle: None,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.len(), 4);
        f.insert(MSG_REGION, DEFAULT_REGION);
        f.insert(TRACE_ON, "true");
        assert_eq!(SendMessageResponseHeader::read_from(&f).unwrap(), h);
        f.remove("queueOffset");
        assert_eq!(
            SendMessageResponseHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("queueOffset")
        );
    }

    #[test]
    fn reply_push_round_trip() {
        let h = ReplyMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: 1,
            flag: 0,
            properties: None,
            reconsume_times: Some(0),
            unit_mode: Some(false),
            born_host: "10.0.0.5:5000".into(),
            store_host: "10.0.0.1:10911".into(),
            store_timestamp: 2,
            broker_name: None,
        };
        let f = h.to_ext_fields();
        assert_eq!(ReplyMessageRequestHeader::read_from(&f).unwrap(), h);
        let mut f = f;
        f.remove("storeHost");
        assert_eq!(
            ReplyMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("storeHost")
        );
    }

    fn arb_v2() -> impl Strategy<Value = SendMessageRequestHeaderV2> {
        (
            (
                any::<String>(),
                any::<String>(),
                any::<String>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
            ),
            (
                proptest::option::of(any::<String>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<String>()),
            ),
        )
            .prop_map(|((a, b, c, d, e, f, g, h), (i, j, k, l, m, n))| {
                SendMessageRequestHeaderV2 {
                    producer_group: a,
                    topic: b,
                    default_topic: c,
                    default_topic_queue_nums: d,
                    queue_id: e,
                    sys_flag: f,
                    born_timestamp: g,
                    flag: h,
                    properties: i,
                    reconsume_times: j,
                    unit_mode: k,
                    max_reconsume_times: l,
                    batch: m,
                    broker_name: n,
                }
            })
    }

    proptest! {
        #[test]
        fn prop_v2_round_trip(h in arb_v2()) {
            let f = h.to_ext_fields();
            prop_assert_eq!(SendMessageRequestHeaderV2::read_from(&f).unwrap(), h.clone());
            let v1 = SendMessageRequestHeader::from(h.clone());
            prop_assert_eq!(SendMessageRequestHeaderV2::from(v1.clone()), h);
            prop_assert_eq!(SendMessageRequestHeader::read_any(310, &f).unwrap(), v1.clone());
            prop_assert_eq!(
                SendMessageRequestHeader::read_any(10, &v1.to_ext_fields()).unwrap(),
                v1
            );
        }
    }
}
