//! [`ProcessQueue`]: what a consumer holds of one queue between pull and
//! commit — the in-flight offsets (and, for orderly consumers, the
//! messages), counted for flow control, and the queue's drop and lock state
//! (Java's `ProcessQueue`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::message_ext::MessageExt;
use super::subscription::now_millis;

/// How long a broker lock is trusted without renewal (Java's
/// `rocketmq.client.rebalance.lockMaxLiveTime`, 30 s).
pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(30);

/// One cached message: its body size, and the message itself for orderly
/// consumption (concurrent consumption hands messages out at once and keeps
/// only their offsets).
#[derive(Debug)]
struct Cached {
    size: usize,
    msg: Option<MessageExt>,
}

#[derive(Debug, Default)]
struct State {
    /// Queue offset → message not yet consumed (or being consumed concurrently).
    msgs: BTreeMap<i64, Cached>,
    /// Messages an orderly listener has taken and not committed yet.
    consuming: BTreeMap<i64, Cached>,
    /// Highest offset ever put.
    max_offset: i64,
    /// Cached message count and body bytes (both maps).
    count: usize,
    bytes: usize,
    /// An orderly consume task is scheduled or running.
    orderly_consuming: bool,
}

/// The consumer's state of one assigned queue.
#[derive(Debug, Default)]
pub struct ProcessQueue {
    state: Mutex<State>,
    dropped: AtomicBool,
    locked: AtomicBool,
    last_lock_ms: AtomicI64,
    last_pull_ms: AtomicI64,
    last_consume_ms: AtomicI64,
    /// Woken when the queue is dropped, so a waiting pull loop ends at once.
    dropped_notify: Notify,
    /// Serializes orderly consumption of the queue (Java's `consumeLock`);
    /// held while a listener runs, so an unlock waits for it.
    pub(crate) consume_lock: tokio::sync::Mutex<()>,
}

impl ProcessQueue {
    /// An empty queue state.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records pulled messages that a concurrent listener gets right away.
    pub fn put_concurrent(&self, msgs: &[MessageExt]) {
        let mut s = self.state();
        for m in msgs {
            let size = m.body().len();
            if s.msgs
                .insert(m.queue_offset(), Cached { size, msg: None })
                .is_none()
            {
                s.count += 1;
                s.bytes += size;
            }
            s.max_offset = s.max_offset.max(m.queue_offset());
        }
    }

    /// Stores pulled messages for an orderly listener; true when a consume
    /// task should be started (none is running).
    pub fn put_orderly(&self, msgs: Vec<MessageExt>) -> bool {
        let mut s = self.state();
        for m in msgs {
            let size = m.body().len();
            let offset = m.queue_offset();
            if s.msgs
                .insert(offset, Cached { size, msg: Some(m) })
                .is_none()
            {
                s.count += 1;
                s.bytes += size;
            }
            s.max_offset = s.max_offset.max(offset);
        }
        if !s.msgs.is_empty() && !s.orderly_consuming {
            s.orderly_consuming = true;
            true
        } else {
            false
        }
    }

    /// Forgets consumed (or sent-back) offsets; returns the offset to commit:
    /// the lowest offset still cached, or one past the highest put when
    /// nothing is, or -1 when nothing was ever cached.
    pub fn remove(&self, offsets: impl IntoIterator<Item = i64>) -> i64 {
        let mut s = self.state();
        if s.msgs.is_empty() {
            return -1;
        }
        for offset in offsets {
            if let Some(c) = s.msgs.remove(&offset) {
                s.count -= 1;
                s.bytes -= c.size;
            }
        }
        match s.msgs.keys().next() {
            Some(first) => *first,
            None => s.max_offset + 1,
        }
    }

    /// Takes up to `n` messages, in offset order, for an orderly listener;
    /// empty (and the queue marked idle) when there are none.
    pub fn take_orderly(&self, n: usize) -> Vec<MessageExt> {
        let mut s = self.state();
        let mut out = Vec::with_capacity(n.min(s.msgs.len()));
        while out.len() < n {
            let Some((offset, mut cached)) = s.msgs.pop_first() else {
                break;
            };
            if let Some(m) = cached.msg.take() {
                out.push(m);
            }
            s.consuming.insert(offset, cached);
        }
        if out.is_empty() {
            s.orderly_consuming = false;
        }
        out
    }

    /// Commits what the orderly listener consumed: the offset after the
    /// last one taken, or -1 when nothing was taken.
    pub fn commit_orderly(&self) -> i64 {
        let mut s = self.state();
        let Some(last) = s.consuming.keys().next_back().copied() else {
            return -1;
        };
        let taken = std::mem::take(&mut s.consuming);
        s.count -= taken.len();
        s.bytes -= taken.values().map(|c| c.size).sum::<usize>();
        last + 1
    }

    /// Puts taken messages back to be consumed again (orderly suspend).
    pub fn consume_again(&self, msgs: Vec<MessageExt>) {
        let mut s = self.state();
        for m in msgs {
            let offset = m.queue_offset();
            if let Some(mut c) = s.consuming.remove(&offset) {
                c.msg = Some(m);
                s.msgs.insert(offset, c);
            }
        }
    }

