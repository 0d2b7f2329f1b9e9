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
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};

use crate::config::OS_PAGE_SIZE;
use crate::error::{Result, StoreError};

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
    // Kept open for the life of the mapping (and for `sync_data` fallbacks).
    _file: File,
    map: MmapRaw,
    from_offset: i64,
    size: usize,
    /// Bytes `[0, wrote)` are published and immutable (except by truncation).
    wrote: AtomicUsize,
    /// Bytes `[0, flushed)` are known to be on disk.
    flushed: AtomicUsize,
    /// Store timestamp of the last record appended.
    store_timestamp: AtomicI64,
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

    /// Creates (or re-creates, zeroed) the file for `from_offset` in `dir`.
    ///
    /// With `prefault`, every page is touched with a write so that appends
    /// never take a page fault; this is slow (a fault per page) and meant for
    /// a background thread.
    pub fn create(dir: &Path, from_offset: i64, size: usize, prefault: bool) -> Result<Self> {
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
        let this = Self::map(path, file, from_offset, size, 0)?;
        if prefault {
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
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(|e| StoreError::io("map", &path, e))?;
        Ok(Self {
            path,
            _file: file,
            map,
            from_offset,
            size,
            wrote: AtomicUsize::new(wrote),
            flushed: AtomicUsize::new(wrote),
            store_timestamp: AtomicI64::new(0),
        })
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
        if !self.populate_write() {
            self.touch_pages();
        }
        if let Err(e) = self.map.advise(memmap2::Advice::Normal) {
            tracing::debug!(path = %self.path.display(), error = %e, "madvise(MADV_NORMAL) after pre-fault failed");
        }
    }

    /// The fallback of [`Self::prefault`]: a write to every page.
    fn touch_pages(&self) {
        // The file is not shared yet (it is being created), so this is the only writer.
        let all = self.tail_mut(0, self.size);
        for page in all.chunks_mut(OS_PAGE_SIZE) {
            page[0] = 0;
        }
    }

    /// `madvise(MADV_POPULATE_WRITE)` on the whole mapping; false if the
    /// kernel does not support it (or it failed), so the caller touches pages.
    #[cfg(target_os = "linux")]
    fn populate_write(&self) -> bool {
        /// `MADV_POPULATE_WRITE` (Linux 5.14), not in every `libc` version.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        if self.size == 0 {
            return true;
        }
        // SAFETY: the range is exactly this live mapping (page-aligned start
        // from mmap, length of the mapping); populating pages of a shared
        // file mapping does not change its contents (the file was just
        // created and is zero, pages read as zero).
        let rc = unsafe {
            libc::madvise(
                self.map.as_mut_ptr().cast::<libc::c_void>(),
                self.size,
                MADV_POPULATE_WRITE,
            )
        };
        if rc == 0 {
            return true;
        }
        let e = io::Error::last_os_error();
        tracing::debug!(path = %self.path.display(), error = %e, "madvise(MADV_POPULATE_WRITE) failed; touching pages");
        false
    }

    #[cfg(not(target_os = "linux"))]
    fn populate_write(&self) -> bool {
        false
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

    /// Published bytes `[pos, pos + len)` as zero-copy [`Bytes`] that keep the mapping alive.
    pub fn slice(self: &Arc<Self>, pos: usize, len: usize) -> Option<Bytes> {
        self.read(pos, len)?;
        Some(Bytes::from_owner(MappedView {
            file: Arc::clone(self),
            pos,
            len,
        }))
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

/// The owner behind [`MappedFile::slice`]: a published range plus the `Arc`
/// that keeps its mapping alive.
#[derive(Debug)]
struct MappedView {
    file: Arc<MappedFile>,
    pos: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedView {
    fn as_ref(&self) -> &[u8] {
        // Checked to be published when the view was made.
        self.file.bytes_at(self.pos, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of `f`'s mapping resident in the page cache, by `mincore`.
    fn resident_pages(f: &MappedFile) -> usize {
        let mut vec = vec![0u8; f.size.div_ceil(OS_PAGE_SIZE)];
        // SAFETY: the range is the live mapping; `vec` has one byte per page.
        let rc = unsafe { libc::mincore(f.map.as_mut_ptr().cast(), f.size, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        vec.iter().filter(|b| **b & 1 != 0).count()
    }

    #[test]
    fn prefault_makes_every_page_resident_and_zero() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 << 20;
        let f = MappedFile::create(dir.path(), 0, size, true).unwrap();
        assert_eq!(resident_pages(&f), size / OS_PAGE_SIZE);
        assert!(f.bytes_at(0, size).iter().all(|b| *b == 0));
        assert_eq!(std::fs::metadata(f.path()).unwrap().len(), size as u64);
        // The fallback (a kernel without MADV_POPULATE_WRITE) too.
        let g = MappedFile::create(dir.path(), size as i64, size, false).unwrap();
        g.touch_pages();
        assert_eq!(resident_pages(&g), size / OS_PAGE_SIZE);
        assert!(g.bytes_at(0, size).iter().all(|b| *b == 0));
    }

    #[test]
    fn names_are_twenty_digits() {
        assert_eq!(MappedFile::file_name(1_073_741_824), "00000000001073741824");
        assert_eq!(
            MappedFile::parse_file_name("00000000001073741824"),
            Some(1_073_741_824)
        );
        assert_eq!(MappedFile::parse_file_name("0000000000107374182"), None);
        assert_eq!(MappedFile::parse_file_name("0000000000107374182x"), None);
    }

    #[test]
    fn append_publish_read_flush_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(MappedFile::create(dir.path(), 8192, 8192, true).unwrap());
        assert_eq!(f.path().file_name().unwrap(), "00000000000000008192");
        assert_eq!(f.read(0, 1), None);
        let (pos, ()) = f
            .append_with(5, 7, |dst, _| {
                dst.copy_from_slice(b"hello");
                Ok(())
            })
            .unwrap();
        assert_eq!(
            (pos, f.wrote_position(), f.store_timestamp(), f.end_offset()),
            (0, 5, 7, 8197)
        );
        let view = f.slice(1, 4).unwrap();
        assert_eq!(&view[..], b"ello");
        assert!(f.slice(1, 5).is_none());
        let failed = f.append_with(3, 0, |_, _| Err::<(), _>(StoreError::MessageIllegal("x")));
        assert!(failed.is_err());
        assert_eq!(f.wrote_position(), 5);
        assert!(matches!(
            f.append_with(8188, 0, |_, _| Ok(())),
            Err(StoreError::MessageTooLarge { .. })
        ));
        assert_eq!(
            f.flush(1, &Msync).unwrap(),
            0,
            "less than a page is not due"
        );
        assert_eq!(f.flush(0, &Msync).unwrap(), 5);
        f.truncate_to(2, true).unwrap();
        assert_eq!((f.wrote_position(), f.flushed_position()), (2, 2));
        assert_eq!(f.read_unpublished(0, 5).unwrap(), b"he\0\0\0");
        drop(f);
        let again = MappedFile::open(&dir.path().join("00000000000000008192"), 8192).unwrap();
        assert_eq!(again.wrote_position(), 8192);
        assert_eq!(again.read(0, 3).unwrap(), b"he\0");
        assert!(matches!(
            MappedFile::open(&dir.path().join("00000000000000008192"), 4096),
            Err(StoreError::BadFileSize { actual: 8192, .. })
        ));
        again.delete().unwrap();
        again.delete().unwrap();
    }
}
