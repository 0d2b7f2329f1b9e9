//! One fixed-size memory-mapped store file, named by its 20-digit start offset.
//!
//! A [`MappedFile`] is shared (`Arc`) by one writer, any number of readers and
//! the flusher. The write position is the publication point: the writer fills
//! bytes at and past it, then advances it with `Release`; readers load it with
//! `Acquire` and only ever look below it. That split is what makes the raw
//! mapping accesses below sound, together with one crate invariant:
//!
//! **Only the owner of a log's append lock writes** (the CommitLog's
//! `Mutex<AppendState>`, or exclusive ownership before the file is shared), so
//! there is one writer per file at a time. The write methods are `pub(crate)`
//! for that reason.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};

use crate::config::OS_PAGE_SIZE;
use crate::error::{Result, StoreError};
use crate::mapped_file_queue::warm::Bell;
use write_hook::WriteHook;

mod write_hook;

/// Forces a range of a mapped file to disk; the seam tests use to count or slow flushes.
pub trait DiskSync: Send + Sync + std::fmt::Debug {
    /// Makes bytes `[offset, offset + len)` of `file` durable.
    fn sync_range(&self, file: &MappedFile, offset: usize, len: usize) -> io::Result<()>;
}

/// The real [`DiskSync`]: `msync(MS_SYNC)` of the range.
#[derive(Debug, Clone, Copy, Default)]
pub struct Msync;

impl DiskSync for Msync {
    fn sync_range(&self, file: &MappedFile, offset: usize, len: usize) -> io::Result<()> {
        file.msync(offset, len)
    }
}

/// One memory-mapped file of a [`MappedFileQueue`](crate::mapped_file_queue::MappedFileQueue).
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    // Kept open for the life of the mapping (and for `fallocate`).
    file: File,
    map: Arc<MmapRaw>,
    /// The whole mapping as one [`Bytes`]: [`Self::slice`] hands out
    /// sub-slices of it, a reference count each instead of an allocation.
    whole: Bytes,
    from_offset: i64,
    size: usize,
    /// Bytes `[0, wrote)` are published and immutable (except by truncation).
    wrote: AtomicUsize,
    /// Bytes `[0, flushed)` are known to be on disk.
    flushed: AtomicUsize,
    /// Store timestamp of the last record appended.
    store_timestamp: AtomicI64,
    /// Write position at which to ring `warm_bell` (`usize::MAX`: nobody listens).
    warm_mark: AtomicUsize,
    /// The warm-window thread's doorbell, once it watches this file.
    warm_bell: OnceLock<Arc<Bell>>,
    /// What the writer runs once it reaches a position ([`Self::on_written_to`]).
    write_hook: WriteHook,
    /// Where `MADV_RANDOM` starts (`usize::MAX`: nowhere); only the warm
    /// thread changes it.
    random_from: AtomicUsize,
}

/// What [`MappedFile::create`] does beyond creating and mapping a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prepare {
    /// Reserve the file's disk blocks up front (`fallocate(2)`), so a
    /// full disk fails the creation with [`StoreError::DiskFull`] instead of
    /// an append through the mapping with `SIGBUS`. Touches no page.
    pub reserve: bool,
    /// Make every page present and writable (`warmMapedFileEnable`), so
    /// appends never fault: ~0.2–0.6 s of CPU and the file's size in memory
    /// per GiB, whether or not it is written; for a background thread.
    pub prefault: bool,
}

/// Whether `MADV_POPULATE_WRITE` failed as unsupported once: then later
/// calls go straight to the fallback.
static NO_POPULATE_WRITE: AtomicBool = AtomicBool::new(false);

/// How [`MappedFile::populate`] made a range resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Populated {
    /// Mapped writable by `MADV_POPULATE_WRITE`: appends there take no fault.
    Mapped,
    /// Read into the page cache by `MADV_WILLNEED` (no `MADV_POPULATE_WRITE`
    /// here): appends still fault once per page, but on a cached page.
    Cached,
    /// Nothing could be done (the error is logged at debug).
    Failed,
}

impl MappedFile {
    /// The file name for `offset`: 20 zero-padded decimal digits.
    pub fn file_name(offset: i64) -> String {
        format!("{offset:020}")
    }

