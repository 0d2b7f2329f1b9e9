//! Queue locks for orderly consumption (`RebalanceLockManager`): one
//! client per group holds a queue, for 60 s unless renewed.
//!
//! Locks outlive the holder's connection, as in Java: a consumer that
//! reconnects keeps its queues, and one that died frees them when the lock
//! expires (its peers retry every 20 s).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::body::MessageQueue;

/// How long a lock lives without renewal (`rocketmq.broker.rebalance.lockMaxLiveTime`, 60 000 ms).
pub const DEFAULT_LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

/// The locks of every group.
#[derive(Debug)]
pub struct RebalanceLockManager {
    max_live: Duration,
    /// Group → queue → holder.
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

/// Who holds one queue, and since when it last renewed.
#[derive(Debug)]
struct LockEntry {
    client_id: String,
    last_update: Instant,
}

impl LockEntry {
    fn is_expired(&self, now: Instant, max_live: Duration) -> bool {
        now.saturating_duration_since(self.last_update) > max_live
    }
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        Self::new(DEFAULT_LOCK_MAX_LIVE_TIME)
    }
}

impl RebalanceLockManager {
    /// Locks expire `max_live` after their last renewal.
    pub fn new(max_live: Duration) -> Self {
        Self {
            max_live,
            table: Mutex::default(),
        }
    }

    /// Locks (or renews) each of `mqs` for `client_id` in `group` and
    /// returns the ones it now holds: a queue is granted when it is free,
    /// already held by `client_id`, or its holder's lock expired.
    pub fn try_lock_batch(
        &self,
        group: &str,
        mqs: BTreeSet<MessageQueue>,
        client_id: &str,
    ) -> BTreeSet<MessageQueue> {
        self.try_lock_batch_at(group, mqs, client_id, Instant::now())
    }

    /// [`Self::try_lock_batch`] as if at `now`.
    pub(crate) fn try_lock_batch_at(
        &self,
        group: &str,
        mqs: BTreeSet<MessageQueue>,
        client_id: &str,
        now: Instant,
    ) -> BTreeSet<MessageQueue> {
        let mut locked = BTreeSet::new();
        if mqs.is_empty() {
            return locked;
        }
        let mut table = self.lock();
        if !table.contains_key(group) {
            table.insert(group.to_owned(), HashMap::new());
        }
        let Some(queues) = table.get_mut(group) else {
            return locked;
        };
        for mq in mqs {
            match queues.get_mut(&mq) {
                None => {
                    tracing::info!(group, client_id, %mq, "queue locked");
                    queues.insert(
                        mq.clone(),
                        LockEntry {
                            client_id: client_id.to_owned(),
                            last_update: now,
                        },
                    );
                }
                Some(entry) if entry.client_id == client_id => entry.last_update = now,
                Some(entry) if entry.is_expired(now, self.max_live) => {
                    tracing::warn!(
                        group, %mq, old = %entry.client_id, new = client_id,
                        "expired queue lock taken over"
                    );
                    entry.client_id = client_id.to_owned();
                    entry.last_update = now;
                }
                Some(entry) => {
                    tracing::warn!(
                        group, %mq, holder = %entry.client_id, client_id,
                        "queue is locked by another client"
                    );
                    continue;
                }
            }
            locked.insert(mq);
        }
        locked
    }

    /// Releases each of `mqs` that `client_id` holds in `group`; locks held
    /// by another client stay.
    pub fn unlock_batch(&self, group: &str, mqs: &BTreeSet<MessageQueue>, client_id: &str) {
        let mut table = self.lock();
        let Some(queues) = table.get_mut(group) else {
            tracing::debug!(group, client_id, "unlock: group holds no lock");
            return;
        };
        for mq in mqs {
            match queues.get(mq) {
                Some(entry) if entry.client_id == client_id => {
                    queues.remove(mq);
                    tracing::info!(group, client_id, %mq, "queue unlocked");
                }
                Some(entry) => tracing::warn!(
                    group, %mq, holder = %entry.client_id, client_id,
                    "unlock refused: queue is locked by another client"
                ),
                None => tracing::debug!(group, client_id, %mq, "unlock: queue was not locked"),
            }
        }
        if queues.is_empty() {
            table.remove(group);
        }
    }

    /// Whether `client_id` holds a live lock on `mq` in `group`.
    pub fn is_locked(&self, group: &str, mq: &MessageQueue, client_id: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .get(group)
            .and_then(|queues| queues.get(mq))
            .is_some_and(|entry| {
                entry.client_id == client_id && !entry.is_expired(now, self.max_live)
            })
    }

    /// Whether every lock of `group` has expired (or it has none).
    pub fn is_lock_all_expired(&self, group: &str) -> bool {
        self.is_lock_all_expired_at(group, Instant::now())
    }

