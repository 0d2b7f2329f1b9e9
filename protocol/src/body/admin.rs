//! Offset statistics and resets keyed by `MessageQueue`: GET_CONSUME_STATS
//! (208), GET_TOPIC_STATS_INFO (202), INVOKE_BROKER_TO_RESET_OFFSET (222).
//!
//! fastjson writes these maps with the queue object itself as the key, which
//! `Body::encode` reproduces in [`KeyStyle::Unquoted`](super::KeyStyle).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;
use super::{MessageQueue, mq_key_map};

/// A group's progress on each queue (`ConsumeStats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    /// Messages consumed per second (Java writes NaN as null).
    #[serde(deserialize_with = "nullable")]
    pub consume_tps: f64,
    /// Queue → offsets.
    #[serde(with = "mq_key_map")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

/// One queue's offsets for a group (`OffsetWrapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// The queue's max offset.
    pub broker_offset: i64,
    /// The group's committed offset.
    pub consumer_offset: i64,
    /// Store time of the last consumed message, ms.
    pub last_timestamp: i64,
    /// Next offset the group will pull.
    pub pull_offset: i64,
}

/// A topic's queues and their offsets (`TopicStatsTable`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    /// Queue → offsets.
    #[serde(with = "mq_key_map")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    /// Messages put per second (5.x; Java writes NaN as null).
    #[serde(deserialize_with = "nullable")]
    pub topic_put_tps: f64,
}

/// One queue's offset range (`TopicOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// Store time of the last message, ms (0 when empty).
    pub last_update_timestamp: i64,
    /// Next offset to be written.
    pub max_offset: i64,
    /// First offset still stored.
    pub min_offset: i64,
}

/// Offsets a reset moved each queue to (`ResetOffsetBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    /// Queue → new offset.
    #[serde(with = "mq_key_map")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};
    use crate::body::{Body, KeyStyle};

    fn mq(q: i32) -> MessageQueue {
        MessageQueue::new("T", "b", q)
    }

    #[test]
    fn field_order() {
        assert_fields_sorted::<ConsumeStats>();
        assert_fields_sorted::<OffsetWrapper>();
        assert_fields_sorted::<TopicStatsTable>();
        assert_fields_sorted::<TopicOffset>();
        assert_fields_sorted::<ResetOffsetBody>();
    }

    #[test]
    fn consume_stats_exact_output() {
        let stats = ConsumeStats {
            consume_tps: 0.0,
            offset_table: [(
                mq(0),
                OffsetWrapper {
                    broker_offset: 9,
                    consumer_offset: 7,
                    last_timestamp: 1_700_000_000_000,
                    pull_offset: 7,
                },
            )]
            .into(),
        };
        check_body(
            &stats,
            r#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":9,"consumerOffset":7,"lastTimestamp":1700000000000,"pullOffset":7}}}"#,
        );
        assert_eq!(
            String::from_utf8(stats.encode(KeyStyle::Quoted)).unwrap(),
            r#"{"consumeTps":0.0,"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{"brokerOffset":9,"consumerOffset":7,"lastTimestamp":1700000000000,"pullOffset":7}}}"#
        );
    }

    #[test]
    fn topic_stats_exact_output() {
        let stats = TopicStatsTable {
            offset_table: [
                (
                    mq(1),
                    TopicOffset {
                        last_update_timestamp: 5,
                        max_offset: 10,
                        min_offset: 2,
                    },
                ),
                (mq(0), TopicOffset::default()),
            ]
            .into(),
            topic_put_tps: 12.5,
        };
        check_body(
            &stats,
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0},{"brokerName":"b","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":10,"minOffset":2}},"topicPutTps":12.5}"#,
        );
    }

    #[test]
    fn reset_offset_exact_output() {
        let body = ResetOffsetBody {
            offset_table: [(mq(0), 100), (mq(3), -1)].into(),
        };
        check_body(
            &body,
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:100,{"brokerName":"b","queueId":3,"topic":"T"}:-1}}"#,
        );
        check_body(&ResetOffsetBody::default(), r#"{"offsetTable":{}}"#);
    }

    #[test]
    fn reads_java_key_field_order_and_nan() {
        // Keys as Java might lay them out, with whitespace; null tps from NaN.
        let doc = br#"{"offsetTable":{ { "topic" : "T" , "brokerName":"b","queueId":2} : {"pullOffset":1} },"consumeTps":null}"#;
        let stats = ConsumeStats::decode(doc).unwrap();
        assert_eq!(stats.offset_table[&mq(2)].pull_offset, 1);
        assert_eq!(stats.consume_tps, 0.0);
    }

    #[test]
    fn special_characters_in_queue_keys_survive() {
        let q = MessageQueue::new("T\"{:}\u{1}é/", "b\\", 0);
        let body = ResetOffsetBody {
            offset_table: [(q.clone(), 1)].into(),
        };
        for style in [KeyStyle::Unquoted, KeyStyle::Quoted] {
            let back = ResetOffsetBody::decode(&body.encode(style)).unwrap();
            assert_eq!(back, body, "{style:?}");
        }
        assert_eq!(
            String::from_utf8(body.encode(KeyStyle::Unquoted)).unwrap(),
            "{\"offsetTable\":{{\"brokerName\":\"b\\\\\",\"queueId\":0,\"topic\":\"T\\\"{:}\\u0001é/\"}:1}}"
        );
    }
}
