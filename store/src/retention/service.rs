//! The retention service: one pass ([`RetentionService::run_once`]) and the
//! background thread that runs it periodically ([`RetentionService::spawn`]).

use std::io;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::disk::{DiskState, DiskUsage, StatvfsUsage};
use super::policy::{Thresholds, assess, is_expired, is_time_up};
use super::{MANUAL_DELETE_PASSES, RetentionError, RetentionOptions, RetentionReport};
use crate::commitlog::CommitLog;
use crate::consume_queue::ConsumeQueueStore;
use crate::error::StoreError;
use crate::index_file::IndexService;
use crate::mapped_file_queue::MappedFileQueue;

/// The offset past which CommitLog files must be kept (see
/// [`RetentionService::with_dispatch_guard`]).
type Guard = Arc<dyn Fn() -> i64 + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value is a flag or unit: a panicking holder leaves nothing half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stop signal, which also cuts short the pauses of a running pass.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// Sleeps for `d` unless stopped first; returns whether still running.
    fn sleep(&self, d: Duration) -> bool {
        let guard = lock(&self.stopped);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*guard
    }

    fn stop(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }
}

/// Deletes expired CommitLog, ConsumeQueue and index files and keeps the
/// [`DiskState`] up to date (see the [module docs](super)).
pub struct RetentionService {
    /// The CommitLog's files; held directly so the facade may own the CommitLog itself.
    commit_log: Arc<MappedFileQueue>,
    consume_queues: Arc<ConsumeQueueStore>,
    index: Option<Arc<IndexService>>,
    options: RetentionOptions,
    probe: Arc<dyn DiskUsage>,
    disk: DiskState,
    guard: Option<Guard>,
    /// Passes left of a manual deletion request.
    manual: Arc<AtomicU32>,
    /// The CommitLog minimum offset the ConsumeQueues and index were last
    /// cleaned for (`lastPhysicalMinOffset`): cleaning is skipped until it moves.
    cleaned_for: AtomicI64,
    /// One pass at a time, should the facade also call `run_once` itself.
    pass: Mutex<()>,
    passes: Arc<AtomicU64>,
    stop: Arc<Stop>,
}