    /// Marks the queue idle when an orderly task stops early (not locked).
    pub(crate) fn set_orderly_idle(&self) {
        self.state().orderly_consuming = false;
    }

    /// Cached messages (flow control: `pullThresholdForQueue`).
    pub fn cached_count(&self) -> usize {
        self.state().count
    }

    /// Cached body bytes (flow control: `pullThresholdSizeForQueue`).
    pub fn cached_bytes(&self) -> usize {
        self.state().bytes
    }

    /// Distance between the lowest and highest cached offsets
    /// (`consumeConcurrentlyMaxSpan`).
    pub fn max_span(&self) -> i64 {
        let s = self.state();
        match (s.msgs.keys().next(), s.msgs.keys().next_back()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    /// Drops the queue: its pull loop and consume tasks stop.
    pub fn set_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
        self.dropped_notify.notify_waiters();
    }

    /// Whether the queue was dropped (reassigned, or the consumer stopped).
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Waits until the queue is dropped.
    pub async fn dropped(&self) {
        let notified = self.dropped_notify.notified();
        if self.is_dropped() {
            return;
        }
        notified.await;
    }

    /// Sets the broker lock state (orderly consumers).
    pub fn set_locked(&self, locked: bool) {
        if locked {
            self.last_lock_ms.store(now_millis(), Ordering::Release);
        }
        self.locked.store(locked, Ordering::Release);
    }

    /// Whether this client holds the queue's broker lock.
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    /// Whether the lock was not renewed within [`LOCK_MAX_LIVE_TIME`].
    pub fn is_lock_expired(&self) -> bool {
        now_millis() - self.last_lock_ms.load(Ordering::Acquire)
            > LOCK_MAX_LIVE_TIME.as_millis() as i64
    }

    /// Notes a pull.
    pub(crate) fn touch_pull(&self) {
        self.last_pull_ms.store(now_millis(), Ordering::Relaxed);
    }

    /// Notes a consume.
    pub(crate) fn touch_consume(&self) {
        self.last_consume_ms.store(now_millis(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use bytes::Bytes;
    use skylark_protocol::message::{Message, StoredMessage};

    use super::*;

    fn msg(offset: i64, len: usize) -> MessageExt {
        let host: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut s = StoredMessage::new(Message::new("T", Bytes::from(vec![0u8; len])), host, host);
        s.queue_offset = offset;
        MessageExt {
            stored: s,
            broker_name: Arc::from("b"),
        }
    }

    #[test]
    fn concurrent_commit_offset_is_the_lowest_in_flight() {
        let pq = ProcessQueue::new();
        assert_eq!(pq.remove([1]), -1);
        let msgs: Vec<_> = (10..15).map(|o| msg(o, 100)).collect();
        pq.put_concurrent(&msgs);
        assert_eq!(pq.cached_count(), 5);
        assert_eq!(pq.cached_bytes(), 500);
        assert_eq!(pq.max_span(), 4);
        // 12 done first: 10 still in flight.
        assert_eq!(pq.remove([12]), 10);
        assert_eq!(pq.remove([10, 11]), 13);
        assert_eq!(pq.remove([13, 14]), 15);
        assert_eq!(pq.cached_count(), 0);
        assert_eq!(pq.cached_bytes(), 0);
        // Removing twice does not undercount.
        pq.put_concurrent(&[msg(15, 1)]);
        pq.put_concurrent(&[msg(15, 1)]);
        assert_eq!(pq.cached_count(), 1);
    }

    #[test]
    fn orderly_take_commit_and_again() {
        let pq = ProcessQueue::new();
        assert!(pq.put_orderly((0..4).map(|o| msg(o, 10)).collect()));
        // A task is already scheduled.
        assert!(!pq.put_orderly(vec![msg(4, 10)]));
        let first = pq.take_orderly(2);
        assert_eq!(
            first
                .iter()
                .map(MessageExt::queue_offset)
                .collect::<Vec<_>>(),
            [0, 1]
        );
        pq.consume_again(first);
        let again = pq.take_orderly(2);
        assert_eq!(again[0].queue_offset(), 0);
        assert_eq!(pq.commit_orderly(), 2);
        assert_eq!(pq.cached_count(), 3);
        assert_eq!(pq.take_orderly(10).len(), 3);
        assert_eq!(pq.commit_orderly(), 5);
        assert!(pq.take_orderly(1).is_empty());
        assert_eq!(pq.commit_orderly(), -1);
        assert_eq!(pq.cached_bytes(), 0);
        // Idle again: the next put starts a task.
        assert!(pq.put_orderly(vec![msg(5, 1)]));
    }

    #[tokio::test]
    async fn dropping_wakes_waiters() {
        let pq = Arc::new(ProcessQueue::new());
        let waiter = tokio::spawn({
            let pq = pq.clone();
            async move { pq.dropped().await }
        });
        tokio::task::yield_now().await;
        pq.set_dropped();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(pq.is_dropped());
        pq.set_locked(true);
        assert!(pq.is_locked() && !pq.is_lock_expired());
    }
}
