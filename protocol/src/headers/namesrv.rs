//! Name-server requests: broker registration, routes, KV config and broker write permission (codes 100-105, 205, 216, 217, 219, 224, 322, 327, 904).

/// Optional extField with the sender's zone (`MixAll.ZONE_NAME`): on
/// REGISTER_BROKER the broker's zone, on GET_ROUTEINFO_BY_TOPIC the client's.
pub const ZONE_NAME: &str = "__ZONE_NAME";
/// Optional extField of GET_ROUTEINFO_BY_TOPIC: `"true"` (any case) asks the
/// name server to keep only brokers of the client's [`ZONE_NAME`]
/// (`MixAll.ZONE_MODE`).
pub const ZONE_MODE: &str = "__ZONE_MODE";
/// The KV namespace that holds order-topic queue layouts
/// (`NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`).
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

command_header! {
    /// REGISTER_BROKER (103) request (`RegisterBrokerRequestHeader`).
    ///
    /// `brokerAddr` is the address clients use, `haServerAddr` is
    /// `brokerIP2:haPort`, `brokerId` 0 is the master. `compressed` (a Java
    /// primitive, false when absent) selects the zlib body; `bodyCrc32` is
    /// 0 (unchecked, the default) or `CRC32(body) & 0x7FFFFFFF`.
    pub struct RegisterBrokerRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req ha_server_addr: String = "haServerAddr",
        req broker_id: i64 = "brokerId",
        opt heartbeat_timeout_millis: i64 = "heartbeatTimeoutMillis",
        opt enable_acting_master: bool = "enableActingMaster",
        opt compressed: bool = "compressed",
        opt body_crc32: i32 = "bodyCrc32",
    }
}

command_header! {
    /// REGISTER_BROKER (103) response (`RegisterBrokerResponseHeader`);
    /// the body is the KV table of namespace [`NAMESPACE_ORDER_TOPIC_CONFIG`].
    pub struct RegisterBrokerResponseHeader {
        opt ha_server_addr: String = "haServerAddr",
        opt master_addr: String = "masterAddr",
    }
}

command_header! {
    /// UNREGISTER_BROKER (104) request (`UnRegisterBrokerRequestHeader`).
    pub struct UnRegisterBrokerRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322) request (`QueryDataVersionRequestHeader`);
    /// the body is the broker's topic-config `DataVersion` JSON.
    pub struct QueryDataVersionRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322) response (`QueryDataVersionResponseHeader`).
    pub struct QueryDataVersionResponseHeader {
        req changed: bool = "changed",
    }
}

command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request (`GetRouteInfoRequestHeader`).
    ///
    /// The name server answers with standard JSON (quoted `brokerAddrs`
    /// keys) when `acceptStandardJsonOnly` is true or the request version is
    /// at least V4_9_4.
    pub struct GetRouteInfoRequestHeader {
        req topic: String = "topic",
        opt accept_standard_json_only: bool = "acceptStandardJsonOnly",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// BROKER_HEARTBEAT (904) request, broker to name server or controller
    /// (`BrokerHeartbeatRequestHeader`). `heartbeatTimeoutMills` is spelled
    /// as in Java.
    pub struct BrokerHeartbeatRequestHeader {
        req cluster_name: String = "clusterName",
        req broker_addr: String = "brokerAddr",
        req broker_name: String = "brokerName",
        opt broker_id: i64 = "brokerId",
        opt epoch: i32 = "epoch",
        opt max_offset: i64 = "maxOffset",
        opt confirm_offset: i64 = "confirmOffset",
        opt heartbeat_timeout_mills: i64 = "heartbeatTimeoutMills",
        opt election_priority: i32 = "electionPriority",
    }
}

command_header! {
    /// PUT_KV_CONFIG (100) request (`PutKVConfigRequestHeader`).
    pub struct PutKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
        req value: String = "value",
    }
}

command_header! {
    /// GET_KV_CONFIG (101) request (`GetKVConfigRequestHeader`).
    pub struct GetKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
    }
}

command_header! {
    /// GET_KV_CONFIG (101) response (`GetKVConfigResponseHeader`); a missing
    /// key is answered QUERY_NOT_FOUND.
    pub struct GetKvConfigResponseHeader {
        opt value: String = "value",
    }
}

command_header! {
    /// DELETE_KV_CONFIG (102) request (`DeleteKVConfigRequestHeader`).
    pub struct DeleteKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
    }
}