impl std::fmt::Debug for RetentionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetentionService")
            .field("commit_log", &self.commit_log.dir())
            .field("consume_queues", &self.consume_queues.root())
            .field("options", &self.options)
            .field("disk", &self.disk)
            .field("guarded", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl RetentionService {
    /// A service over `commit_log`'s files, the ConsumeQueues and (if
    /// indexing is on) the index, measuring disks with `statvfs`.
    pub fn new(
        commit_log: &CommitLog,
        consume_queues: Arc<ConsumeQueueStore>,
        index: Option<Arc<IndexService>>,
        options: RetentionOptions,
    ) -> Self {
        Self {
            commit_log: Arc::clone(commit_log.queue()),
            consume_queues,
            index,
            options,
            probe: Arc::new(StatvfsUsage),
            disk: DiskState::new(),
            guard: None,
            manual: Arc::new(AtomicU32::new(0)),
            cleaned_for: AtomicI64::new(0),
            pass: Mutex::new(()),
            passes: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(Stop::default()),
        }
    }

    /// Measures disks with `probe` instead of `statvfs`.
    pub fn with_disk_usage(mut self, probe: Arc<dyn DiskUsage>) -> Self {
        self.probe = probe;
        self
    }

    /// Reports disk pressure through `state` (one the facade already holds).
    pub fn with_disk_state(mut self, state: DiskState) -> Self {
        self.disk = state;
        self
    }

    /// Keeps every CommitLog file that ends past `guard()`: the facade passes
    /// its dispatch (reput) offset, so even forced deletion never removes
    /// records the ConsumeQueues and index have not seen.
    pub fn with_dispatch_guard(mut self, guard: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// The settings.
    pub fn options(&self) -> &RetentionOptions {
        &self.options
    }

    /// The disk-full flag puts are checked against.
    pub fn disk_state(&self) -> DiskState {
        self.disk.clone()
    }

    /// Whether the disk has room for puts.
    pub fn is_writable(&self) -> bool {
        self.disk.is_writable()
    }

    /// Deletes expired files in the next 20 passes whatever the hour and
    /// usage (`executeDeleteFilesManually`).
    pub fn request_manual_delete(&self) {
        self.manual.store(MANUAL_DELETE_PASSES, Ordering::Release);
        tracing::info!("manual deletion of expired files requested");
    }

    /// Runs one pass as of `now`: measure, delete CommitLog files if due,
    /// then ConsumeQueue and index files below the new minimum offset.
    /// Failures are logged and listed in the report; the pass goes on.
    pub fn run_once(&self, now: SystemTime) -> RetentionReport {
        let _pass = lock(&self.pass);
        let mut report = RetentionReport {
            min_offset_before: self.commit_log.min_offset(),
            ..RetentionReport::default()
        };
        self.measure(&mut report);
        report.time_up = is_time_up(now, &self.options.delete_hours, self.options.hour_clock);
        // Decrement only when a request is pending; a concurrent new request wins.
        report.manual = self
            .manual
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if report.time_up || report.space_to_delete || report.manual {
            let forcibly = self.options.clean_file_forcibly_enable && report.clean_immediately;
            tracing::info!(
                reserved_hours = self.options.file_reserved_time.as_secs() / 3_600,
                time_up = report.time_up,
                space_to_delete = report.space_to_delete,
                manual = report.manual,
                forcibly,
                batch_max = self.options.delete_file_batch_max,
                "deleting expired CommitLog files"
            );
            self.delete_commit_log(now, forcibly, &mut report);
            if report.deleted_commit_log_files.is_empty() && report.space_to_delete {
                tracing::warn!(
                    commit_log_usage = ?report.commit_log_usage,
                    consume_queue_usage = ?report.consume_queue_usage,
                    "disk space will be full soon, but no CommitLog file could be deleted"
                );
            }
        }
        self.clean_logics(&mut report);
        report.min_offset_after = self.commit_log.min_offset();
        self.passes.fetch_add(1, Ordering::AcqRel);
        report
    }

    /// Probes both partitions, judges them and updates the disk-full flag.
    fn measure(&self, report: &mut RetentionReport) {
        let dirs = [self.commit_log.dir(), self.consume_queues.root()];
        let mut usage = [None; 2];
        for (slot, dir) in usage.iter_mut().zip(dirs) {
            match self.probe.used_ratio(dir) {
                Ok(ratio) => *slot = Some(ratio),
                Err(source) => fail(
                    report,
                    RetentionError::DiskUsage {
                        path: dir.to_path_buf(),
                        source,
                    },
                ),
            }
        }
        (report.commit_log_usage, report.consume_queue_usage) = (usage[0], usage[1]);
        let verdict = assess(usage, &self.thresholds());
        report.space_to_delete = verdict.space_to_delete;
        report.clean_immediately = verdict.clean_immediately;
        if let Some(full) = verdict.disk_full {
            // Name the fuller partition: that is the one to act on.
            let (ratio, dir) = match usage {
                [Some(c), Some(q)] if q > c => (q, dirs[1]),
                [Some(c), _] => (c, dirs[0]),
                [_, q] => (q.unwrap_or_default(), dirs[1]),
            };
            if self.disk.set_full(full, dir) {
                report.disk_state_changed = true;
                if full {
                    tracing::warn!(
                        used_ratio = ratio,
                        path = %dir.display(),
                        warning_ratio = self.options.warning_ratio,
                        "disk nearly full: refusing puts until space is reclaimed"
                    );
                } else {
                    tracing::info!(
                        used_ratio = ratio,
                        path = %dir.display(),
                        "disk space OK again: accepting puts"
                    );
                }
            }
        }
        report.disk_full = self.disk.is_full();
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_used: self.options.disk_max_used_ratio,
            clean_forcibly: self.options.clean_forcibly_ratio,
            warning: self.options.warning_ratio,
        }
    }

    /// Deletes the oldest CommitLog files while they are expired (or
    /// `forcibly`), never the newest one (`deleteExpiredFileByTime`).
    fn delete_commit_log(&self, now: SystemTime, forcibly: bool, report: &mut RetentionReport) {
        let files = self.commit_log.files();
        let Some((_, older)) = files.split_last() else {
            return;
        };
        let keep_from = self.guard.as_ref().map(|g| g());
        // Java deletes one file even with a batch maximum of 0.
        let batch_max = self.options.delete_file_batch_max.max(1);
        for file in older {
            if report.deleted_commit_log_files.len() >= batch_max {
                break;
            }
            let end = file.from_offset() + file.size() as i64;
            if keep_from.is_some_and(|k| end > k) {
                tracing::debug!(path = %file.path().display(), "kept: not dispatched yet");
                break;
            }
            let expired = match modified(file.path()) {
                Ok(mtime) => is_expired(mtime, now, self.options.file_reserved_time),
                // Gone already (Java's `lastModified()` reads 0): only the list entry is left.
                Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                Err(e) => {
                    fail(report, StoreError::io("stat", file.path(), e));
                    break;
                }
            };
            // Oldest first, stopping at the first survivor, so the log keeps no holes.
            if !(expired || forcibly) {
                break;
            }
            // Spread the I/O of a batch out, as Java does; a stop request ends the pass.
            if !report.deleted_commit_log_files.is_empty()
                && !self.stop.sleep(self.options.delete_files_interval)
            {
                break;
            }
            if !self.commit_log.detach_first(file) {
                break;
            }
            if let Err(e) = file.delete() {
                // Off the list but still on disk: reloaded (at the front, so
                // without a gap) and deleted again after a restart.
                fail(report, e);
                break;
            }
            tracing::info!(
                path = %file.path().display(),
                from_offset = file.from_offset(),
                expired,
                "deleted CommitLog file"
            );
            report
                .deleted_commit_log_files
                .push(file.path().to_path_buf());
        }
    }

    /// Deletes ConsumeQueue and index files below the CommitLog's minimum
    /// offset once it has moved (`CleanConsumeQueueService`).
    fn clean_logics(&self, report: &mut RetentionReport) {
        let Some(first) = self.commit_log.first() else {
            return;
        };
        let min = first.from_offset();
        if min <= self.cleaned_for.load(Ordering::Acquire) {
            return;
        }
        let mut done = true;
        match self.consume_queues.delete_expired(min) {
            Ok(n) => report.consume_queue_files_deleted = n,
            Err(e) => {
                fail(report, e);
                done = false;
            }
        }
        if let Some(index) = &self.index {
            match index.delete_expired(min) {
                Ok(n) => report.index_files_deleted = n,
                Err(e) => {
                    fail(report, e);
                    done = false;
                }
            }
        }
        // After a failure the next pass tries again.
        if done {
            self.cleaned_for.store(min, Ordering::Release);
        }
        tracing::info!(
            min_offset = min,
            consume_queue_files = report.consume_queue_files_deleted,
            index_files = report.index_files_deleted,
            "cleaned ConsumeQueues and index below the CommitLog's minimum offset"
        );
    }

    /// Starts a thread running a pass every `interval` (after `initial_delay`),
    /// until the handle is shut down or dropped.
    pub fn spawn(self) -> io::Result<RetentionHandle> {
        let stop = Arc::clone(&self.stop);
        let disk = self.disk.clone();
        let manual = Arc::clone(&self.manual);
        let passes = Arc::clone(&self.passes);
        let thread = std::thread::Builder::new()
            .name("skylark-retention".into())
            .spawn(move || self.run_loop())?;
        Ok(RetentionHandle {
            stop,
            thread: Some(thread),
            disk,
            manual,
            passes,
        })
    }

    fn run_loop(&self) {
        if !self.stop.sleep(self.options.initial_delay) {
            return;
        }
        loop {
            // A bug in one pass must not end retention for good (Java catches Throwable).
            let pass = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.run_once(SystemTime::now());
            }));
            if pass.is_err() {
                tracing::error!("retention pass panicked; retrying next period");
            }
            if !self.stop.sleep(self.options.interval) {
                return;
            }
        }
    }
}

