//! The replicas connected to this master, how far each has acknowledged,
//! and the sends waiting for an acknowledgement (RocketMQ's
//! `push2SlaveMaxOffset`, `isSlaveOK` and `GroupTransferService`).
//!
//! A SYNC_MASTER send waits here for the end offset of its bytes. Waiters
//! are kept by offset and woken by acknowledgements, so one slow send
//! blocks no other; the lock is never held across an await.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use skylark_store::error::PutMessageStatus;
use tokio::sync::oneshot;

/// One connected replica as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The replica's address (its HA connection's peer).
    pub addr: SocketAddr,
    /// The CommitLog offset it last reported (-1 before its first report).
    pub ack_offset: i64,
    /// Master's CommitLog max offset minus `ack_offset` (0 when ahead).
    pub lag_bytes: i64,
    /// Whether the lag is under `haMaxGapNotInSync`.
    pub in_sync: bool,
    /// How long it has been connected.
    pub connected_for: Duration,
}

/// The in-sync set and the waiting sends.
#[derive(Debug)]
pub struct InSync {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Connected replicas by connection id.
    replicas: HashMap<u64, Replica>,
    next_id: u64,
    /// Highest offset any replica acknowledged (Java's `push2SlaveMaxOffset`).
    acked: i64,
    /// Waiting sends by (end offset, id).
    waiters: BTreeMap<(i64, u64), oneshot::Sender<()>>,
    next_waiter: u64,
}

#[derive(Debug)]
struct Replica {
    addr: SocketAddr,
    ack: i64,
    since: Instant,
}

impl Default for InSync {
    fn default() -> Self {
        Self::new()
    }
}

impl InSync {
    /// No replica, nothing acknowledged.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A replica connected; its connection id.
    pub fn register(&self, addr: SocketAddr) -> u64 {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.replicas.insert(
            id,
            Replica {
                addr,
                ack: -1,
                since: Instant::now(),
            },
        );
        id
    }

    /// A replica's connection closed.
    pub fn unregister(&self, id: u64) {
        self.lock().replicas.remove(&id);
    }

    /// Replica `id` reports it holds everything before `offset`; wakes the
    /// sends whose bytes that covers.
    pub fn ack(&self, id: u64, offset: i64) {
        let mut inner = self.lock();
        if let Some(replica) = inner.replicas.get_mut(&id) {
            replica.ack = offset;
        }
        if offset <= inner.acked {
            return;
        }
        inner.acked = offset;
        // Everything keyed at or below `offset` is covered.
        let rest = inner.waiters.split_off(&(offset, u64::MAX));
        let done = std::mem::replace(&mut inner.waiters, rest);
        drop(inner);
        for (_, waiter) in done {
            let _ = waiter.send(());
        }
    }

    /// Forgets acknowledgements (the log was truncated or the role changed):
    /// what a replica acknowledged before may no longer be ours.
    pub fn reset(&self, offset: i64) {
        let mut inner = self.lock();
        inner.acked = inner.acked.min(offset);
    }

    /// Highest offset any replica acknowledged.
    pub fn acked(&self) -> i64 {
        self.lock().acked
    }

    /// Connected replicas.
    pub fn connections(&self) -> usize {
        self.lock().replicas.len()
    }

    /// Java's `isSlaveOK`: some replica is connected and the acknowledged
    /// offset is within `max_gap` of `master_put_where`.
    pub fn is_replica_ok(&self, master_put_where: i64, max_gap: i64) -> bool {
        let inner = self.lock();
        !inner.replicas.is_empty() && master_put_where - inner.acked < max_gap
    }

