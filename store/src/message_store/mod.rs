//! [`MessageStore`]: the facade a broker uses — it opens and recovers the
//! parts, dispatches CommitLog records into ConsumeQueues and the index,
//! stores ([`MessageStore::put_message`]) and reads
//! ([`MessageStore::get_messages`]) messages, and shuts down cleanly.
//!
//! Threads: the CommitLog's flusher, the dispatcher (RocketMQ's
//! `ReputMessageService`), a ConsumeQueue flusher that also maintains the
//! checkpoint and the dispatch manifest, and [`retention`](crate::retention),
//! which deletes expired files (never past the dispatch offset) and sets the
//! disk-full flag puts are checked against.
//!
//! Recovery at open (what it did is in [`RecoveryReport`]): the CommitLog is
//! re-walked with CRCs — from the third-to-last file after a clean shutdown,
//! after a crash from the newest file whose first record is older than the
//! checkpoint's `min(physic, logics) − 3 s` — and cut at the first damaged
//! record; ConsumeQueues and index are cut to match, and ConsumeQueues
//! also at the dispatch mark the last flush round recorded in
//! `consumequeue/.dispatched` (below it every entry is on disk); then
//! records are re-dispatched to the ConsumeQueues from that mark (or from
//! the CommitLog's start when a queue listed in `consumequeue/.queues` is
//! missing, which rebuilds it but no deleted one), and to the index from its
//! own end.

mod dispatch;
mod encode;
mod get;
mod lock;
mod logics;
mod put;
mod recovery;
mod truncate;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub use dispatch::ArrivalListener;
pub use get::{GetMessageResult, GetMessageStatus, QueryMessageResult, RecordFilter};
pub use put::{PutMessageFuture, PutMessageResult};
pub use recovery::RecoveryReport;

use self::dispatch::{Dispatcher, Parts, Shared};
use self::lock::StoreLock;
use self::logics::LogicsFlusher;
use self::recovery::{Manifest, Recovery};
use crate::checkpoint::{
    StoreCheckpoint, abort_file_exists, abort_file_from_this_boot, create_abort_file,
    remove_abort_file,
};
use crate::commitlog::{CommitLog, CommitLogOptions};
use crate::config::{BrokerRole, MessageStoreConfig};
use crate::consume_queue::{ConsumeQueueConfig, ConsumeQueueStore};
use crate::error::{Result, StoreError};
use crate::index_file::{IndexConfig, IndexService};
use crate::retention::{DiskState, RetentionHandle, RetentionOptions, RetentionService};

/// How long shutdown waits for the dispatcher to catch up (Java: 5 s).
const SHUTDOWN_DISPATCH_WAIT: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is replaced in one step; poisoning leaves it whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The message store: CommitLog, ConsumeQueues, index, checkpoint, and the
/// threads that keep them in step.
#[derive(Debug)]
pub struct MessageStore {
    config: MessageStoreConfig,
    checkpoint: Arc<StoreCheckpoint>,
    commit_log: Arc<CommitLog>,
    queues: Arc<ConsumeQueueStore>,
    index: Option<Arc<IndexService>>,
    dispatcher: Dispatcher,
    logics: Arc<LogicsFlusher>,
    logics_thread: Mutex<Option<JoinHandle<()>>>,
    report: RecoveryReport,
    retention: Mutex<Option<RetentionHandle>>,
    shut_down: AtomicBool,
    /// Retention's disk-full flag.
    disk: DiskState,
    /// Holds the `lock` file's fcntl lock (as Java's) until shutdown.
    lock_file: Mutex<Option<StoreLock>>,
    /// Bytes of RAM counted as page cache for the hot/cold read limits.
    memory_budget: i64,
    /// Puts are refused: a replica, or a master fenced by a newer epoch
    /// (`brokerRole` SLAVE at start; role changes set it).
    slave: AtomicBool,
}

