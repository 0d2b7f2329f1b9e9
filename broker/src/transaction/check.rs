//! The transaction check (Java's `TransactionalMessageCheckService` and
//! `TransactionalMessageServiceImpl.check`): every `transactionCheckInterval`
//! each half queue is read from where the last pass stopped, and every half
//! without an op record is judged ([`judge`]): old enough ones are stored
//! again with their check count and their producer is asked about them
//! (CHECK_TRANSACTION_STATE, oneway); ones checked `transactionCheckMax`
//! times are discarded into `TRANS_CHECK_MAX_TIME_TOPIC`.
//!
//! Where a pass stopped is kept as the consumer offsets of group
//! `CID_RMQ_SYS_TRANS` on the half and op queues, as Java keeps it, so a
//! restart neither re-checks resolved halves nor forgets unresolved ones.

use std::time::{Duration, Instant};

use skylark_protocol::message::record;
use skylark_protocol::message::topic::{
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, RMQ_SYS_TRANS_HALF_TOPIC, RMQ_SYS_TRANS_OP_HALF_TOPIC,
};
use skylark_protocol::message::{PermName, StoredMessage};
use skylark_store::message_store::GetMessageStatus;
use tokio::sync::watch;

use super::CHECK_GROUP;
use super::half::{check_request, discarded, renewed};
use super::resolved::Resolved;
use super::verdict::{CheckLimits, Verdict, judge};
use crate::broker::Broker;
use crate::topic_config::now_ms;

/// Longest a pass spends on one half queue (`MAX_PROCESS_TIME_LIMIT`).
const MAX_QUEUE_TIME: Duration = Duration::from_secs(60);
/// Op records read per store read (`OP_MSG_PULL_NUMS`).
const OP_READ_BATCH: usize = 32;
/// How long sending one check may wait for room on the producer's connection.
const CHECK_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// How a pass over one half queue ended.
struct QueueOutcome {
    /// Halves at or after the queue's new check offset without an op record.
    pending: i64,
}

impl Broker {
    /// One check pass over every half queue; stops early once `stopped`
    /// turns true. Sets the pending-halves gauge to what it found.
    pub(crate) async fn check_transactions(&self, stopped: &watch::Receiver<bool>) {
        // Masters check; a replica, or a master fenced by a newer epoch, does not.
        if !self.ha.is_master() || self.ha_role.is_fenced() {
            return;
        }
        let queues = match self.topics.get(RMQ_SYS_TRANS_HALF_TOPIC) {
            Some(config) => config.read_queue_nums.max(0),
            None => {
                tracing::warn!("no {RMQ_SYS_TRANS_HALF_TOPIC} topic; nothing to check");
                return;
            }
        };
        let limits = CheckLimits {
            timeout_ms: i64::try_from(self.config.transaction_time_out).unwrap_or(i64::MAX),
            check_max: self.config.transaction_check_max,
            max_age_ms: i64::from(self.config.store.file_reserved_time).saturating_mul(3_600_000),
        };
        let mut pending = 0;
        for queue_id in 0..queues {
            if *stopped.borrow() {
                return;
            }
            pending += self.check_queue(queue_id, &limits, stopped).await.pending;
        }
        self.metrics.set_transaction_halves_pending(pending);
    }

