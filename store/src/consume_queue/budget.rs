//! The shared budget of tail mappings.
//!
//! Every queue owns a [`TailSlot`] that may hold a mapping of its tail file.
//! A slot must be *admitted* to the budget's ring before it may hold a
//! mapping; when the ring is full, admission evicts another slot chosen by the
//! CLOCK algorithm (a cheap LRU approximation: appends only set an atomic
//! "referenced" bit, so the hot path takes no global lock). The evicted
//! mapping is dropped before the new one is created, so live mappings never
//! exceed the cap (except for a mapping briefly kept alive by an `msync` in
//! progress).
//!
//! Lock order: a queue's state lock, then the ring, then any slot. Nobody
//! holding a slot lock takes another lock, so eviction cannot deadlock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use memmap2::{MmapOptions, MmapRaw};

/// Locks a mutex, ignoring poisoning: every critical section here leaves the
/// data consistent at each step, so a panic elsewhere does not corrupt it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The budget of mappings shared by all queues of a store.
#[derive(Debug)]
pub(super) struct MapBudget {
    /// Most slots admitted at once.
    cap: usize,
    /// The admitted slots and the clock hand.
    ring: Mutex<Ring>,
    /// Mappings currently alive (a gauge for tests and metrics).
    live: Arc<AtomicUsize>,
    /// Mappings made since the budget was created (a gauge of churn).
    made: AtomicU64,
    /// Whether the ring holds `cap` slots (written under the ring lock), so
    /// an append can tell without taking it whether a mapping would evict.
    full: AtomicBool,
}

/// The CLOCK ring.
#[derive(Debug, Default)]
struct Ring {
    /// Admitted slots.
    slots: Vec<Arc<TailSlot>>,
    /// Next candidate for eviction.
    hand: usize,
}

impl MapBudget {
    /// A budget of `cap` mappings (at least one).
    pub(super) fn new(cap: usize) -> MapBudget {
        MapBudget {
            cap: cap.max(1),
            ring: Mutex::new(Ring::default()),
            live: Arc::new(AtomicUsize::new(0)),
            full: AtomicBool::new(false),
            made: AtomicU64::new(0),
        }
    }

    /// Mappings made so far.
    pub(super) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Whether every place is taken: admitting another slot evicts one.
    pub(super) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Mappings alive now.
    pub(super) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The cap.
    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Admits `slot`, evicting (and unmapping) another slot if the ring is
    /// full. Returns with `slot` in the ring.
    pub(super) fn admit(&self, slot: &Arc<TailSlot>) {
        let victim = {
            let mut ring = lock(&self.ring);
            slot.referenced.store(true, Ordering::Relaxed);
            if slot.in_ring.load(Ordering::Relaxed) {
                return;
            }
            slot.in_ring.store(true, Ordering::Relaxed);
            if ring.slots.len() < self.cap {
                ring.slots.push(Arc::clone(slot));
                self.full
                    .store(ring.slots.len() >= self.cap, Ordering::Relaxed);
                return;
            }
            // Two sweeps clear every referenced bit, so this always picks.
            let len = ring.slots.len();
            let mut hand = ring.hand % len;
            for _ in 0..2 * len {
                if !ring.slots[hand].referenced.swap(false, Ordering::Relaxed) {
                    break;
                }
                hand = (hand + 1) % len;
            }
            let victim = std::mem::replace(&mut ring.slots[hand], Arc::clone(slot));
            ring.hand = (hand + 1) % len;
            victim.in_ring.store(false, Ordering::Relaxed);
            victim
        };
        victim.unmap();
    }

    /// Removes `slot` from the ring (its queue is going away).
    pub(super) fn forget(&self, slot: &Arc<TailSlot>) {
        {
            let mut ring = lock(&self.ring);
            if slot.in_ring.swap(false, Ordering::Relaxed) {
                ring.slots.retain(|s| !Arc::ptr_eq(s, slot));
                ring.hand = 0;
                self.full.store(false, Ordering::Relaxed);
            }
        }
        slot.unmap();
    }

    /// Maps `len` bytes of `file`, counting the mapping in the gauge.
    pub(super) fn map(
        &self,
        start: i64,
        path: PathBuf,
        file: Arc<File>,
        len: usize,
    ) -> std::io::Result<Arc<TailMap>> {
        let map = MmapOptions::new().len(len).map_raw(&*file)?;
        advise_random(&map, &path);
        self.live.fetch_add(1, Ordering::Relaxed);
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(TailMap {
            start,
            path,
            file,
            map,
            live: Arc::clone(&self.live),
        }))
    }
}

