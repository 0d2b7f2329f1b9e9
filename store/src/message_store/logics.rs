//! The ConsumeQueue flusher (`FlushConsumeQueueService`): flushes
//! ConsumeQueues and index, then records in the dispatch manifest and the
//! checkpoint how far they are on disk.
//!
//! **The dispatch mark.** `.dispatched` tells recovery where to resume
//! re-dispatching into ConsumeQueues: every entry of a record below it must
//! be durable. Regular rounds (every `flushIntervalConsumeQueue`) flush only
//! queues with `flushConsumeQueueLeastPages` dirty pages, as Java does, so
//! the dispatch position captured before a round is not a sound mark;
//! writing it on thorough rounds only let it lag by
//! `flushConsumeQueueThoroughInterval` (60 s), and a new store had no mark
//! at all before its first thorough round (a crash then re-dispatched the
//! whole CommitLog). So every round writes `min(dispatch position before
//! the round, oldest entry any queue still holds unflushed)`: each queue
//! tracks the CommitLog offset of its oldest entry no `msync`/`fsync` has
//! covered yet (`ConsumeQueue::oldest_unflushed`). That is exact and costs
//! a compare per append, where resuming like Java from each queue's own end
//! would trust tail entries no flush vouched for (after a power loss a tail
//! can hold a later page without an earlier one). A queue written too
//! slowly to reach `least_pages` is flushed whole once its oldest entry lags
//! `lag_limit` bytes (a quarter of a CommitLog file) behind, at most
//! [`MAX_FORCED_PER_ROUND`] queues a round, so one idle queue cannot hold
//! the mark back until the next thorough round.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::message::record::BLANK_LEN;

use super::dispatch::Shared;
use super::lock;
use super::recovery::Manifest;
use crate::checkpoint::StoreCheckpoint;
use crate::commitlog::{Entry, parse_entry};
use crate::consume_queue::ConsumeQueueStore;
use crate::index_file::IndexService;

/// Most queues a regular round flushes whole because they lag: enough for
/// a handful of slow queues among busy ones, few enough `msync`s when
/// thousands lag at once (then the mark waits for the thorough round).
pub(super) const MAX_FORCED_PER_ROUND: usize = 256;

/// The ConsumeQueue flusher's state, shared by its thread, the store's
/// [`flush_logics`](super::MessageStore::flush_logics), topic deletion and
/// shutdown.
#[derive(Debug)]
pub(super) struct LogicsFlusher {
    pub(super) queues: Arc<ConsumeQueueStore>,
    pub(super) index: Option<Arc<IndexService>>,
    pub(super) checkpoint: Arc<StoreCheckpoint>,
    pub(super) manifest: Manifest,
    pub(super) dispatch: Arc<Shared>,
    pub(super) interval: Duration,
    /// `flushConsumeQueueLeastPages`: a regular round flushes only queues
    /// with at least this many unflushed pages (and lagging ones).
    pub(super) least_pages: usize,
    /// `flushConsumeQueueThoroughInterval`: at least this often a round
    /// flushes everything.
    pub(super) thorough_interval: Duration,
    /// A queue whose oldest unflushed entry lies this many CommitLog bytes
    /// behind the dispatch position is flushed whole in a regular round.
    pub(super) lag_limit: i64,
    pub(super) stop: Mutex<bool>,
    pub(super) cv: Condvar,
    /// Serialises rounds (the thread, `flush_logics`, deletion, shutdown).
    pub(super) round: Mutex<()>,
}

impl LogicsFlusher {
    /// Every `interval`, a regular round; every `thorough_interval`, a
    /// thorough one, as Java's `FlushConsumeQueueService`. Shutdown ends
    /// with a thorough one.
    pub(super) fn run(&self) {
        let mut last_thorough = Instant::now();
        let mut stop = lock(&self.stop);
        while !*stop {
            stop = self
                .cv
                .wait_timeout(stop, self.interval)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if *stop {
                break;
            }
            drop(stop);
            let thorough =
                self.least_pages == 0 || last_thorough.elapsed() >= self.thorough_interval;
            if thorough {
                last_thorough = Instant::now();
            }
            self.round(thorough);
            stop = lock(&self.stop);
        }
    }

    /// One round (thorough: every queue flushed whole); true if everything
    /// it flushed and recorded reached the disk.
    pub(super) fn round(&self, thorough: bool) -> bool {
        let _round = lock(&self.round);
        // Captured before flushing: every entry of a record below `offset`
        // is already appended, so it is either flushed by this round or
        // still counted by its queue as unflushed.
        let offset = self.dispatch.offset();
        let ts = self.dispatch.last_timestamp();
        let least = if thorough { 0 } else { self.least_pages };
        let flushed = self.queues.flush_round(
            least,
            offset.saturating_sub(self.lag_limit),
            MAX_FORCED_PER_ROUND,
        );
        let mut ok = true;
        if let Some(e) = &flushed.error {
            ok = false;
            tracing::error!(error = %e, "ConsumeQueue flush failed");
        }
        let mark = offset.min(flushed.oldest_unflushed);
        tracing::trace!(
            offset,
            mark,
            forced = flushed.forced,
            thorough,
            "ConsumeQueue flush round"
        );
        let logics_ts = if mark == offset {
            ts
        } else {
            self.stored_just_before(mark)
        };
        // Never backwards: a record's store time is not strictly monotonic.
        if logics_ts > self.checkpoint.logics_msg_timestamp() {
            self.checkpoint.set_logics_msg_timestamp(logics_ts);
        }
        match self.manifest.save(mark, &self.queues) {
            Ok(()) => {}
            Err(e) => {
                ok = false;
                tracing::error!(error = %e, "cannot save the dispatch manifest");
            }
        }
        // The index is one file written everywhere at once; flushing it
        // every round lets a crash keep it (files past the checkpoint's
        // index time are dropped and rebuilt).
        if let Some(index) = &self.index {
            match index.flush() {
                Ok(()) if ts > 0 => self.checkpoint.set_index_msg_timestamp(ts),
                Ok(()) => {}
                Err(e) => {
                    ok = false;
                    tracing::error!(error = %e, "index flush failed");
                }
            }
        }
        if let Err(e) = self.checkpoint.flush() {
            ok = false;
            tracing::error!(error = %e, "checkpoint flush failed");
        }
        ok
    }

    /// A store time just before the record at CommitLog offset `offset`
    /// (every record below it was stored no later), or 0 if unreadable.
    fn stored_just_before(&self, offset: i64) -> i64 {
        let log = &self.dispatch.parts.commit_log;
        let max_record = log.file_size() - BLANK_LEN;
        match log.get_record(offset) {
            Ok(Some(rec)) => match parse_entry(&rec, max_record) {
                Ok(Entry::Record(info)) => info.store_timestamp - 1,
                _ => 0,
            },
            _ => 0,
        }
    }
}
