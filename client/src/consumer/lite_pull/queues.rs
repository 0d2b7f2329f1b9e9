//! The lite pull consumer's queues: rebalancing subscribed topics, the
//! periodic commit, and one pull task per held queue feeding `poll`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use skylark_protocol::RequestCode;
use skylark_protocol::body::MessageQueue;
use skylark_protocol::headers::PullMessageRequestHeader;
use skylark_protocol::message::PullSysFlag;

use super::{Batch, Lite, LiteQueue, Mode};
use crate::consumer::broker_api::{self, PullStatus};
use crate::consumer::message_ext::decode_pulled;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::rebalance::{allocated_queues, start_offset};
use crate::consumer::subscription::client_tags;

/// Pause when a queue's cache is over its thresholds.
const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);
/// Pause after a failed pull.
const ERROR_DELAY: Duration = Duration::from_secs(3);
/// How often polled offsets in memory are written to the store.
const PERSIST_INTERVAL: Duration = Duration::from_secs(5);

/// Rebalances subscribed topics every period or when woken.
pub(super) async fn rebalance_loop(lite: Arc<Lite>) {
    loop {
        if lite.mode() == Mode::Subscribe {
            rebalance(&lite).await;
        }
        let woken = lite.rebalance_now.notified();
        tokio::select! {
            alive = lite.sleep(lite.config.rebalance_interval) => if !alive { return },
            () = woken => {}
        }
        if lite.is_stopping() {
            return;
        }
    }
}

async fn rebalance(lite: &Arc<Lite>) {
    let topics: Vec<String> = lite
        .subscriptions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keys()
        .cloned()
        .collect();
    let mut mine = Vec::new();
    let mut settled = Vec::new();
    for topic in &topics {
        match allocated_queues(
            &lite.instance,
            lite.config.message_model,
            &lite.config.group,
            lite.config.allocate_strategy.as_ref(),
            topic,
        )
        .await
        {
            Ok(qs) => {
                mine.extend(qs);
                settled.push(topic.as_str());
            }
            Err(error) => {
                tracing::warn!(group = %lite.config.group, %topic, %error, "rebalance skipped");
            }
        }
    }
    set_queues(lite, settled.into_iter().collect(), &mine).await;
}

/// Makes the held queues of `topics` equal `mine`: lost ones are dropped
/// (their offsets committed), new ones start pulling.
pub(super) async fn set_queues(lite: &Arc<Lite>, topics: HashSet<&str>, mine: &[MessageQueue]) {
    let wanted: BTreeSet<&MessageQueue> = mine.iter().collect();
    let lost: Vec<(MessageQueue, Arc<LiteQueue>)> = lite
        .queues()
        .iter()
        .filter(|(mq, _)| {
            !wanted.contains(mq)
                && (topics.contains(mq.topic.as_str()) || lite.mode() == Mode::Assign)
        })
        .map(|(mq, q)| (mq.clone(), q.clone()))
        .collect();
    for (mq, q) in lost {
        q.pq.set_dropped();
        let consumed = q.consumed.load(Ordering::Acquire);
        if consumed >= 0 {
            lite.offsets.update(&mq, consumed, false);
        }
        if let Err(error) = lite.offsets.persist(&mq).await {
            tracing::warn!(%mq, %error, "offset of a released queue not committed");
        }
        lite.offsets.remove(&mq);
        lite.queues().remove(&mq);
        tracing::info!(group = %lite.config.group, %mq, "queue released");
    }
    let held: HashSet<MessageQueue> = lite.queues().keys().cloned().collect();
    for mq in mine.iter().filter(|mq| !held.contains(*mq)) {
        restart_queue(lite, mq, None);
    }
}

/// (Re)starts pulling `mq`: from `seek` when given, else from its
/// committed offset or the consume-from-where position. A previous state
/// of the queue is dropped with what it had buffered.
pub(super) fn restart_queue(lite: &Arc<Lite>, mq: &MessageQueue, seek: Option<i64>) {
    let queue = Arc::new(LiteQueue {
        pq: ProcessQueue::new(),
        consumed: AtomicI64::new(seek.unwrap_or(-1)),
    });
    if let Some(old) = lite.queues().insert(mq.clone(), queue.clone()) {
        old.pq.set_dropped();
    }
    tracing::info!(group = %lite.config.group, %mq, ?seek, "queue taken");
    tokio::spawn(pull_loop(lite.clone(), mq.clone(), queue, seek));
}