    /// [`Self::is_lock_all_expired`] as if at `now`.
    pub(crate) fn is_lock_all_expired_at(&self, group: &str, now: Instant) -> bool {
        self.lock().get(group).is_none_or(|queues| {
            queues
                .values()
                .all(|entry| entry.is_expired(now, self.max_live))
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<MessageQueue, LockEntry>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqs(ids: &[i32]) -> BTreeSet<MessageQueue> {
        ids.iter()
            .map(|&id| MessageQueue::new("T", "broker-a", id))
            .collect()
    }

    #[test]
    fn free_queues_are_granted_and_held_ones_refused() {
        let locks = RebalanceLockManager::default();
        assert_eq!(locks.try_lock_batch("G", mqs(&[0, 1]), "c1"), mqs(&[0, 1]));
        // c2 gets only the queue c1 does not hold.
        assert_eq!(locks.try_lock_batch("G", mqs(&[1, 2]), "c2"), mqs(&[2]));
        // Renewal by the holder succeeds.
        assert_eq!(locks.try_lock_batch("G", mqs(&[0, 1]), "c1"), mqs(&[0, 1]));
        assert!(locks.is_locked("G", &MessageQueue::new("T", "broker-a", 1), "c1"));
        assert!(!locks.is_locked("G", &MessageQueue::new("T", "broker-a", 1), "c2"));
        // Groups are independent.
        assert_eq!(locks.try_lock_batch("H", mqs(&[0, 1]), "c2"), mqs(&[0, 1]));
        assert!(locks.try_lock_batch("G", BTreeSet::new(), "c1").is_empty());
    }

    #[test]
    fn expired_locks_are_taken_over() {
        let locks = RebalanceLockManager::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(locks.try_lock_batch_at("G", mqs(&[0]), "c1", t0), mqs(&[0]));
        // Exactly at the limit it still holds (Java: expired when diff > max).
        let at_limit = t0 + Duration::from_secs(60);
        assert!(
            locks
                .try_lock_batch_at("G", mqs(&[0]), "c2", at_limit)
                .is_empty()
        );
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            locks.try_lock_batch_at("G", mqs(&[0]), "c2", later),
            mqs(&[0])
        );
        // c1's renewal now fails: c2 holds it.
        assert!(
            locks
                .try_lock_batch_at("G", mqs(&[0]), "c1", later)
                .is_empty()
        );
    }

    #[test]
    fn renewal_extends_the_lock() {
        let locks = RebalanceLockManager::new(Duration::from_secs(60));
        let t0 = Instant::now();
        locks.try_lock_batch_at("G", mqs(&[0]), "c1", t0);
        let renewed = t0 + Duration::from_secs(50);
        locks.try_lock_batch_at("G", mqs(&[0]), "c1", renewed);
        let t = t0 + Duration::from_secs(100);
        assert!(locks.try_lock_batch_at("G", mqs(&[0]), "c2", t).is_empty());
        let t = renewed + Duration::from_secs(61);
        assert_eq!(locks.try_lock_batch_at("G", mqs(&[0]), "c2", t), mqs(&[0]));
    }

    #[test]
    fn only_the_holder_unlocks() {
        let locks = RebalanceLockManager::default();
        locks.try_lock_batch("G", mqs(&[0, 1]), "c1");
        locks.unlock_batch("G", &mqs(&[0, 1]), "c2");
        assert!(locks.try_lock_batch("G", mqs(&[0, 1]), "c2").is_empty());
        locks.unlock_batch("G", &mqs(&[0]), "c1");
        assert_eq!(locks.try_lock_batch("G", mqs(&[0, 1]), "c2"), mqs(&[0]));
        assert!(!locks.is_lock_all_expired("G"));
        locks.unlock_batch("G", &mqs(&[0]), "c2");
        locks.unlock_batch("G", &mqs(&[1]), "c1");
        assert!(locks.is_lock_all_expired("G"));
        // Unknown group: nothing happens.
        locks.unlock_batch("nope", &mqs(&[0]), "c1");
    }

    #[test]
    fn all_expired() {
        let locks = RebalanceLockManager::new(Duration::from_secs(60));
        assert!(locks.is_lock_all_expired("G"));
        let t0 = Instant::now();
        locks.try_lock_batch_at("G", mqs(&[0]), "c1", t0);
        locks.try_lock_batch_at("G", mqs(&[1]), "c2", t0 + Duration::from_secs(30));
        assert!(!locks.is_lock_all_expired_at("G", t0 + Duration::from_secs(61)));
        assert!(locks.is_lock_all_expired_at("G", t0 + Duration::from_secs(91)));
    }
}
