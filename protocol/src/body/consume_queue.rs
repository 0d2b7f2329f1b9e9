//! QUERY_CONSUME_QUEUE (321): a dump of ConsumeQueue entries for
//! `mqadmin queryCq` (`QueryConsumeQueueResponseBody`, `ConsumeQueueData`).

use serde::{Deserialize, Serialize};

use super::SubscriptionData;

/// One queue's entries from the asked index on (`QueryConsumeQueueResponseBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryConsumeQueueResponseBody {
    /// Java's `ConsumerFilterData` as pretty JSON (`"null"` for a tag
    /// subscription), or `<group>@<topic> is not online!`; only when a
    /// group was asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_data: Option<String>,
    /// The queue's max offset (next to be written).
    pub max_queue_index: i64,
    /// The queue's min offset.
    pub min_queue_index: i64,
    /// The entries, from the asked index on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_data: Option<Vec<ConsumeQueueData>>,
    /// The asked group's subscription to the topic, when it is online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
}

/// One ConsumeQueue entry (`ConsumeQueueData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeQueueData {
    /// The extension unit's filter bit map (ConsumeQueue extensions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_map: Option<String>,
    /// Whether the group's filter matched (ConsumeQueue extensions only).
    pub eval: bool,
    /// The extension unit as JSON (ConsumeQueue extensions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend_data_json: Option<String>,
    /// A note when the entry's extension is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// CommitLog offset of the message.
    pub physic_offset: i64,
    /// Size of the message record.
    pub physic_size: i32,
    /// The tags hash code (or delivery time of a delayed message).
    pub tags_code: i64,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<QueryConsumeQueueResponseBody>();
        assert_fields_sorted::<ConsumeQueueData>();
    }

    #[test]
    fn exact_output_without_a_group() {
        check_body(
            &QueryConsumeQueueResponseBody {
                max_queue_index: 3,
                min_queue_index: 0,
                queue_data: Some(vec![
                    ConsumeQueueData {
                        physic_offset: 0,
                        physic_size: 180,
                        tags_code: 0,
                        ..ConsumeQueueData::default()
                    },
                    ConsumeQueueData {
                        physic_offset: 180,
                        physic_size: 184,
                        tags_code: 2_598_919,
                        ..ConsumeQueueData::default()
                    },
                ]),
                ..QueryConsumeQueueResponseBody::default()
            },
            r#"{"maxQueueIndex":3,"minQueueIndex":0,"queueData":[{"eval":false,"physicOffset":0,"physicSize":180,"tagsCode":0},{"eval":false,"physicOffset":180,"physicSize":184,"tagsCode":2598919}]}"#,
        );
    }

    #[test]
    fn exact_output_with_a_group() {
        let subscription = SubscriptionData {
            code_set: BTreeSet::from([2_598_919]),
            expression_type: SubscriptionData::EXPRESSION_TAG.to_owned(),
            sub_string: "TagA".to_owned(),
            sub_version: 1_700_000_000_000,
            tags_set: BTreeSet::from(["TagA".to_owned()]),
            topic: "T".to_owned(),
            ..SubscriptionData::default()
        };
        check_body(
            &QueryConsumeQueueResponseBody {
                filter_data: Some("null".to_owned()),
                max_queue_index: 5,
                min_queue_index: 2,
                queue_data: Some(Vec::new()),
                subscription_data: Some(subscription),
            },
            r#"{"filterData":"null","maxQueueIndex":5,"minQueueIndex":2,"queueData":[],"subscriptionData":{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T"}}"#,
        );
        check_body(
            &QueryConsumeQueueResponseBody {
                filter_data: Some("G@T is not online!".to_owned()),
                ..QueryConsumeQueueResponseBody::default()
            },
            r#"{"filterData":"G@T is not online!","maxQueueIndex":0,"minQueueIndex":0}"#,
        );
    }

    #[test]
    fn reads_what_java_writes() {
        // fastjson writes the extension fields when a ConsumeQueue extension
        // is in use, and null collections as null.
        let doc = br#"{"filterData":"null","maxQueueIndex":1,"minQueueIndex":0,"queueData":[{"bitMap":"01","eval":true,"extendDataJson":"{}","msg":"m","physicOffset":9,"physicSize":10,"tagsCode":-5}],"subscriptionData":null}"#;
        let body = <QueryConsumeQueueResponseBody as crate::body::Body>::decode(doc).unwrap();
        let entry = &body.queue_data.as_ref().unwrap()[0];
        assert_eq!(entry.bit_map.as_deref(), Some("01"));
        assert!(entry.eval);
        assert_eq!(
            (entry.physic_offset, entry.physic_size, entry.tags_code),
            (9, 10, -5)
        );
        assert_eq!(body.subscription_data, None);
    }
}
