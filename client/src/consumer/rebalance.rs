//! Rebalancing a push consumer's queues (Java's `RebalanceImpl` /
//! `RebalancePushImpl`): every `rebalance_interval` and when a broker says
//! the group changed, each member asks a broker for the member list,
//! allocates from the sorted lists, drops queues it lost (committing their
//! offsets, releasing orderly locks) and starts pulling queues it gained
//! from their committed offset or the consume-from-where position.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::body::{ConsumeFromWhere, MessageModel, MessageQueue};
use skylark_protocol::message::topic::is_retry_topic;

use super::allocate::{AllocateStrategy, allocate_sorted};
use super::broker_api;
use super::offset_store::{OffsetStore, ReadOffsetType};
use super::process_queue::ProcessQueue;
use super::pull_service;
use super::push::Shared;
use crate::error::ClientError;
use crate::instance::ClientInstance;

/// How often an orderly consumer renews its queue locks (Java's 20 s).
pub(crate) const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);
/// Pause before the next rebalance when this one could not take every
/// allocated queue (a lock still held by the previous owner), as Java 5's
/// `rocketmq.client.rebalance.minInterval`.
pub(crate) const UNBALANCED_RETRY: Duration = Duration::from_secs(1);

/// Rebalances at start, then every period or when woken; again after
/// [`UNBALANCED_RETRY`] while not every allocated queue could be taken.
pub(crate) async fn rebalance_loop(shared: Arc<Shared>) {
    loop {
        let balanced = do_rebalance(&shared).await;
        let woken = shared.rebalance_now.notified();
        let wait = if balanced {
            shared.config.rebalance_interval
        } else {
            UNBALANCED_RETRY
        };
        tokio::select! {
            keep_going = shared.sleep(wait) => {
                if !keep_going {
                    return;
                }
            }
            () = woken => {}
        }
        if shared.is_stopping() {
            return;
        }
    }
}

/// One rebalance of every subscribed topic; false when some allocated
/// queue could not be taken.
pub(crate) async fn do_rebalance(shared: &Arc<Shared>) -> bool {
    let subs = shared.subscriptions_snapshot();
    let mut balanced = true;
    for sub in &subs {
        if shared.is_stopping() {
            return true;
        }
        match rebalance_topic(shared, &sub.topic).await {
            Ok(taken_all) => balanced &= taken_all,
            Err(error) => {
                let level_debug = is_retry_topic(&sub.topic);
                if level_debug {
                    tracing::debug!(group = %shared.config.group, topic = %sub.topic, %error, "rebalance skipped");
                } else {
                    tracing::warn!(group = %shared.config.group, topic = %sub.topic, %error, "rebalance skipped");
                }
            }
        }
    }
    // Queues of topics no longer subscribed.
    let topics: HashSet<&str> = subs.iter().map(|s| s.topic.as_str()).collect();
    let stale: Vec<(MessageQueue, Arc<ProcessQueue>)> = shared
        .queues()
        .iter()
        .filter(|(mq, _)| !topics.contains(mq.topic.as_str()))
        .map(|(mq, pq)| (mq.clone(), pq.clone()))
        .collect();
    for (mq, pq) in stale {
        pq.set_dropped();
        shared.queues().remove(&mq);
    }
    balanced
}

/// Rebalances one topic; true when every allocated queue is held.
async fn rebalance_topic(shared: &Arc<Shared>, topic: &str) -> Result<bool, ClientError> {
    let mine = allocated_queues(
        &shared.instance,
        shared.config.message_model,
        &shared.config.group,
        shared.config.allocate_strategy.as_ref(),
        topic,
    )
    .await?;
    update_queues(shared, topic, &mine).await;
    let held = shared.queues();
    Ok(mine.iter().all(|mq| held.contains_key(mq)))
}

/// The queues of `topic` this member should hold: all of them when
/// broadcasting, else its share of the group's members' allocation.
pub(crate) async fn allocated_queues(
    instance: &ClientInstance,
    model: MessageModel,
    group: &str,
    strategy: &dyn AllocateStrategy,
    topic: &str,
) -> Result<Vec<MessageQueue>, ClientError> {
    let route = instance.topic_route(topic).await?;
    let all = route.read_queues.clone();
    match model {
        MessageModel::Broadcasting => Ok(all),
        MessageModel::Clustering => {
            let ids = broker_api::consumer_ids(instance, topic, group).await?;
            if ids.is_empty() {
                return Err(ClientError::NotFound(format!(
                    "no members of group {group} known to the brokers of {topic}"
                )));
            }
            allocate_sorted(strategy, group, instance.client_id(), &all, &ids)
                .map_err(|e| ClientError::InvalidArgument(format!("allocation: {e}")))
        }
    }
}

