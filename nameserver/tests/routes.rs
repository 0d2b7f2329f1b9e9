#![allow(clippy::unwrap_used)]
//! Registration, routes in both JSON dialects, cluster info and topic lists.

mod common;

use common::*;
use skylark_nameserver::NameServerConfig;
use skylark_protocol::body::{Body, ClusterInfo, DataVersion, KeyStyle, TopicList, TopicRouteData};
use skylark_protocol::command::SKYLARK_VERSION;
use skylark_protocol::headers::namesrv::NAMESPACE_ORDER_TOPIC_CONFIG;
use skylark_protocol::headers::{
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerResponseHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use skylark_remoting::RemotingClient;

#[tokio::test]
async fn slave_registration_returns_master_and_ha_address() {
    let h = start().await;
    let master = RemotingClient::default();
    let slave = RemotingClient::default();
    let w = wrapper(1, &[("T", 4), ("U", 4)]);
    let r = call(
        &master,
        &h.addr,
        register_request("broker-a", 0, "10.0.0.1:10911", w.clone()),
    )
    .await;
    assert_eq!(r.code, 0);
    assert_eq!(r.version, SKYLARK_VERSION);
    assert!(r.is_response());
    let hdr: RegisterBrokerResponseHeader = r.read_header().unwrap();
    assert_eq!(hdr.master_addr, None);

    let r = call(
        &slave,
        &h.addr,
        register_request("broker-a", 1, "10.0.0.2:10911", w),
    )
    .await;
    let hdr: RegisterBrokerResponseHeader = r.read_header().unwrap();
    assert_eq!(hdr.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(hdr.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn route_uses_unquoted_keys_for_old_clients_and_quoted_for_new() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();

    // The Go v2 client sends version 317 and parses fastjson's bare keys.
    let old = call(&client, &h.addr, route_request("TopicA", 317)).await;
    assert_eq!(old.code, 0);
    let body = text(&old);
    assert!(
        body.contains(r#""brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}"#),
        "{body}"
    );
    assert!(!body.contains(' '), "compact JSON expected: {body}");

    let new = call(&client, &h.addr, route_request("TopicA", 479)).await;
    let body = text(&new);
    assert!(
        body.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#),
        "{body}"
    );

    // A binary (ROCKETMQ) header gets the same answer, in kind.
    let mut binary = route_request("TopicA", 479);
    binary.serialize_type = SerializeType::RocketMq;
    let r = call(&client, &h.addr, binary).await;
    assert_eq!(r.serialize_type, SerializeType::RocketMq);
    assert_eq!(r.body, new.body);

    // acceptStandardJsonOnly asks for quoted keys whatever the version.
    let mut std_only = route_request("TopicA", 317);
    std_only.set_ext("acceptStandardJsonOnly", "true");
    assert!(text(&call(&client, &h.addr, std_only).await).contains(r#"{"0":"#));

    let route = TopicRouteData::decode(&old.body).unwrap();
    assert_eq!(route.broker_datas.len(), 2);
    assert_eq!(route.queue_datas.len(), 2);
    let b = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "broker-b")
        .unwrap();
    assert_eq!((b.read_queue_nums, b.write_queue_nums, b.perm), (8, 8, 6));
    assert!(route.order_topic_conf.is_none());

    let only_a = TopicRouteData::decode(
        &call(&client, &h.addr, route_request("OnlyA", 479))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(only_a.broker_datas.len(), 1);
    assert_eq!(only_a.broker_datas[0].broker_name, "broker-a");

    let missing = call(&client, &h.addr, route_request("Nope", 479)).await;
    assert_eq!(missing.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert!(missing.remark.unwrap().contains("Nope"));
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn cluster_info_and_topic_lists() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();

    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_BROKER_CLUSTER_INFO),
    )
    .await;
    let body = text(&r);
    assert!(
        body.contains(r#"{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}"#),
        "{body}"
    );
    let info = ClusterInfo::decode(&r.body).unwrap();
    assert_eq!(
        info.cluster_addr_table[CLUSTER].iter().collect::<Vec<_>>(),
        ["broker-a", "broker-b"]
    );
    assert_eq!(
        info.broker_addr_table["broker-b"].master_addr(),
        Some("10.0.0.3:10911")
    );

    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
    )
    .await;
    let all = TopicList::decode(&r.body).unwrap();
    assert_eq!(
        all.topic_list.iter().collect::<Vec<_>>(),
        ["OnlyA", "OnlyB", "TopicA"]
    );

    let by_cluster = RemotingCommand::request(
        RequestCode::GET_TOPICS_BY_CLUSTER,
        &GetTopicsByClusterRequestHeader {
            cluster: CLUSTER.into(),
        },
    );
    let list = TopicList::decode(&call(&client, &h.addr, by_cluster).await.body).unwrap();
    assert_eq!(list.topic_list.len(), 3);
    let other = RemotingCommand::request(
        RequestCode::GET_TOPICS_BY_CLUSTER,
        &GetTopicsByClusterRequestHeader {
            cluster: "Other".into(),
        },
    );
    assert!(
        TopicList::decode(&call(&client, &h.addr, other).await.body)
            .unwrap()
            .topic_list
            .is_empty()
    );

    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS),
    )
    .await;
    let sys = TopicList::decode(&r.body).unwrap();
    assert!(sys.topic_list.contains(CLUSTER) && sys.topic_list.contains("broker-b"));
    assert!(sys.broker_addr.is_some());
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn order_topic_conf_comes_from_kv_when_enabled() {
    let h = start_with(NameServerConfig {
        order_message_enable: true,
        ..config()
    })
    .await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let put = RemotingCommand::request(
        RequestCode::PUT_KV_CONFIG,
        &PutKvConfigRequestHeader {
            namespace: NAMESPACE_ORDER_TOPIC_CONFIG.into(),
            key: "TopicA".into(),
            value: "broker-a:4;broker-b:8".into(),
        },
    );
    assert_eq!(call(&client, &h.addr, put).await.code, 0);
    let route = TopicRouteData::decode(
        &call(&client, &h.addr, route_request("TopicA", 479))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(
        route.order_topic_conf.as_deref(),
        Some("broker-a:4;broker-b:8")
    );

    // Brokers get the namespace back when they register.
    let broker = RemotingClient::default();
    let r = call(
        &broker,
        &h.addr,
        register_request(
            "broker-c",
            0,
            "10.0.0.9:10911",
            wrapper(1, &[("X", 1), ("Y", 1)]),
        ),
    )
    .await;
    assert_eq!(text(&r), r#"{"table":{"TopicA":"broker-a:4;broker-b:8"}}"#);
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn new_data_version_updates_queues_and_query_data_version_reports_it() {
    let h = start().await;
    let broker = RemotingClient::default();
    let r = call(
        &broker,
        &h.addr,
        register_request(
            "broker-a",
            0,
            "10.0.0.1:10911",
            wrapper(1, &[("T", 4), ("U", 4)]),
        ),
    )
    .await;
    assert_eq!(r.code, 0);

    let query = |counter: i64| {
        RemotingCommand::request(
            RequestCode::QUERY_DATA_VERSION,
            &QueryDataVersionRequestHeader {
                broker_name: "broker-a".into(),
                broker_addr: "10.0.0.1:10911".into(),
                cluster_name: CLUSTER.into(),
                broker_id: 0,
            },
        )
        .with_body(
            DataVersion {
                counter,
                state_version: 0,
                timestamp: T0,
            }
            .encode(KeyStyle::Unquoted),
        )
    };
    let r = call(&broker, &h.addr, query(1)).await;
    let hdr: QueryDataVersionResponseHeader = r.read_header().unwrap();
    assert!(!hdr.changed);
    assert_eq!(DataVersion::decode(&r.body).unwrap().counter, 1);
    let r = call(&broker, &h.addr, query(2)).await;
    assert!(
        r.read_header::<QueryDataVersionResponseHeader>()
            .unwrap()
            .changed
    );

    call(
        &broker,
        &h.addr,
        register_request(
            "broker-a",
            0,
            "10.0.0.1:10911",
            wrapper(2, &[("T", 16), ("U", 4)]),
        ),
    )
    .await;
    let route = TopicRouteData::decode(&call(&broker, &h.addr, route_request("T", 479)).await.body)
        .unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 16);

    // Without a body there is no version to compare.
    let mut bad = query(1);
    bad.body = bytes::Bytes::new();
    assert_eq!(
        call(&broker, &h.addr, bad).await.response_code(),
        ResponseCode::SYSTEM_ERROR
    );
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn broker_member_group_lists_the_group() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let req = RemotingCommand::request(
        RequestCode::GET_BROKER_MEMBER_GROUP,
        &skylark_protocol::headers::GetBrokerMemberGroupRequestHeader {
            cluster_name: CLUSTER.into(),
            broker_name: "broker-a".into(),
        },
    );
    let r = call(&client, &h.addr, req).await;
    assert_eq!(r.code, 0);
    assert_eq!(
        text(&r),
        r#"{"brokerMemberGroup":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}}"#
    );
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn zone_mode_keeps_the_clients_zone_and_masterless_groups() {
    let h = start().await;
    let brokers = [RemotingClient::default(), RemotingClient::default()];
    for (i, (name, zone)) in [("broker-a", "z1"), ("broker-b", "z2")].iter().enumerate() {
        let mut cmd = register_request(
            name,
            0,
            &format!("10.0.0.{i}:10911"),
            wrapper(1, &[("Z", 2), ("Y", 2)]),
        );
        cmd.set_ext("__ZONE_NAME", *zone);
        assert_eq!(call(&brokers[i], &h.addr, cmd).await.code, 0);
    }
    let client = RemotingClient::default();
    let mut req = route_request("Z", 479);
    req.set_ext("__ZONE_NAME", "Z1");
    req.set_ext("__ZONE_MODE", "true");
    let r = call(&client, &h.addr, req).await;
    let route = TopicRouteData::decode(&r.body).unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].zone_name.as_deref(), Some("z1"));
    assert_eq!(route.queue_datas.len(), 1);
    assert!(text(&r).contains("{0:"));

    let mut no_mode = route_request("Z", 479);
    no_mode.set_ext("__ZONE_NAME", "z1");
    let route = TopicRouteData::decode(&call(&client, &h.addr, no_mode).await.body).unwrap();
    assert_eq!(route.broker_datas.len(), 2);
    h.handle.shutdown().await.unwrap();
}
