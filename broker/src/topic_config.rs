//! The broker's topics (`TopicConfigManager`): lookup on every send and
//! pull, auto-creation from `TBW102`, admin updates, and `topics.json`.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use skylark_protocol::body::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};

use crate::config::BrokerConfig;

/// The topic auto-created topics copy their settings from.
pub const AUTO_CREATE_TOPIC_KEY_TOPIC: &str = "TBW102";

/// Every topic this broker serves.
#[derive(Debug)]
pub struct TopicConfigManager {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    table: HashMap<String, Arc<TopicConfig>>,
    version: DataVersion,
}

impl TopicConfigManager {
    /// The topics of a fresh broker with `config`.
    pub fn new(config: &BrokerConfig) -> Self {
        let mut table = HashMap::new();
        if config.auto_create_topic_enable {
            let mut t = TopicConfig::new(AUTO_CREATE_TOPIC_KEY_TOPIC);
            t.read_queue_nums = config.default_topic_queue_nums;
            t.write_queue_nums = config.default_topic_queue_nums;
            t.perm = 7;
            table.insert(t.topic_name.clone(), Arc::new(t));
        }
        Self {
            inner: RwLock::new(Inner {
                table,
                version: DataVersion::new(now_ms()),
            }),
        }
    }

    /// The topic's config, if it exists.
    pub fn get(&self, topic: &str) -> Option<Arc<TopicConfig>> {
        self.read().table.get(topic).cloned()
    }

    /// Creates or replaces a topic.
    pub fn update(&self, config: TopicConfig) {
        let mut inner = self.write();
        inner
            .table
            .insert(config.topic_name.clone(), Arc::new(config));
        inner.version.next_version(now_ms());
    }

    /// Every topic with the table's version.
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        let inner = self.read();
        TopicConfigSerializeWrapper {
            data_version: inner.version,
            topic_config_table: inner
                .table
                .iter()
                .map(|(k, v)| (k.clone(), TopicConfig::clone(v)))
                .collect(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
