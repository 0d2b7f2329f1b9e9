//! Topic configuration (`topics.json`, UPDATE_AND_CREATE_TOPIC,
//! GET_ALL_TOPIC_CONFIG) and the `DataVersion` stamp of config tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::{java_enum, java_enum_or_default, nullable};

/// Legacy tag filter kind of a topic (`TopicFilterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TopicFilterType {
    /// `SINGLE_TAG` (the default).
    #[default]
    SingleTag,
    /// `MULTI_TAG`.
    MultiTag,
}

java_enum!(TopicFilterType {
    SingleTag = "SINGLE_TAG",
    MultiTag = "MULTI_TAG",
});

/// One topic's configuration on a broker (`common/TopicConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// Extra attributes (`+message.type` = `NORMAL`/`FIFO`/`DELAY`/`TRANSACTION`, …).
    #[serde(deserialize_with = "nullable")]
    pub attributes: BTreeMap<String, String>,
    /// Ordered topic.
    pub order: bool,
    /// Permission bits (default 6 = read | write).
    pub perm: i32,
    /// Readable queue count (default 16).
    pub read_queue_nums: i32,
    /// Legacy filter type.
    #[serde(deserialize_with = "java_enum_or_default")]
    pub topic_filter_type: TopicFilterType,
    /// Topic name.
    #[serde(deserialize_with = "nullable")]
    pub topic_name: String,
    /// Topic system flags.
    pub topic_sys_flag: i32,
    /// Writable queue count (default 16).
    pub write_queue_nums: i32,
}

impl TopicConfig {
    /// Java's `PermName.PERM_READ | PermName.PERM_WRITE`.
    pub const DEFAULT_PERM: i32 = 6;
    /// Java's `TopicConfig.defaultReadQueueNums` / `defaultWriteQueueNums`.
    pub const DEFAULT_QUEUE_NUMS: i32 = 16;

    /// A topic with Java's defaults.
    pub fn new(topic_name: impl Into<String>) -> Self {
        Self {
            topic_name: topic_name.into(),
            ..Self::default()
        }
    }
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            order: false,
            perm: Self::DEFAULT_PERM,
            read_queue_nums: Self::DEFAULT_QUEUE_NUMS,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: Self::DEFAULT_QUEUE_NUMS,
        }
    }
}

/// Version stamp of a config table, compared to detect changes (`DataVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// Bumped on every change.
    pub counter: i64,
    /// Controller-mode state version (5.x).
    pub state_version: i64,
    /// Time of the last change, ms. Java initializes it to "now"; a decoded
    /// body that lacks it gets 0.
    pub timestamp: i64,
}

impl DataVersion {
    /// A fresh version stamped at `now_ms`, as Java's constructor does.
    pub fn new(now_ms: i64) -> Self {
        Self {
            timestamp: now_ms,
            ..Self::default()
        }
    }

    /// Java's `nextVersion()`: restamps and bumps the counter.
    pub fn next_version(&mut self, now_ms: i64) {
        self.timestamp = now_ms;
        self.counter += 1;
    }
}

/// Every topic of a broker plus its version (`TopicConfigSerializeWrapper`;
/// also the shape of `topics.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// Version of the table.
    #[serde(deserialize_with = "nullable")]
    pub data_version: DataVersion,
    /// Topic name → config.
    #[serde(deserialize_with = "nullable")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<TopicConfig>();
        assert_fields_sorted::<DataVersion>();
        assert_fields_sorted::<TopicConfigSerializeWrapper>();
    }

    #[test]
    fn topics_json_exact_output() {
        let mut t = TopicConfig::new("T");
        t.read_queue_nums = 8;
        t.write_queue_nums = 8;
        let w = TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 3,
                state_version: 0,
                timestamp: 1_700_000_000_000,
            },
            topic_config_table: [("T".to_owned(), t)].into(),
        };
        check_body(
            &w,
            r#"{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}}}"#,
        );
    }

    #[test]
    fn topic_config_defaults_and_attributes() {
        let t = TopicConfig::decode(br#"{"topicName":"X","attributes":{"+message.type":"FIFO"}}"#)
            .unwrap();
        assert_eq!((t.perm, t.read_queue_nums, t.write_queue_nums), (6, 16, 16));
        check_body(
            &t,
            r#"{"attributes":{"+message.type":"FIFO"},"order":false,"perm":6,"readQueueNums":16,"topicFilterType":"SINGLE_TAG","topicName":"X","topicSysFlag":0,"writeQueueNums":16}"#,
        );
        let multi = TopicConfig::decode(br#"{"topicFilterType":"MULTI_TAG"}"#).unwrap();
        assert_eq!(multi.topic_filter_type, TopicFilterType::MultiTag);
        let unknown = TopicConfig::decode(br#"{"topicFilterType":"NEW"}"#).unwrap();
        assert_eq!(unknown.topic_filter_type, TopicFilterType::SingleTag);
    }

    #[test]
    fn reads_pretty_printed_config_file() {
        let file = b"{\n\t\"dataVersion\":{\n\t\t\"counter\":1,\n\t\t\"stateVersion\":0,\n\t\t\"timestamp\":5\n\t},\n\t\"topicConfigTable\":{}\n}";
        let w = TopicConfigSerializeWrapper::decode(file).unwrap();
        assert_eq!(w.data_version.counter, 1);
    }

    #[test]
    fn data_version_bumps() {
        let mut v = DataVersion::new(10);
        v.next_version(20);
        assert_eq!((v.counter, v.timestamp), (1, 20));
    }
}
