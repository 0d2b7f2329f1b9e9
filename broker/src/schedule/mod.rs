//! Delay levels (`ScheduleMessageService`): a message stored with `DELAY` =
//! n > 0 goes to queue n − 1 of `SCHEDULE_TOPIC_XXXX` instead, its real topic
//! and queue kept in `REAL_TOPIC` / `REAL_QID`; the store writes its due time
//! (store time + the level's delay) as the entry's tags code. One task per
//! level ([`deliver_level`]) walks its queue and, as each entry comes due,
//! stores the message again in its real queue; `delayOffset.json` remembers
//! how far each level got, so delivery resumes after a restart.

mod deliver;
mod levels;
mod offsets;

use std::time::Duration;

use skylark_protocol::body::DelayOffsetSerializeWrapper;
use skylark_protocol::message::property::{
    REAL_QUEUE_ID, REAL_TOPIC, TIMER_DELAY_MS, TIMER_DELAY_SEC, TIMER_DELIVER_MS,
};
use skylark_protocol::message::topic::RMQ_SYS_SCHEDULE_TOPIC;
use skylark_protocol::message::{MessageVersion, StoredMessage, TransactionType};
use skylark_store::MessageStore;

use crate::config::BrokerConfig;
use crate::error::BrokerError;

pub(crate) use deliver::{deliver_level, time_up};
pub(crate) use levels::DelayLevels;
use levels::queue_id;
use offsets::DelayOffsets;

/// How often `delayOffset.json` is saved (besides at shutdown). Java's
/// `flushDelayOffsetInterval` is 10 s; after a crash, what was delivered
/// since the last save is delivered again.
pub(crate) const PERSIST_INTERVAL: Duration = Duration::from_secs(5);

/// The delay levels and how far each has been delivered.
#[derive(Debug)]
pub(crate) struct ScheduleMessageService {
    levels: DelayLevels,
    offsets: DelayOffsets,
}

impl ScheduleMessageService {
    /// Reads the levels from `messageDelayLevel` and the offsets from
    /// `delayOffset.json`, corrected to the (recovered) store's queues. A
    /// level list that does not parse stops the broker, as in Java.
    pub(crate) fn load(config: &BrokerConfig, store: &MessageStore) -> Result<Self, BrokerError> {
        let levels = DelayLevels::parse(&config.store.message_delay_level)
            .map_err(|error| BrokerError::Config(error.to_string()))?;
        let offsets = DelayOffsets::load(&config.store.config_dir())?;
        offsets.correct(&levels, store);
        Ok(Self { levels, offsets })
    }

    /// The delay levels.
    pub(crate) fn levels(&self) -> &DelayLevels {
        &self.levels
    }

    /// Rewrites `record` into its level's schedule queue when it carries a
    /// delay level > 0 and is not a half or rollback record (Java's
    /// `HookUtils.handleScheduleMessage`); whether it did. A level above the
    /// highest becomes the highest, and timer properties lose to the level.
    pub(crate) fn schedule(&self, record: &mut StoredMessage) -> bool {
        match record.transaction_type() {
            TransactionType::Not | TransactionType::Commit => {}
            TransactionType::Prepared | TransactionType::Rollback => return false,
        }
        let Some(level) = record.properties.delay_time_level().filter(|&l| l > 0) else {
            return false;
        };
        let clamped = self.levels.clamp(level);
        if clamped != level {
            record.properties.set_delay_time_level(clamped);
        }
        for timer in [TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS] {
            record.properties.remove(timer);
        }
        let real_topic = std::mem::replace(&mut record.topic, RMQ_SYS_SCHEDULE_TOPIC.to_owned());
        record.properties.insert(REAL_TOPIC, real_topic);
        record
            .properties
            .insert(REAL_QUEUE_ID, itoa::Buffer::new().format(record.queue_id));
        record.queue_id = queue_id(clamped);
        record.version = MessageVersion::for_topic_len(record.topic.len());
        true
    }

    /// Messages waiting in each level's queue (its max offset − its delay offset).
    pub(crate) fn pending(&self, store: &MessageStore) -> Vec<(i32, i64)> {
        self.levels
            .iter()
            .map(|(level, _)| {
                let max = store.max_offset(RMQ_SYS_SCHEDULE_TOPIC, queue_id(level));
                (level, (max - self.offsets.get(level)).max(0))
            })
            .collect()
    }

    /// Every level's delivery progress (GET_ALL_DELAY_OFFSET's body).
    pub(crate) fn offsets_snapshot(&self) -> DelayOffsetSerializeWrapper {
        self.offsets.snapshot()
    }

