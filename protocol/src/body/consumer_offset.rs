//! Stored consumer offsets: the broker's `consumerOffset.json` /
//! GET_ALL_CONSUMER_OFFSET (43), its `delayOffset.json` / GET_ALL_DELAY_OFFSET
//! (45), and the broadcasting client's `offsets.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;
use super::{DataVersion, MessageQueue, mq_key_map};

/// Committed offsets per `topic@group` and queue id
/// (`ConsumerOffsetSerializeWrapper`): `{"offsetTable":{"T@CG":{0:120}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    /// Version of the table (absent unless the broker sets it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
    /// `topic@group` → queue id → next offset to consume.
    #[serde(deserialize_with = "nullable")]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// Delivery progress of each delay level (`DelayOffsetSerializeWrapper`):
/// `{"dataVersion":{…},"offsetTable":{1:0,2:17}}`, level → next ConsumeQueue
/// offset of `SCHEDULE_TOPIC_XXXX` queue level − 1.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DelayOffsetSerializeWrapper {
    /// Version of the table (absent in files of old brokers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
    /// Delay level → next offset to deliver.
    #[serde(deserialize_with = "nullable")]
    pub offset_table: BTreeMap<i32, i64>,
}

/// A broadcasting consumer's local offsets (`OffsetSerializeWrapper`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetSerializeWrapper {
    /// Queue → next offset to consume.
    #[serde(with = "mq_key_map")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<ConsumerOffsetSerializeWrapper>();
        assert_fields_sorted::<OffsetSerializeWrapper>();
        assert_fields_sorted::<DelayOffsetSerializeWrapper>();
    }

    #[test]
    fn delay_offsets_exact_output_and_javas_file() {
        let w = DelayOffsetSerializeWrapper {
            data_version: Some(DataVersion::new(5)),
            offset_table: [(1, 0), (2, 17), (18, 3)].into(),
        };
        check_body(
            &w,
            r#"{"dataVersion":{"counter":0,"stateVersion":0,"timestamp":5},"offsetTable":{1:0,2:17,18:3}}"#,
        );
        // As Java's ScheduleMessageService writes it: pretty-printed.
        let file = b"{\n\t\"dataVersion\":{\n\t\t\"counter\":2,\n\t\t\"timestamp\":9\n\t},\n\t\"offsetTable\":{1:4,3:0\n\t}\n}";
        let w = DelayOffsetSerializeWrapper::decode(file).unwrap();
        assert_eq!(w.offset_table, [(1, 4), (3, 0)].into());
        assert_eq!(w.data_version.map(|v| v.counter), Some(2));
        // Old files had no version.
        let w = DelayOffsetSerializeWrapper::decode(b"{\"offsetTable\":{2:1}}").unwrap();
        assert_eq!((w.data_version, w.offset_table[&2]), (None, 1));
    }

    #[test]
    fn consumer_offsets_exact_output() {
        let w = ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: [("T@CG".to_owned(), [(0, 120), (1, 98), (10, 7)].into())].into(),
        };
        check_body(&w, r#"{"offsetTable":{"T@CG":{0:120,1:98,10:7}}}"#);
        let with_version = ConsumerOffsetSerializeWrapper {
            data_version: Some(DataVersion::new(1)),
            offset_table: BTreeMap::new(),
        };
        check_body(
            &with_version,
            r#"{"dataVersion":{"counter":0,"stateVersion":0,"timestamp":1},"offsetTable":{}}"#,
        );
    }

    #[test]
    fn reads_the_broker_config_file() {
        // consumerOffset.json: pretty-printed, plus Java's derived fields.
        let file = b"{\n\t\"dataVersion\":{\"counter\":3,\"timestamp\":9},\n\t\"offsetTable\":{\n\t\t\"T@CG\":{0:120,1:98}\n\t},\n\t\"groupTopicMap\":{\"CG\":[\"T\"]}\n}";
        let w = ConsumerOffsetSerializeWrapper::decode(file).unwrap();
        assert_eq!(w.offset_table["T@CG"][&1], 98);
        assert_eq!(w.data_version.map(|v| v.counter), Some(3));
    }

    #[test]
    fn client_offsets_exact_output() {
        let w = OffsetSerializeWrapper {
            offset_table: [(MessageQueue::new("T", "b", 0), 5)].into(),
        };
        check_body(
            &w,
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}"#,
        );
    }
}
