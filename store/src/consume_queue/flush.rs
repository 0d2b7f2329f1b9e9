//! Making a queue's appends durable, and knowing how far they are: every
//! write records the CommitLog offset of its first entry in the queue's
//! slot until an `msync`/`fsync` covers it, so the store can tell the
//! oldest entry that a crash could still lose.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::budget::{NONE_UNFLUSHED, TailMap, lock};
use super::queue::ConsumeQueue;
use super::{ConsumeQueueError, Result};

impl ConsumeQueue {
    /// Makes everything appended so far durable: `msync` of the tail
    /// mapping and `fsync` of files written another way since the last flush.
    pub fn flush(&self) -> Result<()> {
        self.flush_least(0)
    }

    /// With `least_pages` 0, [`Self::flush`]. Otherwise (the flusher's
    /// regular rounds, `flushConsumeQueueLeastPages`) `msync`s the tail
    /// mapping only if its unflushed range spans at least `least_pages`
    /// pages, and `fsync`s the files written another way (`pwrite`, or
    /// through a mapping since evicted) only once that many pages went to
    /// them.
    ///
    /// What it takes to sync is cleared before the I/O and put back if the
    /// I/O fails, so an append racing with the flush is never counted as
    /// flushed: it marks the slot dirty again after the snapshot.
    pub fn flush_least(&self, least_pages: usize) -> Result<()> {
        let (map, map_from, pending, pending_from, pending_bytes) = {
            let mut s = lock(&self.slot.state);
            let (map, map_from) = if s.dirty_enough(least_pages) {
                s.dirty = false;
                let from = std::mem::replace(&mut s.dirty_from, NONE_UNFLUSHED);
                (s.map.clone(), from)
            } else {
                (None, NONE_UNFLUSHED)
            };
            let (pending, pending_from, pending_bytes) = if s.pending_enough(least_pages) {
                let from = std::mem::replace(&mut s.pending_from, NONE_UNFLUSHED);
                let bytes = std::mem::take(&mut s.pending_bytes);
                (std::mem::take(&mut s.pending_sync), from, bytes)
            } else {
                (Vec::new(), NONE_UNFLUSHED, 0)
            };
            (map, map_from, pending, pending_from, pending_bytes)
        };
        let mut result = Ok(());
        let mut map_failed = false;
        if let Some(m) = &map {
            if let Err(e) = m.flush() {
                map_failed = true;
                result = Err(ConsumeQueueError::io(self.path_of(m.start), e));
            }
        }
        let mut failed = Vec::new();
        for path in pending {
            let synced = File::open(&path).and_then(|f| f.sync_data());
            match synced {
                Ok(()) => {}
                // Deleted since (truncation, retention): nothing to make durable.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    result = Err(ConsumeQueueError::io(&path, e));
                    failed.push(path);
                }
            }
        }
        if result.is_err() {
            // Keep the work, and what it holds back, for the next attempt.
            let mut s = lock(&self.slot.state);
            if let Some(m) = map.filter(|_| map_failed) {
                if s.map.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &m)) {
                    s.mark_dirty(0, m.len(), map_from);
                } else {
                    // Unmapped since: its file is synced by path now.
                    s.add_pending(&m.path, map_from, m.len());
                }
            }
            for path in &failed {
                s.add_pending(path, pending_from, pending_bytes);
            }
        }
        result
    }

    /// Whether anything of this queue awaits a sync.
    pub(super) fn needs_flush(&self) -> bool {
        let s = lock(&self.slot.state);
        s.dirty_enough(0) || s.pending_enough(0)
    }

    /// CommitLog offset of the oldest entry of this queue that no flush has
    /// made durable yet (`i64::MAX` if none). Entries appended after this
    /// call are not counted.
    pub fn oldest_unflushed(&self) -> i64 {
        lock(&self.slot.state).oldest_unflushed()
    }
}

/// What a queue had to sync, taken for one filesystem-wide sync (see
/// `ConsumeQueueStore::flush_round`) and put back if that fails.
#[derive(Debug)]
pub(super) struct Unflushed {
    /// The dirty mapping and its oldest entry.
    map: Option<(Arc<TailMap>, i64)>,
    /// The pending files, their oldest entry and their bytes.
    pending: Vec<PathBuf>,
    pending_from: i64,
    pending_bytes: usize,
}

impl ConsumeQueue {
    /// Takes everything this queue has to sync, as a flush does before its
    /// I/O; `None` if it has nothing.
    pub(super) fn take_unflushed(&self) -> Option<Unflushed> {
        let mut s = lock(&self.slot.state);
        if !s.dirty_enough(0) && !s.pending_enough(0) {
            return None;
        }
        let map = if s.dirty_enough(0) {
            s.dirty = false;
            let from = std::mem::replace(&mut s.dirty_from, NONE_UNFLUSHED);
            s.map.clone().map(|m| (m, from))
        } else {
            None
        };
        Some(Unflushed {
            map,
            pending: std::mem::take(&mut s.pending_sync),
            pending_from: std::mem::replace(&mut s.pending_from, NONE_UNFLUSHED),
            pending_bytes: std::mem::take(&mut s.pending_bytes),
        })
    }

    /// Puts back what [`Self::take_unflushed`] took, after a failed sync.
    pub(super) fn restore_unflushed(&self, u: Unflushed) {
        let mut s = lock(&self.slot.state);
        if let Some((m, from)) = u.map {
            if s.map.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &m)) {
                s.mark_dirty(0, m.len(), from);
            } else {
                s.add_pending(&m.path, from, m.len());
            }
        }
        for path in &u.pending {
            s.add_pending(path, u.pending_from, u.pending_bytes);
        }
    }
}
