//! Orderly consumption (Java's `ConsumeMessageOrderlyService`): one task
//! per queue takes its messages in offset order, a batch at a time, while
//! this member holds the queue's broker lock (clustering); a suspend puts
//! the batch back and pauses the queue; offsets commit after each success.

use std::sync::Arc;
use std::time::{Duration, Instant};

use skylark_protocol::body::MessageQueue;

use super::concurrent::send_message_back;
use super::listener::{ConsumeOrderlyContext, ConsumeOrderlyStatus, run_guarded};
use super::message_ext::MessageExt;
use super::process_queue::ProcessQueue;
use super::push::{Listener, Shared};

/// How long one task consumes before yielding to others (Java's 60 s).
const MAX_TIME_CONSUME_CONTINUOUSLY: Duration = Duration::from_secs(60);
/// Pause before retrying a queue whose lock is not held.
const RELOCK_DELAY: Duration = Duration::from_secs(3);

/// Starts the queue's consume task (the caller saw it idle).
pub(crate) fn submit(shared: &Arc<Shared>, mq: &MessageQueue, pq: &Arc<ProcessQueue>) {
    tokio::spawn(consume(shared.clone(), mq.clone(), pq.clone()));
}

async fn consume(shared: Arc<Shared>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
    let Listener::Orderly(listener) = &shared.listener else {
        return;
    };
    let batch = shared.config.consume_message_batch_max_size;
    let mut started = Instant::now();
    loop {
        if pq.is_dropped() || shared.is_stopping() {
            pq.set_orderly_idle();
            return;
        }
        if shared.is_clustering() && (!pq.is_locked() || pq.is_lock_expired()) {
            tracing::debug!(%mq, "orderly queue not locked; waiting for the lock");
            if !shared.sleep(RELOCK_DELAY).await {
                pq.set_orderly_idle();
                return;
            }
            continue;
        }
        if started.elapsed() > MAX_TIME_CONSUME_CONTINUOUSLY {
            tokio::task::yield_now().await;
            started = Instant::now();
        }
        let Ok(permit) = shared.permits.clone().acquire_owned().await else {
            pq.set_orderly_idle();
            return;
        };
        let msgs = pq.take_orderly(batch);
        if msgs.is_empty() {
            // take_orderly marked the queue idle: the next pull restarts us.
            return;
        }
        let guard = pq.consume_lock.lock().await;
        if pq.is_dropped() {
            drop(guard);
            pq.consume_again(msgs);
            pq.set_orderly_idle();
            return;
        }
        pq.touch_consume();
        let mut ctx = ConsumeOrderlyContext {
            message_queue: mq.clone(),
            suspend_current_queue_time: shared.config.suspend_current_queue_time,
        };
        let status = run_guarded(|| listener.consume_message(&msgs, &mut ctx))
            .await
            .unwrap_or_else(|| {
                tracing::warn!(%mq, "orderly listener panicked; suspending the queue");
                ConsumeOrderlyStatus::SuspendCurrentQueueAMoment
            });
        drop(guard);
        drop(permit);
        let commit = match status {
            ConsumeOrderlyStatus::Success => pq.commit_orderly(),
            ConsumeOrderlyStatus::SuspendCurrentQueueAMoment => {
                if send_exhausted_to_dlq(&shared, &msgs).await {
                    pq.commit_orderly()
                } else {
                    let again: Vec<MessageExt> = msgs
                        .into_iter()
                        .map(|mut m| {
                            m.stored.reconsume_times += 1;
                            m
                        })
                        .collect();
                    pq.consume_again(again);
                    if !shared.sleep(ctx.suspend_current_queue_time).await {
                        pq.set_orderly_idle();
                        return;
                    }
                    -1
                }
            }
        };
        if commit >= 0 && !pq.is_dropped() {
            shared.offsets.update(&mq, commit, false);
        }
    }
}

/// When every message of a suspended batch has used up its redeliveries,
/// sends them to the dead-letter queue and returns true (the batch counts
/// as consumed); false to retry the batch.
async fn send_exhausted_to_dlq(shared: &Shared, msgs: &[MessageExt]) -> bool {
    let max = shared.max_reconsume_times();
    if msgs.iter().any(|m| m.reconsume_times() < max) {
        return false;
    }
    for m in msgs {
        // A negative delay level sends it to %DLQ%group directly.
        if let Err(error) = send_message_back(shared, m, -1).await {
            tracing::warn!(msg_id = %m.msg_id(), %error, "sending an exhausted orderly message to the DLQ failed");
            return false;
        }
    }
    true
}