command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219) request (`GetKVListByNamespaceRequestHeader`);
    /// the body is a KVTable.
    pub struct GetKvListByNamespaceRequestHeader {
        req namespace: String = "namespace",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) request (`WipeWritePermOfBrokerRequestHeader`).
    pub struct WipeWritePermOfBrokerRequestHeader {
        req broker_name: String = "brokerName",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) response (`WipeWritePermOfBrokerResponseHeader`).
    pub struct WipeWritePermOfBrokerResponseHeader {
        req wipe_topic_count: i32 = "wipeTopicCount",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) request (`AddWritePermOfBrokerRequestHeader`).
    pub struct AddWritePermOfBrokerRequestHeader {
        req broker_name: String = "brokerName",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) response (`AddWritePermOfBrokerResponseHeader`).
    pub struct AddWritePermOfBrokerResponseHeader {
        req add_topic_count: i32 = "addTopicCount",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request (`DeleteTopicFromNamesrvRequestHeader`);
    /// without `clusterName` the topic is removed from every cluster.
    pub struct DeleteTopicFromNamesrvRequestHeader {
        req topic: String = "topic",
        opt cluster_name: String = "clusterName",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// REGISTER_TOPIC_IN_NAMESRV (217) request (`RegisterTopicRequestHeader`);
    /// the body is a TopicRouteData.
    pub struct RegisterTopicRequestHeader {
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_TOPICS_BY_CLUSTER (224) request (`GetTopicsByClusterRequestHeader`).
    pub struct GetTopicsByClusterRequestHeader {
        req cluster: String = "cluster",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::{CommandHeader, HeaderError};

    fn register() -> RegisterBrokerRequestHeader {
        RegisterBrokerRequestHeader {
            broker_name: "broker-a".into(),
            broker_addr: "10.0.0.1:10911".into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: "10.0.0.1:10912".into(),
            broker_id: 0,
            heartbeat_timeout_millis: Some(120_000),
            enable_acting_master: Some(false),
            compressed: Some(false),
            body_crc32: Some(0x1234_5678),
        }
    }

    #[test]
    fn register_broker_round_trip() {
        let h = register();
        let mut f = h.to_ext_fields();
        assert_eq!(f.len(), 9);
        assert_eq!(f.get("bodyCrc32"), Some("305419896"));
        f.insert(ZONE_NAME, "zone-1");
        assert_eq!(RegisterBrokerRequestHeader::read_from(&f).unwrap(), h);
        f.remove("haServerAddr");
        assert_eq!(
            RegisterBrokerRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("haServerAddr")
        );
        let mut f = h.to_ext_fields();
        f.insert("brokerId", "master");
        assert_eq!(
            RegisterBrokerRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "brokerId",
                value: "master".into(),
                expected: "64-bit integer"
            }
        );

        let r = RegisterBrokerResponseHeader {
            ha_server_addr: None,
            master_addr: Some("10.0.0.1:10911".into()),
        };
        let f = r.to_ext_fields();
        assert_eq!(f.len(), 1);
        assert_eq!(RegisterBrokerResponseHeader::read_from(&f).unwrap(), r);
        assert_eq!(
            RegisterBrokerResponseHeader::read_from(&ExtFields::new()).unwrap(),
            RegisterBrokerResponseHeader::default()
        );
    }

    #[test]
    fn unregister_and_data_version() {
        let u = UnRegisterBrokerRequestHeader {
            broker_name: "broker-a".into(),
            broker_addr: "10.0.0.1:10911".into(),
            cluster_name: "DefaultCluster".into(),
            broker_id: 1,
        };
        let f = u.to_ext_fields();
        assert_eq!(UnRegisterBrokerRequestHeader::read_from(&f).unwrap(), u);
        let q = QueryDataVersionRequestHeader::read_from(&f).unwrap();
        assert_eq!(q.broker_id, 1);
        let mut f = f;
        f.remove("clusterName");
        assert_eq!(
            QueryDataVersionRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("clusterName")
        );
        let r = QueryDataVersionResponseHeader { changed: true };
        let f = r.to_ext_fields();
        assert_eq!(f.get("changed"), Some("true"));
        assert_eq!(QueryDataVersionResponseHeader::read_from(&f).unwrap(), r);
    }

    #[test]
    fn route_info() {
        let h = GetRouteInfoRequestHeader {
            topic: "T".into(),
            accept_standard_json_only: Some(true),
            broker_name: None,
        };
        let f = h.to_ext_fields();
        assert_eq!(GetRouteInfoRequestHeader::read_from(&f).unwrap(), h);
        let go: ExtFields = [("topic", "T")].into_iter().collect();
        assert_eq!(
            GetRouteInfoRequestHeader::read_from(&go)
                .unwrap()
                .accept_standard_json_only,
            None
        );
        assert_eq!(
            GetRouteInfoRequestHeader::read_from(&ExtFields::new()).unwrap_err(),
            HeaderError::Missing("topic")
        );
    }

    #[test]
    fn broker_heartbeat() {
        let h = BrokerHeartbeatRequestHeader {
            cluster_name: "C".into(),
            broker_addr: "a:1".into(),
            broker_name: "b".into(),
            broker_id: Some(0),
            epoch: None,
            max_offset: Some(100),
            confirm_offset: None,
            heartbeat_timeout_mills: Some(1000),
            election_priority: None,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(BrokerHeartbeatRequestHeader::read_from(&f).unwrap(), h);
        f.insert("epoch", "one");
        assert!(matches!(
            BrokerHeartbeatRequestHeader::read_from(&f),
            Err(HeaderError::Malformed { field: "epoch", .. })
        ));
    }

    #[test]
    fn kv_config() {
        let put = PutKvConfigRequestHeader {
            namespace: NAMESPACE_ORDER_TOPIC_CONFIG.into(),
            key: "T".into(),
            value: "broker-a:4;broker-b:4".into(),
        };
        let f = put.to_ext_fields();
        assert_eq!(PutKvConfigRequestHeader::read_from(&f).unwrap(), put);
        let get = GetKvConfigRequestHeader::read_from(&f).unwrap();
        assert_eq!(get.key, "T");
        let del = DeleteKvConfigRequestHeader::read_from(&f).unwrap();
        assert_eq!(del.namespace, "ORDER_TOPIC_CONFIG");
        let list = GetKvListByNamespaceRequestHeader::read_from(&f).unwrap();
        assert_eq!(list.namespace, "ORDER_TOPIC_CONFIG");
        let mut f = f;
        f.remove("value");
        assert_eq!(
            PutKvConfigRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("value")
        );
        f.remove("key");
        assert_eq!(
            GetKvConfigRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("key")
        );
        let r = GetKvConfigResponseHeader {
            value: Some("v".into()),
        };
        assert_eq!(
            GetKvConfigResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
            r
        );
    }

    #[test]
    fn write_perm_and_topics() {
        let w = WipeWritePermOfBrokerRequestHeader {
            broker_name: "broker-a".into(),
        };
        let f = w.to_ext_fields();
        assert_eq!(
            WipeWritePermOfBrokerRequestHeader::read_from(&f).unwrap(),
            w
        );
        assert_eq!(
            AddWritePermOfBrokerRequestHeader::read_from(&f)
                .unwrap()
                .broker_name,
            "broker-a"
        );
        let r = WipeWritePermOfBrokerResponseHeader {
            wipe_topic_count: 3,
        };
        let mut f = r.to_ext_fields();
        assert_eq!(
            WipeWritePermOfBrokerResponseHeader::read_from(&f).unwrap(),
            r
        );
        f.insert("wipeTopicCount", "3.0");
        assert!(matches!(
            WipeWritePermOfBrokerResponseHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "wipeTopicCount",
                ..
            })
        ));
        let r = AddWritePermOfBrokerResponseHeader { add_topic_count: 2 };
        assert_eq!(
            AddWritePermOfBrokerResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
            r
        );

        let d = DeleteTopicFromNamesrvRequestHeader {
            topic: "T".into(),
            cluster_name: Some("DefaultCluster".into()),
            broker_name: None,
        };
        assert_eq!(
            DeleteTopicFromNamesrvRequestHeader::read_from(&d.to_ext_fields()).unwrap(),
            d
        );
        let reg = RegisterTopicRequestHeader {
            topic: "T".into(),
            broker_name: None,
        };
        assert_eq!(
            RegisterTopicRequestHeader::read_from(&reg.to_ext_fields()).unwrap(),
            reg
        );
        let c = GetTopicsByClusterRequestHeader {
            cluster: "DefaultCluster".into(),
        };
        assert_eq!(
            GetTopicsByClusterRequestHeader::read_from(&c.to_ext_fields()).unwrap(),
            c
        );
        assert_eq!(
            GetTopicsByClusterRequestHeader::read_from(&ExtFields::new()).unwrap_err(),
            HeaderError::Missing("cluster")
        );
    }
}
