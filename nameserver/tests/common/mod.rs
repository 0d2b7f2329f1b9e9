//! Shared fixtures: a name server on a free loopback port with a manual
//! clock, and builders for the requests brokers and clients send.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use skylark_nameserver::{ManualClock, NameServer, NameServerConfig, NameServerHandle};
use skylark_protocol::body::{
    Body, DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigAndMappingSerializeWrapper,
};
use skylark_protocol::headers::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::RemotingClient;

pub const CLUSTER: &str = "DefaultCluster";
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Starting time of the manual clock.
pub const T0: i64 = 1_700_000_000_000;

/// A running name server and its clock.
pub struct Harness {
    pub handle: NameServerHandle,
    pub addr: String,
    pub clock: ManualClock,
}

/// A config listening on a free loopback port.
pub fn config() -> NameServerConfig {
    NameServerConfig {
        listen_addr: "127.0.0.1:0".into(),
        ..NameServerConfig::default()
    }
}

/// Starts a name server with `config` and a manual clock at [`T0`].
pub async fn start_with(config: NameServerConfig) -> Harness {
    let clock = ManualClock::new(T0);
    let handle = NameServer::start_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let addr = handle.local_addr().to_string();
    Harness {
        handle,
        addr,
        clock,
    }
}

/// Starts a name server with the default test config.
pub async fn start() -> Harness {
    start_with(config()).await
}

/// A topic-config wrapper of version `counter` holding `topics` (name, queues).
pub fn wrapper(counter: i64, topics: &[(&str, i32)]) -> TopicConfigAndMappingSerializeWrapper {
    let mut w = TopicConfigAndMappingSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: 0,
            timestamp: T0,
        },
        ..Default::default()
    };
    for (name, queues) in topics {
        let mut t = TopicConfig::new(*name);
        t.read_queue_nums = *queues;
        t.write_queue_nums = *queues;
        w.topic_config_table.insert((*name).to_owned(), t);
    }
    w
}

/// The header of broker `name`/`id` at `addr` in [`CLUSTER`].
pub fn register_header(name: &str, id: i64, addr: &str) -> RegisterBrokerRequestHeader {
    RegisterBrokerRequestHeader {
        broker_name: name.into(),
        broker_addr: addr.into(),
        cluster_name: CLUSTER.into(),
        ha_server_addr: format!("{addr}-ha"),
        broker_id: id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(0),
    }
}

/// A REGISTER_BROKER request with a JSON body.
pub fn register_request(
    name: &str,
    id: i64,
    addr: &str,
    w: TopicConfigAndMappingSerializeWrapper,
) -> RemotingCommand {
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: w,
    };
    RemotingCommand::request(
        RequestCode::REGISTER_BROKER,
        &register_header(name, id, addr),
    )
    .with_body(body.encode(skylark_protocol::body::KeyStyle::Unquoted))
}

/// A GET_ROUTEINFO_BY_TOPIC request sent as client `version`.
pub fn route_request(topic: &str, version: i32) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            accept_standard_json_only: None,
            broker_name: None,
        },
    );
    cmd.version = version;
    cmd
}

/// Sends `cmd` to `addr` and returns the response.
pub async fn call(client: &RemotingClient, addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, cmd, TIMEOUT).await.unwrap()
}

/// The body as text.
pub fn text(cmd: &RemotingCommand) -> String {
    String::from_utf8(cmd.body.to_vec()).unwrap()
}

/// Waits (up to [`TIMEOUT`]) until `check` holds.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Registers the standard test cluster: broker-a master (`a0`) and slave
/// (`a1`), broker-b master (`b0`), each over its own client connection.
/// Topics: `TopicA` on both groups, `OnlyA` on broker-a.
pub async fn register_cluster(addr: &str) -> [RemotingClient; 3] {
    let clients = [
        RemotingClient::default(),
        RemotingClient::default(),
        RemotingClient::default(),
    ];
    let a_topics = wrapper(1, &[("TopicA", 4), ("OnlyA", 2)]);
    let b_topics = wrapper(1, &[("TopicA", 8), ("OnlyB", 1)]);
    let r = call(
        &clients[0],
        addr,
        register_request("broker-a", 0, "10.0.0.1:10911", a_topics.clone()),
    )
    .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = call(
        &clients[1],
        addr,
        register_request("broker-a", 1, "10.0.0.2:10911", a_topics),
    )
    .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = call(
        &clients[2],
        addr,
        register_request("broker-b", 0, "10.0.0.3:10911", b_topics),
    )
    .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    clients
}
