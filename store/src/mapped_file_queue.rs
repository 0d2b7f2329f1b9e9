//! A directory of equally sized [`MappedFile`]s named by start offset, with
//! the next file pre-allocated by a background thread ([`prealloc`]) and the
//! pages just ahead of the writer kept warm by another ([`warm`]).
//!
//! Readers find files by offset under a short read lock; the writer (the
//! append-lock holder) adds files under the write lock only when it rolls.
//! Flushing has its own lock so a truncation cannot interleave with an
//! in-flight flush; puts never wait for it.

mod prealloc;
pub(crate) mod warm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::config::DEFAULT_WARM_WINDOW;
use crate::error::{Result, StoreError};
use crate::mapped_file::{DiskSync, MappedFile, Msync, Prepare};
use prealloc::{Preallocator, Recipe};
use warm::WarmWindow;

/// How a [`MappedFileQueue`] creates files.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Size of every file.
    pub file_size: usize,
    /// Create the next file on a background thread before it is needed,
    /// with its disk blocks reserved (`fallocate`: a full disk then fails a
    /// roll with `DiskFull`, not an append with `SIGBUS`). Without it files
    /// are made sparse, on demand, as RocketMQ makes them.
    pub preallocate: bool,
    /// Pre-fault every page of each new file (`warmMapedFileEnable`).
    pub prefault: bool,
    /// Bytes past the write position a background thread keeps resident
    /// (0: none, appends fault pages in themselves).
    pub warm_window: usize,
    /// How flushes reach the disk.
    pub disk_sync: Arc<dyn DiskSync>,
}

impl QueueOptions {
    /// Options for `file_size`-byte files, pre-allocated, not pre-faulted,
    /// with the default warm window, flushed with `msync`.
    pub fn new(file_size: usize) -> Self {
        Self {
            file_size,
            preallocate: true,
            prefault: false,
            warm_window: DEFAULT_WARM_WINDOW,
            disk_sync: Arc::new(Msync),
        }
    }

    /// How new files are prepared: blocks reserved where pre-allocated.
    fn prepare(&self) -> Prepare {
        Prepare {
            reserve: self.preallocate,
            prefault: self.prefault,
        }
    }
}

/// What one [`MappedFileQueue::flush`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Offset up to which the queue is on disk.
    pub flushed_where: i64,
    /// Store timestamp of the last record known flushed (0 if unknown).
    pub store_timestamp: i64,
}