/// `madvise(MADV_RANDOM)` on a fresh tail mapping: without it the first
/// fault on a new (sparse) file reads around `read_ahead_kb` (8 MiB here), so
/// one 20-byte entry zero-fills the whole 6 MB file into the page cache
/// (~1 ms and 1 465 pages instead of ~4 µs and one page). Failure only costs
/// speed, so it is logged, not returned.
fn advise_random(map: &MmapRaw, path: &std::path::Path) {
    if let Err(e) = map.advise(memmap2::Advice::Random) {
        tracing::debug!(path = %path.display(), error = %e, "madvise(MADV_RANDOM) on a ConsumeQueue tail failed");
    }
}

/// A mapping of one queue's tail file.
#[derive(Debug)]
pub(super) struct TailMap {
    /// Logical start offset of the mapped file.
    pub(super) start: i64,
    /// The file's path, for an `fsync` after the mapping is gone.
    pub(super) path: PathBuf,
    /// The file, for reads.
    pub(super) file: Arc<File>,
    /// The shared mapping.
    map: MmapRaw,
    /// The budget's gauge, decremented on drop.
    live: Arc<AtomicUsize>,
}

impl TailMap {
    /// Copies `bytes` to `pos` in the file; false if out of bounds.
    ///
    /// Callers hold the owning slot's lock and the queue's write lock, so
    /// this is the only writer of the mapping.
    pub(super) fn write(&self, pos: usize, bytes: &[u8]) -> bool {
        let Some(end) = pos.checked_add(bytes.len()) else {
            return false;
        };
        if end > self.map.len() {
            return false;
        }
        // SAFETY: `pos..end` lies inside the mapping (checked above), which
        // stays mapped while `self` is alive. No Rust reference into the
        // mapping exists anywhere (readers use `pread`), and the caller is the
        // only writer, so this copy races with nothing. The file is owned by
        // this process and never shrunk while mapped, so the pages exist.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_mut_ptr().add(pos),
                bytes.len(),
            );
        }
        true
    }

    /// Length of the mapping.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// `msync`s the whole mapping (the kernel skips clean pages).
    pub(super) fn flush(&self) -> std::io::Result<()> {
        self.map.flush()
    }
}

impl Drop for TailMap {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A queue's place for its tail mapping.
#[derive(Debug, Default)]
pub(super) struct TailSlot {
    /// The mapping and what still needs an `fsync`.
    pub(super) state: Mutex<SlotState>,
    /// Set on use; cleared by the clock hand.
    referenced: AtomicBool,
    /// Whether the slot is in the ring (changed only under the ring lock).
    in_ring: AtomicBool,
}

/// The page size the flush rules count in.
const PAGE: usize = 4096;

/// Nothing unflushed: the "oldest unflushed entry" of a clean queue.
pub(super) const NONE_UNFLUSHED: i64 = i64::MAX;

/// What a slot holds.
///
/// Besides what needs syncing, it tracks the CommitLog offset of the oldest
/// entry that is not yet durable (`dirty_from` for the mapping,
/// `pending_from` for the pending files): the store's dispatch mark may not
/// pass it (see `ConsumeQueueStore::flush_round`).
#[derive(Debug)]
pub(super) struct SlotState {
    /// The tail mapping, if mapped.
    pub(super) map: Option<Arc<TailMap>>,
    /// Whether `map` was written since its last `msync`.
    pub(super) dirty: bool,
    /// Byte range of `map` written since its last `msync` (when `dirty`).
    pub(super) dirty_lo: usize,
    /// End of that range.
    pub(super) dirty_hi: usize,
    /// CommitLog offset of the oldest entry written to `map` since its last
    /// `msync` ([`NONE_UNFLUSHED`] if none).
    pub(super) dirty_from: i64,
    /// Files written through a dropped mapping or `pwrite` since the last
    /// flush. Paths, not descriptors: evicted queues must not pin descriptors.
    pub(super) pending_sync: Vec<PathBuf>,
    /// CommitLog offset of the oldest entry in `pending_sync`'s files
    /// ([`NONE_UNFLUSHED`] if none).
    pub(super) pending_from: i64,
    /// Bytes written to `pending_sync`'s files since their last `fsync`
    /// (the page rule of regular rounds applies to them too).
    pub(super) pending_bytes: usize,
    /// Appends written with `pwrite` since the queue last got a mapping
    /// (see `ConsumeQueue::write_tail`).
    pub(super) unmapped_writes: u32,
}

impl Default for SlotState {
    fn default() -> Self {
        SlotState {
            map: None,
            dirty: false,
            dirty_lo: 0,
            dirty_hi: 0,
            dirty_from: NONE_UNFLUSHED,
            pending_sync: Vec::new(),
            pending_from: NONE_UNFLUSHED,
            pending_bytes: 0,
            unmapped_writes: 0,
        }
    }
}

impl TailSlot {
    /// Whether the slot is admitted.
    pub(super) fn in_ring(&self) -> bool {
        self.in_ring.load(Ordering::Relaxed)
    }

