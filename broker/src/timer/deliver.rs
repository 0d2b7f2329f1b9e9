//! Delivering due timer messages (Java's `TimerDequeueGetService` and its
//! put services): while the read time is behind the write time, take the
//! read time's slot, store each of its messages again in its real queue in
//! the order they entered the slot, and move to the next slot. An entry
//! rolled into this slot from beyond the wheel's window goes back into the
//! wheel instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use skylark_protocol::message::StoredMessage;
use skylark_protocol::message::property::{TIMER_DEL_UNIQKEY, TIMER_DEQUEUE_MS, TIMER_ENQUEUE_MS};
use skylark_protocol::message::record;
use skylark_protocol::message::topic::RMQ_SYS_TRANS_HALF_TOPIC;
use skylark_store::error::PutMessageStatus;
use tokio::sync::watch;

use super::wheel::{Entry, FLAG_DELETE};
use crate::broker::Broker;
use crate::schedule::time_up;
use crate::topic_config::now_ms;

/// First pause after a failed put or read; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a broker that is not a writable master looks at its role again.
const ROLE_POLL: Duration = Duration::from_secs(1);

/// What became of one due message.
pub(super) enum Put {
    /// Stored in its real queue, or dropped because it never can be.
    Done,
    /// The put failed for a reason that may pass.
    Retry,
}

/// What a walk of the due slots ended with.
enum Walk {
    /// Caught up with the write time.
    Idle,
    /// The wheel could not be read: try the same slot later.
    Retry,
    /// Stopping; the slot in hand is delivered again after a restart.
    Stopped,
}

