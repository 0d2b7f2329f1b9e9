//! Replication tests with real processes: a `skylark nameserver`, and
//! `skylark broker -c` masters and replicas, each with its own data
//! directory, config file and ports; plus remoting requests to any address.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skylark_protocol::body::{
    Body, DelayOffsetSerializeWrapper, KeyStyle, SubscriptionGroupConfig, SubscriptionGroupWrapper,
    TopicRouteData,
};
use skylark_protocol::headers::namesrv::GetRouteInfoRequestHeader;
use skylark_protocol::headers::offset::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use skylark_protocol::headers::{CreateTopicRequestHeader, GetTopicConfigRequestHeader};
use skylark_protocol::message::Properties;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;

use super::assert_success;
use skylark_testkit::binary::skylark_binary;
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_broker_ports, free_ports, start_retrying,
};
use tempfile::TempDir;

use super::{pull_request, send_request};

/// Generous guard for replication to catch up; no passing test waits this long.
pub(crate) const CATCH_UP: Duration = Duration::from_secs(90);
/// Guard of one request.
const REQUEST_GUARD: Duration = Duration::from_secs(30);
/// The group's broker name in every HA test.
pub(crate) const GROUP: &str = "broker-ha";

/// A nameserver process and the directory of the brokers' files.
pub(crate) struct HaCluster {
    pub(crate) dir: TempDir,
    pub(crate) namesrv_addr: String,
    _namesrv: Skylark,
    bin: PathBuf,
}

/// One `skylark broker` process: its ports, files, and the command that
/// (re)starts it.
pub(crate) struct HaNode {
    pub(crate) addr: String,
    pub(crate) ha_addr: String,
    pub(crate) http_addr: String,
    pub(crate) data_dir: PathBuf,
    command: SkylarkCommand,
    process: Option<Skylark>,
}

impl HaCluster {
    /// Starts a nameserver on a free loopback port.
    pub(crate) fn start() -> Self {
        let bin = skylark_binary();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("namesrv.log");
        let (_, namesrv) = start_retrying(|| {
            let [port] = free_ports::<1>();
            SkylarkCommand::nameserver(&bin, port, &log)
        });
        let namesrv_addr = namesrv.addr("listen");
        Self {
            dir,
            namesrv_addr,
            _namesrv: namesrv,
            bin,
        }
    }

    /// Starts a broker named `node` of the group [`GROUP`] with `brokerId`
    /// `id` and `brokerRole` `role`, 1 MiB CommitLog files (so files roll and
    /// BLANK padding is replicated), plus the `extra` keys.
    pub(crate) fn broker(
        &self,
        node: &str,
        id: i64,
        role: &str,
        extra: &[(&str, String)],
    ) -> HaNode {
        let data_dir = self.dir.path().join(node);
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = self.dir.path().join(format!("{node}.log"));
        let bin = self.bin.clone();
        let namesrv = self.namesrv_addr.clone();
        let (command, process) = start_retrying(|| {
            let ports = free_broker_ports();
            let [ha, http] = free_ports::<2>();
            let mut lines = vec![
                "brokerClusterName=HaCluster".to_owned(),
                format!("brokerName={GROUP}"),
                format!("brokerId={id}"),
                format!("brokerRole={role}"),
                "brokerIP1=127.0.0.1".to_owned(),
                format!("haListenPort={ha}"),
                format!("httpListenPort={http}"),
                "mappedFileSizeCommitLog=1048576".to_owned(),
                "mappedFileSizeConsumeQueue=60000".to_owned(),
                "haSendHeartbeatInterval=1000".to_owned(),
                "registerNameServerPeriod=10000".to_owned(),
            ];
            lines.extend(extra.iter().map(|(key, value)| format!("{key}={value}")));
            SkylarkCommand::broker(&bin, &namesrv, ports, &data_dir, &log).conf(lines)
        });
        let text = std::fs::read_to_string(command.conf_file().unwrap()).unwrap();
        let key = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_owned()
        };
        HaNode {
            addr: process.addr("broker"),
            ha_addr: format!("127.0.0.1:{}", key("haListenPort")),
            http_addr: format!("127.0.0.1:{}", key("httpListenPort")),
            data_dir,
            command,
            process: Some(process),
        }
    }
}

