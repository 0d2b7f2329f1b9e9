//! Broker registration with the name server (REGISTER_BROKER, 103).

mod compressed;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;
use super::{DataVersion, TopicConfig, TopicQueueMappingDetail, TopicQueueMappingInfo};

pub use compressed::{MAPPING_SINCE_VERSION, MAX_DECOMPRESSED_LEN};

/// A broker's topics plus its static-topic mappings
/// (`TopicConfigAndMappingSerializeWrapper`, what 5.x registers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigAndMappingSerializeWrapper {
    /// Version of the topic table.
    #[serde(deserialize_with = "nullable")]
    pub data_version: DataVersion,
    /// Version of the mapping tables.
    #[serde(deserialize_with = "nullable")]
    pub mapping_data_version: DataVersion,
    /// Topic name → config.
    #[serde(deserialize_with = "nullable")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Topic → full mapping (empty in registrations; the broker keeps it).
    #[serde(deserialize_with = "nullable")]
    pub topic_queue_mapping_detail_map: BTreeMap<String, TopicQueueMappingDetail>,
    /// Topic → mapping info, which the name server puts into routes.
    #[serde(deserialize_with = "nullable")]
    pub topic_queue_mapping_info_map: BTreeMap<String, TopicQueueMappingInfo>,
}

/// REGISTER_BROKER body (`RegisterBrokerBody`): JSON, or zlib-compressed
/// binary when the header says `compressed=true` (see
/// [`RegisterBrokerBody::encode_compressed`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// Filter server addresses (legacy, normally empty).
    #[serde(deserialize_with = "nullable")]
    pub filter_server_list: Vec<String>,
    /// The broker's topics and mappings.
    #[serde(deserialize_with = "nullable")]
    pub topic_config_serialize_wrapper: TopicConfigAndMappingSerializeWrapper,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<TopicConfigAndMappingSerializeWrapper>();
        assert_fields_sorted::<RegisterBrokerBody>();
    }

    #[test]
    fn json_exact_output() {
        let mut body = RegisterBrokerBody::default();
        let w = &mut body.topic_config_serialize_wrapper;
        w.data_version = DataVersion {
            counter: 2,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        w.topic_config_table
            .insert("T".into(), TopicConfig::new("T"));
        check_body(
            &body,
            r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":0},"topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":16,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":16}},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}"#,
        );
    }

    #[test]
    fn reads_the_documented_4x_shape() {
        use crate::body::Body;
        let doc = br#"{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T","perm":6}},"dataVersion":{"counter":1,"timestamp":2}},"filterServerList":[]}"#;
        let body = RegisterBrokerBody::decode(doc).unwrap();
        let w = &body.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 1);
        assert_eq!(w.topic_config_table["T"].read_queue_nums, 16);
        assert!(w.topic_queue_mapping_info_map.is_empty());
    }
}
