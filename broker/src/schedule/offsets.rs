//! Delivery progress per delay level and `delayOffset.json` (Java's
//! `DelayOffsetSerializeWrapper`): level → the next `SCHEDULE_TOPIC_XXXX`
//! queue offset to deliver, so delivery resumes where it was after a restart.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use skylark_protocol::body::{Body, DataVersion, DelayOffsetSerializeWrapper, KeyStyle};
use skylark_protocol::message::topic::RMQ_SYS_SCHEDULE_TOPIC;
use skylark_store::MessageStore;

use super::levels::{DelayLevels, queue_id};
use crate::error::BrokerError;
use crate::persist::ConfigFile;
use crate::topic_config::now_ms;

/// The file the delay offsets are kept in, under the store's config directory.
pub(crate) const DELAY_OFFSET_FILE: &str = "delayOffset.json";

/// Every level's next offset to deliver, and its file.
#[derive(Debug)]
pub(crate) struct DelayOffsets {
    table: Mutex<Table>,
    file: ConfigFile,
}

#[derive(Debug)]
struct Table {
    offsets: BTreeMap<i32, i64>,
    version: DataVersion,
    /// Changed since the last save.
    dirty: bool,
}

impl DelayOffsets {
    /// The offsets in `delayOffset.json` (or its backup) in `config_dir`;
    /// none for a fresh broker.
    pub(crate) fn load(config_dir: &std::path::Path) -> Result<Self, BrokerError> {
        let file = ConfigFile::new(config_dir, DELAY_OFFSET_FILE);
        let mut table = Table {
            offsets: BTreeMap::new(),
            version: DataVersion::new(now_ms()),
            dirty: false,
        };
        if let Some(saved) = file.load::<DelayOffsetSerializeWrapper>()? {
            tracing::info!(
                path = %file.path().display(), offsets = ?saved.offset_table, "loaded delay offsets"
            );
            table.offsets = saved.offset_table;
            if let Some(version) = saved.data_version {
                table.version = version;
            }
        }
        Ok(Self {
            table: Mutex::new(table),
            file,
        })
    }

    /// The next offset to deliver of `level` (0 before its first delivery).
    pub(crate) fn get(&self, level: i32) -> i64 {
        self.lock().offsets.get(&level).copied().unwrap_or(0)
    }

    /// Records that `level` delivers from `offset` next.
    pub(crate) fn set(&self, level: i32, offset: i64) {
        let mut table = self.lock();
        if table.offsets.insert(level, offset) != Some(offset) {
            table.dirty = true;
        }
    }

    /// Java's `correctDelayOffset`: a saved offset outside its queue's
    /// `[min, max]` (the store lost or dropped entries) is moved inside.
    pub(crate) fn correct(&self, levels: &DelayLevels, store: &MessageStore) {
        for (level, _) in levels.iter() {
            let Some(saved) = self.lock().offsets.get(&level).copied() else {
                continue;
            };
            let queue = queue_id(level);
            let min = store.min_offset(RMQ_SYS_SCHEDULE_TOPIC, queue);
            let max = store.max_offset(RMQ_SYS_SCHEDULE_TOPIC, queue);
            let corrected = saved.clamp(min, max.max(min));
            if corrected != saved {
                tracing::error!(
                    level,
                    saved,
                    min,
                    max,
                    corrected,
                    "delay offset outside its queue; corrected"
                );
                self.set(level, corrected);
            }
        }
    }

    /// The table as `delayOffset.json` holds it (GET_ALL_DELAY_OFFSET).
    pub(crate) fn snapshot(&self) -> DelayOffsetSerializeWrapper {
        self.lock().document()
    }

    /// Replaces the table with a master's (a replica's config copy) and
    /// saves it when it differs.
    pub(crate) fn replace(&self, master: DelayOffsetSerializeWrapper) -> Result<(), BrokerError> {
        {
            let mut table = self.lock();
            if table.offsets == master.offset_table {
                return Ok(());
            }
            table.offsets = master.offset_table;
            table.dirty = true;
        }
        self.persist()
    }