    /// The start offset named by `name`, if it is 20 decimal digits.
    pub fn parse_file_name(name: &str) -> Option<i64> {
        if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        name.parse().ok()
    }

    /// Creates (or re-creates, zeroed) the file for `from_offset` in `dir`,
    /// maps it without touching a page, and does what `prepare` asks.
    pub fn create(dir: &Path, from_offset: i64, size: usize, prepare: Prepare) -> Result<Self> {
        let path = dir.join(Self::file_name(from_offset));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
        file.set_len(size as u64)
            .map_err(|e| StoreError::io("create", &path, e))?;
        if prepare.reserve {
            if let Err(e) = reserve_blocks(&file, size) {
                // Leave no short-of-blocks file behind for the next open to trust.
                let _ = std::fs::remove_file(&path);
                return Err(StoreError::io("fallocate", &path, e));
            }
        }
        let this = Self::map(path, file, from_offset, size, 0)?;
        if prepare.prefault {
            this.prefault();
        }
        Ok(this)
    }

    /// Opens an existing file of `size` bytes, treating all of it as written
    /// (as Java does) until recovery sets the real positions.
    pub fn open(path: &Path, size: usize) -> Result<Self> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let from_offset = Self::parse_file_name(name).ok_or(StoreError::BadFileName {
            path: path.to_path_buf(),
        })?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io("open", path, e))?;
        let actual = file
            .metadata()
            .map_err(|e| StoreError::io("stat", path, e))?
            .len();
        if actual != size as u64 {
            return Err(StoreError::BadFileSize {
                path: path.to_path_buf(),
                expected: size as u64,
                actual,
            });
        }
        Self::map(path.to_path_buf(), file, from_offset, size, size)
    }

    fn map(path: PathBuf, file: File, from_offset: i64, size: usize, wrote: usize) -> Result<Self> {
        let map = Arc::new(
            MmapOptions::new()
                .len(size)
                .map_raw(&file)
                .map_err(|e| StoreError::io("map", &path, e))?,
        );
        // Made before the file is shared, so before anything writes it.
        let whole = Bytes::from_owner(WholeMapping(Arc::clone(&map)));
        Ok(Self {
            path,
            file,
            map,
            whole,
            from_offset,
            size,
            wrote: AtomicUsize::new(wrote),
            flushed: AtomicUsize::new(wrote),
            store_timestamp: AtomicI64::new(0),
            warm_mark: AtomicUsize::new(usize::MAX),
            warm_bell: OnceLock::new(),
            write_hook: WriteHook::new(),
            random_from: AtomicUsize::new(usize::MAX),
        })
    }

    /// Reserves the disk blocks of a file opened from disk (written by an
    /// older version or by RocketMQ, possibly sparse), so appends into its
    /// unwritten tail cannot hit a full disk through the mapping. Best
    /// effort: a failure is logged and the file is used as it is.
    pub(crate) fn reserve_existing(&self) {
        if let Err(e) = reserve_blocks(&self.file, self.size) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot reserve the blocks of the last file; appends may fail with SIGBUS if the disk fills");
        }
    }

    /// Makes every page present and writable so later appends do not fault.
    ///
    /// Under `MADV_RANDOM`, so that no fault on the sparse file goes through
    /// read-around: each would zero-fill up to `read_ahead_kb` (8 MiB here)
    /// of large folios in `ext4_mpage_readpages`, which cost ~1 s of CPU per
    /// GiB and, under memory/dirty pressure, much more (a `perf` of the
    /// 16-queue bench with `MADV_POPULATE_WRITE` alone: 76 % of all samples
    /// in that `memset`). Then one `madvise(MADV_POPULATE_WRITE)` (Linux
    /// 5.14+) or, if the kernel lacks it, a write to every page. The advice
    /// is reset to normal afterwards for readers of the segment.
    fn prefault(&self) {
        if let Err(e) = self.map.advise(memmap2::Advice::Random) {
            tracing::debug!(path = %self.path.display(), error = %e, "madvise(MADV_RANDOM) before pre-fault failed");
        }
        if let Err(e) = self.populate_write(0, self.size) {
            tracing::debug!(path = %self.path.display(), error = %e, "madvise(MADV_POPULATE_WRITE) failed; touching pages");
            self.touch_pages();
        }
        if let Err(e) = self.map.advise(memmap2::Advice::Normal) {
            tracing::debug!(path = %self.path.display(), error = %e, "madvise(MADV_NORMAL) after pre-fault failed");
        }
    }

    /// Makes bytes `[from, to)` (widened to whole pages) resident ahead of the
    /// writer, for the warm window: one `madvise(MADV_POPULATE_WRITE)`
    /// (Linux 5.14+), which faults the pages in writable without changing
    /// a byte, so it is safe while the writer appends into the same range.
    ///
    /// Without it, `MADV_WILLNEED` reads them into the page cache (zeros from
    /// the reserved blocks), so the writer's faults there find them cached. Touching
    /// a byte per page, as [`Self::prefault`] may, is not an option here: a
    /// store of that byte could race with (and undo) the writer's own.
    pub(crate) fn populate(&self, from: usize, to: usize) -> Populated {
        let start = from / OS_PAGE_SIZE * OS_PAGE_SIZE;
        let end = to
            .min(self.size)
            .next_multiple_of(OS_PAGE_SIZE)
            .min(self.size);
        if start >= end {
            return Populated::Mapped;
        }
        if !NO_POPULATE_WRITE.load(Ordering::Relaxed) {
            match self.populate_write(start, end - start) {
                Ok(()) => return Populated::Mapped,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    NO_POPULATE_WRITE.store(true, Ordering::Relaxed);
                    tracing::info!(error = %e, "no madvise(MADV_POPULATE_WRITE) on this kernel; warming CommitLog pages with MADV_WILLNEED");
                }
                Err(e) => {
                    tracing::debug!(path = %self.path.display(), start, end, error = %e, "madvise(MADV_POPULATE_WRITE) failed");
                    return Populated::Failed;
                }
            }
        }
        self.will_need(start, end - start)
    }

    /// The fallback of [`Self::populate`]: `madvise(MADV_WILLNEED)`, which
    /// only starts reading file pages into the page cache.
    fn will_need(&self, start: usize, len: usize) -> Populated {
        if self.advise(start, len, libc::MADV_WILLNEED) {
            Populated::Cached
        } else {
            Populated::Failed
        }
    }

    /// Asks for bytes `[from, to)` (widened to whole pages) to be read into
    /// the page cache without waiting (`MADV_WILLNEED`), ahead of a
    /// sequential walk of the mapping such as recovery's CRC scan. Pages
    /// that appends wrote under the tail's `MADV_RANDOM` come back through
    /// faults ~512 KiB at a time (2,070 major faults per GiB here), each a
    /// stall of the walk; read ahead, the walk overlaps with the I/O
    /// (store/BENCHMARKS.md). Best effort: a failure is logged at debug.
    pub(crate) fn read_ahead(&self, from: usize, to: usize) {
        let start = from / OS_PAGE_SIZE * OS_PAGE_SIZE;
        let end = to.min(self.size);
        if start < end {
            self.advise(start, end - start, libc::MADV_WILLNEED);
        }
    }

    /// `MADV_RANDOM` on the pages from the one holding `from` to the end:
    /// the unwritten tail, where the warm window populates and the writer
    /// may fault. Faults there then make one page each instead of reading
    /// around `read_ahead_kb` (8 MiB here) of large folios. Populating a
    /// GiB that way costs a steady ~0.6 s of CPU here; with read-around it
    /// swung between 0.2 and 2.6 s (store/BENCHMARKS.md), and the writer's
    /// own faults each zeroed megabytes. Idempotent.
    pub(crate) fn advise_random_tail(&self, from: usize) {
        if self.random_from.load(Ordering::Relaxed) != usize::MAX {
            return;
        }
        let start = from.min(self.size) / OS_PAGE_SIZE * OS_PAGE_SIZE;
        if self.advise(start, self.size - start, libc::MADV_RANDOM) {
            self.random_from.store(start, Ordering::Relaxed);
        }
    }

    /// Back to normal read-ahead once appends have moved on to another
    /// file, so readers catching up on it from disk get read-ahead again.
    pub(crate) fn advise_normal(&self) {
        let start = self.random_from.load(Ordering::Relaxed);
        if start != usize::MAX && self.advise(start, self.size - start, libc::MADV_NORMAL) {
            self.random_from.store(usize::MAX, Ordering::Relaxed);
        }
    }

    /// Drops this mapping's page-table entries for the page-aligned range
    /// `[from, to)` (`MADV_DONTNEED`, one TLB flush for the range). The file
    /// is mapped shared, so the pages stay in the page cache with their dirty
    /// state and the next access faults them back in: nothing is lost.
    fn unmap_final_pages(&self, from: usize, to: usize) {
        if to > from {
            self.advise(from, to - from, libc::MADV_DONTNEED);
        }
    }

    /// `madvise(advice)` on `[start, start + len)`; false (logged) on failure.
    fn advise(&self, start: usize, len: usize, advice: libc::c_int) -> bool {
        if len == 0 {
            return true;
        }
        // SAFETY: a page-aligned range inside this live mapping. RANDOM and
        // NORMAL only change read-ahead; DONTNEED on a shared file mapping
        // only unmaps (the page cache keeps the bytes), so views into the
        // range stay valid and read the same bytes after a fault.
        let rc = unsafe {
            libc::madvise(
                self.map.as_mut_ptr().add(start).cast::<libc::c_void>(),
                len,
                advice,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            tracing::debug!(path = %self.path.display(), advice, error = %e, "madvise failed");
        }
        rc == 0
    }

    /// Has the writer ring `bell` once its write position reaches `mark`.
    pub(crate) fn arm_warm_mark(&self, mark: usize, bell: &Arc<Bell>) {
        if self.warm_bell.get().is_none() {
            // Only the warm-window thread sets it; a lost race sets the same bell.
            let _ = self.warm_bell.set(Arc::clone(bell));
        }
        self.warm_mark.store(mark, Ordering::Release);
    }

    /// Has the writer run `action` once its write position reaches `pos`
    /// (now, if it has), replacing any action armed before. Best effort: a
    /// write racing the arming can miss it.
    pub(crate) fn on_written_to(&self, pos: usize, action: Box<dyn FnOnce() + Send>) {
        self.write_hook
            .arm(pos, action, || self.wrote.load(Ordering::Acquire));
    }

    /// The writer passed the warm mark: disarm it and ring the bell.
    #[cold]
    fn ring_warm_bell(&self) {
        self.warm_mark.store(usize::MAX, Ordering::Relaxed);
        if let Some(bell) = self.warm_bell.get() {
            bell.ring();
        }
    }

    /// Pages of `[from, to)` (`from` page-aligned) in the page cache, by `mincore`.
    #[cfg(test)]
    pub(crate) fn resident_pages(&self, from: usize, to: usize) -> usize {
        let len = to.min(self.size).saturating_sub(from);
        let mut vec = vec![0u8; len.div_ceil(OS_PAGE_SIZE)];
        // SAFETY: the range lies inside the live mapping and starts on a
        // page; `vec` has one byte per page of it.
        let rc = unsafe {
            libc::mincore(
                self.map.as_mut_ptr().add(from).cast(),
                len,
                vec.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "mincore: {}", io::Error::last_os_error());
        vec.iter().filter(|b| **b & 1 != 0).count()
    }

    /// The fallback of [`Self::prefault`]: a write to every page.
    fn touch_pages(&self) {
        // The file is not shared yet (it is being created), so this is the only writer.
        let all = self.tail_mut(0, self.size);
        for page in all.chunks_mut(OS_PAGE_SIZE) {
            page[0] = 0;
        }
    }

    /// `madvise(MADV_POPULATE_WRITE)` on `[start, start + len)` (`start`
    /// page-aligned); `EINVAL` if the kernel does not support it.
    #[cfg(target_os = "linux")]
    fn populate_write(&self, start: usize, len: usize) -> io::Result<()> {
        /// `MADV_POPULATE_WRITE` (Linux 5.14), not in every `libc` version.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        if len == 0 {
            return Ok(());
        }
        debug_assert!(start % OS_PAGE_SIZE == 0 && start + len <= self.size);
        // SAFETY: the range lies inside this live mapping and starts on a
        // page boundary; populating pages of a shared file mapping faults
        // them in as a write would but changes no byte, so it is sound
        // while the writer appends into the same pages.
        let rc = unsafe {
            libc::madvise(
                self.map.as_mut_ptr().add(start).cast::<libc::c_void>(),
                len,
                MADV_POPULATE_WRITE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn populate_write(&self, _start: usize, _len: usize) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EINVAL))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// CommitLog (or queue) offset of the file's first byte.
    pub fn from_offset(&self) -> i64 {
        self.from_offset
    }

    /// The file's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes written and published.
    pub fn wrote_position(&self) -> usize {
        self.wrote.load(Ordering::Acquire)
    }

    /// Bytes known to be on disk.
    pub fn flushed_position(&self) -> usize {
        self.flushed.load(Ordering::Acquire)
    }

    /// Offset just past the published bytes.
    pub fn end_offset(&self) -> i64 {
        self.from_offset + self.wrote_position() as i64
    }

    /// Bytes left for appends.
    pub fn remaining(&self) -> usize {
        self.size - self.wrote_position()
    }

    /// Whether nothing more can be appended.
    pub fn is_full(&self) -> bool {
        self.wrote_position() == self.size
    }

    /// Store timestamp of the last record appended (0 if none since opening).
    pub fn store_timestamp(&self) -> i64 {
        self.store_timestamp.load(Ordering::Acquire)
    }

    /// Published bytes `[pos, pos + len)`, borrowed.
    pub fn read(&self, pos: usize, len: usize) -> Option<&[u8]> {
        let end = pos.checked_add(len)?;
        (end <= self.wrote_position()).then(|| self.bytes_at(pos, len))
    }

    /// Published bytes `[pos, pos + len)` as zero-copy [`Bytes`] that keep the
    /// mapping alive; no allocation (a dispatched or pulled record is one).
    pub fn slice(&self, pos: usize, len: usize) -> Option<Bytes> {
        self.read(pos, len)?;
        Some(self.whole.slice(pos..pos + len))
    }

    /// Bytes `[pos, pos + len)` whether published or not, for recovery scans.
    ///
    /// Callers hold the append lock (or run before appends start), so nothing
    /// writes the unpublished part while it is borrowed.
    pub(crate) fn read_unpublished(&self, pos: usize, len: usize) -> Option<&[u8]> {
        let end = pos.checked_add(len)?;
        (end <= self.size).then(|| self.bytes_at(pos, len))
    }

    fn bytes_at(&self, pos: usize, len: usize) -> &[u8] {
        debug_assert!(pos + len <= self.size);
        // SAFETY: the range lies inside the mapping (checked by every caller)
        // and the mapping lives as long as `self`. Nothing writes it while the
        // borrow lives: published bytes are never written again except by
        // truncation, which runs only when no reader holds the truncated range
        // (recovery, role change), and unpublished bytes are read only by the
        // append-lock holder, the only writer.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(pos), len) }
    }

    #[allow(clippy::mut_from_ref)] // the write side of the split described in the module docs
    fn tail_mut(&self, pos: usize, len: usize) -> &mut [u8] {
        debug_assert!(pos + len <= self.size);
        // SAFETY: the range lies inside the mapping. Only the append-lock
        // holder calls this (module invariant), so there is one writer, and
        // `pos` is at or past the write position (or truncation holds the
        // append lock while no reader holds the range), so no reader borrows
        // these bytes while the `&mut` lives.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(pos), len) }
    }

    /// Lets `fill` write the next `len` bytes, then publishes them.
    ///
    /// Returns the file position written at. If `fill` fails nothing is
    /// published (the bytes are overwritten by the next append).
    pub(crate) fn append_with<T>(
        &self,
        len: usize,
        store_timestamp: i64,
        fill: impl FnOnce(&mut [u8], usize) -> Result<T>,
    ) -> Result<(usize, T)> {
        let pos = self.wrote.load(Ordering::Relaxed);
        if len > self.size - pos {
            return Err(StoreError::MessageTooLarge {
                len,
                max: self.size - pos,
            });
        }
        let out = fill(self.tail_mut(pos, len), pos)?;
        self.wrote.store(pos + len, Ordering::Release);
        if store_timestamp > 0 {
            self.store_timestamp
                .store(store_timestamp, Ordering::Release);
        }
        if pos + len >= self.warm_mark.load(Ordering::Relaxed) {
            self.ring_warm_bell();
        }
        self.write_hook.passed(pos + len);
        Ok((pos, out))
    }

    /// Cuts the file at `pos`: with `zero`, zeroes `[pos, size)` where not
    /// already zero and forces that to disk; moves both positions to `pos`.
    pub(crate) fn truncate_to(&self, pos: usize, zero: bool) -> Result<()> {
        let pos = pos.min(self.size);
        let mut dirty = None::<(usize, usize)>;
        let mut start = if zero { pos } else { self.size };
        while start < self.size {
            // Page-sized steps aligned to pages, so zero tails dirty (and cost) nothing.
            let end = ((start / OS_PAGE_SIZE + 1) * OS_PAGE_SIZE).min(self.size);
            let chunk = self.tail_mut(start, end - start);
            if chunk.iter().any(|&b| b != 0) {
                chunk.fill(0);
                dirty = Some((dirty.map_or(start, |d| d.0), end));
            }
            start = end;
        }
        if let Some((from, to)) = dirty {
            self.msync(from, to - from)
                .map_err(|e| StoreError::io("flush", &self.path, e))?;
        }
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
        Ok(())
    }

    /// Sets the positions of a file appended to at a given offset (an empty log
    /// starting mid-file); bytes before `pos` are zero.
    pub(crate) fn set_start(&self, pos: usize) {
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
    }

    /// `msync(MS_SYNC)` of `[offset, offset + len)`.
    pub fn msync(&self, offset: usize, len: usize) -> io::Result<()> {
        self.map.flush_range(offset, len)
    }

    /// Flushes the published bytes if at least `least_pages` new pages are
    /// dirty (any amount if 0, everything once the file is full); returns the
    /// flushed position.
    pub fn flush(&self, least_pages: usize, sync: &dyn DiskSync) -> Result<usize> {
        let wrote = self.wrote_position();
        let flushed = self.flushed_position();
        if wrote <= flushed {
            return Ok(flushed);
        }
        let due = wrote == self.size
            || least_pages == 0
            || wrote / OS_PAGE_SIZE - flushed / OS_PAGE_SIZE >= least_pages;
        if !due {
            return Ok(flushed);
        }
        let start = flushed / OS_PAGE_SIZE * OS_PAGE_SIZE;
        // Whole pages below the write position are final: unmap them first,
        // so writeback finds them unmapped instead of write-protecting each
        // one with its own TLB shoot-down (an IPI per 4 KiB page to the
        // writer's core: half the flusher's CPU at ~800 MB/s, store/BENCHMARKS.md).
        self.unmap_final_pages(start, wrote / OS_PAGE_SIZE * OS_PAGE_SIZE);
        sync.sync_range(self, start, wrote - start)
            .map_err(|e| StoreError::io("flush", &self.path, e))?;
        self.flushed.fetch_max(wrote, Ordering::AcqRel);
        Ok(wrote)
    }

    /// Deletes the file from disk; the mapping stays valid for outstanding views.
    pub fn delete(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::io("delete", &self.path, e))
            }
            _ => Ok(()),
        }
    }
}

