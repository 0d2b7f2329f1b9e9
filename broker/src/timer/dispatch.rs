//! Putting timer messages into the wheel (Java's `TimerEnqueueGetService`
//! and `TimerEnqueuePutService`): reads `rmq_sys_wheel_timer` from the
//! saved queue offset and links each entry into the slot of its
//! `TIMER_OUT_MS`. One already due (its slot is behind the write time) is
//! delivered at once instead. After each pass the write time moves up to
//! now, which releases the slots behind it to [`super::deliver`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use skylark_protocol::message::property::{TIMER_DEL_UNIQKEY, TIMER_OUT_MS};
use skylark_protocol::message::record;
use skylark_store::consume_queue::{ConsumeQueueError, CqEntry};
use tokio::sync::watch;

use super::TIMER_TOPIC;
use super::deliver::Put;
use super::wheel::{Entry, FLAG_DELETE};
use crate::broker::Broker;

/// Queue entries read at a time.
const BATCH: usize = 256;
/// First pause after a failure; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What one pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// A full batch: there may be more.
    More,
    /// The queue is drained.
    Idle,
    /// A read, insert or put failed: try the same entry later.
    Retry,
}

/// Puts timer messages into the wheel until `stopped` turns true.
pub(crate) async fn dispatch(broker: Arc<Broker>, mut stopped: watch::Receiver<bool>) {
    let arrivals = broker.pull_holds.queue(TIMER_TOPIC, 0);
    // The write time must follow the clock even with nothing arriving:
    // a tenth of the precision, as Java's services poll.
    let tick = Duration::from_millis(
        u64::try_from(broker.timer.precision_ms / 10)
            .unwrap_or(100)
            .clamp(10, 100),
    );
    let mut backoff = FIRST_BACKOFF;
    tracing::debug!("timer dispatch started");
    loop {
        let arrival = arrivals.notified();
        tokio::pin!(arrival);
        arrival.as_mut().enable();
        let pass = broker.dispatch_timer_pass(&stopped).await;
        let wait = match pass {
            Pass::More => Duration::ZERO,
            Pass::Idle => {
                backoff = FIRST_BACKOFF;
                tick
            }
            Pass::Retry => {
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(wait) => {}
            () = &mut arrival, if pass == Pass::Idle => {}
        }
    }
    tracing::debug!("timer dispatch stopped");
}

impl Broker {
    /// Puts up to a batch of queue entries into the wheel, then moves the
    /// write time.
    async fn dispatch_timer_pass(&self, stopped: &watch::Receiver<bool>) -> Pass {
        let timer = &self.timer;
        let Some(queue) = self.store.consume_queues().queue(TIMER_TOPIC, 0) else {
            timer.move_write_time();
            return Pass::Idle;
        };
        let mut offset = timer.queue_offset.load(Ordering::Acquire);
        let entries = match queue.read(offset, BATCH) {
            Ok(entries) => entries,
            Err(ConsumeQueueError::BelowMin { min, .. }) => {
                tracing::error!(offset, min, "timer queue offset below its queue; moved up");
                timer.queue_offset.store(min, Ordering::Release);
                return Pass::More;
            }
            Err(error) => {
                tracing::error!(offset, %error, "cannot read the timer queue");
                return Pass::Retry;
            }
        };
        let full = entries.len() == BATCH;
        for entry in entries {
            if *stopped.borrow() {
                return Pass::Idle;
            }
            if entry.is_valid() && !entry.is_pad() && !self.enqueue_timer(offset, entry).await {
                return Pass::Retry;
            }
            offset += 1;
            timer.queue_offset.store(offset, Ordering::Release);
        }
        timer.move_write_time();
        if full { Pass::More } else { Pass::Idle }
    }

    /// Links the timer message of `entry` (at `offset` of the timer queue)
    /// into the wheel, or delivers it when its slot has passed; false when
    /// it must be tried again.
    async fn enqueue_timer(&self, offset: i64, entry: CqEntry) -> bool {
        let timer = &self.timer;
        let Some(wheel) = &timer.store else {
            return true;
        };
        let Some(raw) = self.store.message_by_phys_offset(entry.phys_offset) else {
            tracing::warn!(
                offset,
                phys = entry.phys_offset,
                "timer message is gone; skipped"
            );
            return true;
        };
        let message = match record::decode(&raw) {
            Ok((message, _)) => message,
            Err(error) => {
                tracing::error!(offset, phys = entry.phys_offset, %error, "timer message does not decode; skipped");
                return true;
            }
        };
        let Some(out_ms) = message
            .properties
            .get(TIMER_OUT_MS)
            .and_then(|v| v.parse::<i64>().ok())
        else {
            tracing::error!(
                offset,
                "timer message without a valid TIMER_OUT_MS; skipped"
            );
            return true;
        };
        let write_time = timer.write_time_ms.load(Ordering::Acquire);
        if out_ms < write_time {
            // Its slot is closed: due now (Java marks it never enqueued).
            return !matches!(self.put_due_timer(message, i64::MAX).await, Put::Retry);
        }
        let read_time = timer.read_time_ms.load(Ordering::Acquire);
        let slot = timer.slot_for(wheel, out_ms, read_time);
        if slot < write_time {
            // Delivery is a whole window behind: wait for it to move on.
            tracing::warn!(
                offset,
                read_time,
                write_time,
                "timer delivery lags a whole wheel; waiting"
            );
            return false;
        }
        let flags = if message.properties.contains(TIMER_DEL_UNIQKEY) {
            FLAG_DELETE
        } else {
            0
        };
        let inserted = wheel.insert(
            slot,
            &Entry {
                phys_offset: entry.phys_offset,
                size: entry.size,
                flags,
                deliver_ms: out_ms,
                enqueue_ms: write_time,
            },
        );
        match inserted {
            Ok(()) => {
                timer.in_wheel.fetch_add(1, Ordering::AcqRel);
                true
            }
            Err(error) => {
                tracing::error!(offset, %error, "cannot put a timer message into the wheel");
                false
            }
        }
    }
}
