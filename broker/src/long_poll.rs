//! Long polling (`PullRequestHoldService`): a pull that finds nothing new
//! waits on its queue's [`Notify`] until the dispatcher reports an arrival
//! in that queue or the client's suspend time runs out, then is re-run.
//!
//! One `Notify` per queue that has ever been pulled with suspension; the
//! dispatcher's listener looks it up by `&str` (no allocation per message)
//! and wakes every waiter, and each waiter re-checks the store itself (so a
//! wake-up for a message its filter rejects only costs one re-read).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Queues' wake-up signals and long-polling counters.
#[derive(Debug, Default)]
pub(crate) struct PullHoldService {
    queues: RwLock<HashMap<String, HashMap<i32, Arc<Notify>>>>,
    suspended: AtomicU64,
    wakeups: AtomicU64,
    /// Cancelled at shutdown: suspended pulls answer at once.
    stopping: CancellationToken,
}

impl PullHoldService {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The signal of `topic`/`queue_id`, created on first use.
    pub(crate) fn queue(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        if let Some(notify) = self
            .queues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .and_then(|queues| queues.get(&queue_id))
        {
            return notify.clone();
        }
        self.queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_default()
            .clone()
    }

    /// Called by the dispatcher for every new ConsumeQueue entry.
    pub(crate) fn message_arrived(&self, topic: &str, queue_id: i32) {
        let queues = self.queues.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = queues.get(topic).and_then(|q| q.get(&queue_id)) {
            notify.notify_waiters();
        }
    }

    /// Forgets a deleted topic's signals (waiters keep theirs until they time out).
    pub(crate) fn remove_topic(&self, topic: &str) {
        self.queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic);
    }

    /// Answers every suspended pull now and suspends no more (shutdown).
    pub(crate) fn stop(&self) {
        self.stopping.cancel();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Resolves once [`stop`](Self::stop) is called.
    pub(crate) fn stopped(&self) -> WaitForCancellationFuture<'_> {
        self.stopping.cancelled()
    }

    /// Counts a pull going to sleep; the guard counts it waking.
    pub(crate) fn suspend(&self) -> SuspendGuard<'_> {
        self.suspended.fetch_add(1, Ordering::Relaxed);
        SuspendGuard(self)
    }

    /// Counts a suspended pull woken by an arrival.
    pub(crate) fn count_wakeup(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// Pulls suspended right now.
    pub(crate) fn suspended(&self) -> u64 {
        self.suspended.load(Ordering::Relaxed)
    }

    /// Suspended pulls woken by an arrival since start.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}

/// Decrements the suspended count when the pull stops waiting.
#[derive(Debug)]
pub(crate) struct SuspendGuard<'a>(&'a PullHoldService);

impl Drop for SuspendGuard<'_> {
    fn drop(&mut self) {
        self.0.suspended.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn arrival_wakes_a_waiter_of_that_queue_only() {
        let holds = PullHoldService::new();
        let q0 = holds.queue("T", 0);
        let q1 = holds.queue("T", 1);
        let waiting0 = q0.notified();
        let waiting1 = q1.notified();
        tokio::pin!(waiting0, waiting1);
        waiting0.as_mut().enable();
        waiting1.as_mut().enable();
        holds.message_arrived("T", 0);
        holds.message_arrived("Other", 1);
        tokio::time::timeout(Duration::from_secs(1), waiting0)
            .await
            .expect("queue 0 woken");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), waiting1)
                .await
                .is_err(),
            "queue 1 must not be woken"
        );
    }

    #[test]
    fn same_queue_same_signal() {
        let holds = PullHoldService::new();
        let old = holds.queue("T", 3);
        assert!(Arc::ptr_eq(&old, &holds.queue("T", 3)));
        holds.remove_topic("T");
        assert!(!Arc::ptr_eq(&old, &holds.queue("T", 3)));
    }

    #[test]
    fn suspend_guard_counts() {
        let holds = PullHoldService::new();
        let a = holds.suspend();
        let b = holds.suspend();
        assert_eq!(holds.suspended(), 2);
        drop(a);
        drop(b);
        assert_eq!(holds.suspended(), 0);
    }
}