impl Drop for HaCluster {
    /// A failing test shows the tail of every process's log.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                eprintln!(
                    "--- {} ---\n{}",
                    path.display(),
                    skylark_testkit::skylark::log_excerpt(&path, 40)
                );
            }
        }
    }
}

impl HaNode {
    /// SIGKILL, as a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Sends `signal` to the running process (SIGSTOP and SIGCONT freeze
    /// and thaw it: a partition that the process itself does not notice).
    pub(crate) fn signal(&mut self, signal: i32) {
        let process = self.process.as_mut().expect("not running");
        process.process().signal(signal).unwrap();
    }

    /// Starts it again on the same ports and data.
    pub(crate) fn restart(&mut self) {
        assert!(self.process.is_none(), "still running");
        self.process = Some(
            self.command
                .start()
                .unwrap_or_else(|e| panic!("{}", e.message)),
        );
    }

    /// Its /metrics text.
    pub(crate) fn metrics(&self) -> String {
        let mut stream = TcpStream::connect(&self.http_addr).unwrap();
        stream.set_read_timeout(Some(REQUEST_GUARD)).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http_addr
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    /// The value of the metric line starting with `prefix` (name and labels).
    pub(crate) fn metric(&self, prefix: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}

/// Sends `request` to `addr` and waits for the answer.
pub(crate) async fn invoke(
    client: &RemotingClient,
    addr: &str,
    request: RemotingCommand,
) -> RemotingCommand {
    client.invoke(addr, request, REQUEST_GUARD).await.unwrap()
}

/// [`invoke`], asserting that `addr` answered SUCCESS (its remark in the failure).
pub(crate) async fn invoke_ok(
    client: &RemotingClient,
    addr: &str,
    request: RemotingCommand,
) -> RemotingCommand {
    let response = invoke(client, addr, request).await;
    assert_success(&response);
    response
}

/// SEND_MESSAGE_V2 of `body` to `topic`/`queue_id` at `addr`.
pub(crate) async fn send(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    body: &[u8],
) -> RemotingCommand {
    let mut properties = Properties::new();
    properties.set_tags("TagHa");
    invoke(
        client,
        addr,
        send_request(topic, queue_id, properties, body),
    )
    .await
}

/// PULL_MESSAGE of up to 32 records from `offset`, without suspending.
pub(crate) async fn pull(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> RemotingCommand {
    invoke(
        client,
        addr,
        pull_request("HaGroup", topic, queue_id, offset, "*", 0),
    )
    .await
}

/// Every raw record byte of `topic`/`queue_id` from 0 to `count` pulled
/// from `addr`, retrying until all are there (or [`CATCH_UP`] passed).
pub(crate) async fn pull_all(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    count: i64,
) -> Vec<u8> {
    let give_up = Instant::now() + CATCH_UP;
    let mut bytes = Vec::new();
    let mut offset = 0;
    while offset < count {
        let response = pull(client, addr, topic, queue_id, offset).await;
        if response.response_code() == ResponseCode::SUCCESS {
            let records = super::records(&response);
            offset += i64::try_from(records.len()).unwrap();
            bytes.extend_from_slice(&response.body);
            continue;
        }
        assert!(
            Instant::now() < give_up,
            "{addr} has {offset} of {count} records of {topic}/{queue_id} after {CATCH_UP:?}: last answer {:?} {:?}",
            response.response_code(),
            response.remark
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bytes
}

/// Creates `topic` with `queues` read and write queues at `addr`.
pub(crate) async fn create_topic(client: &RemotingClient, addr: &str, topic: &str, queues: i32) {
    let header = CreateTopicRequestHeader {
        topic: topic.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: Some(0),
        order: false,
        attributes: None,
        force: None,
        broker_name: None,
    };
    invoke_ok(
        client,
        addr,
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC, &header),
    )
    .await;
}

/// Whether `addr` has `topic`.
pub(crate) async fn has_topic(client: &RemotingClient, addr: &str, topic: &str) -> bool {
    let header = GetTopicConfigRequestHeader {
        topic: topic.into(),
        broker_name: None,
    };
    let response = invoke(
        client,
        addr,
        RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG, &header),
    )
    .await;
    response.response_code() == ResponseCode::SUCCESS
}

/// The nameserver's route of `topic`: group name → broker id → address.
pub(crate) async fn route(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
) -> BTreeMap<String, BTreeMap<i64, String>> {
    let header = GetRouteInfoRequestHeader {
        topic: topic.into(),
        accept_standard_json_only: None,
        broker_name: None,
    };
    let response = invoke(
        client,
        namesrv,
        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header),
    )
    .await;
    if response.response_code() != ResponseCode::SUCCESS {
        return BTreeMap::new();
    }
    TopicRouteData::decode(&response.body)
        .unwrap()
        .broker_datas
        .into_iter()
        .map(|b| (b.broker_name, b.broker_addrs))
        .collect()
}

/// Polls `check` every 200 ms until it holds; panics with `what` after [`CATCH_UP`].
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let give_up = Instant::now() + CATCH_UP;
    while !check().await {
        assert!(Instant::now() < give_up, "{what}: not within {CATCH_UP:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A data directory's CommitLog bytes from `from` to `to` (1 MiB files).
pub(crate) fn commit_log_bytes(dir: &Path, from: i64, to: i64) -> Vec<u8> {
    const FILE: i64 = 1 << 20;
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let start = at - at % FILE;
        let file = dir.join(format!("{start:020}"));
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let lo = usize::try_from(at - start).unwrap();
        let hi = usize::try_from((to - start).min(FILE)).unwrap();
        out.extend_from_slice(&data[lo..hi]);
        at = start + hi as i64;
    }
    out
}

/// Commits `offset` for `group` on `topic`/`queue_id` at `addr`.
pub(crate) async fn commit_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) {
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        commit_offset: offset,
        broker_name: None,
    };
    invoke_ok(
        client,
        addr,
        RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET, &header),
    )
    .await;
}

