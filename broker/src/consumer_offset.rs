//! Committed consumer offsets (`ConsumerOffsetManager`) and
//! `consumerOffset.json`.
//!
//! Offsets are kept per group, then topic, then queue, so the pull path
//! looks them up with borrowed `&str`s and allocates only the first time a
//! group commits for a topic. On disk and on the wire the table is Java's:
//! keyed `topic@group`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use skylark_protocol::body::{ConsumerOffsetSerializeWrapper, DataVersion};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::ConfigFile;
use crate::persisted_table::PersistedTable;
use crate::topic_config::now_ms;

/// The file the offsets are kept in, under the store's config directory.
pub const CONSUMER_OFFSET_FILE: &str = "consumerOffset.json";
/// Separates topic and group in the table's keys (`TOPIC_GROUP_SEPARATOR`).
pub const TOPIC_GROUP_SEPARATOR: char = '@';
/// Commits per version bump (Java's `consumerOffsetUpdateVersionStep`).
const VERSION_STEP: u64 = 500;

/// Offsets per group, topic and queue.
#[derive(Debug)]
pub struct ConsumerOffsetManager {
    inner: PersistedTable<Inner>,
}

/// Group → topic → queue id → next offset to consume.
type Table = HashMap<String, HashMap<String, HashMap<i32, i64>>>;

#[derive(Debug, Default)]
struct Inner {
    table: Table,
    version: DataVersion,
    commits: u64,
}

impl Inner {
    /// Takes the queues of one `topic@group` key of Java's table, replacing
    /// what the pair had; false (and nothing taken) when the key is not
    /// `topic@group`.
    fn put_saved(&mut self, key: &str, queues: impl IntoIterator<Item = (i32, i64)>) -> bool {
        let Some((topic, group)) = key.split_once(TOPIC_GROUP_SEPARATOR) else {
            return false;
        };
        self.table
            .entry(group.to_owned())
            .or_default()
            .insert(topic.to_owned(), queues.into_iter().collect());
        true
    }
}

impl ConsumerOffsetManager {
    /// The offsets in `consumerOffset.json` (or its backup); none on a
    /// fresh broker.
    pub fn load(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let file = ConfigFile::new(&config.store.config_dir(), CONSUMER_OFFSET_FILE);
        let mut inner = Inner {
            version: DataVersion::new(now_ms()),
            ..Inner::default()
        };
        if let Some(saved) = file.load::<ConsumerOffsetSerializeWrapper>()? {
            tracing::info!(
                path = %file.path().display(), keys = saved.offset_table.len(), "loaded consumer offsets"
            );
            for (key, queues) in saved.offset_table {
                if !inner.put_saved(&key, queues) {
                    tracing::warn!(key, "consumer offset key is not topic@group; dropped");
                }
            }
            if let Some(version) = saved.data_version {
                inner.version = version;
            }
        }
        Ok(Self {
            inner: PersistedTable::new(inner, file),
        })
    }

