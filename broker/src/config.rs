//! Broker settings: RocketMQ's `BrokerConfig` keys (as spelled in
//! `broker.conf`) with RocketMQ's defaults, plus the store's
//! [`MessageStoreConfig`] read from the same file.
//!
//! `broker.conf` is a Java properties file; [`BrokerConfig::from_properties`]
//! reads it into both structs (see [`properties`] for the value rules).
//! broker/README.md lists every key.

mod properties;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skylark_protocol::message::topic::RMQ_SYS_TRACE_TOPIC;
use skylark_store::config::MessageStoreConfig;

use crate::error::BrokerError;

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
    /// Remoting port (10911).
    pub listen_port: u16,
    /// The fast (VIP) port; 0 means `listenPort` − 2, as Java derives it.
    /// Skylark's key.
    pub fast_listen_port: u16,
    /// Nameservers, `host:port` separated by `;`.
    pub namesrv_addr: Option<String>,
    /// Create unknown topics on first send from `TBW102` (true).
    pub auto_create_topic_enable: bool,
    /// Queues of an auto-created topic at most (8).
    pub default_topic_queue_nums: i32,
    /// Create unknown consumer groups on first use (true).
    pub auto_create_subscription_group: bool,
    /// Create `CID_RMQ_SYS_*` groups on first use even when
    /// `autoCreateSubscriptionGroup` is off (true).
    pub enable_create_sys_group: bool,
    /// Permission of the whole broker (6 = read | write).
    pub broker_permission: i32,
    /// Create a topic named after the cluster (true).
    pub cluster_topic_enable: bool,
    /// Create a topic named after the broker (true).
    pub broker_topic_enable: bool,
    /// Create the message-trace topic at start (false).
    pub trace_topic_enable: bool,
    /// Name of the message-trace topic (`RMQ_SYS_TRACE_TOPIC`).
    pub msg_trace_topic_name: String,
    /// Refuse admin creation and deletion of system topics (true).
    pub validate_system_topic_when_update_topic: bool,
    /// Suspend pulls that find nothing (true); else hold them `shortPollingTimeMills`.
    pub long_polling_enable: bool,
    /// Hold time of a pull when long polling is off, in ms (1000).
    pub short_polling_time_mills: u64,
    /// How often committed consumer offsets are saved, in ms (5000).
    pub flush_consumer_offset_interval: u64,
    /// Timeout of one registration request, in ms (24 000).
    pub register_broker_timeout_mills: u64,
    /// Period of registration with every nameserver, in ms (30 000, clamped to 10 000..=60 000).
    pub register_name_server_period: u64,
    /// Send the topic table gzip-compressed when registering (false).
    pub compressed_register: bool,
    /// Suggest pulling from a replica when the data is cold (false).
    pub slave_read_enable: bool,
    /// Region written in every send response (`DefaultRegion`).
    pub region_id: String,
    /// Trace switch written in every send response (true).
    pub trace_on: bool,
    /// The file UPDATE_BROKER_CONFIG saves the config to; `skylark broker -c
    /// FILE` sets it to FILE. Unset: changes are not saved.
    pub broker_config_path: Option<String>,
    /// Keys UPDATE_BROKER_CONFIG refuses, separated by `;`
    /// (`configBlackList;brokerConfigPath`); `brokerConfigPath`,
    /// `rocketmqHome` and `configBlackList` are always refused.
    pub config_black_list: String,
    /// Accept SQL92 subscriptions (false).
    pub enable_property_filter: bool,
    /// Port of the HTTP endpoint (/metrics, /healthz, /readyz); 0 disables it. Skylark's key.
    pub http_listen_port: u16,
    /// Refuse transactional half messages with NO_PERMISSION (false).
    pub reject_transaction_message: bool,
    /// Age in ms before an unresolved half message is first checked (6000).
    pub transaction_time_out: u64,
    /// Checks of one half message before it is discarded (15).
    pub transaction_check_max: i32,
    /// Period of the transaction check, in ms (30 000).
    pub transaction_check_interval: u64,
    /// Accept and deliver timer messages (`TIMER_DELIVER_MS` …) (true).
    pub timer_wheel_enable: bool,
    /// Granularity of timer delivery, in ms: one wheel slot (1000).
    pub timer_precision_ms: u64,
    /// Longest timer delay accepted, in s (259 200: 3 days).
    pub timer_max_delay_sec: u64,
    /// A replica's master HA address, `host:port`; unset: learnt from the
    /// nameservers' registration answers (a `MessageStoreConfig` key in Java).
    pub ha_master_address: Option<String>,
    /// How often a replica reports its offset and an idle master sends a
    /// heartbeat, in ms (5000; `MessageStoreConfig` in Java).
    pub ha_send_heartbeat_interval: u64,
    /// An HA connection silent this long is closed, in ms (20 000;
    /// `MessageStoreConfig` in Java).
    pub ha_housekeeping_interval: u64,
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
            fast_listen_port: 0,
            namesrv_addr: None,
            auto_create_topic_enable: true,
            default_topic_queue_nums: 8,
            auto_create_subscription_group: true,
            enable_create_sys_group: true,
            broker_permission: 6,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            trace_topic_enable: false,
            msg_trace_topic_name: RMQ_SYS_TRACE_TOPIC.to_owned(),
            validate_system_topic_when_update_topic: true,
            long_polling_enable: true,
            short_polling_time_mills: 1000,
            flush_consumer_offset_interval: 5000,
            register_broker_timeout_mills: 24_000,
            register_name_server_period: 30_000,
            compressed_register: false,
            slave_read_enable: false,
            region_id: "DefaultRegion".to_owned(),
            trace_on: true,
            broker_config_path: None,
            config_black_list: "configBlackList;brokerConfigPath".to_owned(),
            enable_property_filter: false,
            http_listen_port: 0,
            reject_transaction_message: false,
            transaction_time_out: 6000,
            transaction_check_max: 15,
            transaction_check_interval: 30_000,
            timer_wheel_enable: true,
            timer_precision_ms: 1000,
            timer_max_delay_sec: 3 * 24 * 3600,
            ha_master_address: None,
            ha_send_heartbeat_interval: 5000,
            ha_housekeeping_interval: 20_000,
            store: MessageStoreConfig::default(),
        }
    }
}