impl MessageStore {
    /// Opens the store under `config.store_path_root_dir`: takes the lock,
    /// recovers (see the [module docs](self)), and starts dispatching,
    /// flushing and retention.
    pub fn open(config: MessageStoreConfig) -> Result<Self> {
        let root = config.store_path_root_dir.clone();
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io("create dir", &root, e))?;
        let lock_file = StoreLock::take(&config.lock_path())?;
        let abort = config.abort_path();
        let crashed = abort_file_exists(&abort);
        // Read before the file is rewritten for this run.
        let same_boot = crashed && abort_file_from_this_boot(&abort);
        create_abort_file(&abort)?;
        let checkpoint = Arc::new(StoreCheckpoint::open(config.checkpoint_path())?);
        let mut options = CommitLogOptions::from_config(&config);
        options.checkpoint = Some(Arc::clone(&checkpoint));
        let commit_log = Arc::new(CommitLog::open(options)?);
        let queues = Arc::new(ConsumeQueueStore::open(
            config.consume_queue_dir(),
            ConsumeQueueConfig {
                file_size: config.consume_queue_file_size(),
                ..ConsumeQueueConfig::default()
            },
        )?);
        let index = if config.message_index_enable {
            let index_config = IndexConfig {
                hash_slot_num: u32::try_from(config.max_hash_slot_num)
                    .map_err(|_| StoreError::InvalidConfig("maxHashSlotNum must fit a u32"))?,
                index_num: u32::try_from(config.max_index_num)
                    .map_err(|_| StoreError::InvalidConfig("maxIndexNum must fit a u32"))?,
            };
            // After a crash the files past the checkpoint's index time may
            // not be whole on disk, and are dropped and rebuilt as in Java;
            // unless the machine kept running (same boot), when the page
            // cache still holds all they had, so recovery only cuts them at
            // the CommitLog's end. (ConsumeQueues trust only the dispatch
            // mark either way.)
            Some(Arc::new(IndexService::open_checked(
                config.index_dir(),
                index_config,
                !crashed || same_boot,
                checkpoint.index_msg_timestamp(),
            )?))
        } else {
            None
        };
        let manifest = Manifest::new(&config.consume_queue_dir());
        let shared = Arc::new(Shared::new(
            Parts {
                commit_log: Arc::clone(&commit_log),
                queues: Arc::clone(&queues),
                index: index.clone(),
                delay_levels: config.delay_levels_ms(),
            },
            commit_log.min_offset(),
        ));
        let report = Recovery {
            config: &config,
            crashed,
            same_boot,
            checkpoint: &checkpoint,
            commit_log: &commit_log,
            queues: &queues,
            index: index.as_deref(),
            manifest: &manifest,
            dispatch: &shared,
        }
        .run()?;
        // Each thread's handle stops it when dropped, so an error below
        // leaves none running.
        let disk = DiskState::new();
        let guard = Arc::clone(&shared);
        let retention = RetentionService::new(
            &commit_log,
            Arc::clone(&queues),
            index.clone(),
            RetentionOptions::from_config(&config),
        )
        .with_disk_state(disk.clone())
        .with_dispatch_guard(move || guard.offset())
        .spawn()
        .map_err(|e| StoreError::io("spawn", "retention", e))?;
        let dispatcher =
            Dispatcher::start(shared).map_err(|e| StoreError::io("spawn", "dispatch", e))?;
        let logics = Arc::new(LogicsFlusher {
            queues: Arc::clone(&queues),
            index: index.clone(),
            checkpoint: Arc::clone(&checkpoint),
            manifest,
            dispatch: Arc::clone(dispatcher.shared()),
            interval: Duration::from_millis(config.flush_interval_consume_queue.max(1)),
            least_pages: config.flush_consume_queue_least_pages,
            thorough_interval: Duration::from_millis(config.flush_consume_queue_thorough_interval),
            // Bounds what a crash re-dispatches to a fraction of the newest
            // CommitLog file, which crash recovery CRC-walks anyway.
            lag_limit: (commit_log.file_size() / 4).max(1) as i64,
            stop: Mutex::new(false),
            cv: Condvar::new(),
            round: Mutex::new(()),
        });
        let worker = Arc::clone(&logics);
        let logics_thread = std::thread::Builder::new()
            .name("skylark-flush-cq".into())
            .spawn(move || worker.run())
            .map_err(|e| StoreError::io("spawn", "flush-cq", e))?;
        let memory_budget = physical_memory()
            .saturating_mul(i64::from(config.access_message_in_memory_max_ratio))
            / 100;
        let slave = config.broker_role == BrokerRole::Slave;
        Ok(Self {
            config,
            checkpoint,
            commit_log,
            queues,
            index,
            dispatcher,
            logics,
            logics_thread: Mutex::new(Some(logics_thread)),
            report,
            retention: Mutex::new(Some(retention)),
            shut_down: AtomicBool::new(false),
            disk,
            lock_file: Mutex::new(Some(lock_file)),
            memory_budget,
            slave: AtomicBool::new(slave),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &MessageStoreConfig {
        &self.config
    }

    /// What recovery did at open.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The CommitLog (for retention and replication).
    pub fn commit_log(&self) -> &Arc<CommitLog> {
        &self.commit_log
    }

    /// The ConsumeQueues (for retention).
    pub fn consume_queues(&self) -> &Arc<ConsumeQueueStore> {
        &self.queues
    }

    /// The index, unless `messageIndexEnable` is off.
    pub fn index(&self) -> Option<&Arc<IndexService>> {
        self.index.as_ref()
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Arc<StoreCheckpoint> {
        &self.checkpoint
    }

    /// Whether puts are accepted: not shut down, disk not full, every
    /// CommitLog flush succeeded.
    pub fn is_writable(&self) -> bool {
        !self.shut_down.load(Ordering::Acquire)
            && self.disk.is_writable()
            && self.commit_log.flush_service().is_accepting()
    }

    /// The disk-full flag retention maintains (puts fail with
    /// `SERVICE_NOT_AVAILABLE` while it is set).
    pub fn disk_state(&self) -> &DiskState {
        &self.disk
    }

    /// Sets or clears the disk-full flag by hand (retention re-evaluates it
    /// every `cleanResourceInterval`).
    pub fn set_disk_full(&self, full: bool) {
        if self.disk.set_full(full, &self.config.store_path_root_dir) {
            tracing::warn!(full, "disk-full flag changed");
        }
    }

    /// Deletes expired files in the next retention passes whatever the hour
    /// and disk usage (`executeDeleteFilesManually`).
    pub fn execute_delete_files_manually(&self) {
        if let Some(r) = lock(&self.retention).as_ref() {
            r.request_manual_delete();
        }
    }

    fn stop_retention(&self) {
        if let Some(r) = lock(&self.retention).take() {
            r.shutdown();
        }
    }

    /// Whether this store is a replica (puts are refused).
    fn is_slave(&self) -> bool {
        self.slave.load(Ordering::Acquire)
    }

    /// Makes puts refused (`true`: a replica, or a fenced master) or
    /// accepted again (a promoted master); replicated appends are not affected.
    pub fn set_slave(&self, slave: bool) {
        self.slave.store(slave, Ordering::Release);
    }

    /// Sets the listener called for every new ConsumeQueue entry (replacing any).
    pub fn set_arrival_listener(&self, listener: ArrivalListener) {
        self.dispatcher.shared().set_listener(Some(listener));
    }

    /// Removes the arrival listener.
    pub fn clear_arrival_listener(&self) {
        self.dispatcher.shared().set_listener(None);
    }

    /// CommitLog bytes not yet dispatched (`dispatchBehindBytes`).
    pub fn dispatch_behind_bytes(&self) -> i64 {
        (self.commit_log.max_offset() - self.dispatched_offset()).max(0)
    }

    /// CommitLog offset up to which records are in the ConsumeQueues and index.
    pub fn dispatched_offset(&self) -> i64 {
        self.dispatcher.shared().offset()
    }

    /// Waits until every record before CommitLog offset `offset` is
    /// dispatched; false on timeout (read-your-own-write, tests).
    pub fn wait_dispatched(&self, offset: i64, timeout: Duration) -> bool {
        self.dispatcher.shared().wake();
        self.dispatcher.shared().wait_for(offset, timeout)
    }

    /// Waits until everything stored so far is dispatched.
    pub fn wait_dispatched_all(&self, timeout: Duration) -> bool {
        self.wait_dispatched(self.commit_log.max_offset(), timeout)
    }

    /// Wakes the dispatcher (after replicated appends, which do not).
    pub fn wake_dispatcher(&self) {
        self.dispatcher.shared().wake();
    }

    /// Smallest CommitLog offset.
    pub fn commit_log_min_offset(&self) -> i64 {
        self.commit_log.min_offset()
    }

    /// CommitLog offset where the next record goes.
    pub fn commit_log_max_offset(&self) -> i64 {
        self.commit_log.max_offset()
    }

    /// Deletes a topic's ConsumeQueues and forgets its queue offsets (its
    /// records stay in the CommitLog until retention removes them). The
    /// broker stops accepting the topic first; records stored before are
    /// dispatched before the queues go, so dispatch does not recreate them.
    ///
    /// The deletion is on disk when this returns: the dispatch manifest no
    /// longer lists the queues and covers every record of the topic, so
    /// recovery does not rebuild them, even after a crash. An error means
    /// the manifest could not be written (the queues are gone all the same,
    /// and the flusher retries).
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        if !self.wait_dispatched_all(SHUTDOWN_DISPATCH_WAIT) {
            tracing::warn!(topic, "deleting a topic while dispatch lags");
        }
        // Within a flush round, so no round in flight writes a `.queues`
        // still listing the topic after the one written here.
        let _round = lock(&self.logics.round);
        self.queues.remove_topic(topic)?;
        self.commit_log.remove_queue_offsets(topic);
        self.logics.manifest.mark_dirty();
        // Captured before flushing: every entry dispatched up to here is covered.
        let offset = self.dispatcher.shared().offset();
        self.queues.flush_all()?;
        self.logics.manifest.save(offset, &self.queues)
    }

    /// Flushes ConsumeQueues, index and checkpoint now, all of them (a
    /// thorough round; tests). The flusher runs a round every
    /// `flushIntervalConsumeQueue`, thorough every
    /// `flushConsumeQueueThoroughInterval`.
    pub fn flush_logics(&self) {
        self.logics.round(true);
    }

    /// Stops the store: refuses puts, lets the dispatcher catch up, flushes
    /// everything, writes the checkpoint, removes the `abort` file and
    /// releases the lock. Later calls do nothing.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop_retention();
        let flush = self.commit_log.flush_service();
        flush.stop_accepting();
        // Taking the append lock (through this read) waits out an append that
        // passed its writability check before `stop_accepting`.
        let _ = self.commit_log.queue_offset("", 0);
        self.dispatcher.stop(SHUTDOWN_DISPATCH_WAIT);
        {
            *lock(&self.logics.stop) = true;
            self.logics.cv.notify_all();
        }
        if let Some(t) = lock(&self.logics_thread).take() {
            if t.join().is_err() {
                tracing::error!("the ConsumeQueue flush thread panicked");
            }
        }
        let mut clean = true;
        match self.commit_log.queue().flush(0) {
            Ok(out) if out.store_timestamp > 0 => {
                self.checkpoint
                    .set_physic_msg_timestamp(out.store_timestamp);
            }
            Ok(_) => {}
            Err(e) => {
                clean = false;
                tracing::error!(error = %e, "final CommitLog flush failed");
            }
        }
        clean &= self.logics.round(true);
        if clean && flush.is_healthy() {
            if let Err(e) = remove_abort_file(&self.config.abort_path()) {
                tracing::error!(error = %e, "cannot remove the abort file");
            }
        } else {
            tracing::error!("shutdown was not clean; the next start recovers as after a crash");
        }
        // Closing the file releases the lock.
        drop(lock(&self.lock_file).take());
        tracing::info!(
            end = self.commit_log.max_offset(),
            "message store shut down"
        );
    }
}

impl MessageStore {
    /// Test hook: makes the dispatcher sleep `delay` after each record (zero
    /// turns it off), to build a dispatch backlog.
    #[doc(hidden)]
    pub fn set_dispatch_delay_for_test(&self, delay: Duration) {
        self.dispatcher.shared().set_delay(delay);
    }

    /// Test hook: stops the threads and releases the lock like a killed
    /// process would — no final ConsumeQueue, index or checkpoint flush, and
    /// the `abort` file stays, so the next open recovers as after a crash.
    #[doc(hidden)]
    pub fn simulate_crash(self) {
        self.shut_down.store(true, Ordering::Release);
        self.stop_retention();
        self.commit_log.flush_service().stop_accepting();
        self.dispatcher.stop(Duration::ZERO);
        *lock(&self.logics.stop) = true;
        self.logics.cv.notify_all();
        if let Some(t) = lock(&self.logics_thread).take() {
            let _ = t.join();
        }
        drop(lock(&self.lock_file).take());
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Physical memory in bytes (4 GiB if unknown).
fn physical_memory() -> i64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages > 0 && size > 0 {
        i64::try_from(i128::from(pages) * i128::from(size)).unwrap_or(i64::MAX)
    } else {
        4 << 30
    }
}
