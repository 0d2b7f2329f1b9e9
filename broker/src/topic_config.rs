//! The broker's topics (`TopicConfigManager`): lookup on every send and
//! pull, the system topics every broker has, auto-creation from `TBW102`,
//! admin updates, and `topics.json`.
//!
//! Every change bumps the table's [`DataVersion`], is persisted (outside the
//! table's lock) and wakes [`TopicConfigManager::changed`], on which the
//! registration loop re-registers with the nameservers.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use skylark_protocol::body::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use skylark_protocol::message::PermName;
use skylark_protocol::message::topic::{
    RMQ_SYS_BENCHMARK_TOPIC, RMQ_SYS_OFFSET_MOVED_EVENT, RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC, RMQ_SYS_TRANS_HALF_TOPIC, RMQ_SYS_TRANS_OP_HALF_TOPIC,
    SYSTEM_TOPIC_PREFIX, is_system_topic,
};
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::ConfigFile;
use crate::persisted_table::PersistedTable;

pub use skylark_protocol::message::topic::AUTO_CREATE_TOPIC_KEY_TOPIC;

/// The file the topics are kept in, under the store's config directory.
pub const TOPICS_FILE: &str = "topics.json";
/// Queues of `SCHEDULE_TOPIC_XXXX`: one per delay level.
pub const SCHEDULE_TOPIC_QUEUE_NUM: i32 = 18;
/// Queues of the cluster's POP revive topic (Java's `reviveQueueNum`).
const REVIVE_QUEUE_NUM: i32 = 8;
/// Suffix of the cluster's request-reply topic (`MixAll.REPLY_TOPIC_POSTFIX`).
const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";
/// Prefix of the broker's member-group sync topic.
const SYNC_BROKER_MEMBER_GROUP_PREFIX: &str = "rmq_sys_SYNC_BROKER_MEMBER_";

/// Every topic this broker serves.
#[derive(Debug)]
pub struct TopicConfigManager {
    inner: PersistedTable<Inner>,
    /// Topics that are system topics on this broker only (named after its
    /// cluster or broker name), besides the fixed ones.
    local_system_topics: HashSet<String>,
    /// `autoCreateTopicEnable`, which UPDATE_BROKER_CONFIG may change.
    auto_create_topic_enable: AtomicBool,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    table: HashMap<String, Arc<TopicConfig>>,
    version: DataVersion,
}

impl TopicConfigManager {
    /// The system topics for `config` plus those in `topics.json` (or its
    /// backup), which win over the built-in ones as in Java.
    pub fn load(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let file = ConfigFile::new(&config.store.config_dir(), TOPICS_FILE);
        let (builtin, local_system_topics) = builtin_topics(config);
        let mut table: HashMap<String, Arc<TopicConfig>> = builtin
            .into_iter()
            .map(|t| (t.topic_name.clone(), Arc::new(t)))
            .collect();
        let mut version = DataVersion::new(now_ms());
        if let Some(saved) = file.load::<TopicConfigSerializeWrapper>()? {
            tracing::info!(
                path = %file.path().display(), topics = saved.topic_config_table.len(), "loaded topics"
            );
            for (name, topic) in saved.topic_config_table {
                table.insert(name, Arc::new(topic));
            }
            version = saved.data_version;
        }
        Ok(Self {
            inner: PersistedTable::new(Inner { table, version }, file),
            local_system_topics,
            auto_create_topic_enable: AtomicBool::new(config.auto_create_topic_enable),
            changed: Notify::new(),
        })
    }

    /// The topic's config, if it exists.
    pub fn get(&self, topic: &str) -> Option<Arc<TopicConfig>> {
        self.inner.read().table.get(topic).cloned()
    }

    /// Whether the topic exists.
    pub fn contains(&self, topic: &str) -> bool {
        self.inner.read().table.contains_key(topic)
    }

    /// Whether the topic exists and is ordered.
    pub fn is_order_topic(&self, topic: &str) -> bool {
        self.inner.read().table.get(topic).is_some_and(|t| t.order)
    }

    /// Whether `topic` is a system topic here: one of RocketMQ's fixed ones,
    /// `rmq_sys_*`, or one named after this broker's cluster or name
    /// (Java adds those to `TopicValidator`'s set at start).
    pub fn is_system_topic(&self, topic: &str) -> bool {
        is_system_topic(topic) || self.local_system_topics.contains(topic)
    }