    /// Marks the slot recently used.
    pub(super) fn touch(&self) {
        self.referenced.store(true, Ordering::Relaxed);
    }

    /// Drops the mapping, remembering its file for the next flush if dirty.
    pub(super) fn unmap(&self) {
        let mut st = lock(&self.state);
        st.drop_map();
    }
}

impl SlotState {
    /// Records a write of `len` bytes at `off` of `map` holding entries from
    /// CommitLog offset `from` on ([`NONE_UNFLUSHED`] for padding).
    pub(super) fn mark_dirty(&mut self, off: usize, len: usize, from: i64) {
        self.dirty_from = self.dirty_from.min(from);
        let end = off.saturating_add(len);
        if self.dirty {
            self.dirty_lo = self.dirty_lo.min(off);
            self.dirty_hi = self.dirty_hi.max(end);
        } else {
            self.dirty = true;
            self.dirty_lo = off;
            self.dirty_hi = end;
        }
    }

    /// Whether the dirty range of `map` spans at least `least_pages` page
    /// boundaries (Java's `(wrote / PAGE) - (flushed / PAGE) >= leastPages`);
    /// any dirt counts when `least_pages` is 0.
    pub(super) fn dirty_enough(&self, least_pages: usize) -> bool {
        self.dirty
            && (least_pages == 0
                || (self.dirty_hi / PAGE).saturating_sub(self.dirty_lo / PAGE) >= least_pages)
    }

    /// Whether the pending files hold at least `least_pages` pages written
    /// since their last `fsync`; any file counts when `least_pages` is 0.
    pub(super) fn pending_enough(&self, least_pages: usize) -> bool {
        !self.pending_sync.is_empty()
            && (least_pages == 0 || self.pending_bytes / PAGE >= least_pages)
    }

    /// Drops the mapping, remembering its file for the next flush if dirty.
    pub(super) fn drop_map(&mut self) {
        if let Some(old) = self.map.take() {
            if self.dirty {
                let bytes = self.dirty_hi.saturating_sub(self.dirty_lo);
                self.add_pending(&old.path, self.dirty_from, bytes);
            }
            self.dirty = false;
            self.dirty_from = NONE_UNFLUSHED;
        }
    }

    /// Remembers `path` for the next flush, once: `bytes` were written to it
    /// holding entries from CommitLog offset `from` on ([`NONE_UNFLUSHED`]:
    /// none, e.g. zeroing). Allocates only for a file not pending yet.
    pub(super) fn add_pending(&mut self, path: &Path, from: i64, bytes: usize) {
        self.pending_from = self.pending_from.min(from);
        self.pending_bytes = self.pending_bytes.saturating_add(bytes);
        if !self.pending_sync.iter().any(|p| p == path) {
            self.pending_sync.push(path.to_path_buf());
        }
    }

