//! Static-topic queue mappings (`remoting/protocol/statictopic`), carried in
//! routes and broker registrations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;

/// Java's `MixAll.METADATA_SCOPE_GLOBAL`, the default mapping scope.
const SCOPE_GLOBAL: &str = "__global__";

/// Which physical queue serves each logical queue of a static topic
/// (`TopicQueueMappingInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicQueueMappingInfo {
    /// The hosting broker's name.
    #[serde(deserialize_with = "nullable")]
    pub bname: String,
    /// Logical queue id → physical queue id on this broker.
    #[serde(deserialize_with = "nullable")]
    pub curr_id_map: BTreeMap<i32, i32>,
    /// The mapping changed and is not yet persisted.
    pub dirty: bool,
    /// Fences out stale mappings.
    pub epoch: i64,
    /// Mapping scope (`__global__` by default).
    #[serde(deserialize_with = "nullable")]
    pub scope: String,
    /// The topic (redundant with the enclosing map's key).
    #[serde(deserialize_with = "nullable")]
    pub topic: String,
    /// Logical queue count of the topic.
    pub total_queues: i32,
}

impl Default for TopicQueueMappingInfo {
    fn default() -> Self {
        Self {
            bname: String::new(),
            curr_id_map: BTreeMap::new(),
            dirty: false,
            epoch: 0,
            scope: SCOPE_GLOBAL.to_owned(),
            topic: String::new(),
            total_queues: 0,
        }
    }
}

/// A broker's full mapping of a static topic (`TopicQueueMappingDetail`):
/// the info plus the history of every hosted logical queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicQueueMappingDetail {
    /// The hosting broker's name.
    #[serde(deserialize_with = "nullable")]
    pub bname: String,
    /// Logical queue id → physical queue id on this broker.
    #[serde(deserialize_with = "nullable")]
    pub curr_id_map: BTreeMap<i32, i32>,
    /// The mapping changed and is not yet persisted.
    pub dirty: bool,
    /// Fences out stale mappings.
    pub epoch: i64,
    /// Logical queue id → its mapping items, oldest first.
    #[serde(deserialize_with = "nullable")]
    pub hosted_queues: BTreeMap<i32, Vec<LogicQueueMappingItem>>,
    /// Mapping scope (`__global__` by default).
    #[serde(deserialize_with = "nullable")]
    pub scope: String,
    /// The topic.
    #[serde(deserialize_with = "nullable")]
    pub topic: String,
    /// Logical queue count of the topic.
    pub total_queues: i32,
}

impl Default for TopicQueueMappingDetail {
    fn default() -> Self {
        Self {
            bname: String::new(),
            curr_id_map: BTreeMap::new(),
            dirty: false,
            epoch: 0,
            hosted_queues: BTreeMap::new(),
            scope: SCOPE_GLOBAL.to_owned(),
            topic: String::new(),
            total_queues: 0,
        }
    }
}

/// One generation of a logical queue on one broker (`LogicQueueMappingItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogicQueueMappingItem {
    /// Broker hosting this generation.
    #[serde(deserialize_with = "nullable")]
    pub bname: String,
    /// End of the physical offsets, exclusive; −1 while open.
    pub end_offset: i64,
    /// Generation number.
    #[serde(rename = "gen")]
    pub generation: i32,
    /// First logical offset of this generation.
    pub logic_offset: i64,
    /// Physical queue id.
    pub queue_id: i32,
    /// First physical offset (normally 0).
    pub start_offset: i64,
    /// Store time of the last message; −1 unknown.
    pub time_of_end: i64,
    /// Store time of the first message; −1 unknown.
    pub time_of_start: i64,
}

impl Default for LogicQueueMappingItem {
    fn default() -> Self {
        Self {
            bname: String::new(),
            end_offset: -1,
            generation: 0,
            logic_offset: 0,
            queue_id: 0,
            start_offset: 0,
            time_of_end: -1,
            time_of_start: -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<TopicQueueMappingInfo>();
        assert_fields_sorted::<TopicQueueMappingDetail>();
        assert_fields_sorted::<LogicQueueMappingItem>();
    }

    #[test]
    fn info_and_detail_exact_output() {
        let info = TopicQueueMappingInfo {
            bname: "broker-a".into(),
            curr_id_map: [(0, 0), (1, 3)].into(),
            epoch: 7,
            topic: "ST".into(),
            total_queues: 2,
            ..Default::default()
        };
        check_body(
            &info,
            r#"{"bname":"broker-a","currIdMap":{0:0,1:3},"dirty":false,"epoch":7,"scope":"__global__","topic":"ST","totalQueues":2}"#,
        );
        let detail = TopicQueueMappingDetail {
            bname: "broker-a".into(),
            hosted_queues: [(
                0,
                vec![LogicQueueMappingItem {
                    bname: "broker-a".into(),
                    ..Default::default()
                }],
            )]
            .into(),
            topic: "ST".into(),
            total_queues: 1,
            ..Default::default()
        };
        check_body(
            &detail,
            r#"{"bname":"broker-a","currIdMap":{},"dirty":false,"epoch":0,"hostedQueues":{0:[{"bname":"broker-a","endOffset":-1,"gen":0,"logicOffset":0,"queueId":0,"startOffset":0,"timeOfEnd":-1,"timeOfStart":-1}]},"scope":"__global__","topic":"ST","totalQueues":1}"#,
        );
    }

    #[test]
    fn missing_fields_take_java_defaults() {
        let item: LogicQueueMappingItem = crate::body::fastjson::from_slice(b"{}").unwrap();
        assert_eq!(item, LogicQueueMappingItem::default());
        assert_eq!(item.end_offset, -1);
        let info: TopicQueueMappingInfo =
            crate::body::fastjson::from_slice(br#"{"scope":null,"x":1}"#).unwrap();
        // null reads as the type's default, not Java's initializer.
        assert_eq!(info.scope, "");
    }
}
