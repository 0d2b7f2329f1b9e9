//! Timer messages (RocketMQ 5's `TimerMessageStore`): a message with
//! `TIMER_DELIVER_MS`, `TIMER_DELAY_SEC` or `TIMER_DELAY_MS` due in the
//! future is stored in `rmq_sys_wheel_timer` instead, its due time (rounded
//! down to `timerPrecisionMs`) in `TIMER_OUT_MS` and its real topic and
//! queue in `REAL_TOPIC` / `REAL_QID` ([`TimerMessageService::schedule`]).
//! [`dispatch`] reads that queue into a persistent timing wheel
//! ([`wheel::TimerStore`]); [`deliver`] walks the wheel one slot per
//! precision unit and stores each due message again in its real queue.
//! `timer/checkpoint.json` keeps both tasks' progress across restarts.
//!
//! The wheel and log are Skylark's own files under `<storePathRootDir>/timer/`,
//! not Java's `timerwheel` / `timerlog` / `config/timercheck`.

mod checkpoint;
mod deliver;
mod dispatch;
mod wheel;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use skylark_protocol::ResponseCode;
use skylark_protocol::message::property::{
    REAL_QUEUE_ID, REAL_TOPIC, TIMER_DEL_UNIQKEY, TIMER_DELAY_MS, TIMER_DELAY_SEC,
    TIMER_DELIVER_MS, TIMER_OUT_MS,
};
use skylark_protocol::message::{MessageVersion, StoredMessage, TransactionType};
use skylark_store::MessageStore;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::topic_config::now_ms;
use checkpoint::{Checkpoint, CheckpointFile};
pub(crate) use deliver::deliver;
pub(crate) use dispatch::dispatch;
use wheel::TimerStore;

/// The topic timer messages wait in (`TimerMessageStore.TIMER_TOPIC`).
pub(crate) const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// How often the wheel is synced and the checkpoint saved (Java's
/// `timerFlushIntervalMs` is 1 s; saving less often only widens what a
/// crash delivers twice).
pub(crate) const PERSIST_INTERVAL: Duration = Duration::from_secs(1);
/// Most slots a wheel gets: Java's fixed 2 × 7 days of 1 s slots. A finer
/// precision over a long `timerMaxDelaySec` would otherwise cost a slot
/// table of hundreds of MB; what lies beyond the window is rolled.
const MAX_SLOTS: i64 = 2 * 7 * 24 * 3600;

/// Why a timer message is refused (Java's `WHEEL_TIMER_*` put statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerRefusal {
    /// `timerWheelEnable` is off.
    NotEnabled,
    /// A timer property does not parse, the delay exceeds
    /// `timerMaxDelaySec`, or a cancellation is not in the future.
    Illegal,
    /// A cancellation (`TIMER_DEL_UNIQKEY`): not applied by this wheel yet,
    /// so refused rather than accepted and ignored.
    CancelUnsupported,
}

impl TimerRefusal {
    /// The response code and remark Java's `SendMessageProcessor` answers with.
    pub(crate) fn response(self, config: &BrokerConfig) -> (ResponseCode, String) {
        match self {
            Self::NotEnabled => (
                ResponseCode::SYSTEM_ERROR,
                format!(
                    "accurate timer message is not enabled, timerWheelEnable is {}",
                    config.timer_wheel_enable
                ),
            ),
            Self::CancelUnsupported => (
                ResponseCode::MESSAGE_ILLEGAL,
                "cancelling a timer message (TIMER_DEL_UNIQKEY) is not supported by this broker yet"
                    .to_owned(),
            ),
            Self::Illegal => (
                ResponseCode::MESSAGE_ILLEGAL,
                format!(
                    "timer message illegal, the delay time should not be bigger than the max delay \
                     {}ms; or if set del msg, the delay time should be bigger than the current time",
                    config.timer_max_delay_sec.saturating_mul(1000)
                ),
            ),
        }
    }
}

/// The timer's settings, wheel and progress.
#[derive(Debug)]
pub(crate) struct TimerMessageService {
    enabled: bool,
    precision_ms: i64,
    max_delay_ms: i64,
    /// `None` when `timerWheelEnable` is off: nothing is opened or delivered.
    store: Option<TimerStore>,
    checkpoint: CheckpointFile,
    /// Next timer queue offset to put into the wheel.
    queue_offset: AtomicI64,
    /// Next slot time to deliver (Java's `currReadTimeMs`).
    read_time_ms: AtomicI64,
    /// Slots before this take no more inserts and may be delivered (Java's
    /// `currWriteTimeMs`); only the dispatcher moves it.
    write_time_ms: AtomicI64,
    /// Entries in the wheel not yet delivered.
    in_wheel: AtomicI64,
    /// Serialises saves, so an older snapshot never overwrites a newer one.
    saving: Mutex<()>,
}

