//! Broker settings: RocketMQ's `BrokerConfig` keys (as spelled in
//! `broker.conf`) with RocketMQ's defaults, plus the store's
//! [`MessageStoreConfig`] read from the same file.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skylark_store::config::MessageStoreConfig;

/// RocketMQ's default remoting port of a broker.
pub const DEFAULT_LISTEN_PORT: u16 = 10911;

/// `BrokerConfig` (plus Netty's `listenPort`): the keys the broker reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerConfig {
    /// Cluster this broker belongs to (`DefaultCluster`).
    pub broker_cluster_name: String,
    /// Name of the broker group (master and replicas share it).
    pub broker_name: String,
    /// 0 for the master, > 0 for replicas.
    pub broker_id: i64,
    /// Address announced to nameservers and clients.
    #[serde(rename = "brokerIP1")]
    pub broker_ip1: String,
    /// Address to bind; `None` binds `brokerIP1`.
    pub listen_host: Option<String>,
    /// Remoting port (10911); the fast (VIP) port is this minus 2.
    pub listen_port: u16,
    /// Nameservers, `host:port` separated by `;`.
    pub namesrv_addr: Option<String>,
    /// Create unknown topics on first send from `TBW102` (true).
    pub auto_create_topic_enable: bool,
    /// Queues of an auto-created topic at most (8).
    pub default_topic_queue_nums: i32,
    /// Create unknown consumer groups on first use (true).
    pub auto_create_subscription_group: bool,
    /// Permission of the whole broker (6 = read | write).
    pub broker_permission: i32,
    /// Create a topic named after the cluster (true).
    pub cluster_topic_enable: bool,
    /// Create a topic named after the broker (true).
    pub broker_topic_enable: bool,
    /// Suspend pulls that find nothing (true); else hold them `shortPollingTimeMills`.
    pub long_polling_enable: bool,
    /// Hold time of a pull when long polling is off, in ms (1000).
    pub short_polling_time_mills: u64,
    /// Timeout of one registration request, in ms (24 000).
    pub register_broker_timeout_mills: u64,
    /// Period of registration with every nameserver, in ms (30 000, clamped to 10 000..=60 000).
    pub register_name_server_period: u64,
    /// Send the topic table gzip-compressed when registering (false).
    pub compressed_register: bool,
    /// Suggest pulling from a replica when the data is cold (false).
    pub slave_read_enable: bool,
    /// Replica that pulls are redirected to when cold (1).
    pub which_broker_when_consume_slowly: i64,
    /// Region written in every send response (`DefaultRegion`).
    pub region_id: String,
    /// Trace switch written in every send response (true).
    pub trace_on: bool,
    /// Accept SQL92 subscriptions (false).
    pub enable_property_filter: bool,
    /// Retry attempts of a consumer group without its own setting (16).
    pub max_reconsume_times: i32,
    /// Port of the HTTP endpoint (/metrics, /healthz, /readyz); 0 disables it. Skylark's key.
    pub http_listen_port: u16,
    /// The store's settings, read from the same file.
    #[serde(skip)]
    pub store: MessageStoreConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            broker_cluster_name: "DefaultCluster".to_owned(),
            broker_name: "broker-a".to_owned(),
            broker_id: 0,
            broker_ip1: "127.0.0.1".to_owned(),
            listen_host: None,
            listen_port: DEFAULT_LISTEN_PORT,
            namesrv_addr: None,
            auto_create_topic_enable: true,
            default_topic_queue_nums: 8,
            auto_create_subscription_group: true,
            broker_permission: 6,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            long_polling_enable: true,
            short_polling_time_mills: 1000,
            register_broker_timeout_mills: 24_000,
            register_name_server_period: 30_000,
            compressed_register: false,
            slave_read_enable: false,
            which_broker_when_consume_slowly: 1,
            region_id: "DefaultRegion".to_owned(),
            trace_on: true,
            enable_property_filter: false,
            max_reconsume_times: 16,
            http_listen_port: 0,
            store: MessageStoreConfig::default(),
        }
    }
}

impl BrokerConfig {
    /// `host:port` clients reach this broker at.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// The nameserver addresses, in order.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.namesrv_addr
            .as_deref()
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Registration period, clamped as Java clamps it.
    pub fn register_period(&self) -> Duration {
        Duration::from_millis(self.register_name_server_period.clamp(10_000, 60_000))
    }

    /// Timeout of one registration request.
    pub fn register_timeout(&self) -> Duration {
        Duration::from_millis(self.register_broker_timeout_mills.max(1))
    }

    /// Whether this broker is a master (id 0).
    pub fn is_master(&self) -> bool {
        self.broker_id == 0
    }
}
