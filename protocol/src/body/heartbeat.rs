//! Client heartbeats (HEART_BEAT, 34) and the subscription model they carry.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::lenient::{int_set, java_enum, java_enum_opt, nullable};

/// How a consumer gets messages (`ConsumeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeType {
    /// `CONSUME_ACTIVELY`: pull consumer.
    ConsumeActively,
    /// `CONSUME_PASSIVELY`: push consumer.
    ConsumePassively,
    /// `CONSUME_POP`: pop consumer (5.x).
    ConsumePop,
}

java_enum!(ConsumeType {
    ConsumeActively = "CONSUME_ACTIVELY",
    ConsumePassively = "CONSUME_PASSIVELY",
    ConsumePop = "CONSUME_POP",
});

/// How a group shares a topic's queues (`MessageModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageModel {
    /// `BROADCASTING`: every consumer gets every queue.
    Broadcasting,
    /// `CLUSTERING`: queues are divided among the group.
    Clustering,
}

java_enum!(MessageModel {
    Broadcasting = "BROADCASTING",
    Clustering = "CLUSTERING",
});

/// Where a push consumer starts a queue without a stored offset (`ConsumeFromWhere`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeFromWhere {
    /// `CONSUME_FROM_LAST_OFFSET` (the default).
    ConsumeFromLastOffset,
    /// `CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST` (deprecated).
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// `CONSUME_FROM_MIN_OFFSET` (deprecated).
    ConsumeFromMinOffset,
    /// `CONSUME_FROM_MAX_OFFSET` (deprecated).
    ConsumeFromMaxOffset,
    /// `CONSUME_FROM_FIRST_OFFSET`.
    ConsumeFromFirstOffset,
    /// `CONSUME_FROM_TIMESTAMP`.
    ConsumeFromTimestamp,
}

java_enum!(ConsumeFromWhere {
    ConsumeFromLastOffset = "CONSUME_FROM_LAST_OFFSET",
    ConsumeFromLastOffsetAndFromMinWhenBootFirst = "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    ConsumeFromMinOffset = "CONSUME_FROM_MIN_OFFSET",
    ConsumeFromMaxOffset = "CONSUME_FROM_MAX_OFFSET",
    ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET",
    ConsumeFromTimestamp = "CONSUME_FROM_TIMESTAMP",
});

/// A client's heartbeat: its producer and consumer groups (`HeartbeatData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// `clientIP@instanceName[@unitName]`.
    #[serde(rename = "clientID", deserialize_with = "nullable")]
    pub client_id: String,
    /// Consumer groups on this client.
    #[serde(deserialize_with = "nullable")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Hash of the subscriptions, for heartbeat v2 (5.x; 0 otherwise).
    pub heartbeat_fingerprint: i32,
    /// Producer groups on this client.
    #[serde(deserialize_with = "nullable")]
    pub producer_data_set: Vec<ProducerData>,
    /// Subscriptions omitted because the fingerprint is unchanged (5.x).
    pub without_sub: bool,
}

/// One producer group of a client (`ProducerData`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    /// Producer group.
    #[serde(deserialize_with = "nullable")]
    pub group_name: String,
}

/// One consumer group of a client (`ConsumerData`). The enums are `None`
/// when absent or unknown, as fastjson leaves them null.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// Where to start without a stored offset.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Pull, push or pop.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_type: Option<ConsumeType>,
    /// Consumer group.
    #[serde(deserialize_with = "nullable")]
    pub group_name: String,
    /// Clustering or broadcasting.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    /// Topics the group subscribes to.
    #[serde(deserialize_with = "nullable")]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit (cell) mode.
    pub unit_mode: bool,
}

/// A group's subscription to one topic (`SubscriptionData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    /// Legacy class filter.
    pub class_filter_mode: bool,
    /// Java `String.hashCode` of each tag (numbers, or strings holding them).
    #[serde(deserialize_with = "int_set")]
    pub code_set: BTreeSet<i32>,
    /// [`Self::EXPRESSION_TAG`] or [`Self::EXPRESSION_SQL92`].
    #[serde(deserialize_with = "nullable")]
    pub expression_type: String,
    /// Legacy filter class source; read but never written (`serialize = false` in Java).
    #[serde(skip_serializing)]
    pub filter_class_source: Option<String>,
    /// The expression: `*`, `TagA || TagB`, or SQL92.
    #[serde(deserialize_with = "nullable")]
    pub sub_string: String,
    /// Version (creation time in ms); the broker rejects pulls older than it.
    pub sub_version: i64,
    /// The tags of a TAG expression.
    #[serde(deserialize_with = "nullable")]
    pub tags_set: BTreeSet<String>,
    /// Topic.
    #[serde(deserialize_with = "nullable")]
    pub topic: String,
}

impl SubscriptionData {
    /// The match-all expression.
    pub const SUB_ALL: &'static str = "*";
    /// Tag expression type (`ExpressionType.TAG`).
    pub const EXPRESSION_TAG: &'static str = "TAG";
    /// SQL92 expression type (`ExpressionType.SQL92`).
    pub const EXPRESSION_SQL92: &'static str = "SQL92";
}