/// Commits polled offsets every [`PERSIST_INTERVAL`].
pub(super) async fn persist_loop(lite: Arc<Lite>) {
    while lite.sleep(PERSIST_INTERVAL).await {
        let held: Vec<MessageQueue> = lite.queues().keys().cloned().collect();
        if let Err(error) = lite.offsets.persist_all(&held).await {
            tracing::debug!(group = %lite.config.group, %error, "periodic offset commit incomplete");
        }
    }
}

async fn pull_loop(lite: Arc<Lite>, mq: MessageQueue, queue: Arc<LiteQueue>, seek: Option<i64>) {
    let pq = &queue.pq;
    let mut next = match seek {
        Some(o) => o,
        None => loop {
            if pq.is_dropped() || lite.is_stopping() {
                return;
            }
            match start_offset(
                &lite.instance,
                &lite.offsets,
                lite.config.consume_from_where,
                lite.config.consume_timestamp_ms,
                &mq,
            )
            .await
            {
                Ok(o) => break o,
                Err(error) => {
                    tracing::warn!(%mq, %error, "no start offset yet");
                    if !pause(&lite, pq, ERROR_DELAY).await {
                        return;
                    }
                }
            }
        },
    };
    let broker_name: Arc<str> = Arc::from(mq.broker_name.as_str());
    let size_limit = lite
        .config
        .pull_threshold_size_for_queue_mib
        .saturating_mul(1024 * 1024);
    loop {
        if pq.is_dropped() || lite.is_stopping() {
            return;
        }
        if pq.cached_count() > lite.config.pull_threshold_for_queue
            || pq.cached_bytes() > size_limit
        {
            if !pause(&lite, pq, FLOW_CONTROL_DELAY).await {
                return;
            }
            continue;
        }
        let Some(sub) = lite.subscription(&mq.topic) else {
            if !pause(&lite, pq, ERROR_DELAY).await {
                return;
            }
            continue;
        };
        let header = PullMessageRequestHeader {
            consumer_group: lite.config.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: next,
            max_msg_nums: lite.config.pull_batch_size,
            sys_flag: PullSysFlag::build(false, true, true, false, true),
            commit_offset: 0,
            suspend_timeout_millis: i64::try_from(lite.config.broker_suspend_max_time.as_millis())
                .unwrap_or(i64::MAX),
            subscription: Some(sub.sub_string.clone()),
            sub_version: sub.sub_version,
            expression_type: Some(sub.expression_type.clone()),
            max_msg_bytes: None,
            request_source: None,
            proxy_froward_client_id: None,
            broker_name: Some(mq.broker_name.clone()),
        };
        let pulled = tokio::select! {
            r = broker_api::pull(
                &lite.instance,
                RequestCode::LITE_PULL_MESSAGE,
                &mq,
                &header,
                lite.config.consumer_timeout_when_suspend,
            ) => r,
            () = pq.dropped() => return,
        };
        let result = match pulled {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%mq, next, %error, "lite pull failed");
                if !pause(&lite, pq, ERROR_DELAY).await {
                    return;
                }
                continue;
            }
        };
        match result.status {
            PullStatus::Found => {
                let msgs = match decode_pulled(result.body, &broker_name, client_tags(&sub), None) {
                    Ok(m) => m,
                    Err(error) => {
                        tracing::error!(%mq, next, %error, "pulled records do not decode; retrying the pull");
                        if !pause(&lite, pq, ERROR_DELAY).await {
                            return;
                        }
                        continue;
                    }
                };
                next = result.next_begin_offset;
                if msgs.is_empty() {
                    continue;
                }
                pq.put_concurrent(&msgs);
                let batch = Batch {
                    mq: mq.clone(),
                    queue: queue.clone(),
                    msgs,
                };
                tokio::select! {
                    sent = lite.tx.send(batch) => if sent.is_err() { return },
                    () = pq.dropped() => return,
                }
            }
            PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => next = result.next_begin_offset,
            PullStatus::OffsetIllegal => {
                tracing::warn!(%mq, requested = next, next = result.next_begin_offset, "pull offset out of range");
                next = result.next_begin_offset;
            }
        }
    }
}

async fn pause(lite: &Lite, pq: &ProcessQueue, d: Duration) -> bool {
    tokio::select! {
        alive = lite.sleep(d) => alive && !pq.is_dropped(),
        () = pq.dropped() => false,
    }
}