/// Makes the topic's held queues equal `mine`.
async fn update_queues(shared: &Arc<Shared>, topic: &str, mine: &[MessageQueue]) {
    let wanted: BTreeSet<&MessageQueue> = mine.iter().collect();
    let lost: Vec<(MessageQueue, Arc<ProcessQueue>)> = shared
        .queues()
        .iter()
        .filter(|(mq, _)| mq.topic == topic && !wanted.contains(mq))
        .map(|(mq, pq)| (mq.clone(), pq.clone()))
        .collect();
    for (mq, pq) in lost {
        pq.set_dropped();
        if release_queue(shared, &mq, &pq).await {
            shared.queues().remove(&mq);
            tracing::info!(group = %shared.config.group, %mq, "queue released");
        }
    }
    let held: HashSet<MessageQueue> = shared.queues().keys().cloned().collect();
    for mq in mine.iter().filter(|mq| !held.contains(*mq)) {
        if shared.is_stopping() {
            return;
        }
        let orderly_locked = shared.is_orderly() && shared.is_clustering();
        if orderly_locked && !lock_one(shared, mq).await {
            tracing::info!(group = %shared.config.group, %mq, "queue locked by another member, not taken now");
            continue;
        }
        shared.offsets.remove(mq);
        let offset = match compute_pull_from_where(shared, mq).await {
            Ok(o) => o,
            Err(error) => {
                tracing::warn!(group = %shared.config.group, %mq, %error, "no start offset, queue not taken now");
                continue;
            }
        };
        let pq = Arc::new(ProcessQueue::new());
        if orderly_locked {
            pq.set_locked(true);
        }
        shared.queues().insert(mq.clone(), pq.clone());
        tracing::info!(group = %shared.config.group, %mq, offset, "queue taken");
        tokio::spawn(pull_service::pull_loop(
            shared.clone(),
            mq.clone(),
            pq,
            offset,
        ));
    }
}

/// Takes the offsets a broker reset (RESET_CONSUMER_CLIENT_OFFSET), as
/// Java's `MQClientInstance.resetOffset`: each held queue of `topic` in
/// `table` is dropped (its pull loop ends and finishing listener calls no
/// longer move its offset), gets the new offset, which is committed, and is
/// let go (an orderly queue's lock released once no listener call runs on
/// it); the rebalance woken afterwards takes it again from the committed
/// offset. Java sleeps 10 s between dropping and committing so that running
/// listener calls end first; here a call ending later finds the queue
/// dropped and leaves the offset alone (only one that checked the drop flag
/// just before it was set can still raise it).
pub(crate) async fn reset_offsets(
    shared: &Arc<Shared>,
    topic: &str,
    table: &BTreeMap<MessageQueue, i64>,
) {
    let reset: Vec<(MessageQueue, Arc<ProcessQueue>, i64)> = shared
        .queues()
        .iter()
        .filter(|(mq, _)| mq.topic == topic)
        .filter_map(|(mq, pq)| table.get(mq).map(|&o| (mq.clone(), pq.clone(), o)))
        .collect();
    for (_, pq, _) in &reset {
        pq.set_dropped();
    }
    for (mq, pq, offset) in reset {
        shared.offsets.update(&mq, offset, false);
        // Committed by the first attempt; an orderly queue is let go once
        // its running listener call has seen the drop and returned.
        while !release_queue(shared, &mq, &pq).await {
            if shared.is_stopping() {
                return;
            }
        }
        {
            let mut queues = shared.queues();
            if queues.get(&mq).is_some_and(|held| Arc::ptr_eq(held, &pq)) {
                queues.remove(&mq);
            }
        }
        tracing::info!(group = %shared.config.group, %mq, offset, "offset reset by the broker");
    }
    shared.rebalance_now.notify_one();
}

/// Commits a lost queue's offset and, for orderly consumers, releases its
/// lock once no listener call runs on it; false to keep it for now.
async fn release_queue(shared: &Arc<Shared>, mq: &MessageQueue, pq: &Arc<ProcessQueue>) -> bool {
    if let Err(error) = shared.offsets.persist(mq).await {
        tracing::warn!(group = %shared.config.group, %mq, %error, "offset of a released queue not committed");
    }
    shared.offsets.remove(mq);
    if shared.is_orderly() && shared.is_clustering() {
        let Ok(guard) = tokio::time::timeout(Duration::from_secs(1), pq.consume_lock.lock()).await
        else {
            return false;
        };
        drop(guard);
        let set = BTreeSet::from([mq.clone()]);
        if let Err(error) = broker_api::unlock_batch(
            &shared.instance,
            &shared.config.group,
            &mq.topic,
            &mq.broker_name,
            set,
        )
        .await
        {
            tracing::warn!(group = %shared.config.group, %mq, %error, "unlock failed");
        }
    }
    true
}