impl TimerMessageService {
    /// Reads the settings, opens the wheel under `<storePathRootDir>/timer`
    /// and its checkpoint, corrected to the (recovered) store's timer queue.
    pub(crate) fn load(config: &BrokerConfig, store: &MessageStore) -> Result<Self, BrokerError> {
        let precision_ms = i64::try_from(config.timer_precision_ms)
            .ok()
            .filter(|&p| (1..=3_600_000).contains(&p))
            .ok_or_else(|| {
                BrokerError::Config(format!(
                    "timerPrecisionMs {} is not within 1..=3600000",
                    config.timer_precision_ms
                ))
            })?;
        let max_delay_ms = i64::try_from(config.timer_max_delay_sec)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let dir = config.store.store_path_root_dir.join("timer");
        let checkpoint = CheckpointFile::new(&dir);
        let now = floor(now_ms(), precision_ms);
        let mut service = Self {
            enabled: config.timer_wheel_enable,
            precision_ms,
            max_delay_ms,
            store: None,
            checkpoint,
            queue_offset: AtomicI64::new(0),
            read_time_ms: AtomicI64::new(now),
            write_time_ms: AtomicI64::new(now),
            in_wheel: AtomicI64::new(0),
            saving: Mutex::new(()),
        };
        if !service.enabled {
            return Ok(service);
        }
        // Twice the longest delay: a message accepted at the limit still
        // fits while delivery lags up to another full delay behind.
        let slots = (max_delay_ms / precision_ms)
            .saturating_mul(2)
            .clamp(2, MAX_SLOTS);
        let wheel = TimerStore::open(&dir, usize::try_from(slots).unwrap_or(2), precision_ms)?;
        let saved = service.checkpoint.load()?.unwrap_or(Checkpoint {
            queue_offset: 0,
            read_time_ms: now,
        });
        let (min, max) = (
            store.min_offset(TIMER_TOPIC, 0),
            store.max_offset(TIMER_TOPIC, 0),
        );
        let queue_offset = saved.queue_offset.clamp(min.min(max), max);
        if queue_offset != saved.queue_offset {
            tracing::warn!(
                saved = saved.queue_offset,
                min,
                max,
                "timer queue offset outside its queue; corrected"
            );
        }
        // Nothing was inserted more than a lap after the saved read time.
        let read_time = floor(saved.read_time_ms, precision_ms).max(now - wheel.window_ms());
        service.in_wheel = AtomicI64::new(wheel.count_from(read_time));
        service.queue_offset = AtomicI64::new(queue_offset);
        service.read_time_ms = AtomicI64::new(read_time);
        // Delivery waits until the dispatcher has looked at the queue once.
        service.write_time_ms = AtomicI64::new(read_time);
        tracing::info!(
            queue_offset,
            read_time,
            slots = wheel.slot_count(),
            in_wheel = service.in_wheel.load(Ordering::Relaxed),
            "timer wheel loaded"
        );
        service.store = Some(wheel);
        Ok(service)
    }