/// Delivers due timer messages until `stopped` turns true, while the
/// broker is a writable master (Java dequeues only on masters; here roles
/// change at run time).
pub(crate) async fn deliver(broker: Arc<Broker>, mut stopped: watch::Receiver<bool>) {
    let precision = broker.timer.precision_ms;
    let mut backoff = FIRST_BACKOFF;
    tracing::debug!("timer delivery started");
    loop {
        // A replica stores nothing of its own: its master delivers, and the
        // delivered messages reach the replica through replication. A
        // promoted replica delivers from its own read time on.
        if !broker.may_deliver() {
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(ROLE_POLL) => continue,
            }
        }
        let wait = match broker.deliver_due_slots(&stopped).await {
            Walk::Stopped => break,
            Walk::Idle => {
                backoff = FIRST_BACKOFF;
                // Until just after the next slot boundary, when the write
                // time may pass another slot; polled at least every 100 ms.
                let into = now_ms().rem_euclid(precision);
                Duration::from_millis(u64::try_from(precision - into + 1).unwrap_or(100).min(100))
            }
            Walk::Retry => {
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!("timer delivery stopped");
}

impl Broker {
    /// Whether this broker may put due timer messages: a master, not fenced.
    pub(super) fn may_deliver(&self) -> bool {
        self.ha.is_master() && !self.ha_role.is_fenced()
    }

    /// Delivers every slot behind the write time, moving the read time
    /// past each.
    async fn deliver_due_slots(&self, stopped: &watch::Receiver<bool>) -> Walk {
        let timer = &self.timer;
        let Some(wheel) = &timer.store else {
            return Walk::Idle;
        };
        let precision = timer.precision_ms;
        loop {
            let read_time = timer.read_time_ms.load(Ordering::Acquire);
            // Demoted between slots: a replica's read time follows its master's.
            if read_time >= timer.write_time_ms.load(Ordering::Acquire) || !self.may_deliver() {
                return Walk::Idle;
            }
            let entries = match wheel.entries(read_time) {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::error!(read_time, %error, "cannot read a timer slot");
                    return Walk::Retry;
                }
            };
            let mut delivered = 0i64;
            for entry in &entries {
                if entry.deliver_ms >= read_time + precision {
                    // Rolled here from beyond the window: on to its own slot
                    // (or the window's end again). Measured from this slot,
                    // so it never reuses this slot's place before its
                    // delivery is saved.
                    let slot = timer.slot_for(wheel, entry.deliver_ms, read_time);
                    if let Err(error) = wheel.insert(slot, entry) {
                        tracing::error!(read_time, %error, "cannot roll a timer message on");
                        return Walk::Retry;
                    }
                    continue;
                }
                if !self.deliver_timer_entry(entry, stopped).await {
                    return Walk::Stopped;
                }
                delivered += 1;
            }
            timer.in_wheel.fetch_sub(delivered, Ordering::AcqRel);
            // A maximum: a replica's read time may have followed its
            // master's past this slot while the walk waited for the role.
            timer
                .read_time_ms
                .fetch_max(read_time + precision, Ordering::AcqRel);
            if *stopped.borrow() {
                return Walk::Stopped;
            }
        }
    }

    /// Stores the message of `entry` in its real queue, retrying a failed
    /// put until it succeeds; false when stopped first.
    async fn deliver_timer_entry(&self, entry: &Entry, stopped: &watch::Receiver<bool>) -> bool {
        let Some(raw) = self.store.message_by_phys_offset(entry.phys_offset) else {
            tracing::warn!(phys = entry.phys_offset, "timer message is gone; skipped");
            return true;
        };
        let message = match record::decode(&raw) {
            Ok((message, _)) => message,
            Err(error) => {
                tracing::error!(phys = entry.phys_offset, %error, "timer message does not decode; skipped");
                return true;
            }
        };
        if entry.flags & FLAG_DELETE != 0 || message.properties.contains(TIMER_DEL_UNIQKEY) {
            // Java never stores a cancellation in a real topic.
            tracing::debug!(
                phys = entry.phys_offset,
                "timer cancellation reached its slot; dropped"
            );
            return true;
        }
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.put_due_timer(message.clone(), entry.enqueue_ms).await {
                Put::Done => return true,
                Put::Retry => {}
            }
            if *stopped.borrow() {
                return false;
            }
            while !self.may_deliver() {
                // Demoted or fenced mid-slot: the store refuses puts until
                // this broker is a writable master again.
                if *stopped.borrow() {
                    return false;
                }
                tokio::time::sleep(ROLE_POLL).await;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Java's `convert` + `doPut`: stamps `TIMER_ENQUEUE_MS` (`enqueue_ms`)
    /// and `TIMER_DEQUEUE_MS`, moves the message to `REAL_TOPIC` /
    /// `REAL_QID` (keeping them, as Java's stored bytes do) and stores it.
    pub(super) async fn put_due_timer(&self, mut message: StoredMessage, enqueue_ms: i64) -> Put {
        let mut buf = itoa::Buffer::new();
        message
            .properties
            .insert(TIMER_ENQUEUE_MS, buf.format(enqueue_ms));
        message
            .properties
            .insert(TIMER_DEQUEUE_MS, buf.format(now_ms()));
        let Some(message) = time_up(message) else {
            tracing::error!("timer message has no REAL_TOPIC/REAL_QID; dropped");
            return Put::Done;
        };
        if message.topic == RMQ_SYS_TRANS_HALF_TOPIC {
            tracing::error!("timer message's real topic is the half topic; dropped");
            return Put::Done;
        }
        let result = self.store.put_message(&message).await;
        if result.is_stored() {
            tracing::trace!(topic = %message.topic, queue_id = message.queue_id, "timer message delivered");
            return Put::Done;
        }
        match result.status {
            // It will never be accepted: retrying would stop delivery for good.
            PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => {
                tracing::error!(topic = %message.topic, status = %result.status, error = ?result.error, "timer message refused by the store; dropped");
                Put::Done
            }
            status => {
                tracing::warn!(topic = %message.topic, %status, error = ?result.error, "cannot deliver a timer message yet");
                Put::Retry
            }
        }
    }
}
