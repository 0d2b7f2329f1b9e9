//! Delivering due delayed messages (`DeliverDelayedMessageTimerTask`): one
//! task per level reads its `SCHEDULE_TOPIC_XXXX` queue from the level's
//! delay offset; each entry's tags code is its due time, and entries of one
//! level come due in queue order, so the task sleeps until the head entry is
//! due, stores it again in its real queue, and moves the offset past it.
//! With nothing left it waits for the dispatcher's arrival signal.

use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::message::record;
use skylark_protocol::message::topic::{RMQ_SYS_SCHEDULE_TOPIC, RMQ_SYS_TRANS_HALF_TOPIC};
use skylark_protocol::message::{MessageVersion, StoredMessage};
use skylark_store::consume_queue::{ConsumeQueueError, CqEntry};
use skylark_store::error::PutMessageStatus;
use tokio::sync::watch;

use super::levels::queue_id;
use crate::broker::Broker;
use crate::topic_config::now_ms;

/// Entries read from a level's queue at a time.
const BATCH: usize = 32;
/// Longest sleep between two looks at a level's queue: arrivals wake an idle
/// level and due times are exact, so this only bounds the effect of a
/// missed signal or a jump of the clock.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// First pause after a failed read or put; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between retries of a failing delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a broker that is not a writable master looks at its role again.
const ROLE_POLL: Duration = Duration::from_secs(1);

/// What a level's task does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The head entry is due in this long.
    Due(Duration),
    /// Everything is delivered: wait for an arrival.
    Idle,
    /// A read or put failed: try the same entry again later.
    Retry,
}

/// What became of one due entry.
enum Delivery {
    /// Stored in its real queue, or dropped because it cannot be.
    Done,
    /// The put failed for a reason that may pass.
    Retry,
}

/// Delivers `level`'s messages as they come due until `stopped` turns true,
/// while the broker is a writable master (Java runs the service only on
/// masters; here roles change at run time).
pub(crate) async fn deliver_level(
    broker: Arc<Broker>,
    level: i32,
    mut stopped: watch::Receiver<bool>,
) {
    let arrivals = broker
        .pull_holds
        .queue(RMQ_SYS_SCHEDULE_TOPIC, queue_id(level));
    let mut backoff = FIRST_BACKOFF;
    tracing::debug!(level, "delay level delivery started");
    loop {
        // A replica stores nothing of its own: its master delivers, and the
        // replica gets the delivered messages through replication. Roles
        // change at run time (a promoted replica delivers from then on).
        if !broker.ha.is_master() || broker.ha_role.is_fenced() {
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(ROLE_POLL) => continue,
            }
        }
        // Registered before reading, so an arrival during the read is not missed.
        let arrival = arrivals.notified();
        tokio::pin!(arrival);
        arrival.as_mut().enable();
        let next = broker.deliver_due(level, &stopped).await;
        let wait = match next {
            Next::Due(wait) => {
                backoff = FIRST_BACKOFF;
                wait.min(MAX_SLEEP)
            }
            Next::Idle => {
                backoff = FIRST_BACKOFF;
                MAX_SLEEP
            }
            Next::Retry => {
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(wait) => {}
            () = &mut arrival, if next == Next::Idle => {}
        }
    }
    tracing::debug!(level, "delay level delivery stopped");
}

