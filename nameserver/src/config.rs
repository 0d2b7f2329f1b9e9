//! Name-server settings (`NamesrvConfig` plus the listen address) and the
//! subset an admin may change at run time with UPDATE_NAMESRV_CONFIG.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use skylark_remoting::ServerConfig;

/// Java's `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`: a broker that has not
/// registered for this long is dropped, unless it sent its own
/// `heartbeatTimeoutMillis`.
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(120);
/// Java's `scanNotActiveBrokerInterval`.
pub const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(5);
/// The loopback default of `skylark nameserver`; RocketMQ's port.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:9876";

/// Keys UPDATE_NAMESRV_CONFIG refuses with NO_PERMISSION
/// (`NamesrvConfig.configBlackList` plus what Java always adds).
const BLACK_LIST: &[&str] = &[
    "configBlackList",
    "configStorePath",
    "kvConfigPath",
    "rocketmqHome",
    "listenPort",
];

/// Settings of one name server.
#[derive(Debug, Clone)]
pub struct NameServerConfig {
    /// Address to listen on, `host:port` (port 0 picks a free one).
    pub listen_addr: String,
    /// Where KV config is persisted (`kvConfigPath`); `None` keeps it in memory.
    pub kv_config_path: Option<PathBuf>,
    /// Put `orderTopicConf` from KV namespace `ORDER_TOPIC_CONFIG` into routes.
    pub order_message_enable: bool,
    /// Answer REGISTER_BROKER with the `ORDER_TOPIC_CONFIG` KV table.
    pub return_order_topic_config_to_broker: bool,
    /// Serve GET_ALL_TOPIC_LIST_FROM_NAMESERVER (else SYSTEM_ERROR "disable").
    pub enable_all_topic_list: bool,
    /// Serve GET_TOPICS_BY_CLUSTER and the unit topic lists.
    pub enable_topic_list: bool,
    /// A master registration drops the broker's topics missing from it.
    pub delete_topic_with_broker_registration: bool,
    /// Routes of master-less groups name the lowest slave as acting master.
    pub support_acting_master: bool,
    /// How often silent brokers are looked for (`scanNotActiveBrokerInterval`).
    pub scan_interval: Duration,
    /// Expiry of brokers that do not send `heartbeatTimeoutMillis`.
    pub broker_timeout: Duration,
    /// Connection-layer settings.
    pub remoting: ServerConfig,
}

impl Default for NameServerConfig {
    fn default() -> Self {
        Self {
            listen_addr: DEFAULT_LISTEN_ADDR.to_owned(),
            kv_config_path: None,
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            enable_all_topic_list: true,
            enable_topic_list: true,
            delete_topic_with_broker_registration: false,
            support_acting_master: false,
            scan_interval: DEFAULT_SCAN_INTERVAL,
            broker_timeout: DEFAULT_BROKER_TIMEOUT,
            remoting: ServerConfig::default(),
        }
    }
}

/// The settings that can change while the server runs.
#[derive(Debug)]
pub(crate) struct LiveFlags {
    pub(crate) order_message_enable: AtomicBool,
    pub(crate) return_order_topic_config_to_broker: AtomicBool,
    pub(crate) enable_all_topic_list: AtomicBool,
    pub(crate) enable_topic_list: AtomicBool,
}

impl LiveFlags {
    pub(crate) fn new(config: &NameServerConfig) -> Self {
        Self {
            order_message_enable: config.order_message_enable.into(),
            return_order_topic_config_to_broker: config.return_order_topic_config_to_broker.into(),
            enable_all_topic_list: config.enable_all_topic_list.into(),
            enable_topic_list: config.enable_topic_list.into(),
        }
    }

    /// The flag of a Java property name, if it is one of ours.
    pub(crate) fn by_name(&self, name: &str) -> Option<&AtomicBool> {
        Some(match name {
            "orderMessageEnable" => &self.order_message_enable,
            "returnOrderTopicConfigToBroker" => &self.return_order_topic_config_to_broker,
            "enableAllTopicList" => &self.enable_all_topic_list,
            "enableTopicList" => &self.enable_topic_list,
            _ => return None,
        })
    }

    pub(crate) fn get(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Relaxed)
    }
}

/// Whether UPDATE_NAMESRV_CONFIG may not touch `key`.
pub(crate) fn is_black_listed(key: &str) -> bool {
    BLACK_LIST.contains(&key)
}

/// Java's `Boolean.parseBoolean`: `true` in any case, anything else false.
pub(crate) fn parse_java_bool(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// Parses `java.util.Properties` text: `key=value` or `key:value` lines,
/// `#`/`!` comments. Escapes and continuation lines are not supported;
/// admin tools do not send them for these keys.
pub(crate) fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = match line.find(['=', ':']) {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        out.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_like_java() {
        let p = parse_properties("# c\n orderMessageEnable = true\nenableTopicList:false\n\nx\n");
        assert_eq!(p["orderMessageEnable"], "true");
        assert_eq!(p["enableTopicList"], "false");
        assert_eq!(p["x"], "");
        assert!(parse_java_bool("TRUE"));
        assert!(!parse_java_bool("yes"));
        assert!(is_black_listed("kvConfigPath"));
    }
}
