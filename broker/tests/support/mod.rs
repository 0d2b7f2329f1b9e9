//! A broker on loopback in a temporary directory, and a client speaking
//! the remoting protocol to it as a RocketMQ client does.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod ha;
pub(crate) mod ha_role;
pub(crate) mod proxy;
pub(crate) mod retry;
pub(crate) mod timer;
pub(crate) mod transaction;

use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use skylark_broker::{Broker, BrokerConfig, BrokerError, BrokerHandle};
use skylark_protocol::headers::pull::PullMessageRequestHeader;
use skylark_protocol::headers::send::SendMessageRequestHeaderV2;
use skylark_protocol::message::{Properties, PullSysFlag, StoredMessage, record};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;
use skylark_store::config::MessageStoreConfig;
use tempfile::TempDir;

/// Generous guard against hangs; no test waits this long when it passes.
pub(crate) const HANG_GUARD: Duration = Duration::from_secs(30);

/// Asserts that `response` is SUCCESS, with its remark in the failure.
#[track_caller]
pub(crate) fn assert_success(response: &RemotingCommand) {
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        response.remark
    );
}

/// A free loopback port (bound and released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running broker and its directory.
pub(crate) struct TestBroker {
    pub(crate) handle: BrokerHandle,
    pub(crate) dir: TempDir,
    pub(crate) addr: String,
    pub(crate) client: RemotingClient,
}

impl TestBroker {
    /// A broker with small files and no nameserver, changed by `tweak`.
    pub(crate) async fn start(tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tweak).await
    }

    /// Like [`start`](Self::start), on an existing directory.
    pub(crate) async fn start_in(dir: TempDir, tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let mut config = BrokerConfig {
            listen_port: free_port(),
            ..BrokerConfig::default()
        };
        config
            .set("fastListenPort", &free_port().to_string())
            .unwrap();
        config.store = MessageStoreConfig {
            mapped_file_size_commit_log: 4 << 20,
            mapped_file_size_consume_queue: 1000 * 20,
            // Tests run in parallel: the default HA port is one fixed port.
            ha_listen_port: 0,
            ..MessageStoreConfig::with_root(dir.path())
        };
        let ours = config.listen_port;
        tweak(&mut config);
        let mut retries = 0;
        let handle = loop {
            match Broker::start(config.clone()).await {
                Ok(handle) => break handle,
                // A port `free_port` released can be taken (by another test's
                // outgoing connection) before the broker binds it: new ports,
                // unless the test chose its own.
                Err(BrokerError::Remoting(error)) if retries < 3 && config.listen_port == ours => {
                    retries += 1;
                    eprintln!("test broker could not bind ({error}); retrying on other ports");
                    config.listen_port = free_port();
                    config
                        .set("fastListenPort", &free_port().to_string())
                        .unwrap();
                }
                Err(error) => panic!("test broker did not start: {error}"),
            }
        };
        assert!(handle.wait_ready(HANG_GUARD).await);
        let addr = handle.local_addr().to_string();
        Self {
            handle,
            dir,
            addr,
            client: RemotingClient::default(),
        }
    }

    /// Stops gracefully and hands back the directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.client.shutdown();
        self.handle.shutdown().await.unwrap();
        self.dir
    }

    /// Waits until everything stored is dispatched to its ConsumeQueue
    /// (the dispatcher runs just after the put, as in RocketMQ).
    pub(crate) fn wait_dispatched(&self) {
        assert!(self.handle.broker().store().wait_dispatched_all(HANG_GUARD));
    }

    /// Sends `request` and waits for the answer.
    pub(crate) async fn invoke(&self, request: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.addr, request, HANG_GUARD)
            .await
            .unwrap()
    }

    /// SEND_MESSAGE_V2 of one message to `queue_id` (-1: any).
    pub(crate) async fn send(
        &self,
        topic: &str,
        queue_id: i32,
        tags: &str,
        body: &[u8],
    ) -> RemotingCommand {
        let mut properties = Properties::new();
        if !tags.is_empty() {
            properties.set_tags(tags);
        }
        self.send_with(topic, queue_id, properties, body).await
    }

    /// SEND_MESSAGE_V2 of one message with `properties` (plus `WAIT`).
    pub(crate) async fn send_with(
        &self,
        topic: &str,
        queue_id: i32,
        properties: Properties,
        body: &[u8],
    ) -> RemotingCommand {
        self.invoke(send_request(topic, queue_id, properties, body))
            .await
    }

    /// PULL_MESSAGE with the subscription `expression`, suspending up to `suspend_ms`.
    pub(crate) async fn pull(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        expression: &str,
        suspend_ms: i64,
    ) -> RemotingCommand {
        self.invoke(pull_request(
            group, topic, queue_id, offset, expression, suspend_ms,
        ))
        .await
    }
}

/// SEND_MESSAGE_V2 of one message with `properties` (plus `WAIT`).
pub(crate) fn send_request(
    topic: &str,
    queue_id: i32,
    mut properties: Properties,
    body: &[u8],
) -> RemotingCommand {
    properties.insert("WAIT", "true");
    let header = SendMessageRequestHeaderV2 {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(properties.to_property_string()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: None,
    };
    RemotingCommand::request(RequestCode::SEND_MESSAGE_V2, &header)
        .with_body(Bytes::copy_from_slice(body))
}

/// PULL_MESSAGE of up to 32 records with the subscription `expression`,
/// suspending up to `suspend_ms`.
pub(crate) fn pull_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    expression: &str,
    suspend_ms: i64,
) -> RemotingCommand {
    let header = pull_header(group, topic, queue_id, offset, expression, suspend_ms);
    RemotingCommand::request(RequestCode::PULL_MESSAGE, &header)
}

/// The header of [`pull_request`], for tests that change a field of it.
pub(crate) fn pull_header(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    expression: &str,
    suspend_ms: i64,
) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: PullSysFlag::build(false, suspend_ms > 0, true, false, false),
        commit_offset: 0,
        suspend_timeout_millis: suspend_ms,
        subscription: Some(expression.into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        request_source: None,
        proxy_froward_client_id: None,
        broker_name: None,
    }
}

/// The records of a pull response's body.
pub(crate) fn records(response: &RemotingCommand) -> Vec<StoredMessage> {
    record::decode_all(&response.body).unwrap()
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