/// Logs a failure of part of a pass and adds it to the report.
fn fail(report: &mut RetentionReport, e: impl Into<RetentionError>) {
    let e = e.into();
    tracing::warn!(error = %e, "retention");
    report.errors.push(e);
}

/// The file's last modification time (Java's `File.lastModified()`).
fn modified(path: &Path) -> io::Result<SystemTime> {
    std::fs::metadata(path)?.modified()
}

/// The running retention thread; stops it when shut down or dropped.
#[derive(Debug)]
pub struct RetentionHandle {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
    disk: DiskState,
    manual: Arc<AtomicU32>,
    passes: Arc<AtomicU64>,
}

impl RetentionHandle {
    /// The disk-full flag puts are checked against.
    pub fn disk_state(&self) -> DiskState {
        self.disk.clone()
    }

    /// Whether the disk has room for puts.
    pub fn is_writable(&self) -> bool {
        self.disk.is_writable()
    }

    /// Deletes expired files in the next 20 passes whatever the hour and usage.
    pub fn request_manual_delete(&self) {
        self.manual.store(MANUAL_DELETE_PASSES, Ordering::Release);
        tracing::info!("manual deletion of expired files requested");
    }

    /// Passes completed so far.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Acquire)
    }

    /// Stops the thread (a pass in progress skips its remaining pauses and
    /// deletions) and waits for it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the retention thread panicked");
            }
        }
    }
}

impl Drop for RetentionHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
