//! Writing to a queue's tail file: through its mapping when it has one,
//! else with `pwrite`.
//!
//! Only so many tails can be mapped at once (see [`budget`](super::budget)).
//! With more queues than that written round-robin, mapping on every append
//! evicted another tail each time (`munmap`, `open`, `mmap`, a page fault:
//! tens of µs and dozens of allocations per entry). So once the budget is
//! full, a queue without a mapping writes with `pwrite` (`open`, `pwrite`,
//! `close`: a few µs, no allocation) and claims a mapping, evicting the
//! least recently used tail, only after [`MAP_AFTER_UNMAPPED_WRITES`] such
//! appends: a busy queue soon gets its mapping back, while round-robin over
//! many queues remaps once per that many entries instead of on every one.
//! Both ways write the same page cache, so reads (`pread`), flushes and
//! recovery see no difference; a `pwrite` file is synced by path, like the
//! file of an evicted mapping.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::budget::lock;
use super::queue::{ConsumeQueue, State};
use super::{ConsumeQueueError, Result};

/// Appends with `pwrite` a queue makes before it claims a mapping when
/// every mapping is taken. A remap costs about as much as a dozen or two
/// `pwrite` appends; 64 keeps the remapping of a round-robin over many
/// queues to a few per cent of the appends.
const MAP_AFTER_UNMAPPED_WRITES: u32 = 64;

impl ConsumeQueue {
    /// Copies `bytes` to `off` in the tail file `seg` (see the module docs);
    /// `from` is the CommitLog offset of its first entry, tracked until the
    /// bytes are durable.
    pub(super) fn write_tail(
        &self,
        st: &mut State,
        seg: i64,
        off: usize,
        bytes: &[u8],
        from: i64,
    ) -> Result<()> {
        let out_of_bounds = || ConsumeQueueError::Corrupt {
            path: self.path_of(seg),
            reason: format!("write of {} bytes at {off} past the file end", bytes.len()),
        };
        let fits = off
            .checked_add(bytes.len())
            .and_then(|end| i64::try_from(end).ok())
            .is_some_and(|end| end <= self.file_size);
        if !fits {
            return Err(out_of_bounds());
        }
        loop {
            {
                let mut s = lock(&self.slot.state);
                if let Some(m) = s.map.as_ref().filter(|m| m.start == seg) {
                    if !m.write(off, bytes) {
                        return Err(out_of_bounds());
                    }
                    s.mark_dirty(off, bytes.len(), from);
                    self.slot.touch();
                    return Ok(());
                }
                // A queue with a place (mapping an older file of its own)
                // or a free place maps; others earn a place first.
                if !self.slot.in_ring()
                    && self.budget.is_full()
                    && s.unmapped_writes < MAP_AFTER_UNMAPPED_WRITES
                {
                    s.unmapped_writes += 1;
                    drop(s);
                    return self.write_unmapped(st, seg, off, bytes, from);
                }
            }
            self.budget.admit(&self.slot);
            let path = self.path_of(seg);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| ConsumeQueueError::io(&path, e))?;
            let len = usize::try_from(self.file_size)
                .map_err(|_| ConsumeQueueError::Config("file_size"))?;
            let map = self
                .budget
                .map(seg, path.clone(), Arc::new(file), len)
                .map_err(|e| ConsumeQueueError::io(&path, e))?;
            let mut s = lock(&self.slot.state);
            // An eviction may have raced with us since admission; then the
            // mapping must not outlive its place in the budget: retry.
            if self.slot.in_ring() {
                s.drop_map();
                if !map.write(off, bytes) {
                    return Err(out_of_bounds());
                }
                s.map = Some(map);
                s.mark_dirty(off, bytes.len(), from);
                s.unmapped_writes = 0;
                return Ok(());
            }
        }
    }

    /// Writes `bytes` at `off` of file `seg` with `pwrite`, then records the
    /// file for the next flush: after the write, so a flush that takes it
    /// meanwhile cannot count this write as synced.
    fn write_unmapped(
        &self,
        st: &mut State,
        seg: i64,
        off: usize,
        bytes: &[u8],
        from: i64,
    ) -> Result<()> {
        let path = match &mut st.tail_path {
            Some((cached, path)) if *cached == seg => path,
            other => &other.insert((seg, self.path_of(seg))).1,
        };
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| ConsumeQueueError::io(path, e))?;
        file.write_all_at(bytes, off as u64)
            .map_err(|e| ConsumeQueueError::io(path, e))?;
        drop(file);
        lock(&self.slot.state).add_pending(path, from, bytes.len());
        Ok(())
    }
}