    /// CommitLog offset of the oldest entry not yet durable
    /// ([`NONE_UNFLUSHED`] if everything is).
    pub(super) fn oldest_unflushed(&self) -> i64 {
        self.dirty_from.min(self.pending_from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped_slot(budget: &MapBudget, file: &Arc<File>) -> Arc<TailSlot> {
        let slot = Arc::new(TailSlot::default());
        budget.admit(&slot);
        let m = budget
            .map(0, PathBuf::from("x"), Arc::clone(file), 40)
            .unwrap();
        lock(&slot.state).map = Some(m);
        slot
    }

    #[test]
    fn default_budget_covers_ten_thousand_queues_within_the_map_count() {
        let cap = super::super::DEFAULT_MAX_MAPPED_TAILS;
        assert!(cap > 10_000, "{cap}");
        // About half of the kernel's default vm.max_map_count, leaving the
        // rest (~32 000) to the CommitLog, the IndexFiles and the process.
        assert!(cap + 32_000 <= 65_530, "{cap}");
        assert_eq!(MapBudget::new(cap).cap(), cap);
    }

    /// Pages of `map` resident in the page cache, by `mincore`.
    fn resident_pages(map: &TailMap) -> usize {
        let page = 4096;
        let len = map.map.len();
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: the range is the live mapping; `vec` has one byte per page.
        let rc = unsafe { libc::mincore(map.map.as_mut_ptr().cast(), len, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        vec.iter().filter(|b| **b & 1 != 0).count()
    }

    #[test]
    fn first_write_to_a_new_tail_faults_in_one_page_not_the_file() {
        // A fresh sparse 6 MB ConsumeQueue file: without MADV_RANDOM the
        // first fault read around `read_ahead_kb` and zero-filled all of it
        // (1 465 pages) for one 20-byte entry.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000");
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let len = 300_000 * 20;
        f.set_len(len as u64).unwrap();
        let budget = MapBudget::new(1);
        let map = budget.map(0, path, Arc::new(f), len).unwrap();
        assert!(map.write(0, &[7u8; 20]));
        let resident = resident_pages(&map);
        assert!(resident < 32, "{resident} resident pages after one entry");
    }

    #[test]
    fn dirty_range_counts_pages_as_java_does() {
        let mut st = SlotState::default();
        assert!(!st.dirty_enough(0));
        st.mark_dirty(0, 20, 100);
        assert!(st.dirty_enough(0));
        assert!(!st.dirty_enough(2), "one entry is not two pages");
        // Entries up to byte 8 200: the range crosses pages 0 → 2.
        for off in (20..8_200).step_by(20) {
            st.mark_dirty(off, 20, 100 + off as i64);
        }
        assert!(st.dirty_enough(2));
        assert!(!st.dirty_enough(3));
        // A rewrite lower down widens the range, never narrows it.
        st.mark_dirty(4_096, 20, NONE_UNFLUSHED);
        assert_eq!((st.dirty_lo, st.dirty_hi), (0, 8_200));
        // The oldest unflushed entry is the first one written.
        assert_eq!(st.oldest_unflushed(), 100);
    }

    #[test]
    fn eviction_keeps_live_mappings_under_the_cap() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(40).unwrap();
        let file = Arc::new(f);
        let budget = MapBudget::new(3);
        let slots: Vec<_> = (0..10).map(|_| mapped_slot(&budget, &file)).collect();
        assert!(budget.live() <= 3, "live {}", budget.live());
        let mapped = slots
            .iter()
            .filter(|s| lock(&s.state).map.is_some())
            .count();
        assert_eq!(mapped, 3);
        for s in &slots {
            budget.forget(s);
        }
        assert_eq!(budget.live(), 0);
    }

    #[test]
    fn referenced_slots_survive_one_sweep() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(40).unwrap();
        let file = Arc::new(f);
        let budget = MapBudget::new(2);
        let a = mapped_slot(&budget, &file);
        let b = mapped_slot(&budget, &file);
        // Both referenced; the first sweep clears both bits and evicts `a`.
        let c = mapped_slot(&budget, &file);
        assert!(lock(&a.state).map.is_none());
        // `b` lost its bit in that sweep and `c` was just used: `d` evicts `b`.
        let _d = mapped_slot(&budget, &file);
        assert!(lock(&b.state).map.is_none());
        assert!(lock(&c.state).map.is_some());
        assert!(budget.live() <= 2);
    }

    #[test]
    fn dirty_unmap_remembers_the_file() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(40).unwrap();
        let file = Arc::new(f);
        let budget = MapBudget::new(1);
        let a = mapped_slot(&budget, &file);
        {
            let mut st = lock(&a.state);
            let m = st.map.clone().unwrap();
            assert!(m.write(20, &[1; 20]));
            assert!(!m.write(21, &[1; 20]));
            st.mark_dirty(20, 20, 555);
        }
        let _b = mapped_slot(&budget, &file);
        let st = lock(&a.state);
        assert!(st.map.is_none());
        assert_eq!(st.pending_sync.len(), 1);
        // What the mapping held unflushed is now the pending file's.
        assert_eq!((st.dirty_from, st.pending_from), (NONE_UNFLUSHED, 555));
        assert_eq!(st.oldest_unflushed(), 555);
    }
}