    /// Whether timer messages are accepted and delivered.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Java's `HookUtils.handleScheduleMessage` for timer properties:
    /// rewrites `record` into the timer topic when it is due in the future;
    /// whether it did. Half and rollback records, records already in (or
    /// out of) the timer topic, and records with a delay level (which wins,
    /// see [`crate::schedule`]) are left alone; a due time already passed
    /// leaves the record for its own topic at once.
    pub(crate) fn schedule(&self, record: &mut StoredMessage) -> Result<bool, TimerRefusal> {
        match record.transaction_type() {
            TransactionType::Not | TransactionType::Commit => {}
            TransactionType::Prepared | TransactionType::Rollback => return Ok(false),
        }
        let properties = &record.properties;
        if record.topic == TIMER_TOPIC
            || properties.delay_time_level().is_some_and(|level| level > 0)
            || properties.contains(TIMER_OUT_MS)
            || ![TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS]
                .iter()
                .any(|name| properties.contains(name))
        {
            return Ok(false);
        }
        if !self.enabled {
            return Err(TimerRefusal::NotEnabled);
        }
        let now = now_ms();
        let parse = |name| -> Result<Option<i64>, TimerRefusal> {
            properties
                .get(name)
                .map(|v| v.parse::<i64>().map_err(|_| TimerRefusal::Illegal))
                .transpose()
        };
        let deliver_ms = if let Some(sec) = parse(TIMER_DELAY_SEC)? {
            now.saturating_add(sec.saturating_mul(1000))
        } else if let Some(ms) = parse(TIMER_DELAY_MS)? {
            now.saturating_add(ms)
        } else {
            parse(TIMER_DELIVER_MS)?.unwrap_or(now)
        };
        if deliver_ms <= now {
            return if properties.contains(TIMER_DEL_UNIQKEY) {
                Err(TimerRefusal::Illegal)
            } else {
                Ok(false)
            };
        }
        if deliver_ms - now > self.max_delay_ms {
            return Err(TimerRefusal::Illegal);
        }
        if properties.contains(TIMER_DEL_UNIQKEY) {
            return Err(TimerRefusal::CancelUnsupported);
        }
        // As Java: the slot before an exact boundary, so delivery (once the
        // slot's whole unit has passed) is never early.
        let out_ms = if deliver_ms % self.precision_ms == 0 {
            deliver_ms - self.precision_ms
        } else {
            floor(deliver_ms, self.precision_ms)
        };
        let real_topic = std::mem::replace(&mut record.topic, TIMER_TOPIC.to_owned());
        record
            .properties
            .insert(TIMER_OUT_MS, itoa::Buffer::new().format(out_ms));
        record.properties.insert(REAL_TOPIC, real_topic);
        record
            .properties
            .insert(REAL_QUEUE_ID, itoa::Buffer::new().format(record.queue_id));
        record.queue_id = 0;
        record.version = MessageVersion::for_topic_len(record.topic.len());
        Ok(true)
    }

    /// The delivery's read time and the next timer queue offset to put into
    /// the wheel (what Java's `TimerCheckpoint` answers a replica with).
    pub(crate) fn progress(&self) -> (i64, i64) {
        (
            self.read_time_ms.load(Ordering::Acquire),
            self.queue_offset.load(Ordering::Acquire),
        )
    }

    /// On a replica: moves the read time up to its master's (`master_read_ms`),
    /// whose deliveries reach this broker through replication, so a promoted
    /// replica does not deliver them again. Never moves it back. The caller
    /// makes sure this replica holds what the master delivered before it.
    pub(crate) fn follow_read_time(&self, master_read_ms: i64) {
        let Some(wheel) = &self.store else {
            return;
        };
        let target = floor(master_read_ms, self.precision_ms);
        if self.read_time_ms.fetch_max(target, Ordering::AcqRel) < target {
            self.in_wheel
                .store(wheel.count_from(target), Ordering::Release);
            tracing::debug!(read_time = target, "timer read time follows the master's");
        }
    }

    /// Timer messages not yet delivered: in the wheel, plus stored in the
    /// timer queue but not yet put into it.
    pub(crate) fn pending(&self, store: &MessageStore) -> i64 {
        if self.store.is_none() {
            return 0;
        }
        let backlog = store.max_offset(TIMER_TOPIC, 0) - self.queue_offset.load(Ordering::Acquire);
        self.in_wheel.load(Ordering::Acquire).max(0) + backlog.max(0)
    }

    /// Syncs the wheel and log, then saves the progress they reflect (file
    /// writes: call off the async workers). The progress is read before
    /// the sync, so everything it counts as inserted is on disk.
    pub(crate) fn persist(&self) -> Result<(), BrokerError> {
        let Some(wheel) = &self.store else {
            return Ok(());
        };
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let checkpoint = Checkpoint {
            queue_offset: self.queue_offset.load(Ordering::Acquire),
            read_time_ms: self.read_time_ms.load(Ordering::Acquire),
        };
        wheel.flush()?;
        self.checkpoint.save(&checkpoint)
    }

    /// Moves the write time up to now's slot (Java's `maybeMoveWriteTime`).
    fn move_write_time(&self) {
        self.write_time_ms
            .fetch_max(floor(now_ms(), self.precision_ms), Ordering::AcqRel);
    }

    /// The slot an entry due at `deliver_ms` goes into when inserted while
    /// delivery is at `read_time`: its own, or — beyond the wheel's window —
    /// the window's last slot, from which it is rolled on (Java's roll).
    fn slot_for(&self, wheel: &TimerStore, deliver_ms: i64, read_time: i64) -> i64 {
        let last = read_time + wheel.window_ms() - self.precision_ms;
        floor(deliver_ms, self.precision_ms).min(last)
    }
}

/// `ms` rounded down to a multiple of `precision`.
fn floor(ms: i64, precision: i64) -> i64 {
    ms.div_euclid(precision) * precision
}

#[cfg(test)]
mod tests;