/// Allocates the disk blocks of `file`'s first `size` bytes without writing
/// them (`fallocate(2)`, mode 0: unwritten extents that read as zeros).
///
/// Appends go through a shared mapping, where a full disk can only show as
/// `SIGBUS`; reserving the blocks at creation turns that into an `ENOSPC`
/// here. A file system without `fallocate` (`EOPNOTSUPP`) keeps the sparse
/// file, as RocketMQ has it.
#[cfg(target_os = "linux")]
fn reserve_blocks(file: &File, size: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len =
        libc::off_t::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if len == 0 {
        return Ok(());
    }
    loop {
        // SAFETY: a plain syscall on an open descriptor; no memory is passed.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP | libc::ENOSYS) => {
                tracing::debug!(error = %e, "fallocate unsupported; the file stays sparse");
                return Ok(());
            }
            _ => return Err(e),
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve_blocks(_file: &File, _size: usize) -> io::Result<()> {
    Ok(())
}

/// The owner behind [`MappedFile::slice`]'s views: the mapping, kept alive
/// (and unmapped) with the last view or file holding it.
#[derive(Debug)]
struct WholeMapping(Arc<MmapRaw>);

impl AsRef<[u8]> for WholeMapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the mapping is live while `self` is. `Bytes::from_owner`
        // calls this once, in `MappedFile::map`, before the file is shared and
        // written; later views are sub-slices made by `MappedFile::slice`,
        // which only ever covers published bytes, never written again (the
        // module's invariant).
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), self.0.len()) }
    }
}

#[cfg(test)]
mod tests;
