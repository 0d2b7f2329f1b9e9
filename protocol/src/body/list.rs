//! Name lists: GET_CONSUMER_LIST_BY_GROUP (38), topic lists (206, 21, …)
//! and group lists (GET_CONSUMER_GROUPS… / QUERY_TOPIC_CONSUME_BY_WHO).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;

/// The live client ids of a consumer group (`GetConsumerListByGroupResponseBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerListByGroupResponseBody {
    /// Client ids, in the order the broker lists them.
    #[serde(deserialize_with = "nullable")]
    pub consumer_id_list: Vec<String>,
}

/// A set of topic names (`TopicList`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// The answering broker's address, when it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// Topic names.
    #[serde(deserialize_with = "nullable")]
    pub topic_list: BTreeSet<String>,
}

/// A set of group names (`GroupList`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    /// Group names.
    #[serde(deserialize_with = "nullable")]
    pub group_list: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<GetConsumerListByGroupResponseBody>();
        assert_fields_sorted::<TopicList>();
        assert_fields_sorted::<GroupList>();
    }

    #[test]
    fn exact_output() {
        check_body(
            &GetConsumerListByGroupResponseBody {
                consumer_id_list: vec!["b@2".into(), "a@1".into()],
            },
            r#"{"consumerIdList":["b@2","a@1"]}"#,
        );
        check_body(
            &TopicList {
                broker_addr: None,
                topic_list: ["%RETRY%CG".to_owned(), "T".to_owned()].into(),
            },
            r#"{"topicList":["%RETRY%CG","T"]}"#,
        );
        check_body(
            &TopicList {
                broker_addr: Some("10.0.0.1:10911".into()),
                topic_list: BTreeSet::new(),
            },
            r#"{"brokerAddr":"10.0.0.1:10911","topicList":[]}"#,
        );
        check_body(
            &GroupList {
                group_list: ["CG".to_owned()].into(),
            },
            r#"{"groupList":["CG"]}"#,
        );
    }
}
