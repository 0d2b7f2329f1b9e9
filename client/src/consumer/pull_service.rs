//! The pull loop of one assigned queue (Java's `PullMessageService` and
//! `DefaultMQPushConsumerImpl.pullMessage`): long-polling pulls carrying
//! the commit offset, paused by flow control, handing what arrives to the
//! consume service, until the queue is dropped.

use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::RequestCode;
use skylark_protocol::body::MessageQueue;
use skylark_protocol::headers::PullMessageRequestHeader;
use skylark_protocol::message::PullSysFlag;

use super::broker_api::{self, PullStatus};
use super::message_ext::decode_pulled;
use super::offset_store::ReadOffsetType;
use super::process_queue::ProcessQueue;
use super::push::{Listener, Shared};
use super::subscription::client_tags;
use super::{concurrent, orderly};

/// Pause when a queue's cache is over its thresholds (Java's 50 ms).
const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);
/// Pause after a failed pull (Java's 3 s).
const ERROR_DELAY: Duration = Duration::from_secs(3);
/// Pause while an orderly queue waits for its lock.
const NOT_LOCKED_DELAY: Duration = Duration::from_secs(3);

/// Pulls `mq` from `next_offset` until `pq` is dropped or the consumer stops.
pub(crate) async fn pull_loop(
    shared: Arc<Shared>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    mut next_offset: i64,
) {
    let broker_name: Arc<str> = Arc::from(mq.broker_name.as_str());
    let retry_topic = shared.retry_topic();
    let size_limit = shared
        .config
        .pull_threshold_size_for_queue_mib
        .saturating_mul(1024 * 1024);
    let mut flow_controlled = 0u64;
    loop {
        if pq.is_dropped() || shared.is_stopping() {
            return;
        }
        pq.touch_pull();
        let over_count = pq.cached_count() > shared.config.pull_threshold_for_queue;
        let over_size = pq.cached_bytes() > size_limit;
        let over_span =
            !shared.is_orderly() && pq.max_span() > shared.config.consume_concurrently_max_span;
        if over_count || over_size || over_span {
            flow_controlled += 1;
            if flow_controlled % 1000 == 1 {
                tracing::warn!(
                    %mq,
                    cached = pq.cached_count(),
                    cached_bytes = pq.cached_bytes(),
                    span = pq.max_span(),
                    times = flow_controlled,
                    "pull paused: flow control"
                );
            }
            if !pause(&shared, &pq, FLOW_CONTROL_DELAY).await {
                return;
            }
            continue;
        }
        if shared.is_orderly() && shared.is_clustering() && !pq.is_locked() {
            if !pause(&shared, &pq, NOT_LOCKED_DELAY).await {
                return;
            }
            continue;
        }
        let Some(sub) = shared.subscription(&mq.topic) else {
            if !pause(&shared, &pq, ERROR_DELAY).await {
                return;
            }
            continue;
        };
        let commit_offset = if shared.is_clustering() {
            shared
                .offsets
                .read(&mq, ReadOffsetType::Memory)
                .await
                .ok()
                .flatten()
                .unwrap_or(0)
        } else {
            0
        };
        let header = PullMessageRequestHeader {
            consumer_group: shared.config.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: next_offset,
            max_msg_nums: shared.config.pull_batch_size,
            sys_flag: PullSysFlag::build(commit_offset > 0, true, false, false, false),
            commit_offset,
            suspend_timeout_millis: millis(shared.config.broker_suspend_max_time),
            subscription: None,
            sub_version: sub.sub_version,
            expression_type: Some(sub.expression_type.clone()),
            max_msg_bytes: None,
            request_source: None,
            proxy_froward_client_id: None,
            broker_name: Some(mq.broker_name.clone()),
        };
        let pulled = tokio::select! {
            r = broker_api::pull(
                &shared.instance,
                RequestCode::PULL_MESSAGE,
                &mq,
                &header,
                shared.config.consumer_timeout_when_suspend,
            ) => r,
            () = pq.dropped() => return,
        };
        let result = match pulled {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%mq, next_offset, %error, "pull failed");
                if !pause(&shared, &pq, ERROR_DELAY).await {
                    return;
                }
                continue;
            }
        };
        match result.status {
            PullStatus::Found => {
                let tags = client_tags(&sub);
                let msgs = match decode_pulled(result.body, &broker_name, tags, Some(&retry_topic))
                {
                    Ok(m) => m,
                    Err(error) => {
                        tracing::error!(%mq, next_offset, %error, "pulled records do not decode; retrying the pull");
                        if !pause(&shared, &pq, ERROR_DELAY).await {
                            return;
                        }
                        continue;
                    }
                };
                next_offset = result.next_begin_offset;
                if msgs.is_empty() {
                    correct_tags_offset(&shared, &mq, &pq, next_offset);
                } else {
                    dispatch(&shared, &mq, &pq, msgs);
                }
            }
            PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                next_offset = result.next_begin_offset;
                correct_tags_offset(&shared, &mq, &pq, next_offset);
            }
            PullStatus::OffsetIllegal => {
                tracing::warn!(
                    %mq,
                    requested = next_offset,
                    next = result.next_begin_offset,
                    min = result.min_offset,
                    max = result.max_offset,
                    "pull offset out of range (or reset); restarting the queue at the broker's offset"
                );
                // As Java: drop the queue so that results of messages still
                // being consumed are discarded (they would move the offset
                // past a reset), store the broker's offset, and let the
                // rebalance take the queue afresh from it.
                pq.set_dropped();
                shared.offsets.update(&mq, result.next_begin_offset, false);
                if let Err(error) = shared.offsets.persist(&mq).await {
                    tracing::warn!(%mq, %error, "corrected offset not committed");
                }
                {
                    let mut queues = shared.queues();
                    if queues.get(&mq).is_some_and(|held| Arc::ptr_eq(held, &pq)) {
                        queues.remove(&mq);
                    }
                }
                shared.rebalance_now.notify_one();
                return;
            }
        }
        if !shared.config.pull_interval.is_zero()
            && !pause(&shared, &pq, shared.config.pull_interval).await
        {
            return;
        }
    }
}

/// Hands pulled messages to the listener's consume service.
fn dispatch(
    shared: &Arc<Shared>,
    mq: &MessageQueue,
    pq: &Arc<ProcessQueue>,
    msgs: Vec<super::MessageExt>,
) {
    match &shared.listener {
        Listener::Concurrently(_) => {
            pq.put_concurrent(&msgs);
            concurrent::submit(shared, mq, pq, msgs);
        }
        Listener::Orderly(_) => {
            if pq.put_orderly(msgs) {
                orderly::submit(shared, mq, pq);
            }
        }
    }
}

/// With nothing in flight, the queue's offset may follow the pull offset
/// (messages skipped by a filter count as consumed).
fn correct_tags_offset(shared: &Shared, mq: &MessageQueue, pq: &ProcessQueue, next: i64) {
    if pq.cached_count() == 0 {
        shared.offsets.update(mq, next, true);
    }
}

/// Waits `d`; false when the queue was dropped or the consumer stopped.
async fn pause(shared: &Shared, pq: &ProcessQueue, d: Duration) -> bool {
    tokio::select! {
        alive = shared.sleep(d) => alive && !pq.is_dropped(),
        () = pq.dropped() => false,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
