//! A directory of equally sized [`MappedFile`]s named by start offset, with
//! the next file pre-allocated (and pre-faulted) by a background thread.
//!
//! Readers find files by offset under a short read lock; the writer (the
//! append-lock holder) adds files under the write lock only when it rolls.
//! Flushing has its own lock so a truncation cannot interleave with an
//! in-flight flush; puts never wait for it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;

use crate::error::{Result, StoreError};
use crate::mapped_file::{DiskSync, MappedFile, Msync};

/// How a [`MappedFileQueue`] creates files.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Size of every file.
    pub file_size: usize,
    /// Create the next file on a background thread before it is needed.
    pub preallocate: bool,
    /// Touch every page of new files so appends never fault.
    pub prefault: bool,
    /// How flushes reach the disk.
    pub disk_sync: Arc<dyn DiskSync>,
}

impl QueueOptions {
    /// Options for `file_size`-byte files, pre-allocated, pre-faulted, flushed with `msync`.
    pub fn new(file_size: usize) -> Self {
        Self {
            file_size,
            preallocate: true,
            prefault: true,
            disk_sync: Arc::new(Msync),
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
        let flushed = files.last().map_or(0, |f| f.end_offset());
        let allocator = options
            .preallocate
            .then(|| Preallocator::spawn(dir.clone(), &options));
        Ok(Self {
            dir,
            options,
            files: RwLock::new(files),
            flushed_where: AtomicI64::new(flushed),
            flush_lock: Mutex::new(()),
            allocator,
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
            None => MappedFile::create(&self.dir, from_offset, size, self.options.prefault)?,
        };
        let file = Arc::new(file);
        self.write_files().push(Arc::clone(&file));
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

    /// Asks the background thread for the file starting at `from_offset`.
    pub(crate) fn request_next(&self, from_offset: i64) {
        if let Some(allocator) = &self.allocator {
            allocator.request(from_offset);
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
        Ok(())
    }
}

/// State shared with the pre-allocation thread.
#[derive(Debug, Default)]
struct PreState {
    /// The file wanted next.
    wanted: Option<i64>,
    /// A finished file and its start offset.
    ready: Option<(i64, Result<MappedFile>)>,
    /// Whether the thread is creating `wanted` right now.
    busy: bool,
    stop: bool,
}

/// The background thread creating the next file before the writer needs it.
#[derive(Debug)]
struct Preallocator {
    shared: Arc<(Mutex<PreState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Preallocator {
    fn spawn(dir: PathBuf, options: &QueueOptions) -> Self {
        let shared = Arc::new((Mutex::new(PreState::default()), Condvar::new()));
        let (size, prefault) = (options.file_size, options.prefault);
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("skylark-prealloc".into())
            .spawn(move || Self::run(&worker, &dir, size, prefault))
            .map_err(|e| tracing::error!(error = %e, "cannot start the pre-allocation thread"))
            .ok();
        Self { shared, thread }
    }

    fn run(shared: &(Mutex<PreState>, Condvar), dir: &Path, size: usize, prefault: bool) {
        let (state, cv) = shared;
        let mut st = lock(state);
        loop {
            if st.stop {
                return;
            }
            let Some(offset) = st.wanted.filter(|_| st.ready.is_none()) else {
                st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            st.busy = true;
            drop(st);
            let created = MappedFile::create(dir, offset, size, prefault);
            st = lock(state);
            st.busy = false;
            if st.wanted == Some(offset) && !st.stop {
                st.ready = Some((offset, created));
            } else if let Ok(file) = created {
                // Cancelled meanwhile: leave no stray file that could leave a gap.
                let _ = file.delete();
            }
            cv.notify_all();
        }
    }

    fn request(&self, offset: i64) {
        let (state, cv) = &*self.shared;
        let mut st = lock(state);
        if st.wanted != Some(offset) {
            Self::discard_ready(&mut st);
            st.wanted = Some(offset);
            cv.notify_all();
        }
    }

    /// The file for `offset` if it is ready or being made (then waits for it).
    fn take(&self, offset: i64) -> Option<Result<MappedFile>> {
        let (state, cv) = &*self.shared;
        let mut st = lock(state);
        while st.wanted == Some(offset) && st.ready.is_none() && !st.stop && self.thread.is_some() {
            st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        match st.ready.take() {
            Some((at, file)) if at == offset => {
                st.wanted = None;
                Some(file)
            }
            other => {
                st.ready = other;
                Self::discard_ready(&mut st);
                st.wanted = None;
                None
            }
        }
    }

    fn cancel(&self) {
        let (state, _) = &*self.shared;
        let mut st = lock(state);
        st.wanted = None;
        Self::discard_ready(&mut st);
    }

    fn discard_ready(st: &mut PreState) {
        if let Some((_, Ok(file))) = st.ready.take() {
            let _ = file.delete();
        }
    }
}

impl Drop for Preallocator {
    fn drop(&mut self) {
        {
            let (state, cv) = &*self.shared;
            let mut st = lock(state);
            st.stop = true;
            // A ready file stays on disk, as Java leaves it; recovery cuts it off if unused.
            cv.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_find_flush_truncate_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let q = MappedFileQueue::open(dir.path(), QueueOptions::new(4096)).unwrap();
        assert!(q.is_empty());
        assert_eq!((q.min_offset(), q.max_offset()), (0, 0));
        let a = q.roll(0).unwrap();
        a.append_with(4096, 11, |d, _| {
            d.fill(1);
            Ok(())
        })
        .unwrap();
        let b = q.roll(4096).unwrap();
        b.append_with(100, 12, |d, _| {
            d.fill(2);
            Ok(())
        })
        .unwrap();
        assert_eq!(q.find(4095).unwrap().from_offset(), 0);
        assert_eq!(q.find(4096).unwrap().from_offset(), 4096);
        assert!(q.find(8192).is_none());
        assert!(q.find(-1).is_none());
        assert_eq!(q.max_offset(), 4196);
        let out = q.flush(0).unwrap();
        assert_eq!(
            out,
            FlushOutcome {
                flushed_where: 4196,
                store_timestamp: 12
            }
        );
        // The pre-allocated third file appears on disk in the background.
        let third = dir.path().join(MappedFile::file_name(8192));
        for _ in 0..200 {
            if third.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(third.exists());
        q.truncate(4000, true).unwrap();
        assert_eq!(
            (q.max_offset(), q.flushed_where(), q.files().len()),
            (4000, 4000, 1)
        );
        assert!(!third.exists(), "cancelled pre-allocation is removed");
        drop(q);
        let q = MappedFileQueue::open(dir.path(), QueueOptions::new(4096)).unwrap();
        assert_eq!(q.files().len(), 1);
        assert_eq!(q.find(0).unwrap().read(3999, 2).unwrap(), [1, 0]);
        assert!(matches!(
            MappedFileQueue::open(dir.path(), QueueOptions::new(8192)),
            Err(StoreError::BadFileSize { .. })
        ));
    }

    #[test]
    fn gaps_are_errors_and_empty_last_file_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        for offset in [0, 8192] {
            MappedFile::create(dir.path(), offset, 4096, false).unwrap();
        }
        let opts = QueueOptions {
            preallocate: false,
            ..QueueOptions::new(4096)
        };
        assert!(matches!(
            MappedFileQueue::open(dir.path(), opts.clone()),
            Err(StoreError::FileGap { expected: 4096, .. })
        ));
        std::fs::remove_file(dir.path().join(MappedFile::file_name(8192))).unwrap();
        std::fs::write(dir.path().join(MappedFile::file_name(4096)), b"").unwrap();
        std::fs::write(dir.path().join("not-a-log-file"), b"x").unwrap();
        let q = MappedFileQueue::open(dir.path(), opts).unwrap();
        assert_eq!(q.files().len(), 1);
        assert!(!dir.path().join(MappedFile::file_name(4096)).exists());
    }
}
