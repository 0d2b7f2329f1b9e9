//! Counters a server keeps, read by the broker's metrics exporter.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters of one server; relaxed atomics, cheap to bump.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_closed: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) oneway_requests: AtomicU64,
    pub(crate) responses_received: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
    pub(crate) busy_rejections: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
}

/// A point-in-time copy of [`ServerStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections accepted since start.
    pub connections_accepted: u64,
    /// Connections closed since start (for any reason).
    pub connections_closed: u64,
    /// Requests received (two-way and oneway).
    pub requests: u64,
    /// Of which oneway.
    pub oneway_requests: u64,
    /// Responses received to server-initiated requests.
    pub responses_received: u64,
    /// Connections closed because a frame could not be decoded.
    pub decode_errors: u64,
    /// Connections closed for being idle.
    pub idle_closed: u64,
    /// Requests refused with SYSTEM_BUSY for exceeding the per-connection limit.
    pub busy_rejections: u64,
    /// Requests whose handler panicked (answered SYSTEM_ERROR).
    pub handler_panics: u64,
}

impl ServerStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections_accepted: get(&self.connections_accepted),
            connections_closed: get(&self.connections_closed),
            requests: get(&self.requests),
            oneway_requests: get(&self.oneway_requests),
            responses_received: get(&self.responses_received),
            decode_errors: get(&self.decode_errors),
            idle_closed: get(&self.idle_closed),
            busy_rejections: get(&self.busy_rejections),
            handler_panics: get(&self.handler_panics),
        }
    }

    /// Connections currently open.
    pub fn live_connections(&self) -> u64 {
        let s = self.snapshot();
        s.connections_accepted.saturating_sub(s.connections_closed)
    }
}

/// Bumps a counter of an optional stats block.
pub(crate) fn bump(stats: Option<&ServerStats>, pick: impl FnOnce(&ServerStats) -> &AtomicU64) {
    if let Some(s) = stats {
        pick(s).fetch_add(1, Ordering::Relaxed);
    }
}