    /// Records `offset` as the next one `group` consumes from `topic`/`queue_id`.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let mut guard = self.inner.write();
        let inner = &mut *guard;
        let previous = match inner.table.get_mut(group).and_then(|t| t.get_mut(topic)) {
            Some(queues) => queues.insert(queue_id, offset),
            None => inner
                .table
                .entry(group.to_owned())
                .or_default()
                .entry(topic.to_owned())
                .or_default()
                .insert(queue_id, offset),
        };
        inner.commits += 1;
        if inner.commits % VERSION_STEP == 0 {
            inner.version.next_version(now_ms());
        }
        drop(guard);
        if let Some(previous) = previous.filter(|&p| offset < p) {
            tracing::debug!(
                group,
                topic,
                queue_id,
                offset,
                previous,
                "consumer offset moved back"
            );
        }
    }

    /// The committed offset, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner
            .read()
            .table
            .get(group)?
            .get(topic)?
            .get(&queue_id)
            .copied()
    }

    /// Forgets every offset of `group` (Java's `removeOffset`); false when
    /// it had none.
    pub fn remove_group(&self, group: &str) -> bool {
        self.inner.write().table.remove(group).is_some()
    }

    /// Forgets every group's offsets on `topic` (`cleanOffsetByTopic`).
    pub fn remove_topic(&self, topic: &str) {
        self.inner.write().table.retain(|_, topics| {
            topics.remove(topic);
            !topics.is_empty()
        });
    }

    /// Groups with offsets on `topic` (`whichGroupByTopic`).
    pub fn groups_of_topic(&self, topic: &str) -> BTreeSet<String> {
        self.inner
            .read()
            .table
            .iter()
            .filter(|(_, topics)| topics.contains_key(topic))
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// Topics `group` has offsets on (`whichTopicByConsumer`).
    pub fn topics_of_group(&self, group: &str) -> BTreeSet<String> {
        self.inner
            .read()
            .table
            .get(group)
            .map(|topics| topics.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The table as Java writes it: `topic@group` → queue → offset, with
    /// its version.
    pub fn snapshot(&self) -> ConsumerOffsetSerializeWrapper {
        let inner = self.inner.read();
        let mut offset_table = BTreeMap::new();
        for (group, topics) in &inner.table {
            for (topic, queues) in topics {
                offset_table.insert(
                    format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}"),
                    queues.iter().map(|(&q, &o)| (q, o)).collect(),
                );
            }
        }
        ConsumerOffsetSerializeWrapper {
            data_version: Some(inner.version),
            offset_table,
        }
    }

    /// Takes a master's offsets over ours, key by key (a replica's config
    /// copy, Java's `offsetTable.putAll`), and saves them.
    pub(crate) fn merge_from_master(
        &self,
        master: ConsumerOffsetSerializeWrapper,
    ) -> Result<(), BrokerError> {
        {
            let mut inner = self.inner.write();
            for (key, queues) in master.offset_table {
                inner.put_saved(&key, queues);
            }
            if let Some(version) = master.data_version {
                inner.version = version;
            }
        }
        self.persist()
    }

    /// Saves the table to `consumerOffset.json` atomically; the server calls
    /// this every `flushConsumerOffsetInterval` and at shutdown.
    pub fn persist(&self) -> Result<(), BrokerError> {
        self.inner.save(|| self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config_in;

    #[test]
    fn commit_query_and_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = ConsumerOffsetManager::load(&config_in(dir.path())).unwrap();
        assert_eq!(offsets.query("CG", "T", 0), None);
        offsets.commit("CG", "T", 0, 10);
        offsets.commit("CG", "T", 1, 7);
        offsets.commit("CG", "T", 0, 12);
        offsets.commit("CG2", "T", 3, 1);
        offsets.commit("CG", "U", 0, 0);
        assert_eq!(offsets.query("CG", "T", 0), Some(12));
        assert_eq!(offsets.query("CG", "T", 2), None);
        assert_eq!(offsets.query("CG", "V", 0), None);
        let snap = offsets.snapshot();
        assert_eq!(
            snap.offset_table,
            BTreeMap::from([
                ("T@CG".to_owned(), BTreeMap::from([(0, 12), (1, 7)])),
                ("T@CG2".to_owned(), BTreeMap::from([(3, 1)])),
                ("U@CG".to_owned(), BTreeMap::from([(0, 0)])),
            ])
        );
        assert_eq!(
            offsets.groups_of_topic("T"),
            BTreeSet::from(["CG".to_owned(), "CG2".to_owned()])
        );
        assert_eq!(
            offsets.topics_of_group("CG"),
            BTreeSet::from(["T".to_owned(), "U".to_owned()])
        );
    }

    #[test]
    fn removal_by_group_and_topic() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = ConsumerOffsetManager::load(&config_in(dir.path())).unwrap();
        offsets.commit("A", "T", 0, 1);
        offsets.commit("A", "U", 0, 1);
        offsets.commit("B", "T", 0, 1);
        offsets.remove_topic("T");
        assert_eq!(offsets.groups_of_topic("T"), BTreeSet::new());
        assert_eq!(offsets.query("A", "U", 0), Some(1));
        assert!(offsets.topics_of_group("B").is_empty());
        assert!(offsets.remove_group("A"));
        assert!(!offsets.remove_group("A"));
        assert!(offsets.snapshot().offset_table.is_empty());
    }

    #[test]
    fn persist_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let offsets = ConsumerOffsetManager::load(&config).unwrap();
        for i in 0..VERSION_STEP {
            offsets.commit("CG", "T", 0, i64::try_from(i).unwrap());
        }
        offsets.commit("CG", "%RETRY%CG", 0, 3);
        assert_eq!(offsets.snapshot().data_version.unwrap().counter, 1);
        offsets.persist().unwrap();
        let text =
            std::fs::read_to_string(config.store.config_dir().join(CONSUMER_OFFSET_FILE)).unwrap();
        assert!(
            text.contains(r#""offsetTable":{"%RETRY%CG@CG":{0:3},"T@CG":{0:499}}"#),
            "{text}"
        );
        let reloaded = ConsumerOffsetManager::load(&config).unwrap();
        assert_eq!(reloaded.snapshot(), offsets.snapshot());
        assert_eq!(reloaded.query("CG", "%RETRY%CG", 0), Some(3));
    }

    #[test]
    fn reads_javas_file_and_refuses_a_corrupt_one() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let path = config.store.config_dir().join(CONSUMER_OFFSET_FILE);
        std::fs::create_dir_all(config.store.config_dir()).unwrap();
        std::fs::write(
            &path,
            "{\n\t\"offsetTable\":{\n\t\t\"T@CG\":{0:120,1:98},\n\t\t\"junk\":{0:1}\n\t}\n}",
        )
        .unwrap();
        let offsets = ConsumerOffsetManager::load(&config).unwrap();
        assert_eq!(offsets.query("CG", "T", 1), Some(98));
        assert_eq!(offsets.snapshot().offset_table.len(), 1);
        std::fs::write(&path, "{\"offsetTable\":{\"T@CG\":{0:").unwrap();
        assert!(matches!(
            ConsumerOffsetManager::load(&config),
            Err(BrokerError::Corrupt { .. })
        ));
    }
}