    /// One pass over half queue `queue_id`.
    async fn check_queue(
        &self,
        queue_id: i32,
        limits: &CheckLimits,
        stopped: &watch::Receiver<bool>,
    ) -> QueueOutcome {
        let pass_started = now_ms();
        let deadline = Instant::now() + MAX_QUEUE_TIME;
        let half_start = self.check_offset(RMQ_SYS_TRANS_HALF_TOPIC, queue_id);
        let op_start = self.check_offset(RMQ_SYS_TRANS_OP_HALF_TOPIC, queue_id);
        let mut resolved = Resolved::new(op_start);
        self.read_ops(queue_id, &mut resolved);

        let mut at = half_start;
        let mut misses = 0;
        while Instant::now() < deadline && !*stopped.borrow() {
            if resolved.contains(at) {
                at += 1;
                continue;
            }
            let found = self.store.get_messages(
                RMQ_SYS_TRANS_HALF_TOPIC,
                queue_id,
                at,
                1,
                usize::MAX,
                &|_| true,
            );
            let Some(bytes) = found.messages.first() else {
                use GetMessageStatus as S;
                misses += 1;
                let nothing_new = matches!(
                    found.status,
                    S::NoMessageInQueue | S::OffsetOverflowOne | S::NoMatchedLogicQueue
                );
                // A hole (deleted or damaged) is stepped over once per pass.
                if nothing_new || misses > 1 || found.next_begin_offset <= at {
                    break;
                }
                tracing::info!(
                    queue_id,
                    offset = at,
                    next = found.next_begin_offset,
                    status = found.status.java_name(),
                    "half queue offset unreadable; moving on"
                );
                at = found.next_begin_offset;
                continue;
            };
            let half = match record::decode(bytes) {
                Ok((half, _)) => half,
                Err(error) => {
                    tracing::error!(queue_id, offset = at, %error, "damaged half message; skipped");
                    at += 1;
                    continue;
                }
            };
            let verdict = judge(&half, now_ms(), pass_started, limits, |offset| {
                resolved.contains(offset)
            });
            let moved_on = match verdict {
                Verdict::Wait => false,
                Verdict::Resolved => true,
                Verdict::Discard => {
                    self.discard_half(half).await;
                    true
                }
                Verdict::Defer { check_times } => {
                    let offset = half.queue_offset;
                    self.put_back(&renewed(&half, check_times, Some(offset)))
                        .await
                        .is_some()
                }
                Verdict::Check { check_times } => {
                    // An op record written since the pass started wins.
                    self.read_ops(queue_id, &mut resolved);
                    resolved.contains(at) || self.check_half(&half, check_times).await
                }
            };
            if !moved_on {
                break;
            }
            at += 1;
        }

        if at != half_start {
            self.offsets
                .commit(CHECK_GROUP, RMQ_SYS_TRANS_HALF_TOPIC, queue_id, at);
        }
        self.read_ops(queue_id, &mut resolved);
        let op_done = resolved.done_until(at);
        if op_done != op_start {
            self.offsets
                .commit(CHECK_GROUP, RMQ_SYS_TRANS_OP_HALF_TOPIC, queue_id, op_done);
        }
        let half_end = self.store.max_offset(RMQ_SYS_TRANS_HALF_TOPIC, queue_id);
        let pending = (half_end - at).max(0) - resolved.count_between(at, half_end);
        tracing::debug!(
            queue_id,
            half_start,
            half_offset = at,
            op_start,
            op_offset = op_done,
            pending,
            "transaction check pass done"
        );
        QueueOutcome {
            pending: pending.max(0),
        }
    }