    /// The replicas, lags measured against `master_max`.
    pub fn replicas(&self, master_max: i64, max_gap: i64) -> Vec<ReplicaStatus> {
        let inner = self.lock();
        let mut out: Vec<ReplicaStatus> = inner
            .replicas
            .values()
            .map(|r| {
                let lag = if r.ack < 0 {
                    master_max
                } else {
                    (master_max - r.ack).max(0)
                };
                ReplicaStatus {
                    addr: r.addr,
                    ack_offset: r.ack,
                    lag_bytes: lag,
                    in_sync: r.ack >= 0 && lag < max_gap,
                    connected_for: r.since.elapsed(),
                }
            })
            .collect();
        out.sort_by_key(|r| r.addr);
        out
    }

    /// Replicas in sync with `master_max`.
    pub fn in_sync_count(&self, master_max: i64, max_gap: i64) -> usize {
        self.replicas(master_max, max_gap)
            .iter()
            .filter(|r| r.in_sync)
            .count()
    }

    /// Waits until a replica acknowledged `end` (a send's last byte + 1):
    /// PUT_OK; none within `timeout`: FLUSH_SLAVE_TIMEOUT; no replica
    /// connected or within `max_gap` of `end` to begin with:
    /// SLAVE_NOT_AVAILABLE (as RocketMQ 4's `submitReplicaRequest`).
    pub async fn wait_replicated(
        &self,
        end: i64,
        max_gap: i64,
        timeout: Duration,
    ) -> PutMessageStatus {
        let (key, rx) = {
            let mut inner = self.lock();
            if inner.replicas.is_empty() || end - inner.acked >= max_gap {
                return PutMessageStatus::SlaveNotAvailable;
            }
            if inner.acked >= end {
                return PutMessageStatus::PutOk;
            }
            inner.next_waiter += 1;
            let key = (end, inner.next_waiter);
            let (tx, rx) = oneshot::channel();
            inner.waiters.insert(key, tx);
            (key, rx)
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => PutMessageStatus::PutOk,
            _ => {
                self.lock().waiters.remove(&key);
                PutMessageStatus::FlushSlaveTimeout
            }
        }
    }

    /// Sends waiting right now (tests, status).
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const GAP: i64 = 1 << 20;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[tokio::test]
    async fn no_replica_is_not_available_and_acks_wake_only_covered_waiters() {
        let set = Arc::new(InSync::new());
        assert_eq!(
            set.wait_replicated(100, GAP, Duration::from_secs(5)).await,
            PutMessageStatus::SlaveNotAvailable
        );
        let id = set.register(addr(1));
        set.ack(id, 0);
        let early = tokio::spawn({
            let set = set.clone();
            async move { set.wait_replicated(100, GAP, Duration::from_secs(30)).await }
        });
        let late = tokio::spawn({
            let set = set.clone();
            async move { set.wait_replicated(300, GAP, Duration::from_secs(30)).await }
        });
        while set.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        set.ack(id, 150);
        assert_eq!(early.await.unwrap(), PutMessageStatus::PutOk);
        assert_eq!(set.waiting(), 1);
        assert!(!late.is_finished());
        set.ack(id, 300);
        assert_eq!(late.await.unwrap(), PutMessageStatus::PutOk);
        // Already covered: at once.
        assert_eq!(
            set.wait_replicated(200, GAP, Duration::ZERO).await,
            PutMessageStatus::PutOk
        );
    }

    #[tokio::test]
    async fn timeout_and_gap() {
        let set = InSync::new();
        let id = set.register(addr(1));
        set.ack(id, 10);
        assert_eq!(
            set.wait_replicated(20, GAP, Duration::from_millis(10))
                .await,
            PutMessageStatus::FlushSlaveTimeout
        );
        assert_eq!(set.waiting(), 0);
        assert_eq!(
            set.wait_replicated(10 + GAP, GAP, Duration::from_millis(10))
                .await,
            PutMessageStatus::SlaveNotAvailable
        );
        let status = set.replicas(10 + GAP, GAP);
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].lag_bytes, GAP);
        assert!(!status[0].in_sync);
        assert_eq!(set.in_sync_count(20, GAP), 1);
        set.unregister(id);
        assert_eq!(set.connections(), 0);
        assert!(!set.is_replica_ok(20, GAP));
    }
}
