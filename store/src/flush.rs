//! Flushing the CommitLog: interval flushing (`ASYNC_FLUSH`) and group
//! commit (`SYNC_FLUSH`).
//!
//! One std thread flushes. Under `SYNC_FLUSH` a put gets a [`FlushWait`], a
//! future that completes once a flush covers the put's end offset: the
//! flusher msyncs everything appended so far with no lock held, then wakes
//! every waiter whose end offset it reached, so all puts that arrived during
//! one msync share the next one. A second thread completes waiters whose
//! `syncFlushTimeout` passed with `FLUSH_DISK_TIMEOUT` even while an msync
//! hangs. Waiters live in a reused `Vec` of wakers, so a put allocates nothing
//! and the store needs no async runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checkpoint::StoreCheckpoint;
use crate::config::{FlushDiskType, MessageStoreConfig};
use crate::error::{PutMessageStatus, Result, StoreError};
pub use crate::mapped_file::{DiskSync, Msync};
use crate::mapped_file_queue::MappedFileQueue;

/// How often the group-commit thread flushes when no put wakes it (Java: 10 ms).
const GROUP_COMMIT_CADENCE: Duration = Duration::from_millis(10);
/// Longest sleep of the timeout watcher while no put waits.
const WATCHER_IDLE: Duration = Duration::from_secs(1);

/// The flush settings of `MessageStoreConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushConfig {
    /// Sync (group commit) or async (interval) flushing.
    pub mode: FlushDiskType,
    /// Async flush period (`flushIntervalCommitLog`).
    pub interval: Duration,
    /// Async flush waits for this many dirty pages (`flushCommitLogLeastPages`).
    pub least_pages: usize,
    /// Async flush flushes everything at least this often (`flushCommitLogThoroughInterval`).
    pub thorough_interval: Duration,
    /// Async flush ignores wake-ups from puts (`flushCommitLogTimed`).
    pub timed: bool,
    /// Longest a sync-flush put waits (`syncFlushTimeout`).
    pub sync_flush_timeout: Duration,
}

impl FlushConfig {
    /// The settings in `config`.
    pub fn from_store_config(config: &MessageStoreConfig) -> Self {
        Self {
            mode: config.flush_disk_type,
            interval: Duration::from_millis(config.flush_interval_commit_log),
            least_pages: config.flush_commit_log_least_pages,
            thorough_interval: Duration::from_millis(config.flush_commit_log_thorough_interval),
            timed: config.flush_commit_log_timed,
            sync_flush_timeout: config.sync_flush_timeout(),
        }
    }
}

impl Default for FlushConfig {
    fn default() -> Self {
        Self::from_store_config(&MessageStoreConfig::default())
    }
}

/// A put waiting for the flush that covers it.
#[derive(Debug)]
struct Waiter {
    end: i64,
    deadline: Instant,
    waker: Waker,
}

/// What the flusher, the watcher and waiting puts share under one mutex.
#[derive(Debug, Default)]
struct Waiters {
    list: Vec<Waiter>,
    /// A put asked for a flush since the last one started.
    requested: bool,
    /// Shutdown asked; the flusher does a last flush and quits.
    stopping: bool,
    /// The flusher has quit; waiters left behind get `FLUSH_DISK_TIMEOUT`.
    stopped: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Arc<MappedFileQueue>,
    config: FlushConfig,
    checkpoint: Option<Arc<StoreCheckpoint>>,
    /// Cleared when a flush fails: the store stops taking writes.
    healthy: AtomicBool,
    /// Cleared at shutdown: nothing would flush new writes.
    accepting: AtomicBool,
    waiters: Mutex<Waiters>,
    /// Wakes the flusher.
    flush_cv: Condvar,
    /// Wakes the timeout watcher.
    watch_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single step; a panic cannot leave them half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The flushing threads of one CommitLog; stopping it (or dropping it) does a last full flush.
#[derive(Debug)]
pub struct FlushService {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl FlushService {
    /// Starts flushing `queue`; flushes also advance `checkpoint`'s physicMsgTimestamp.
    pub fn start(
        queue: Arc<MappedFileQueue>,
        config: FlushConfig,
        checkpoint: Option<Arc<StoreCheckpoint>>,
    ) -> Result<Self> {
        let mode = config.mode;
        let shared = Arc::new(Shared {
            queue,
            config,
            checkpoint,
            healthy: AtomicBool::new(true),
            accepting: AtomicBool::new(true),
            waiters: Mutex::new(Waiters::default()),
            flush_cv: Condvar::new(),
            watch_cv: Condvar::new(),
        });
        let mut service = Self {
            shared,
            threads: Vec::new(),
        };
        let flusher = Arc::clone(&service.shared);
        let (name, body): (&str, Box<dyn FnOnce() + Send>) = match mode {
            FlushDiskType::SyncFlush => (
                "skylark-group-commit",
                Box::new(move || run_group_commit(&flusher)),
            ),
            FlushDiskType::AsyncFlush => {
                ("skylark-flush", Box::new(move || run_interval(&flusher)))
            }
        };
        service.spawn(name, body)?;
        if mode == FlushDiskType::SyncFlush {
            let watcher = Arc::clone(&service.shared);
            service.spawn(
                "skylark-flush-watch",
                Box::new(move || run_watcher(&watcher)),
            )?;
        }
        Ok(service)
    }