    /// The table's current version.
    pub fn data_version(&self) -> DataVersion {
        self.inner.read().version
    }

    /// Notified (`notify_one`) after every change to the table.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    /// Every topic with the table's version.
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        let inner = self.inner.read();
        TopicConfigSerializeWrapper {
            data_version: inner.version,
            topic_config_table: inner
                .table
                .iter()
                .map(|(k, v)| (k.clone(), TopicConfig::clone(v)))
                .collect(),
        }
    }

    /// Creates or replaces a topic. The change stands in memory even when
    /// persisting it fails.
    pub fn update(&self, config: TopicConfig) -> Result<(), BrokerError> {
        let name = config.topic_name.clone();
        let old = {
            let mut inner = self.inner.write();
            let old = inner.table.insert(name.clone(), Arc::new(config));
            inner.version.next_version(now_ms());
            old
        };
        tracing::info!(topic = %name, created = old.is_none(), "topic updated");
        self.after_change()
    }

    /// Deletes a topic; false when it did not exist.
    pub fn delete(&self, topic: &str) -> Result<bool, BrokerError> {
        {
            let mut inner = self.inner.write();
            if inner.table.remove(topic).is_none() {
                return Ok(false);
            }
            inner.version.next_version(now_ms());
        }
        tracing::info!(topic, "topic deleted");
        self.after_change().map(|()| true)
    }

    /// Java's `createTopicInSendMessageMethod`: creates `topic` on first send
    /// from `default_topic` when that exists and its perm has INHERIT; the
    /// new topic gets `min(client_queue_nums, default's write queues)` queues
    /// and the default's perm without INHERIT. `None` when it may not be
    /// created.
    pub fn create_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        remote: SocketAddr,
        client_queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Result<Option<Arc<TopicConfig>>, BrokerError> {
        let created = {
            let mut inner = self.inner.write();
            if let Some(existing) = inner.table.get(topic) {
                return Ok(Some(Arc::clone(existing)));
            }
            let Some(default) = inner.table.get(default_topic) else {
                tracing::warn!(
                    topic, default_topic, %remote,
                    "cannot create topic: the default topic does not exist"
                );
                return Ok(None);
            };
            let mut default_perm = default.perm;
            // TBW102 left in topics.json by an earlier run lends nothing once
            // auto-creation is off.
            if default_topic == AUTO_CREATE_TOPIC_KEY_TOPIC
                && !self.auto_create_topic_enable.load(Ordering::Relaxed)
            {
                default_perm = PermName::READ | PermName::WRITE;
            }
            if !PermName::is_inherited(default_perm) {
                tracing::warn!(
                    topic, default_topic, perm = default_perm, %remote,
                    "cannot create topic: the default topic's perm has no INHERIT"
                );
                return Ok(None);
            }
            let queues = client_queue_nums.min(default.write_queue_nums).max(0);
            let mut config = TopicConfig::new(topic);
            config.read_queue_nums = queues;
            config.write_queue_nums = queues;
            config.perm = default_perm & !PermName::INHERIT;
            config.topic_sys_flag = topic_sys_flag;
            config.topic_filter_type = default.topic_filter_type;
            let config = Arc::new(config);
            inner.table.insert(topic.to_owned(), Arc::clone(&config));
            inner.version.next_version(now_ms());
            config
        };
        tracing::info!(
            topic, default_topic, queues = created.write_queue_nums, perm = created.perm, %remote,
            "created topic on first send"
        );
        self.after_change()?;
        Ok(Some(created))
    }

    /// Java's `createTopicInSendMessageBackMethod` (for `%RETRY%` topics):
    /// the topic, created with `queue_nums` queues and `perm` if absent.
    pub fn create_in_send_back(
        &self,
        topic: &str,
        queue_nums: i32,
        perm: i32,
        topic_sys_flag: i32,
    ) -> Result<Option<Arc<TopicConfig>>, BrokerError> {
        let created = {
            let mut inner = self.inner.write();
            if let Some(existing) = inner.table.get(topic) {
                return Ok(Some(Arc::clone(existing)));
            }
            let mut config = TopicConfig::new(topic);
            config.read_queue_nums = queue_nums;
            config.write_queue_nums = queue_nums;
            config.perm = perm;
            config.topic_sys_flag = topic_sys_flag;
            let config = Arc::new(config);
            inner.table.insert(topic.to_owned(), Arc::clone(&config));
            inner.version.next_version(now_ms());
            config
        };
        tracing::info!(
            topic,
            queues = queue_nums,
            perm,
            "created topic for sent-back messages"
        );
        self.after_change()?;
        Ok(Some(created))
    }

    /// Turns creation of topics on first send from `TBW102` on or off.
    pub(crate) fn set_auto_create_topic_enable(&self, on: bool) {
        self.auto_create_topic_enable.store(on, Ordering::Relaxed);
    }

    /// Moves the table to a new version and re-registers it, as Java does
    /// when the broker's permission changes (the nameservers only take a
    /// registration's topics when its version is new).
    pub(crate) fn next_version(&self) -> Result<(), BrokerError> {
        self.inner.write().version.next_version(now_ms());
        self.after_change()
    }

    /// Replaces the whole table with a master's (a replica's config copy,
    /// Java's `SlaveSynchronize.syncTopicConfig`); false when the version is
    /// already the master's, leaving the table as it is.
    pub(crate) fn replace_all(
        &self,
        version: DataVersion,
        table: impl IntoIterator<Item = (String, TopicConfig)>,
    ) -> Result<bool, BrokerError> {
        {
            let mut inner = self.inner.write();
            if inner.version == version {
                return Ok(false);
            }
            inner.table = table
                .into_iter()
                .map(|(name, topic)| (name, Arc::new(topic)))
                .collect();
            inner.version = version;
        }
        self.after_change().map(|()| true)
    }

    /// Persists the table and wakes the registration loop.
    fn after_change(&self) -> Result<(), BrokerError> {
        // Wake first: the change is live whether or not the file is written.
        self.changed.notify_one();
        self.inner.save(|| self.snapshot())
    }
}

