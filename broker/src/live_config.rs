//! The broker's config as it stands while the broker runs: `broker.conf`
//! plus what UPDATE_BROKER_CONFIG (`mqadmin updateBrokerConfig`) changed.
//!
//! Java sets any key on its config objects by reflection, and only the
//! code that reads a key per use sees the change. Skylark accepts only the
//! keys in [`RUNTIME_KEYS`], which take effect at once, and refuses the
//! rest rather than record a change that would do nothing until a restart.
//! The keys read on hot paths are kept in atomics.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use skylark_protocol::body::DataVersion;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::ConfigFile;
use crate::topic_config::now_ms;

/// The keys UPDATE_BROKER_CONFIG may change, each read where it is used.
pub(crate) const RUNTIME_KEYS: &[&str] = &[
    "autoCreateSubscriptionGroup",
    "autoCreateTopicEnable",
    "brokerPermission",
    "longPollingEnable",
    "shortPollingTimeMills",
    "slaveReadEnable",
    "validateSystemTopicWhenUpdateTopic",
];

/// Keys no update may name, whatever `configBlackList` says (Java's fixed
/// part of the black list).
const ALWAYS_BLACKLISTED: &[&str] = &["brokerConfigPath", "rocketmqHome", "configBlackList"];

/// Why an update was refused; nothing of it was applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A key on the black list (Java's NO_PERMISSION case).
    #[error("Can not update config in black list.")]
    Blacklisted(String),
    /// A key that is no config key at all.
    #[error("unknown broker config key {0:?}")]
    Unknown(String),
    /// A key that cannot change while the broker runs.
    #[error(
        "{0} cannot change while the broker runs: set it in broker.conf and restart \
         (keys that can change: {keys})",
        keys = RUNTIME_KEYS.join(", ")
    )]
    NotAtRunTime(String),
    /// A value that does not parse as its key's type.
    #[error("{0}")]
    Invalid(String),
}

/// The running config, its version, and the hot keys as atomics.
#[derive(Debug)]
pub(crate) struct LiveConfig {
    current: Mutex<Current>,
    /// `brokerConfigPath`: where updates are saved, when the broker was
    /// started from a config file.
    file: Option<ConfigFile>,
    blacklist: Vec<String>,
    broker_permission: AtomicI32,
    long_polling_enable: AtomicBool,
    short_polling_time_mills: AtomicU64,
    slave_read_enable: AtomicBool,
    validate_system_topic_when_update_topic: AtomicBool,
}

#[derive(Debug)]
struct Current {
    config: BrokerConfig,
    version: DataVersion,
}

impl LiveConfig {
    /// The config the broker started with.
    pub(crate) fn new(config: &BrokerConfig) -> Self {
        let file = config
            .broker_config_path
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(|path| {
                let path = Path::new(path.trim());
                let dir = path.parent().unwrap_or(Path::new("."));
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                ConfigFile::new(dir, name.as_deref().unwrap_or("broker.properties"))
            });
        let blacklist = ALWAYS_BLACKLISTED
            .iter()
            .map(|k| (*k).to_owned())
            .chain(
                config
                    .config_black_list
                    .split(';')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
            )
            .collect();
        let live = Self {
            current: Mutex::new(Current {
                config: config.clone(),
                version: DataVersion::default(),
            }),
            file,
            blacklist,
            broker_permission: AtomicI32::new(0),
            long_polling_enable: AtomicBool::new(false),
            short_polling_time_mills: AtomicU64::new(0),
            slave_read_enable: AtomicBool::new(false),
            validate_system_topic_when_update_topic: AtomicBool::new(false),
        };
        live.publish(config);
        live
    }

    /// The broker's permission bits (`brokerPermission`).
    pub(crate) fn broker_permission(&self) -> i32 {
        self.broker_permission.load(Ordering::Relaxed)
    }

    /// Whether empty pulls are suspended until a message arrives (`longPollingEnable`).
    pub(crate) fn long_polling_enable(&self) -> bool {
        self.long_polling_enable.load(Ordering::Relaxed)
    }