    /// Saves the table if it changed since the last save (a file write and
    /// fsync: call it off the async workers).
    pub(crate) fn persist(&self) -> Result<(), BrokerError> {
        if !self.lock().dirty {
            return Ok(());
        }
        let saved = self.file.save(|| {
            let mut table = self.lock();
            table.dirty = false;
            table.version.next_version(now_ms());
            let doc = table.document();
            drop(table);
            doc.encode(KeyStyle::Unquoted)
        });
        if saved.is_err() {
            // Try again next time.
            self.lock().dirty = true;
        }
        saved
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Table {
    fn document(&self) -> DelayOffsetSerializeWrapper {
        DelayOffsetSerializeWrapper {
            data_version: Some(self.version),
            offset_table: self.offsets.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{config_in, put};

    #[test]
    fn saved_offsets_survive_a_reload_in_javas_format() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = DelayOffsets::load(dir.path()).unwrap();
        assert_eq!(offsets.get(1), 0);
        offsets.set(1, 5);
        offsets.set(3, 2);
        offsets.persist().unwrap();
        let text = std::fs::read_to_string(dir.path().join(DELAY_OFFSET_FILE)).unwrap();
        assert!(
            text.starts_with(r#"{"dataVersion":{"counter":1,"#)
                && text.ends_with(r#""offsetTable":{1:5,3:2}}"#),
            "{text}"
        );
        let reloaded = DelayOffsets::load(dir.path()).unwrap();
        assert_eq!(
            (reloaded.get(1), reloaded.get(2), reloaded.get(3)),
            (5, 0, 2)
        );
        assert_eq!(reloaded.snapshot(), offsets.snapshot());
    }

    #[test]
    fn reads_a_java_brokers_file_and_saves_only_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DELAY_OFFSET_FILE);
        std::fs::write(
            &path,
            "{\n\t\"dataVersion\":{\n\t\t\"counter\":7,\n\t\t\"stateVersion\":0,\n\t\t\"timestamp\":1700000000000\n\t},\n\t\"offsetTable\":{2:40,4:1\n\t}\n}",
        )
        .unwrap();
        let offsets = DelayOffsets::load(dir.path()).unwrap();
        assert_eq!((offsets.get(2), offsets.get(4)), (40, 1));
        // Nothing changed: nothing is written.
        let before = std::fs::read(&path).unwrap();
        offsets.set(2, 40);
        offsets.persist().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(offsets.snapshot().data_version.unwrap().counter, 7);
        offsets.set(2, 41);
        offsets.persist().unwrap();
        let reloaded = DelayOffsets::load(dir.path()).unwrap();
        let snapshot = reloaded.snapshot();
        assert_eq!(snapshot.offset_table, [(2, 41), (4, 1)].into());
        assert_eq!(snapshot.data_version.unwrap().counter, 8);
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DELAY_OFFSET_FILE), b"{\"offsetTable\":{1:").unwrap();
        assert!(matches!(
            DelayOffsets::load(dir.path()),
            Err(BrokerError::Corrupt { .. })
        ));
    }

    #[test]
    fn offsets_outside_their_queue_are_corrected() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let store = MessageStore::open(config.store.clone()).unwrap();
        for body in [b"a", b"b", b"c"] {
            put(&store, RMQ_SYS_SCHEDULE_TOPIC, 0, body);
        }
        let levels = DelayLevels::parse("1s 5s").unwrap();
        let offsets = DelayOffsets::load(dir.path()).unwrap();
        offsets.set(1, 9);
        offsets.set(2, 4);
        offsets.correct(&levels, &store);
        // Level 1's queue holds 3 entries; level 2's none.
        assert_eq!((offsets.get(1), offsets.get(2)), (3, 0));
        offsets.set(1, 2);
        offsets.correct(&levels, &store);
        assert_eq!(offsets.get(1), 2);
        store.shutdown();
    }
}