/// The topics Java's `TopicConfigManager.init` creates, and which of them are
/// system topics only because of this broker's names. The timer-wheel topic
/// is left out: Skylark has no timer wheel.
fn builtin_topics(config: &BrokerConfig) -> (Vec<TopicConfig>, HashSet<String>) {
    let topic = |name: &str, queues: i32, perm: i32| {
        let mut t = TopicConfig::new(name);
        t.read_queue_nums = queues;
        t.write_queue_nums = queues;
        t.perm = perm;
        t
    };
    const RW: i32 = PermName::READ | PermName::WRITE;
    let sixteen = TopicConfig::DEFAULT_QUEUE_NUMS;
    let enabled = |on: bool| {
        if on {
            PermName::INHERIT | RW
        } else {
            PermName::INHERIT
        }
    };
    let cluster = &config.broker_cluster_name;
    let mut topics = vec![topic(RMQ_SYS_SELF_TEST_TOPIC, 1, RW)];
    if config.auto_create_topic_enable {
        let n = config.default_topic_queue_nums;
        topics.push(topic(
            AUTO_CREATE_TOPIC_KEY_TOPIC,
            n,
            PermName::INHERIT | RW,
        ));
    }
    topics.push(topic(RMQ_SYS_BENCHMARK_TOPIC, 1024, RW));
    let local = vec![
        topic(cluster, sixteen, enabled(config.cluster_topic_enable)),
        topic(&config.broker_name, 1, enabled(config.broker_topic_enable)),
        topic(&format!("{cluster}_{REPLY_TOPIC_POSTFIX}"), 1, RW),
        topic(
            &format!("{SYSTEM_TOPIC_PREFIX}REVIVE_LOG_{cluster}"),
            REVIVE_QUEUE_NUM,
            RW,
        ),
        topic(
            &format!("{SYNC_BROKER_MEMBER_GROUP_PREFIX}{}", config.broker_name),
            1,
            PermName::INHERIT,
        ),
    ];
    let mut local_names: HashSet<String> = local.iter().map(|t| t.topic_name.clone()).collect();
    topics.extend(local);
    topics.push(topic(RMQ_SYS_OFFSET_MOVED_EVENT, 1, RW));
    topics.push(topic(RMQ_SYS_SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUM, RW));
    if config.trace_topic_enable {
        topics.push(topic(&config.msg_trace_topic_name, 1, RW));
        local_names.insert(config.msg_trace_topic_name.clone());
    }
    topics.push(topic(RMQ_SYS_TRANS_HALF_TOPIC, 1, RW));
    topics.push(topic(RMQ_SYS_TRANS_OP_HALF_TOPIC, 1, RW));
    (topics, local_names)
}

/// Milliseconds since the epoch, for [`DataVersion`] stamps.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