    /// How long an empty pull is held without long polling (`shortPollingTimeMills`).
    pub(crate) fn short_polling_time(&self) -> Duration {
        Duration::from_millis(self.short_polling_time_mills.load(Ordering::Relaxed))
    }

    /// Whether consumers are pointed at replicas for cold data (`slaveReadEnable`).
    pub(crate) fn slave_read_enable(&self) -> bool {
        self.slave_read_enable.load(Ordering::Relaxed)
    }

    /// Whether admins may not create, change or delete system topics
    /// (`validateSystemTopicWhenUpdateTopic`).
    pub(crate) fn validate_system_topic_when_update_topic(&self) -> bool {
        self.validate_system_topic_when_update_topic
            .load(Ordering::Relaxed)
    }

    /// The whole config as it now stands, and its version (bumped by each update).
    pub(crate) fn snapshot(&self) -> (BrokerConfig, DataVersion) {
        let current = self.lock();
        (current.config.clone(), current.version)
    }

    /// Checks every change, then applies them all (or none) and returns the
    /// new config; `changes` are `key → text` as in `broker.conf`.
    pub(crate) fn update(
        &self,
        changes: &BTreeMap<String, String>,
    ) -> Result<BrokerConfig, Refusal> {
        if let Some(key) = changes.keys().find(|k| self.blacklist.contains(k)) {
            return Err(Refusal::Blacklisted(key.clone()));
        }
        for key in changes.keys() {
            if !BrokerConfig::is_key(key) {
                return Err(Refusal::Unknown(key.clone()));
            }
            if !RUNTIME_KEYS.contains(&key.as_str()) {
                return Err(Refusal::NotAtRunTime(key.clone()));
            }
        }
        let mut current = self.lock();
        let mut next = current.config.clone();
        for (key, value) in changes {
            next.set(key, value).map_err(|e| match e {
                BrokerError::Config(message) => Refusal::Invalid(message),
                other => Refusal::Invalid(other.to_string()),
            })?;
        }
        current.config = next.clone();
        current.version.next_version(now_ms());
        self.publish(&next);
        Ok(next)
    }

    /// Saves `config` to `brokerConfigPath` as Java does (every key, sorted,
    /// `key=value` lines; the previous file kept as `.bak`); nothing without
    /// a config file. Call it off the async workers: it writes and fsyncs.
    pub(crate) fn persist(&self) -> Result<(), BrokerError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        file.save(|| {
            let (config, _) = self.snapshot();
            match config.to_properties() {
                Ok(map) => properties_text(&map).into_bytes(),
                // Writing a struct of plain fields as text does not fail;
                // should it, keep the file as it was rather than empty it.
                Err(_) => Vec::new(),
            }
        })
    }

    /// Where updates are saved, if anywhere.
    pub(crate) fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().map(ConfigFile::path)
    }

    fn publish(&self, config: &BrokerConfig) {
        let relaxed = Ordering::Relaxed;
        self.broker_permission
            .store(config.broker_permission, relaxed);
        self.long_polling_enable
            .store(config.long_polling_enable, relaxed);
        self.short_polling_time_mills
            .store(config.short_polling_time_mills, relaxed);
        self.slave_read_enable
            .store(config.slave_read_enable, relaxed);
        self.validate_system_topic_when_update_topic
            .store(config.validate_system_topic_when_update_topic, relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `key=value` lines in key order (Java's `MixAll.properties2String` with
/// sorting), escaped so that a properties reader reads them back as they
/// are (Java writes values raw).
pub(crate) fn properties_text(map: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (key, value) in map {
        out.push_str(&escape(key, true));
        out.push('=');
        out.push_str(&escape(value, false));
        out.push('\n');
    }
    out
}

fn escape(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '=' | ':' | '#' | '!' if is_key => {
                out.push('\\');
                out.push(c);
            }
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