impl Broker {
    /// Delivers every due entry of `level` from its delay offset on, moving
    /// the offset past each; says when to look again.
    async fn deliver_due(&self, level: i32, stopped: &watch::Receiver<bool>) -> Next {
        let levels = self.schedule.levels();
        let offsets = &self.schedule.offsets;
        let Some(queue) = self
            .store
            .consume_queues()
            .queue(RMQ_SYS_SCHEDULE_TOPIC, queue_id(level))
        else {
            return Next::Idle;
        };
        let mut offset = offsets.get(level);
        loop {
            if *stopped.borrow() {
                return Next::Idle;
            }
            let entries = match queue.read(offset, BATCH) {
                Ok(entries) => entries,
                Err(ConsumeQueueError::BelowMin { min, .. }) => {
                    tracing::error!(level, offset, min, "delay offset below its queue; moved up");
                    offset = min;
                    offsets.set(level, offset);
                    continue;
                }
                Err(error) => {
                    tracing::error!(level, offset, %error, "cannot read a delay level's queue");
                    return Next::Retry;
                }
            };
            if entries.is_empty() {
                let max = queue.max_offset();
                if offset > max {
                    tracing::error!(
                        level,
                        offset,
                        max,
                        "delay offset past its queue; moved back"
                    );
                    offsets.set(level, max);
                }
                return Next::Idle;
            }
            for entry in entries {
                if entry.is_valid() && !entry.is_pad() {
                    let now = now_ms();
                    let due = levels.correct_deliver_timestamp(level, now, entry.tags_code);
                    if due > now {
                        return Next::Due(Duration::from_millis(due.abs_diff(now)));
                    }
                    if let Delivery::Retry = self.deliver_entry(level, offset, entry).await {
                        return Next::Retry;
                    }
                }
                offset += 1;
                offsets.set(level, offset);
            }
        }
    }

    /// Stores the message of a due `entry` (at `offset` of `level`'s queue)
    /// in its real queue.
    async fn deliver_entry(&self, level: i32, offset: i64, entry: CqEntry) -> Delivery {
        let Some(raw) = self.store.message_by_phys_offset(entry.phys_offset) else {
            tracing::warn!(
                level,
                offset,
                phys = entry.phys_offset,
                "delayed message is gone; skipped"
            );
            return Delivery::Done;
        };
        let scheduled = match record::decode(&raw) {
            Ok((scheduled, _)) => scheduled,
            Err(error) => {
                tracing::error!(level, offset, phys = entry.phys_offset, %error, "delayed message does not decode; skipped");
                return Delivery::Done;
            }
        };
        let Some(message) = time_up(scheduled) else {
            tracing::error!(
                level,
                offset,
                phys = entry.phys_offset,
                "delayed message has no REAL_TOPIC/REAL_QID; skipped"
            );
            return Delivery::Done;
        };
        if message.topic == RMQ_SYS_TRANS_HALF_TOPIC {
            tracing::error!(
                level,
                offset,
                "delayed message's real topic is the half topic; discarded"
            );
            return Delivery::Done;
        }
        let result = self.store.put_message(&message).await;
        if result.is_stored() {
            tracing::trace!(level, offset, topic = %message.topic, queue_id = message.queue_id, "delayed message delivered");
            return Delivery::Done;
        }
        match result.status {
            // It will never be accepted: retrying would stop the level for good.
            PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => {
                tracing::error!(level, offset, topic = %message.topic, status = %result.status, error = ?result.error, "delayed message refused by the store; dropped");
                Delivery::Done
            }
            status => {
                tracing::warn!(level, offset, topic = %message.topic, %status, error = ?result.error, "cannot deliver a delayed message yet");
                Delivery::Retry
            }
        }
    }
}

/// Java's `messageTimeUp`: the record to store in the real queue — the
/// scheduled record moved to `REAL_TOPIC` / `REAL_QID`; `None` when those
/// properties are missing or malformed.
///
/// The properties stay byte for byte as scheduled, `DELAY` included: Java
/// clears the level from its property map, but writes the property string
/// it took before, so its consumers see the level (and `REAL_TOPIC`,
/// `REAL_QID`) on delivered messages. Only the schedule topic's tags code
/// reads `DELAY`, so it is not delayed again.
pub(crate) fn time_up(mut record: StoredMessage) -> Option<StoredMessage> {
    let topic = record.properties.real_topic()?.to_owned();
    let queue_id = record.properties.real_queue_id()?;
    record.version = MessageVersion::for_topic_len(topic.len());
    record.topic = topic;
    record.queue_id = queue_id;
    record.queue_offset = 0;
    record.physical_offset = 0;
    record.store_timestamp = 0;
    record.prepared_transaction_offset = 0;
    Some(record)
}

#[cfg(test)]
mod tests;