impl BrokerConfig {
    /// Reads `broker.conf` text (Java properties syntax) into the broker's
    /// and the store's settings. Keys it does not know are ignored; a value
    /// that does not parse is an error naming its key. Keys absent from the
    /// text keep their defaults (`storePathRootDir` included).
    pub fn from_properties(text: &str) -> Result<Self, BrokerError> {
        Self::from_map(&properties::parse(text)?)
    }

    /// Reads the `broker.conf` file at `path`, which becomes
    /// `brokerConfigPath` unless the file names another.
    pub fn load(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path).map_err(|e| BrokerError::io("read", path, e))?;
        let mut config = Self::from_properties(&text).map_err(|e| match e {
            BrokerError::Config(msg) => BrokerError::Config(format!("{}: {msg}", path.display())),
            other => other,
        })?;
        if config.broker_config_path.is_none() {
            config.broker_config_path = Some(path.to_string_lossy().into_owned());
        }
        Ok(config)
    }

    /// Parses properties text (`broker.conf` syntax) into `key → value`.
    pub(crate) fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, BrokerError> {
        properties::parse(text)
    }

    /// Whether `key` is one of the broker's or the store's keys.
    pub fn is_key(key: &str) -> bool {
        properties::to_map(&Self::default(), true).is_ok_and(|all| all.contains_key(key))
    }

    /// Sets one key (of the broker's or the store's settings) from its text,
    /// as a `broker.conf` line would; a key neither knows is an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BrokerError> {
        let mut all = properties::to_map(self, true)?;
        match all.get_mut(key) {
            Some(slot) => *slot = value.to_owned(),
            None => return Err(BrokerError::Config(format!("unknown key {key:?}"))),
        }
        *self = Self::from_map(&all)?;
        Ok(())
    }

    /// The running settings as `key → value` text, broker and store keys
    /// together, unset optional keys left out (the GET_BROKER_CONFIG body).
    pub fn to_properties(&self) -> Result<BTreeMap<String, String>, BrokerError> {
        properties::to_map(self, false)
    }

    fn from_map(map: &BTreeMap<String, String>) -> Result<Self, BrokerError> {
        let mut config: Self = properties::from_map(map)?;
        config.store = properties::from_map(map)?;
        Ok(config)
    }

    /// `host:port` clients reach this broker at.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// The fast (VIP) port: `fastListenPort`, or `listenPort` − 2 when it is 0.
    pub fn fast_port(&self) -> u16 {
        match self.fast_listen_port {
            0 => self.listen_port.saturating_sub(2),
            port => port,
        }
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

    /// How often committed consumer offsets are saved.
    pub fn flush_consumer_offset_period(&self) -> Duration {
        Duration::from_millis(self.flush_consumer_offset_interval.max(100))
    }

    /// Period of the transaction check (at least 100 ms).
    pub fn transaction_check_period(&self) -> Duration {
        Duration::from_millis(self.transaction_check_interval.max(100))
    }

    /// Whether this broker is a master (id 0).
    pub fn is_master(&self) -> bool {
        self.broker_id == 0
    }
}

#[cfg(test)]
mod tests;