    /// Takes a master's delivery progress (a replica's config copy).
    pub(crate) fn replace_offsets(
        &self,
        master: DelayOffsetSerializeWrapper,
    ) -> Result<(), BrokerError> {
        self.offsets.replace(master)
    }

    /// Saves `delayOffset.json` if it changed (a file write: off the async workers).
    pub(crate) fn persist(&self) -> Result<(), BrokerError> {
        self.offsets.persist()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use skylark_protocol::message::property::DELAY_TIME_LEVEL;
    use skylark_protocol::message::{Message, MessageSysFlag};

    use super::*;
    use crate::test_support::{config_in, put};

    fn record(topic: &str, queue_id: i32, delay: Option<&str>) -> StoredMessage {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let mut message = Message::new(topic, b"body".to_vec()).with_tags("TagA");
        if let Some(delay) = delay {
            message = message.with_property(DELAY_TIME_LEVEL, delay);
        }
        let mut record = StoredMessage::new(message, host, host);
        record.queue_id = queue_id;
        record
    }

    fn service(dir: &std::path::Path) -> (ScheduleMessageService, MessageStore) {
        let config = config_in(dir);
        let store = MessageStore::open(config.store.clone()).unwrap();
        (
            ScheduleMessageService::load(&config, &store).unwrap(),
            store,
        )
    }

    #[test]
    fn a_delayed_message_goes_to_its_levels_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path());
        let mut r = record("T", 3, Some("2"));
        assert!(service.schedule(&mut r));
        assert_eq!((r.topic.as_str(), r.queue_id), (RMQ_SYS_SCHEDULE_TOPIC, 1));
        assert_eq!(r.properties.real_topic(), Some("T"));
        assert_eq!(r.properties.real_queue_id(), Some(3));
        assert_eq!(r.properties.delay_time_level(), Some(2));
        assert_eq!(r.tags(), Some("TagA"));
        store.shutdown();
    }

    #[test]
    fn levels_above_the_highest_are_clamped_and_timers_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path());
        let mut r = record("T", 0, Some("40"));
        r.properties.insert(TIMER_DELAY_SEC, "5");
        r.properties.insert(TIMER_DELIVER_MS, "5");
        assert!(service.schedule(&mut r));
        assert_eq!(r.queue_id, 17);
        assert_eq!(r.properties.delay_time_level(), Some(18));
        assert!(
            !r.properties.contains(TIMER_DELAY_SEC) && !r.properties.contains(TIMER_DELIVER_MS)
        );
        store.shutdown();
    }

    #[test]
    fn undelayed_half_and_rollback_records_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path());
        for delay in [None, Some("0"), Some("-1"), Some("x")] {
            let mut r = record("T", 1, delay);
            let before = r.clone();
            assert!(!service.schedule(&mut r), "{delay:?}");
            assert_eq!(r, before);
        }
        for flag in [
            MessageSysFlag::TRANSACTION_PREPARED_TYPE,
            MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
        ] {
            let mut r = record("T", 1, Some("1"));
            r.sys_flag |= flag;
            assert!(!service.schedule(&mut r));
            assert_eq!(r.topic, "T");
        }
        // A commit record is delayed like a normal one.
        let mut r = record("T", 1, Some("1"));
        r.sys_flag |= MessageSysFlag::TRANSACTION_COMMIT_TYPE;
        assert!(service.schedule(&mut r));
        store.shutdown();
    }

    #[test]
    fn a_long_real_topic_leaves_the_record_version_to_the_schedule_topic() {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path());
        let long = "L".repeat(200);
        let mut r = record(&long, 0, Some("1"));
        assert_eq!(r.version, MessageVersion::V2);
        assert!(service.schedule(&mut r));
        assert_eq!(r.version, MessageVersion::V1);
        assert_eq!(r.properties.real_topic(), Some(long.as_str()));
        store.shutdown();
    }

    #[test]
    fn pending_counts_what_each_level_has_not_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path());
        for _ in 0..3 {
            put(&store, RMQ_SYS_SCHEDULE_TOPIC, 0, b"x");
        }
        put(&store, RMQ_SYS_SCHEDULE_TOPIC, 4, b"y");
        service.offsets.set(1, 1);
        let pending = service.pending(&store);
        assert_eq!(pending.len(), 18);
        assert_eq!(
            (pending[0], pending[1], pending[4]),
            ((1, 2), (2, 0), (5, 1))
        );
        store.shutdown();
    }

    #[test]
    fn a_bad_level_list_stops_the_broker() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        config.store.message_delay_level = "1s 5q".to_owned();
        let store = MessageStore::open(config.store.clone()).unwrap();
        let error = ScheduleMessageService::load(&config, &store).unwrap_err();
        assert!(error.to_string().contains("5q"), "{error}");
        store.shutdown();
    }
}
