#![allow(clippy::unwrap_used)]
//! KV config and its persistence, bad input, compressed registration,
//! name-server config, topic registration and heartbeats.

mod common;

use common::*;
use skylark_nameserver::NameServerConfig;
use skylark_protocol::body::{
    Body, BrokerData, KVTable, KeyStyle, QueueData, RegisterBrokerBody, TopicRouteData,
};
use skylark_protocol::headers::{
    BrokerHeartbeatRequestHeader, DeleteKvConfigRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
    RegisterTopicRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;

fn put(ns: &str, key: &str, value: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::PUT_KV_CONFIG,
        &PutKvConfigRequestHeader {
            namespace: ns.into(),
            key: key.into(),
            value: value.into(),
        },
    )
}

fn get(ns: &str, key: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::GET_KV_CONFIG,
        &GetKvConfigRequestHeader {
            namespace: ns.into(),
            key: key.into(),
        },
    )
}

fn list(ns: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::GET_KVLIST_BY_NAMESPACE,
        &GetKvListByNamespaceRequestHeader {
            namespace: ns.into(),
        },
    )
}

async fn get_value(client: &RemotingClient, addr: &str, ns: &str, key: &str) -> Option<String> {
    let r = call(client, addr, get(ns, key)).await;
    match r.response_code() {
        ResponseCode::SUCCESS => r.read_header::<GetKvConfigResponseHeader>().unwrap().value,
        ResponseCode::QUERY_NOT_FOUND => None,
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn kv_config_put_get_delete_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("namesrv").join("kvConfig.json");
    let cfg = NameServerConfig {
        kv_config_path: Some(path.clone()),
        ..config()
    };
    let h = start_with(cfg.clone()).await;
    let client = RemotingClient::default();
    assert_eq!(call(&client, &h.addr, put("NS", "k1", "v1")).await.code, 0);
    assert_eq!(call(&client, &h.addr, put("NS", "k2", "v2")).await.code, 0);
    assert_eq!(
        get_value(&client, &h.addr, "NS", "k1").await.as_deref(),
        Some("v1")
    );
    assert_eq!(get_value(&client, &h.addr, "NS", "zz").await, None);
    assert_eq!(get_value(&client, &h.addr, "Other", "k1").await, None);

    let del = RemotingCommand::request(
        RequestCode::DELETE_KV_CONFIG,
        &DeleteKvConfigRequestHeader {
            namespace: "NS".into(),
            key: "k2".into(),
        },
    );
    assert_eq!(call(&client, &h.addr, del).await.code, 0);
    assert_eq!(get_value(&client, &h.addr, "NS", "k2").await, None);

    let r = call(&client, &h.addr, list("NS")).await;
    assert_eq!(text(&r), r#"{"table":{"k1":"v1"}}"#);
    let r = call(&client, &h.addr, list("Missing")).await;
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    h.handle.shutdown().await.unwrap();

    let again = start_with(cfg).await;
    let client = RemotingClient::default();
    assert_eq!(
        get_value(&client, &again.addr, "NS", "k1").await.as_deref(),
        Some("v1")
    );
    assert_eq!(get_value(&client, &again.addr, "NS", "k2").await, None);
    assert_eq!(
        KVTable::decode(&call(&client, &again.addr, list("NS")).await.body)
            .unwrap()
            .table
            .len(),
        1
    );
    again.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_code_is_request_code_not_supported() {
    let h = start().await;
    let client = RemotingClient::default();
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::from(9999)),
    )
    .await;
    assert_eq!(r.code, 3);
    assert!(r.remark.unwrap().contains("9999"));
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::SEND_MESSAGE_V2),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_headers_get_an_error_naming_the_field_and_the_connection_survives() {
    let h = start().await;
    let client = RemotingClient::default();
    let conn = client.connection(&h.addr).await.unwrap();

    let mut missing = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        wrapper(1, &[("T", 1), ("U", 1)]),
    );
    missing.ext_fields.as_mut().unwrap().remove("clusterName");
    let r = call(&client, &h.addr, missing).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("clusterName"));

    let mut garbled = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        wrapper(1, &[("T", 1), ("U", 1)]),
    );
    garbled.set_ext("brokerId", "master");
    let r = call(&client, &h.addr, garbled).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("brokerId"));

    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_ROUTEINFO_BY_TOPIC),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("topic"));

    let mut bad_body = register_request("broker-a", 0, "10.0.0.1:10911", wrapper(1, &[]));
    bad_body.body = bytes::Bytes::from_static(b"{not json");
    let r = call(&client, &h.addr, bad_body).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("RegisterBrokerBody"));

    // Same connection, still answering.
    assert!(!conn.is_closed());
    let ok = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        wrapper(1, &[("T", 1), ("U", 1)]),
    );
    assert_eq!(call(&client, &h.addr, ok).await.code, 0);
    assert!(!conn.is_closed());
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn compressed_registration_and_body_crc() {
    let h = start().await;
    let broker = RemotingClient::default();
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: wrapper(3, &[("Zipped", 6), ("Other", 2)]),
    };
    let zipped = body.encode_compressed().unwrap();
    let crc = (crc32fast::hash(&zipped) & 0x7FFF_FFFF) as i32;
    let mut header = register_header("broker-z", 0, "10.0.0.7:10911");
    header.compressed = Some(true);
    header.body_crc32 = Some(crc.wrapping_add(1));
    let wrong =
        RemotingCommand::request(RequestCode::REGISTER_BROKER, &header).with_body(zipped.clone());
    let r = call(&broker, &h.addr, wrong).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("crc32 not match"));

    header.body_crc32 = Some(crc);
    let right = RemotingCommand::request(RequestCode::REGISTER_BROKER, &header).with_body(zipped);
    assert_eq!(call(&broker, &h.addr, right).await.code, 0);
    let r = call(&broker, &h.addr, route_request("Zipped", 479)).await;
    let route = TopicRouteData::decode(&r.body).unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 6);
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.7:10911"));
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn name_server_config_get_and_update() {
    let h = start().await;
    let client = RemotingClient::default();
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_NAMESRV_CONFIG),
    )
    .await;
    assert!(text(&r).contains("orderMessageEnable=false\n"));

    let update = |body: &'static str| {
        RemotingCommand::bare_request(RequestCode::UPDATE_NAMESRV_CONFIG).with_body(body.as_bytes())
    };
    let r = call(&client, &h.addr, update("kvConfigPath=/tmp/x\n")).await;
    assert_eq!(r.response_code(), ResponseCode::NO_PERMISSION);
    let r = call(
        &client,
        &h.addr,
        update("orderMessageEnable=true\nenableAllTopicList=false\n"),
    )
    .await;
    assert_eq!(r.code, 0);
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_NAMESRV_CONFIG),
    )
    .await;
    assert!(text(&r).contains("orderMessageEnable=true\n"));
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("disable"));
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn register_topic_and_broker_heartbeat() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let route = TopicRouteData {
        broker_datas: vec![BrokerData::default()],
        queue_datas: vec![QueueData {
            broker_name: "broker-b".into(),
            perm: 6,
            read_queue_nums: 3,
            topic_sys_flag: 0,
            write_queue_nums: 3,
        }],
        ..Default::default()
    };
    let cmd = RemotingCommand::request(
        RequestCode::REGISTER_TOPIC_IN_NAMESRV,
        &RegisterTopicRequestHeader {
            topic: "Admin".into(),
            broker_name: None,
        },
    )
    .with_body(route.encode(KeyStyle::Unquoted));
    assert_eq!(call(&client, &h.addr, cmd).await.code, 0);
    let r = call(&client, &h.addr, route_request("Admin", 479)).await;
    assert_eq!(
        TopicRouteData::decode(&r.body).unwrap().queue_datas[0].read_queue_nums,
        3
    );

    h.clock.advance(100_000);
    let beat = RemotingCommand::request(
        RequestCode::BROKER_HEARTBEAT,
        &BrokerHeartbeatRequestHeader {
            cluster_name: CLUSTER.into(),
            broker_addr: "10.0.0.3:10911".into(),
            broker_name: "broker-b".into(),
            ..Default::default()
        },
    );
    assert_eq!(call(&client, &h.addr, beat).await.code, 0);
    h.clock.advance(30_000);
    let expired = h.handle.scan_not_active_brokers();
    let names: Vec<_> = expired
        .iter()
        .map(|e| e.addr.broker_addr.as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&"10.0.0.3:10911"));
    h.handle.shutdown().await.unwrap();
}