    /// Where the last pass stopped in `topic`/`queue_id`: the committed
    /// offset of `CID_RMQ_SYS_TRANS`, else the queue's first offset.
    fn check_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.offsets
            .query(CHECK_GROUP, topic, queue_id)
            .filter(|&offset| offset >= 0)
            .unwrap_or_else(|| self.store.min_offset(topic, queue_id))
    }

    /// Reads op queue `queue_id` from `resolved.next()` to its end.
    fn read_ops(&self, queue_id: i32, resolved: &mut Resolved) {
        use GetMessageStatus as S;
        loop {
            let from = resolved.next();
            let found = self.store.get_messages(
                RMQ_SYS_TRANS_OP_HALF_TOPIC,
                queue_id,
                from,
                OP_READ_BATCH,
                usize::MAX,
                &|_| true,
            );
            match found.status {
                S::Found => {
                    for (bytes, &offset) in found.messages.iter().zip(&found.queue_offsets) {
                        match record::decode(bytes) {
                            Ok((op, _)) => resolved.add(offset, op.tags(), &op.body),
                            Err(error) => {
                                tracing::error!(queue_id, offset, %error, "damaged op record; skipped");
                                resolved.add(offset, None, &[]);
                            }
                        }
                    }
                    resolved.skip_to(found.next_begin_offset);
                }
                S::NoMessageInQueue | S::OffsetOverflowOne | S::NoMatchedLogicQueue => return,
                other => {
                    tracing::warn!(
                        queue_id,
                        offset = from,
                        next = found.next_begin_offset,
                        status = other.java_name(),
                        "op queue offset unreadable; moving on"
                    );
                    resolved.skip_to(found.next_begin_offset);
                }
            }
            if resolved.next() <= from {
                return;
            }
        }
    }

    /// Stores `copy` of a half again; its queue and CommitLog offsets, or
    /// `None` (logged) when the store refused it.
    async fn put_back(&self, copy: &StoredMessage) -> Option<(i64, i64)> {
        let result = self.store.put_message(copy).await;
        match result.append.filter(|_| result.is_stored()) {
            Some(append) => Some((append.queue_offset, append.wrote_offset)),
            None => {
                tracing::error!(
                    status = %result.status, error = ?result.error,
                    "cannot store a half message again; it is checked in a later pass"
                );
                None
            }
        }
    }

    /// Stores a copy of `half` counting this check, then asks a producer of
    /// its group about it. False when the copy could not be stored.
    async fn check_half(&self, half: &StoredMessage, check_times: i32) -> bool {
        let copy = renewed(half, check_times, None);
        let Some((queue_offset, commit_log_offset)) = self.put_back(&copy).await else {
            return false;
        };
        let group = half.properties.producer_group().unwrap_or_default();
        let Some(conn) = self.producers.any_channel(group) else {
            tracing::warn!(
                group, uniq_key = ?half.uniq_key(), check_times,
                "no producer of the group is connected; transaction check not sent"
            );
            return true;
        };
        let Some(request) = check_request(
            copy,
            queue_offset,
            commit_log_offset,
            &self.config.broker_name,
        ) else {
            return true;
        };
        tracing::info!(
            group, remote = %conn.remote_addr(), uniq_key = ?half.uniq_key(), queue_offset,
            commit_log_offset, check_times, "checking transaction state"
        );
        match tokio::time::timeout(CHECK_SEND_TIMEOUT, conn.send_oneway(request)).await {
            Ok(Ok(())) => self.metrics.record_transaction_check(),
            Ok(Err(error)) => {
                tracing::warn!(group, remote = %conn.remote_addr(), %error, "transaction check not sent");
            }
            Err(_) => {
                tracing::warn!(group, remote = %conn.remote_addr(), "transaction check timed out");
            }
        }
        true
    }

    /// Moves `half` into `TRANS_CHECK_MAX_TIME_TOPIC`
    /// (`DefaultTransactionalMessageCheckListener.resolveDiscardMsg`).
    async fn discard_half(&self, half: StoredMessage) {
        let uniq_key = half.uniq_key().map(str::to_owned);
        let real_topic = half.properties.real_topic().map(str::to_owned);
        tracing::warn!(
            ?uniq_key,
            ?real_topic,
            offset = half.queue_offset,
            "half message checked too often or too old; discarded into {RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC}"
        );
        if let Err(error) = self.topics.create_in_send_back(
            RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
            1,
            PermName::READ | PermName::WRITE,
            0,
        ) {
            tracing::error!(%error, "cannot save the topic for discarded half messages");
        }
        let record = discarded(half);
        let result = self.store.put_message(&record).await;
        if result.is_stored() {
            self.metrics.record_transaction_discard();
            self.metrics.transaction_half_resolved();
        } else {
            tracing::error!(
                ?uniq_key, status = %result.status, error = ?result.error,
                "cannot store a discarded half message"
            );
        }
    }
}