    fn spawn(&mut self, name: &str, body: Box<dyn FnOnce() + Send>) -> Result<()> {
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(body)
            .map_err(|e| StoreError::io("spawn", name, e))?;
        self.threads.push(thread);
        Ok(())
    }

    /// The flush mode.
    pub fn mode(&self) -> FlushDiskType {
        self.shared.config.mode
    }

    /// Offset up to which the log is on disk.
    pub fn flushed_offset(&self) -> i64 {
        self.shared.queue.flushed_where()
    }

    /// Whether every flush so far succeeded.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// Whether writes may go on: every flush succeeded and the service runs.
    pub fn is_accepting(&self) -> bool {
        self.is_healthy() && self.shared.accepting.load(Ordering::Acquire)
    }

    /// What a put ending at `end_offset` waits for: under `SYNC_FLUSH` with
    /// `wait` (the `WAIT` property) the flush covering it; otherwise nothing
    /// (sync flush is still nudged, as Java does for `WAIT=false`).
    pub fn wait_for(&self, end_offset: i64, wait: bool) -> FlushWait {
        if self.shared.config.mode == FlushDiskType::AsyncFlush {
            if !self.shared.config.timed {
                self.wake();
            }
            return FlushWait::ready(PutMessageStatus::PutOk);
        }
        if !wait {
            self.wake();
            return FlushWait::ready(PutMessageStatus::PutOk);
        }
        // The first poll registers the waiter and wakes the flusher in one
        // lock round; an unpolled wait is still flushed within 10 ms.
        FlushWait {
            state: WaitState::Waiting {
                shared: Arc::clone(&self.shared),
                end: end_offset,
                deadline: Instant::now() + self.shared.config.sync_flush_timeout,
            },
        }
    }

    /// Makes [`is_accepting`](Self::is_accepting) false, ahead of a shutdown.
    pub fn stop_accepting(&self) {
        self.shared.accepting.store(false, Ordering::Release);
    }

    /// Asks the flusher to flush now.
    pub fn wake(&self) {
        let mut w = lock(&self.shared.waiters);
        if !w.requested {
            w.requested = true;
            self.shared.flush_cv.notify_one();
        }
    }