impl Default for SubscriptionData {
    fn default() -> Self {
        // Java stamps subVersion with the current time; a decoded body that
        // lacks it gets 0, which any real version supersedes.
        Self {
            class_filter_mode: false,
            code_set: BTreeSet::new(),
            expression_type: Self::EXPRESSION_TAG.to_owned(),
            filter_class_source: None,
            sub_string: String::new(),
            sub_version: 0,
            tags_set: BTreeSet::new(),
            topic: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<HeartbeatData>();
        assert_fields_sorted::<ProducerData>();
        assert_fields_sorted::<ConsumerData>();
        assert_fields_sorted::<SubscriptionData>();
    }

    fn sample() -> HeartbeatData {
        HeartbeatData {
            client_id: "10.0.0.5@12345#987654321".into(),
            producer_data_set: vec![ProducerData {
                group_name: "PG".into(),
            }],
            consumer_data_set: vec![ConsumerData {
                group_name: "CG".into(),
                consume_type: Some(ConsumeType::ConsumePassively),
                message_model: Some(MessageModel::Clustering),
                consume_from_where: Some(ConsumeFromWhere::ConsumeFromLastOffset),
                unit_mode: false,
                subscription_data_set: vec![SubscriptionData {
                    topic: "T".into(),
                    sub_string: "TagA || TagB".into(),
                    tags_set: ["TagA".to_owned(), "TagB".to_owned()].into(),
                    code_set: [2_598_919, 2_598_920].into(),
                    sub_version: 1_700_000_000_000,
                    ..Default::default()
                }],
            }],
            heartbeat_fingerprint: 0,
            without_sub: false,
        }
    }

    #[test]
    fn heartbeat_exact_output() {
        check_body(
            &sample(),
            r#"{"clientID":"10.0.0.5@12345#987654321","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"CG","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"T"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"PG"}],"withoutSub":false}"#,
        );
    }

    #[test]
    fn reads_the_4x_java_shape() {
        let doc = br#"{"clientID":"10.0.0.5@12345#987654321","producerDataSet":[{"groupName":"PG"}],
 "consumerDataSet":[{"groupName":"CG","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",
  "consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,
  "subscriptionDataSet":[{"topic":"T","subString":"TagA || TagB","tagsSet":["TagA","TagB"],
   "codeSet":[2598919,2598920],"subVersion":1700000000000,"expressionType":"TAG","classFilterMode":false}]}]}"#;
        assert_eq!(HeartbeatData::decode(doc).unwrap(), sample());
    }

    #[test]
    fn lenient_like_fastjson() {
        // Go sends nil slices as null; unknown enum names and ordinals read
        // as fastjson reads them; filterClassSource is read, never written.
        let doc = br#"{"clientID":"c","producerDataSet":null,"consumerDataSet":[{"groupName":"G",
            "consumeType":"CONSUME_LATER","messageModel":1,"consumeFromWhere":"UNKNOWN",
            "subscriptionDataSet":null},{"groupName":"H","consumeType":null,"messageModel":9,
            "subscriptionDataSet":[{"topic":"T","subString":"*","tagsSet":null,"codeSet":null,
            "filterClassSource":"x","expressionType":null}]}]}"#;
        let hb = HeartbeatData::decode(doc).unwrap();
        assert!(hb.producer_data_set.is_empty());
        let g = &hb.consumer_data_set[0];
        assert_eq!(g.consume_type, None);
        assert_eq!(g.message_model, Some(MessageModel::Clustering));
        assert_eq!(g.consume_from_where, None);
        let h = &hb.consumer_data_set[1];
        assert_eq!((h.consume_type, h.message_model), (None, None));
        let sub = &h.subscription_data_set[0];
        assert_eq!(sub.filter_class_source.as_deref(), Some("x"));
        assert_eq!(sub.expression_type, "");
        let out = String::from_utf8(hb.encode(crate::body::KeyStyle::Unquoted)).unwrap();
        assert!(
            !out.contains("filterClassSource") && !out.contains("consumeType"),
            "{out}"
        );
    }

    #[test]
    fn wrong_types_are_errors() {
        for doc in [
            br#"{"clientID":5}"#.as_slice(),
            br#"{"consumerDataSet":[{"consumeType":true}]}"#,
            br#"{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["a"]}]}]}"#,
        ] {
            assert!(HeartbeatData::decode(doc).is_err());
        }
    }

    #[test]
    fn code_set_accepts_numeric_strings_as_fastjson_does() {
        let doc = br#"{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["2598919",2598920,null]}]}]}"#;
        // A null element is not an integer either.
        assert!(HeartbeatData::decode(doc).is_err());
        let doc =
            br#"{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["2598919",2598920]}]}]}"#;
        let hb = HeartbeatData::decode(doc).unwrap();
        let codes = &hb.consumer_data_set[0].subscription_data_set[0].code_set;
        assert_eq!(
            codes.iter().copied().collect::<Vec<_>>(),
            [2_598_919, 2_598_920]
        );
        let doc = br#"{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":null}]}]}"#;
        assert!(HeartbeatData::decode(doc).is_ok());
    }

    #[test]
    fn enum_names() {
        assert_eq!(ConsumeType::ConsumePop.name(), "CONSUME_POP");
        assert_eq!(MessageModel::Broadcasting.name(), "BROADCASTING");
        assert_eq!(
            serde_json::to_string(&ConsumeFromWhere::ConsumeFromTimestamp).unwrap(),
            r#""CONSUME_FROM_TIMESTAMP""#
        );
    }
}
