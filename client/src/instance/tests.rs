//! The instance against an in-process fake nameserver+broker (a
//! `RemotingServer` answering GET_ROUTEINFO_BY_TOPIC and HEART_BEAT):
//! nameserver failover, the route cache, heartbeats and the hook for
//! requests brokers send to clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use skylark_protocol::body::{
    Body, BrokerData, HeartbeatData, KeyStyle, QueueData, TopicRouteData,
};
use skylark_protocol::headers::GetRouteInfoRequestHeader;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{
    ConnectionHandle, RemotingServer, RequestHandler, ServerConfig, not_supported,
};

use super::*;

/// Routes topic `T` to itself as `broker-a`; records heartbeats and the
/// connections they came on.
struct Fake {
    addr: Mutex<String>,
    heartbeats: Mutex<Vec<HeartbeatData>>,
    conns: Mutex<Vec<ConnectionHandle>>,
}

impl RequestHandler for Fake {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        req: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match req.request_code() {
            RequestCode::GET_ROUTEINFO_BY_TOPIC => {
                let h: GetRouteInfoRequestHeader = req.read_header().unwrap();
                if h.topic != "T" {
                    return Some(
                        RemotingCommand::response_to(&req, ResponseCode::TOPIC_NOT_EXIST)
                            .with_remark("no route"),
                    );
                }
                let addr = self.addr.lock().unwrap().clone();
                let route = TopicRouteData {
                    broker_datas: vec![BrokerData {
                        broker_addrs: [(0, addr)].into(),
                        broker_name: "broker-a".into(),
                        cluster: "c".into(),
                        ..Default::default()
                    }],
                    queue_datas: vec![QueueData {
                        broker_name: "broker-a".into(),
                        perm: 6,
                        read_queue_nums: 2,
                        write_queue_nums: 2,
                        topic_sys_flag: 0,
                    }],
                    ..Default::default()
                };
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS)
                    .with_body(route.encode(KeyStyle::Unquoted))
            }
            RequestCode::HEART_BEAT => {
                self.heartbeats
                    .lock()
                    .unwrap()
                    .push(HeartbeatData::decode(&req.body).unwrap());
                self.conns.lock().unwrap().push(conn.clone());
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS)
            }
            _ => not_supported(&req),
        })
    }
}

async fn fake() -> (Arc<Fake>, String, tokio::sync::oneshot::Sender<()>) {
    let fake = Arc::new(Fake {
        addr: Mutex::default(),
        heartbeats: Mutex::default(),
        conns: Mutex::default(),
    });
    let server = RemotingServer::bind("127.0.0.1:0", fake.clone(), ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    *fake.addr.lock().unwrap() = addr.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async {
        stopped.await.ok();
    }));
    (fake, addr, stop)
}

fn config(namesrv: &[&str]) -> ClientConfig {
    let mut c = ClientConfig {
        namesrv_addrs: namesrv.iter().map(|s| (*s).to_owned()).collect(),
        instance_name: format!("test-{}", namesrv.join("-")),
        ..ClientConfig::default()
    };
    c.remoting.reconnect_backoff = Duration::from_millis(10);
    c
}

/// A port nothing listens on.
fn dead_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

#[tokio::test]
async fn routes_come_from_the_next_nameserver_when_one_is_down() {
    let (_fake, addr, _stop) = fake().await;
    let dead = dead_addr();
    let instance = ClientInstance::new(config(&[&dead, &addr])).unwrap();
    let route = instance.topic_route("T").await.unwrap();
    assert_eq!(route.write_queues.len(), 2);
    assert_eq!(instance.master_addr("broker-a"), Some(addr.clone()));
    // Cached: the same Arc, and its send position, until the data changes.
    let again = instance.refresh_topic_route("T").await.unwrap();
    assert!(Arc::ptr_eq(&route, &again));
    let err = instance.topic_route("U").await.unwrap_err();
    assert_eq!(err.response_code(), Some(ResponseCode::TOPIC_NOT_EXIST));
    assert_eq!(
        err.to_string(),
        format!("TOPIC_NOT_EXIST: no route (from {addr})")
    );
    instance.forget_route("T");
    assert!(instance.cached_route("T").is_none());
    assert_eq!(instance.master_addr("broker-a"), None);
    instance.shutdown();
    assert!(matches!(
        instance.topic_route("T").await,
        Err(ClientError::Shutdown)
    ));
}

#[tokio::test]
async fn shared_per_client_id_and_nameservers() {
    let a = ClientInstance::get_or_create(config(&["127.0.0.1:1"])).unwrap();
    let b = ClientInstance::get_or_create(config(&["127.0.0.1:1"])).unwrap();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
    let c = ClientInstance::get_or_create(config(&["127.0.0.1:2"])).unwrap();
    assert!(!Arc::ptr_eq(&a.inner, &c.inner));
    a.shutdown();
    // A shut-down instance is not handed out again.
    let d = ClientInstance::get_or_create(config(&["127.0.0.1:1"])).unwrap();
    assert!(!Arc::ptr_eq(&a.inner, &d.inner));
    let none = ClientInstance::new(ClientConfig::default()).unwrap();
    let err = none
        .invoke_namesrv(RemotingCommand::bare_request(
            RequestCode::GET_BROKER_CLUSTER_INFO,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoNameserver), "{err}");
}

#[tokio::test]
async fn heartbeats_reach_brokers_and_brokers_reach_handlers() {
    let (fake, addr, _stop) = fake().await;
    let instance = ClientInstance::new(config(&[&addr])).unwrap();
    instance.register_producer("pg").unwrap();
    assert!(instance.register_producer("pg").is_err());
    instance.register_consumer(skylark_protocol::body::ConsumerData {
        group_name: "cg".into(),
        ..Default::default()
    });
    // A new broker in a route gets a heartbeat at once.
    instance.topic_route("T").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fake.heartbeats.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(instance.send_heartbeat_to_all_brokers().await, 1);
    let hb = fake.heartbeats.lock().unwrap().last().cloned().unwrap();
    assert_eq!(hb.client_id, instance.client_id());
    assert_eq!(hb.producer_data_set[0].group_name, "pg");
    assert_eq!(hb.consumer_data_set[0].group_name, "cg");

    // The broker calls the client on the heartbeat's connection.
    let conn = fake.conns.lock().unwrap()[0].clone();
    let ask = || RemotingCommand::bare_request(RequestCode::GET_CONSUMER_RUNNING_INFO);
    let unhandled = conn.invoke(ask(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        unhandled.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );

    struct Running;
    impl RequestHandler for Running {
        async fn handle(
            &self,
            _: &ConnectionHandle,
            req: RemotingCommand,
        ) -> Option<RemotingCommand> {
            Some(
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS)
                    .with_body(&b"running"[..]),
            )
        }
    }
    assert!(
        instance
            .register_request_handler(RequestCode::GET_CONSUMER_RUNNING_INFO, Arc::new(Running))
            .is_none()
    );
    assert!(instance.has_request_handler(RequestCode::GET_CONSUMER_RUNNING_INFO));
    let answered = conn.invoke(ask(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(&answered.body[..], b"running");
    assert!(
        instance
            .remove_request_handler(RequestCode::GET_CONSUMER_RUNNING_INFO)
            .is_some()
    );
    instance.shutdown();
}