    /// Stops the threads after a last full flush; waiters it does not cover
    /// complete with `FLUSH_DISK_TIMEOUT`.
    pub fn shutdown(&mut self) {
        self.stop_accepting();
        {
            let mut w = lock(&self.shared.waiters);
            w.stopping = true;
            self.shared.flush_cv.notify_all();
            self.shared.watch_cv.notify_all();
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a flush thread panicked");
            }
        }
    }
}

impl Drop for FlushService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One flush of everything pending (`least_pages` as in `MappedFile::flush`),
/// recording the outcome; never called with a lock held.
fn flush_once(shared: &Shared, least_pages: usize) {
    match shared.queue.flush(least_pages) {
        Ok(out) => {
            if let (Some(cp), true) = (&shared.checkpoint, out.store_timestamp > 0) {
                cp.set_physic_msg_timestamp(out.store_timestamp);
            }
        }
        Err(e) => {
            // As Java marks the file unwritable: refuse puts rather than lose acknowledged data.
            if shared.healthy.swap(false, Ordering::AcqRel) {
                tracing::error!(error = %e, "CommitLog flush failed; the store stops taking writes");
            }
        }
    }
}

fn run_group_commit(shared: &Shared) {
    let mut woken: Vec<Waker> = Vec::new();
    loop {
        let stopping = {
            let mut w = lock(&shared.waiters);
            if !w.requested && !w.stopping {
                w = shared
                    .flush_cv
                    .wait_timeout(w, GROUP_COMMIT_CADENCE)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            w.requested = false;
            w.stopping
        };
        flush_once(shared, 0);
        {
            let mut w = lock(&shared.waiters);
            let flushed = shared.queue.flushed_where();
            let mut i = 0;
            while i < w.list.len() {
                if w.list[i].end <= flushed || stopping {
                    woken.push(w.list.swap_remove(i).waker);
                } else {
                    i += 1;
                }
            }
            w.stopped = stopping;
        }
        // Woken tasks re-check the flushed offset themselves; wake outside the lock.
        woken.drain(..).for_each(Waker::wake);
        if stopping {
            return;
        }
    }
}

fn run_watcher(shared: &Shared) {
    let mut expired: Vec<Waker> = Vec::new();
    let mut w = lock(&shared.waiters);
    loop {
        if w.stopping {
            return;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut i = 0;
        while i < w.list.len() {
            let deadline = w.list[i].deadline;
            if deadline <= now {
                expired.push(w.list.swap_remove(i).waker);
            } else {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
                i += 1;
            }
        }
        if !expired.is_empty() {
            drop(w);
            expired.drain(..).for_each(Waker::wake);
            w = lock(&shared.waiters);
            continue;
        }
        let sleep = next.map_or(WATCHER_IDLE, |n| n - now);
        w = shared
            .watch_cv
            .wait_timeout(w, sleep)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

fn run_interval(shared: &Shared) {
    let config = &shared.config;
    let mut last_thorough = Instant::now();
    loop {
        let stopping = {
            let w = lock(&shared.waiters);
            let w = if w.stopping {
                w
            } else {
                shared
                    .flush_cv
                    .wait_timeout(w, config.interval)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            };
            w.stopping
        };
        let mut least_pages = config.least_pages;
        if stopping || last_thorough.elapsed() >= config.thorough_interval {
            least_pages = 0;
            last_thorough = Instant::now();
        }
        flush_once(shared, least_pages);
        if stopping {
            lock(&shared.waiters).stopped = true;
            return;
        }
    }
}

/// Completes when the put it was made for is flushed, or with
/// `FLUSH_DISK_TIMEOUT` once `syncFlushTimeout` has passed.
#[derive(Debug)]
#[must_use = "a put is not known to be flushed until this completes"]
pub struct FlushWait {
    state: WaitState,
}

#[derive(Debug)]
enum WaitState {
    Done(PutMessageStatus),
    Waiting {
        shared: Arc<Shared>,
        end: i64,
        deadline: Instant,
    },
}

impl FlushWait {
    /// A wait that is already over with `status`.
    pub fn ready(status: PutMessageStatus) -> Self {
        Self {
            state: WaitState::Done(status),
        }
    }

    /// The status if known without waiting.
    pub fn try_status(&self) -> Option<PutMessageStatus> {
        match &self.state {
            WaitState::Done(status) => Some(*status),
            WaitState::Waiting {
                shared,
                end,
                deadline,
            } => {
                if shared.queue.flushed_where() >= *end {
                    Some(PutMessageStatus::PutOk)
                } else if Instant::now() >= *deadline {
                    Some(PutMessageStatus::FlushDiskTimeout)
                } else {
                    None
                }
            }
        }
    }

    /// Blocks the calling thread until the wait is over (for callers outside async code).
    pub fn wait_blocking(mut self) -> PutMessageStatus {
        // Already settled (every ASYNC_FLUSH put): no waker, no allocation.
        if let Some(status) = self.try_status() {
            return status;
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(status) = Pin::new(&mut self).poll(&mut cx) {
                return status;
            }
            if let WaitState::Waiting { deadline, .. } = &self.state {
                std::thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
            }
        }
    }
}

impl Future for FlushWait {
    type Output = PutMessageStatus;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PutMessageStatus> {
        let this = self.get_mut();
        if let Some(status) = this.try_status() {
            this.state = WaitState::Done(status);
            return Poll::Ready(status);
        }
        let WaitState::Waiting {
            shared,
            end,
            deadline,
        } = &this.state
        else {
            return Poll::Pending;
        };
        let status = {
            let mut w = lock(&shared.waiters);
            // Re-checked under the lock: the flusher advances the offset before it
            // takes the lock to wake waiters, so a waker registered now is not missed.
            if shared.queue.flushed_where() >= *end {
                PutMessageStatus::PutOk
            } else if w.stopped {
                PutMessageStatus::FlushDiskTimeout
            } else {
                // A re-poll may leave an older entry behind; it is dropped at the
                // next flush or deadline, and waking a finished task is harmless.
                if w.list.is_empty() {
                    shared.watch_cv.notify_one();
                }
                if !w.requested {
                    w.requested = true;
                    shared.flush_cv.notify_one();
                }
                w.list.push(Waiter {
                    end: *end,
                    deadline: *deadline,
                    waker: cx.waker().clone(),
                });
                return Poll::Pending;
            }
        };
        this.state = WaitState::Done(status);
        Poll::Ready(status)
    }
}

/// Wakes a thread blocked in [`FlushWait::wait_blocking`].
#[derive(Debug)]
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapped_file_queue::QueueOptions;

    fn queue(dir: &std::path::Path) -> Arc<MappedFileQueue> {
        Arc::new(
            MappedFileQueue::open(
                dir,
                QueueOptions {
                    preallocate: false,
                    ..QueueOptions::new(1 << 16)
                },
            )
            .unwrap(),
        )
    }

    fn append(q: &MappedFileQueue, len: usize) -> i64 {
        let file = q.last().unwrap_or_else(|| q.roll(0).unwrap());
        file.append_with(len, 42, |_, _| Ok(())).unwrap();
        file.end_offset()
    }

    #[test]
    fn async_flush_waits_for_least_pages_then_flushes_thoroughly() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(dir.path());
        let config = FlushConfig {
            interval: Duration::from_millis(5),
            thorough_interval: Duration::from_secs(3),
            ..FlushConfig::default()
        };
        let cp = Arc::new(StoreCheckpoint::open(dir.path().join("checkpoint")).unwrap());
        let mut service =
            FlushService::start(Arc::clone(&q), config, Some(Arc::clone(&cp))).unwrap();
        assert_eq!(
            service.wait_for(100, true).try_status(),
            Some(PutMessageStatus::PutOk)
        );
        append(&q, 100);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            service.flushed_offset(),
            0,
            "one dirty page is below flushCommitLogLeastPages"
        );
        append(&q, 5 * 4096);
        let deadline = Instant::now() + Duration::from_secs(5);
        while service.flushed_offset() < 100 + 5 * 4096 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(service.flushed_offset(), 100 + 5 * 4096);
        assert_eq!(cp.physic_msg_timestamp(), 42);
        append(&q, 10);
        service.shutdown();
        assert_eq!(
            q.flushed_where(),
            q.max_offset(),
            "shutdown flushes everything"
        );
        assert!(service.is_healthy());
    }

    #[test]
    fn sync_flush_completes_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(dir.path());
        let config = FlushConfig {
            mode: FlushDiskType::SyncFlush,
            ..FlushConfig::default()
        };
        let service = FlushService::start(Arc::clone(&q), config, None).unwrap();
        let end = append(&q, 300);
        assert_eq!(
            service.wait_for(end, true).wait_blocking(),
            PutMessageStatus::PutOk
        );
        assert!(service.flushed_offset() >= end);
        let end = append(&q, 300);
        assert_eq!(
            service.wait_for(end, false).try_status(),
            Some(PutMessageStatus::PutOk)
        );
    }
}
