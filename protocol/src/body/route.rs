//! Topic routes (GET_ROUTEINFO_BY_TOPIC, 105) and cluster info
//! (GET_BROKER_CLUSTER_INFO, 106).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::TopicQueueMappingInfo;
use super::lenient::nullable;

/// Where a topic lives: its brokers and per-broker queue counts (`TopicRouteData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// The brokers (groups) hosting the topic.
    #[serde(deserialize_with = "nullable")]
    pub broker_datas: Vec<BrokerData>,
    /// Broker address → filter servers (legacy, normally empty).
    #[serde(deserialize_with = "nullable")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerName:queueNums;…` for ordered topics, when the name server has
    /// `orderMessageEnable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// Queue counts and permissions per broker.
    #[serde(deserialize_with = "nullable")]
    pub queue_datas: Vec<QueueData>,
    /// Static-topic mappings per broker name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, TopicQueueMappingInfo>>,
}

/// One broker group: its name, cluster and member addresses (`BrokerData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// Broker id (0 = master) → `host:port`.
    #[serde(deserialize_with = "nullable")]
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker group name.
    #[serde(deserialize_with = "nullable")]
    pub broker_name: String,
    /// Cluster name.
    #[serde(deserialize_with = "nullable")]
    pub cluster: String,
    /// A slave may act as master while the master is down (5.x).
    pub enable_acting_master: bool,
    /// Zone, from the registering broker's `__ZONE_NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// Java's `MixAll.MASTER_ID`.
    pub const MASTER_ID: i64 = 0;

    /// The master's address, if the group has one registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&Self::MASTER_ID).map(String::as_str)
    }
}

/// One broker's queues of a topic (`QueueData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    /// Broker group name.
    #[serde(deserialize_with = "nullable")]
    pub broker_name: String,
    /// Permission bits (`PermName`: 2 write, 4 read, 1 inherit).
    pub perm: i32,
    /// Number of readable queues.
    pub read_queue_nums: i32,
    /// Topic system flags.
    pub topic_sys_flag: i32,
    /// Number of writable queues.
    pub write_queue_nums: i32,
}

/// Every broker group and cluster the name server knows (`ClusterInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// Broker name → its group.
    #[serde(deserialize_with = "nullable")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    #[serde(deserialize_with = "nullable")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::{assert_fields_sorted, check_body};
    use crate::body::{Body, KeyStyle};

    fn broker_a() -> BrokerData {
        BrokerData {
            broker_addrs: [(0, "10.0.0.1:10911".to_owned())].into(),
            broker_name: "broker-a".into(),
            cluster: "DefaultCluster".into(),
            enable_acting_master: false,
            zone_name: None,
        }
    }

    fn route() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![broker_a()],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: 4,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn field_order() {
        assert_fields_sorted::<TopicRouteData>();
        assert_fields_sorted::<BrokerData>();
        assert_fields_sorted::<QueueData>();
        assert_fields_sorted::<ClusterInfo>();
    }

    #[test]
    fn route_exact_output() {
        check_body(
            &route(),
            r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#,
        );
    }

    #[test]
    fn route_quoted_for_new_clients() {
        let mut r = route();
        r.broker_datas[0]
            .broker_addrs
            .insert(1, "10.0.0.2:10911".into());
        assert_eq!(
            String::from_utf8(r.encode(KeyStyle::Quoted)).unwrap(),
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
    }

    #[test]
    fn route_with_optional_fields() {
        let mut r = route();
        r.order_topic_conf = Some("broker-a:4".into());
        r.broker_datas[0].zone_name = Some("z1".into());
        r.filter_server_table
            .insert("10.0.0.1:10911".into(), vec!["f:1".into()]);
        r.topic_queue_mapping_by_broker = Some(
            [(
                "broker-a".to_owned(),
                TopicQueueMappingInfo {
                    topic: "T".into(),
                    ..Default::default()
                },
            )]
            .into(),
        );
        check_body(
            &r,
            r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false,"zoneName":"z1"}],"filterServerTable":{"10.0.0.1:10911":["f:1"]},"orderTopicConf":"broker-a:4","queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}],"topicQueueMappingByBroker":{"broker-a":{"bname":"","currIdMap":{},"dirty":false,"epoch":0,"scope":"__global__","topic":"T","totalQueues":0}}}"#,
        );
    }

    #[test]
    fn reads_java_output_in_any_order_with_unknown_fields() {
        let java = br#"{"queueDatas":[{"writeQueueNums":8,"readQueueNums":8,"perm":6,"brokerName":"b","topicSysFlag":0}],
            "brokerDatas":[{"brokerName":"b","cluster":"c","brokerAddrs":{1:"h:2",0:"h:1"},"newField":[1,{2:3}]}]}"#;
        let r = TopicRouteData::decode(java).unwrap();
        assert_eq!(r.broker_datas[0].master_addr(), Some("h:1"));
        assert_eq!(r.broker_datas[0].broker_addrs.len(), 2);
        assert_eq!(r.queue_datas[0].read_queue_nums, 8);
        assert!(r.filter_server_table.is_empty());
        assert!(r.order_topic_conf.is_none());
    }

    #[test]
    fn cluster_info_exact_output() {
        let info = ClusterInfo {
            broker_addr_table: [("broker-a".to_owned(), broker_a())].into(),
            cluster_addr_table: [(
                "DefaultCluster".to_owned(),
                ["broker-a".to_owned(), "broker-b".to_owned()].into(),
            )]
            .into(),
        };
        check_body(
            &info,
            r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}}"#,
        );
    }

    #[test]
    fn non_objects_are_rejected() {
        assert!(matches!(
            TopicRouteData::decode(b" [] "),
            Err(crate::body::BodyError::NotAnObject)
        ));
        assert!(TopicRouteData::decode(br#"{"brokerDatas":{}}"#).is_err());
        assert!(TopicRouteData::decode(br#"{"brokerDatas":[{"brokerAddrs":{"x":"a"}}]}"#).is_err());
    }
}