/// `group`'s committed offset of `topic`/`queue_id` at `addr`, if any.
pub(crate) async fn committed_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue_id: i32,
) -> Option<i64> {
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        set_zero_if_not_found: Some(false),
        broker_name: None,
    };
    let response = invoke(
        client,
        addr,
        RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET, &header),
    )
    .await;
    (response.response_code() == ResponseCode::SUCCESS)
        .then(|| {
            response
                .read_header::<QueryConsumerOffsetResponseHeader>()
                .ok()
        })
        .flatten()
        .map(|h| h.offset)
}

/// Creates the subscription group `group` at `addr`.
pub(crate) async fn create_group(client: &RemotingClient, addr: &str, group: &str) {
    let body = SubscriptionGroupConfig::new(group).encode(KeyStyle::Unquoted);
    invoke_ok(
        client,
        addr,
        RemotingCommand::bare_request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(body),
    )
    .await;
}

/// The subscription groups `addr` has (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
pub(crate) async fn group_names(client: &RemotingClient, addr: &str) -> Vec<String> {
    let response = invoke_ok(
        client,
        addr,
        RemotingCommand::bare_request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
    )
    .await;
    SubscriptionGroupWrapper::decode(&response.body)
        .unwrap()
        .subscription_group_table
        .into_keys()
        .collect()
}

/// Every delay level's delivery progress at `addr` (GET_ALL_DELAY_OFFSET).
pub(crate) async fn delay_offsets(client: &RemotingClient, addr: &str) -> BTreeMap<i32, i64> {
    let response = invoke_ok(
        client,
        addr,
        RemotingCommand::bare_request(RequestCode::GET_ALL_DELAY_OFFSET),
    )
    .await;
    DelayOffsetSerializeWrapper::decode(&response.body)
        .unwrap()
        .offset_table
}

/// SEND_MESSAGE_V2 of `body` with delay level `level`.
pub(crate) async fn send_delayed(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    level: i32,
    body: &[u8],
) -> RemotingCommand {
    let mut properties = Properties::new();
    properties.set_delay_time_level(level);
    invoke(client, addr, send_request(topic, 0, properties, body)).await
}
