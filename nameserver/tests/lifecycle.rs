#![allow(clippy::unwrap_used)]
//! Brokers leaving: expiry, unregistration, closed connections; write
//! permissions and topic deletion; independent name servers.

mod common;

use std::time::Duration;

use common::*;
use skylark_nameserver::NameServerConfig;
use skylark_protocol::body::{Body, ClusterInfo, TopicRouteData};
use skylark_protocol::headers::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    DeleteTopicFromNamesrvRequestHeader, UnRegisterBrokerRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;

async fn route(client: &RemotingClient, addr: &str, topic: &str) -> Option<TopicRouteData> {
    let r = call(client, addr, route_request(topic, 479)).await;
    match r.response_code() {
        ResponseCode::SUCCESS => Some(TopicRouteData::decode(&r.body).unwrap()),
        ResponseCode::TOPIC_NOT_EXIST => None,
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn silent_broker_expires_with_the_injected_clock() {
    let h = start().await;
    let brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let b_conn = brokers[2].connection(&h.addr).await.unwrap();

    // broker-a's members keep registering; broker-b goes silent.
    h.clock.advance(100_000);
    for (i, id) in [(0usize, 0i64), (1, 1)] {
        let addr = format!("10.0.0.{}:10911", id + 1);
        let r = call(
            &brokers[i],
            &h.addr,
            register_request(
                "broker-a",
                id,
                &addr,
                wrapper(1, &[("TopicA", 4), ("OnlyA", 2)]),
            ),
        )
        .await;
        assert_eq!(r.code, 0);
    }
    assert!(h.handle.scan_not_active_brokers().is_empty());
    h.clock.advance(20_001);
    let expired = h.handle.scan_not_active_brokers();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].addr.broker_addr, "10.0.0.3:10911");

    assert!(route(&client, &h.addr, "OnlyB").await.is_none());
    let topic_a = route(&client, &h.addr, "TopicA").await.unwrap();
    assert_eq!(topic_a.broker_datas.len(), 1);
    // Java closes the expired broker's channel too.
    tokio::time::timeout(TIMEOUT, b_conn.closed())
        .await
        .unwrap();
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_periodic_scan_expires_brokers_with_their_own_timeout() {
    let h = start_with(NameServerConfig {
        scan_interval: Duration::from_millis(20),
        ..config()
    })
    .await;
    let broker = RemotingClient::default();
    let mut cmd = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        wrapper(1, &[("T", 4), ("U", 4)]),
    );
    cmd.set_ext("heartbeatTimeoutMillis", "5000");
    assert_eq!(call(&broker, &h.addr, cmd).await.code, 0);
    let routes = h.handle.name_server().routes();
    assert_eq!(
        routes
            .broker_live_info(CLUSTER, "10.0.0.1:10911")
            .unwrap()
            .heartbeat_timeout_millis,
        5000
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(routes.live_broker_count(), 1);
    h.clock.advance(5_001);
    eventually(|| routes.live_broker_count() == 0).await;
    assert!(routes.pickup_topic_route_data("T").is_none());
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn unregister_removes_the_broker() {
    let h = start().await;
    let brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let unregister = |name: &str, id: i64, addr: &str| {
        RemotingCommand::request(
            RequestCode::UNREGISTER_BROKER,
            &UnRegisterBrokerRequestHeader {
                broker_name: name.into(),
                broker_addr: addr.into(),
                cluster_name: CLUSTER.into(),
                broker_id: id,
            },
        )
    };
    assert_eq!(
        call(
            &brokers[1],
            &h.addr,
            unregister("broker-a", 1, "10.0.0.2:10911")
        )
        .await
        .code,
        0
    );
    let a = route(&client, &h.addr, "OnlyA").await.unwrap();
    assert_eq!(a.broker_datas[0].broker_addrs.len(), 1);

    call(
        &brokers[2],
        &h.addr,
        unregister("broker-b", 0, "10.0.0.3:10911"),
    )
    .await;
    assert!(route(&client, &h.addr, "OnlyB").await.is_none());
    let r = call(
        &client,
        &h.addr,
        RemotingCommand::bare_request(RequestCode::GET_BROKER_CLUSTER_INFO),
    )
    .await;
    let info = ClusterInfo::decode(&r.body).unwrap();
    assert_eq!(info.cluster_addr_table[CLUSTER].len(), 1);
    assert!(!info.broker_addr_table.contains_key("broker-b"));
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn closing_the_connection_removes_its_brokers() {
    let h = start().await;
    let [a0, a1, b0] = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    drop(b0);
    let routes = h.handle.name_server().routes();
    eventually(|| routes.pickup_topic_route_data("OnlyB").is_none()).await;
    assert_eq!(
        route(&client, &h.addr, "TopicA")
            .await
            .unwrap()
            .broker_datas
            .len(),
        1
    );
    a1.connection(&h.addr).await.unwrap().close();
    eventually(|| routes.live_broker_count() == 1).await;
    assert_eq!(
        route(&client, &h.addr, "TopicA")
            .await
            .unwrap()
            .broker_datas[0]
            .broker_addrs
            .len(),
        1
    );
    drop(a0);
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn wipe_and_add_write_perm() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let wipe = RemotingCommand::request(
        RequestCode::WIPE_WRITE_PERM_OF_BROKER,
        &WipeWritePermOfBrokerRequestHeader {
            broker_name: "broker-a".into(),
        },
    );
    let r = call(&client, &h.addr, wipe).await;
    let hdr: WipeWritePermOfBrokerResponseHeader = r.read_header().unwrap();
    assert_eq!(hdr.wipe_topic_count, 2);
    let topic_a = route(&client, &h.addr, "TopicA").await.unwrap();
    let perm = |name: &str| {
        topic_a
            .queue_datas
            .iter()
            .find(|q| q.broker_name == name)
            .unwrap()
            .perm
    };
    assert_eq!(perm("broker-a"), 4);
    assert_eq!(perm("broker-b"), 6);

    let add = RemotingCommand::request(
        RequestCode::ADD_WRITE_PERM_OF_BROKER,
        &AddWritePermOfBrokerRequestHeader {
            broker_name: "broker-a".into(),
        },
    );
    let r = call(&client, &h.addr, add).await;
    assert_eq!(
        r.read_header::<AddWritePermOfBrokerResponseHeader>()
            .unwrap()
            .add_topic_count,
        2
    );
    assert_eq!(
        route(&client, &h.addr, "OnlyA").await.unwrap().queue_datas[0].perm,
        6
    );
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_topic_in_one_cluster_or_all() {
    let h = start().await;
    let _brokers = register_cluster(&h.addr).await;
    let client = RemotingClient::default();
    let delete = |topic: &str, cluster: Option<&str>| {
        RemotingCommand::request(
            RequestCode::DELETE_TOPIC_IN_NAMESRV,
            &DeleteTopicFromNamesrvRequestHeader {
                topic: topic.into(),
                cluster_name: cluster.map(str::to_owned),
                broker_name: None,
            },
        )
    };
    assert_eq!(
        call(&client, &h.addr, delete("TopicA", Some("Other")))
            .await
            .code,
        0
    );
    assert!(route(&client, &h.addr, "TopicA").await.is_some());
    call(&client, &h.addr, delete("TopicA", Some(CLUSTER))).await;
    assert!(route(&client, &h.addr, "TopicA").await.is_none());
    call(&client, &h.addr, delete("OnlyB", None)).await;
    assert!(route(&client, &h.addr, "OnlyB").await.is_none());
    assert!(route(&client, &h.addr, "OnlyA").await.is_some());
    h.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_name_servers_are_independent() {
    let one = start().await;
    let two = start().await;
    assert_ne!(one.addr, two.addr);
    let broker = RemotingClient::default();
    call(
        &broker,
        &one.addr,
        register_request(
            "broker-a",
            0,
            "10.0.0.1:10911",
            wrapper(1, &[("T", 4), ("U", 4)]),
        ),
    )
    .await;
    let client = RemotingClient::default();
    assert!(route(&client, &one.addr, "T").await.is_some());
    assert!(route(&client, &two.addr, "T").await.is_none());
    call(
        &broker,
        &two.addr,
        register_request(
            "broker-a",
            0,
            "10.0.0.1:10911",
            wrapper(1, &[("T", 4), ("U", 4)]),
        ),
    )
    .await;
    assert!(route(&client, &two.addr, "T").await.is_some());
    one.handle.shutdown().await.unwrap();
    assert!(route(&client, &two.addr, "T").await.is_some());
    two.handle.shutdown().await.unwrap();
}