/// Where a newly taken queue starts: the committed offset, else the
/// consume-from-where position (Java's `computePullFromWhereWithException`).
pub(crate) async fn compute_pull_from_where(
    shared: &Shared,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    start_offset(
        &shared.instance,
        &shared.offsets,
        shared.config.consume_from_where,
        shared.config.consume_timestamp_ms,
        mq,
    )
    .await
}

/// [`compute_pull_from_where`] for any consumer.
pub(crate) async fn start_offset(
    instance: &ClientInstance,
    offsets: &OffsetStore,
    from: ConsumeFromWhere,
    timestamp_ms: i64,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    if let Some(offset) = offsets.read(mq, ReadOffsetType::Store).await?
        && offset >= 0
    {
        return Ok(offset);
    }
    let retry = is_retry_topic(&mq.topic);
    match from {
        ConsumeFromWhere::ConsumeFromFirstOffset => Ok(0),
        ConsumeFromWhere::ConsumeFromTimestamp => {
            if retry {
                broker_api::max_offset(instance, mq).await
            } else {
                broker_api::search_offset(instance, mq, timestamp_ms).await
            }
        }
        // LAST and the deprecated MIN/MAX/LAST_AND_FROM_MIN all act as LAST.
        _ => {
            if retry {
                Ok(0)
            } else {
                broker_api::max_offset(instance, mq).await
            }
        }
    }
}

/// Locks one queue for this member (LOCK_BATCH_MQ); true when held.
async fn lock_one(shared: &Shared, mq: &MessageQueue) -> bool {
    let set = BTreeSet::from([mq.clone()]);
    match broker_api::lock_batch(
        &shared.instance,
        &shared.config.group,
        &mq.topic,
        &mq.broker_name,
        set,
    )
    .await
    {
        Ok(locked) => locked.contains(mq),
        Err(error) => {
            tracing::warn!(group = %shared.config.group, %mq, %error, "lock failed");
            false
        }
    }
}

/// Renews the locks of every held queue every [`LOCK_RENEW_INTERVAL`].
pub(crate) async fn lock_loop(shared: Arc<Shared>) {
    while shared.sleep(LOCK_RENEW_INTERVAL).await {
        lock_all(&shared).await;
    }
}

/// Locks every held queue, broker by broker, and marks each process queue
/// locked or not by the answer.
pub(crate) async fn lock_all(shared: &Shared) {
    let held: Vec<(MessageQueue, Arc<ProcessQueue>)> = shared
        .queues()
        .iter()
        .map(|(mq, pq)| (mq.clone(), pq.clone()))
        .collect();
    for ((topic, broker), qs) in by_broker(held.iter().map(|(mq, _)| mq)) {
        match broker_api::lock_batch(
            &shared.instance,
            &shared.config.group,
            &topic,
            &broker,
            qs.clone(),
        )
        .await
        {
            Ok(locked) => {
                for (mq, pq) in held.iter().filter(|(mq, _)| qs.contains(mq)) {
                    let ok = locked.contains(mq);
                    if !ok && pq.is_locked() {
                        tracing::warn!(group = %shared.config.group, %mq, "queue lock lost");
                    }
                    pq.set_locked(ok);
                }
            }
            Err(error) => {
                tracing::warn!(group = %shared.config.group, %broker, %error, "lock renewal failed");
            }
        }
    }
}

/// Releases the locks of `mqs` (shutdown).
pub(crate) async fn unlock_all(shared: &Shared, mqs: &[MessageQueue]) {
    for ((topic, broker), qs) in by_broker(mqs.iter()) {
        if let Err(error) =
            broker_api::unlock_batch(&shared.instance, &shared.config.group, &topic, &broker, qs)
                .await
        {
            tracing::warn!(group = %shared.config.group, %broker, %error, "unlock failed");
        }
    }
}

/// Queues grouped by (a topic of theirs, broker name): a lock request goes
/// to one broker, found through any topic it serves.
fn by_broker<'a>(
    mqs: impl Iterator<Item = &'a MessageQueue>,
) -> BTreeMap<(String, String), BTreeSet<MessageQueue>> {
    let mut out: BTreeMap<String, (String, BTreeSet<MessageQueue>)> = BTreeMap::new();
    for mq in mqs {
        out.entry(mq.broker_name.clone())
            .or_insert_with(|| (mq.topic.clone(), BTreeSet::new()))
            .1
            .insert(mq.clone());
    }
    out.into_iter()
        .map(|(broker, (topic, qs))| ((topic, broker), qs))
        .collect()
}