/// The files of one log, in offset order, without gaps.
#[derive(Debug)]
pub struct MappedFileQueue {
    dir: PathBuf,
    options: QueueOptions,
    files: RwLock<Vec<Arc<MappedFile>>>,
    flushed_where: AtomicI64,
    flush_lock: Mutex<()>,
    allocator: Option<Preallocator>,
    warm: Option<WarmWindow>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves the data consistent (every update is a single
    // assignment), so poisoning is not a reason to fail.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MappedFileQueue {
    /// Opens `dir` (creating it), loading every 20-digit-named file as fully written.
    ///
    /// A zero-length last file is deleted (a crash during creation); any other
    /// size mismatch, or a gap between files, is an error.
    pub fn open(dir: impl Into<PathBuf>, options: QueueOptions) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create dir", &dir, e))?;
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            let name = entry.file_name();
            if let Some(offset) = name.to_str().and_then(MappedFile::parse_file_name) {
                names.push((offset, entry.path()));
            }
        }
        names.sort_unstable();
        let mut files: Vec<Arc<MappedFile>> = Vec::with_capacity(names.len());
        let count = names.len();
        for (i, (offset, path)) in names.into_iter().enumerate() {
            let len = std::fs::metadata(&path)
                .map_err(|e| StoreError::io("stat", &path, e))?
                .len();
            if len == 0 && i + 1 == count {
                tracing::warn!(path = %path.display(), "deleting empty last file");
                std::fs::remove_file(&path).map_err(|e| StoreError::io("delete", &path, e))?;
                continue;
            }
            if let Some(prev) = files.last() {
                let expected = prev.from_offset() + options.file_size as i64;
                if offset != expected {
                    return Err(StoreError::FileGap { path, expected });
                }
            }
            files.push(Arc::new(MappedFile::open(&path, options.file_size)?));
        }
        if let (true, Some(last)) = (options.preallocate, files.last()) {
            // Appends continue there: its unwritten tail needs disk blocks too.
            last.reserve_existing();
        }
        let flushed = files.last().map_or(0, |f| f.end_offset());
        let warm = (options.warm_window > 0).then(|| WarmWindow::spawn(options.warm_window));
        let allocator = options.preallocate.then(|| {
            Preallocator::spawn(Recipe {
                dir: dir.clone(),
                size: options.file_size,
                prepare: options.prepare(),
                warmer: warm.as_ref().map(|w| w.warmer().clone()),
            })
        });
        Ok(Self {
            dir,
            options,
            files: RwLock::new(files),
            flushed_where: AtomicI64::new(flushed),
            flush_lock: Mutex::new(()),
            allocator,
            warm,
        })
    }

    fn read_files(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_files(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Size of every file.
    pub fn file_size(&self) -> usize {
        self.options.file_size
    }

    /// A snapshot of the files, oldest first.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.read_files().clone()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.read_files().is_empty()
    }

    /// The oldest file.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.read_files().first().cloned()
    }

    /// The newest file.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.read_files().last().cloned()
    }

    /// The file holding `offset` (a file's end offset belongs to no file).
    pub fn find(&self, offset: i64) -> Option<Arc<MappedFile>> {
        let files = self.read_files();
        let first = files.first()?.from_offset();
        if offset < first {
            return None;
        }
        let index = usize::try_from((offset - first) / self.options.file_size as i64).ok()?;
        files.get(index).cloned()
    }

    /// Start offset of the oldest file (0 when empty).
    pub fn min_offset(&self) -> i64 {
        self.read_files().first().map_or(0, |f| f.from_offset())
    }

    /// End of the published data (0 when empty).
    pub fn max_offset(&self) -> i64 {
        self.read_files().last().map_or(0, |f| f.end_offset())
    }

    /// Offset up to which the data is on disk.
    pub fn flushed_where(&self) -> i64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    /// Flushes from the flushed offset on, file by file, while each file is due
    /// (`least_pages` as in [`MappedFile::flush`]).
    pub fn flush(&self, least_pages: usize) -> Result<FlushOutcome> {
        let _flushing = lock(&self.flush_lock);
        let mut store_timestamp = 0;
        loop {
            let at = self.flushed_where();
            let Some(file) = self
                .find(at)
                .or_else(|| self.first().filter(|f| f.from_offset() > at))
            else {
                break;
            };
            // Read before flushing: every record stamped up to here is covered.
            let stamp = file.store_timestamp();
            let wrote = file.wrote_position();
            let pos = file.flush(least_pages, self.options.disk_sync.as_ref())?;
            let reached = file.from_offset() + pos as i64;
            self.flushed_where.fetch_max(reached, Ordering::AcqRel);
            if pos >= wrote && stamp > 0 {
                store_timestamp = stamp;
            }
            if pos < file.size() {
                break;
            }
        }
        Ok(FlushOutcome {
            flushed_where: self.flushed_where(),
            store_timestamp,
        })
    }

    /// Adds the file starting at `from_offset`, taking the pre-allocated one
    /// when it is ready, and asks for the one after it.
    pub(crate) fn roll(&self, from_offset: i64) -> Result<Arc<MappedFile>> {
        let size = self.options.file_size;
        let ready = self.allocator.as_ref().and_then(|a| a.take(from_offset));
        let file = match ready {
            Some(file) => file?,
            None => Arc::new(MappedFile::create(
                &self.dir,
                from_offset,
                size,
                self.options.prepare(),
            )?),
        };
        self.write_files().push(Arc::clone(&file));
        if let Some(warm) = &self.warm {
            warm.warmer().set_current(&file);
        }
        self.request_next(from_offset + size as i64);
        Ok(file)
    }

    /// Takes `file` out of the queue if it is the oldest file and not the
    /// newest, leaving it on disk: retention unlinks it afterwards, outside
    /// every lock, and the caller's `Arc` (and any reader's view) keeps the
    /// mapping valid, so no unmap happens under the lock either. Returns
    /// whether it was removed.
    pub(crate) fn detach_first(&self, file: &Arc<MappedFile>) -> bool {
        let mut files = self.write_files();
        // Re-checked under the lock: a truncation may have shortened the queue.
        if files.len() > 1 && files.first().is_some_and(|f| Arc::ptr_eq(f, file)) {
            files.remove(0);
            true
        } else {
            false
        }
    }

    /// Asks the background thread for the file starting at `from_offset`:
    /// at once if no file ends there, else once that file is half written.
    pub(crate) fn request_next(&self, from_offset: i64) {
        let Some(allocator) = &self.allocator else {
            return;
        };
        let size = self.options.file_size;
        match self
            .last()
            .filter(|f| f.from_offset() + size as i64 == from_offset)
        {
            Some(before) => before.on_written_to(size / 2, allocator.deferred_request(from_offset)),
            None => allocator.request(from_offset),
        }
    }

    /// Cuts the queue at `offset`: later files are deleted, the file holding it
    /// is zeroed past it (with `zero`), and the flushed offset moves back to it.
    pub(crate) fn truncate(&self, offset: i64, zero: bool) -> Result<()> {
        let _flushing = lock(&self.flush_lock);
        if let Some(allocator) = &self.allocator {
            allocator.cancel();
        }
        let mut files = self.write_files();
        while let Some(last) = files.last().filter(|f| f.from_offset() > offset) {
            last.delete()?;
            files.pop();
        }
        if let Some(last) = files.last() {
            // `truncate_to` clamps to the file size: an offset past the end keeps it full.
            let pos = usize::try_from(offset - last.from_offset()).unwrap_or(usize::MAX);
            last.truncate_to(pos, zero)?;
        }
        self.flushed_where.store(offset, Ordering::Release);
        if let Some(warm) = &self.warm {
            warm.warmer().reset(files.last());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
