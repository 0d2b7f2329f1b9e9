//! Startup recovery: find the CommitLog's valid end, cut what lies past it
//! from the CommitLog, ConsumeQueues and index, and re-dispatch what the
//! ConsumeQueues and index lack.
//!
//! **CommitLog end.** `CommitLog::open` already cut a torn tail in the newest
//! file. On top of that the store re-walks records with their CRC, as Java
//! does: after a clean shutdown from the third-to-last file; after a crash
//! from the newest file whose first record was stored at or before the
//! checkpoint's `min(physic, logics) − 3 s` (the first file if none is), so
//! damage anywhere in data that may not have reached the disk is found. The
//! log is cut at the first bad record (reported with `tracing::error!`);
//! everything before it is kept.
//!
//! **Where re-dispatch starts.** Java resumes from the largest CommitLog
//! offset any ConsumeQueue covers, so a lagging or deleted queue is never
//! rebuilt. Skylark keeps two small files in `consumequeue/`, written by the
//! ConsumeQueue flusher after every successful flush: `.dispatched` (the
//! dispatch offset captured before that flush: every entry below it is on
//! disk) and `.queues` (every non-empty queue, rewritten when the set
//! changes). Re-dispatch starts at `.dispatched` unless a listed queue is
//! gone (or the files are missing, e.g. a store written by Java): then it
//! starts at the CommitLog's minimum offset, which rebuilds missing queues
//! while existing entries are skipped as duplicates. The index resumes from
//! its newest file's end offset; the earlier of the two wins.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::message::record::BLANK_LEN;

use super::dispatch::Shared;
use crate::checkpoint::StoreCheckpoint;
use crate::commitlog::{CommitLog, Entry, parse_entry};
use crate::config::MessageStoreConfig;
use crate::consume_queue::ConsumeQueueStore;
use crate::error::{RecordFault, Result, StoreError};
use crate::index_file::IndexService;

/// File holding the dispatch offset covered by flushed ConsumeQueues.
const DISPATCHED_FILE: &str = ".dispatched";
/// File listing the non-empty queues, one `queueId topic` per line.
const QUEUES_FILE: &str = ".queues";

/// What recovery did at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The `abort` file was present: the last run did not shut down cleanly.
    pub crashed: bool,
    /// Where the CRC re-walk of the CommitLog started.
    pub scan_from: i64,
    /// The CommitLog end after recovery.
    pub commit_log_end: i64,
    /// The first bad record found (the log was cut there), if any.
    pub cut: Option<(i64, RecordFault)>,
    /// Where re-dispatch started.
    pub dispatch_from: i64,
    /// Re-dispatch started at the CommitLog's minimum offset because a queue
    /// was missing or no dispatch record existed.
    pub full_redispatch: bool,
    /// Wall time of the whole recovery.
    pub elapsed: Duration,
}

/// The `.dispatched` and `.queues` files.
#[derive(Debug)]
pub(crate) struct Manifest {
    dir: PathBuf,
    /// Queues listed in the last `.queues` written.
    saved: Mutex<Option<usize>>,
    /// `.queues` must be rewritten (a topic was removed, or after recovery).
    dirty: AtomicBool,
    /// The offset in `.dispatched`, so an idle store does not rewrite it.
    last_dispatched: AtomicI64,
}

impl Manifest {
    /// The manifest of the `consumequeue` directory `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            saved: Mutex::new(None),
            dirty: AtomicBool::new(true),
            last_dispatched: AtomicI64::new(-1),
        }
    }

    /// Forces `.queues` to be rewritten at the next save.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    fn load_dispatched(&self) -> Option<i64> {
        std::fs::read_to_string(self.dir.join(DISPATCHED_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn load_queues(&self) -> Option<Vec<(String, i32)>> {
        let text = std::fs::read_to_string(self.dir.join(QUEUES_FILE)).ok()?;
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (qid, topic) = l.split_once(' ')?;
                Some((topic.to_owned(), qid.parse().ok()?))
            })
            .collect()
    }

    /// Records that every entry below `dispatched` is flushed; call only
    /// after a successful `flush_all`.
    pub(crate) fn save(&self, dispatched: i64, queues: &ConsumeQueueStore) -> Result<()> {
        let all = queues.queues();
        let mut saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner);
        if self.dirty.swap(false, Ordering::AcqRel) || *saved != Some(all.len()) {
            let mut text = String::new();
            for q in all.iter().filter(|q| q.file_count() > 0) {
                text.push_str(&format!("{} {}\n", q.queue_id(), q.topic()));
            }
            // Listed before the offset that vouches for them is written.
            if let Err(e) = write_atomic(&self.dir.join(QUEUES_FILE), text.as_bytes()) {
                self.dirty.store(true, Ordering::Release);
                return Err(e);
            }
            *saved = Some(all.len());
        }
        if self.last_dispatched.load(Ordering::Acquire) == dispatched {
            return Ok(());
        }
        write_atomic(
            &self.dir.join(DISPATCHED_FILE),
            dispatched.to_string().as_bytes(),
        )?;
        self.last_dispatched.store(dispatched, Ordering::Release);
        Ok(())
    }
}

/// Writes `path` through a synced temporary file and a rename, so a crash
/// leaves the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_data()));
    written.map_err(|e| StoreError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", path, e))
}

/// The parts recovery works on.
pub(crate) struct Recovery<'a> {
    pub(crate) config: &'a MessageStoreConfig,
    pub(crate) crashed: bool,
    pub(crate) checkpoint: &'a StoreCheckpoint,
    pub(crate) commit_log: &'a CommitLog,
    pub(crate) queues: &'a ConsumeQueueStore,
    pub(crate) index: Option<&'a IndexService>,
    pub(crate) manifest: &'a Manifest,
    pub(crate) dispatch: &'a Shared,
}

impl Recovery<'_> {
    /// Runs recovery; the dispatcher thread must not run yet.
    pub(crate) fn run(&self) -> Result<RecoveryReport> {
        let started = Instant::now();
        let log = self.commit_log;
        if let Some((at, fault)) = log.recovery().fault {
            tracing::error!(offset = at, %fault, "CommitLog cut at a damaged record on open");
        }
        let scan_from = self.scan_start();
        // After a crash the CRC is checked whatever the config says: the
        // bytes may never have reached the disk.
        let crc = self.crashed || self.config.check_crc_on_recover;
        let outcome = log.scan(scan_from, crc, |_, _, _| {});
        let mut cut = log.recovery().fault;
        if let Some((at, fault)) = outcome.fault {
            tracing::error!(offset = at, %fault, "damaged CommitLog record; cutting the log there");
            cut = Some((at, fault));
        }
        // Only a damaged record moves the end back: a scan that meets zeros
        // early (a first file starting mid-file) proves nothing.
        if outcome.fault.is_some() && outcome.end < log.max_offset() {
            log.truncate(outcome.end)?;
        }
        let end = log.max_offset();
        let min = log.min_offset();
        self.queues.truncate_dirty(end)?;
        // `index_resume` is a record boundary to re-dispatch from; records
        // below `index_skip` are indexed already.
        let (mut index_resume, mut index_skip) = (end, end);
        if let Some(index) = self.index {
            index.truncate_from(end)?;
            (index_resume, index_skip) = match index.files().last() {
                // Entries are 1-based: a count above 1 means the record at
                // the end offset is indexed.
                Some((_, h)) if h.index_count > 1 => (h.end_phy_offset, h.end_phy_offset + 1),
                Some((_, h)) => (h.end_phy_offset, h.end_phy_offset),
                None => (min, min),
            };
            index_resume = index_resume.clamp(min, end);
        }
        let (cq_from, full) = self.cq_start(min, end);
        let dispatch_from = cq_from.min(index_resume);
        self.dispatch.set_index_from(index_skip);
        self.dispatch.set_offset(dispatch_from);
        let reached = self.dispatch.dispatch_until(end, false);
        if reached < end {
            tracing::warn!(
                reached,
                end,
                "re-dispatch stopped short of the CommitLog end"
            );
        }
        self.dispatch.set_index_from(0);
        self.queues.correct_min_offsets(min)?;
        for q in self.queues.queues() {
            log.set_queue_offset(q.topic(), q.queue_id(), q.max_offset());
        }
        self.manifest.mark_dirty();
        let report = RecoveryReport {
            crashed: self.crashed,
            scan_from,
            commit_log_end: end,
            cut,
            dispatch_from,
            full_redispatch: full,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            crashed = report.crashed,
            scan_from,
            end,
            dispatch_from,
            full,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "store recovered"
        );
        Ok(report)
    }

    /// Where the CRC re-walk starts (see the module docs).
    fn scan_start(&self) -> i64 {
        let log = self.commit_log;
        let files = log.queue().files();
        let Some(first) = files.first() else {
            return log.max_offset();
        };
        if !self.crashed {
            return files[files.len().saturating_sub(3)].from_offset();
        }
        let limit = if self.config.message_index_enable && self.config.message_index_safe {
            self.checkpoint.min_timestamp_index()
        } else {
            self.checkpoint.min_timestamp()
        };
        let max_record = log.file_size() - BLANK_LEN;
        files
            .iter()
            .rev()
            .find(|f| {
                let head = f.read(0, f.wrote_position()).unwrap_or(&[]);
                matches!(parse_entry(head, max_record),
                    Ok(Entry::Record(info)) if info.store_timestamp != 0 && info.store_timestamp <= limit)
            })
            .unwrap_or(first)
            .from_offset()
    }

    /// Where ConsumeQueue re-dispatch starts, and whether that is a full rebuild.
    fn cq_start(&self, min: i64, end: i64) -> (i64, bool) {
        if min >= end {
            return (end, false);
        }
        let dispatched = self.manifest.load_dispatched();
        let listed = self.manifest.load_queues();
        let missing = listed.as_ref().and_then(|l| {
            let mut seen = HashSet::new();
            l.iter()
                .filter(|(t, q)| seen.insert((t.as_str(), *q)))
                .find(|(t, q)| {
                    self.queues
                        .queue(t, *q)
                        .is_none_or(|cq| cq.file_count() == 0)
                })
                .cloned()
        });
        match (dispatched, listed, missing) {
            (Some(d), Some(_), None) => (d.clamp(min, end), false),
            (_, _, Some((topic, queue_id))) => {
                tracing::warn!(
                    topic,
                    queue_id,
                    "a ConsumeQueue is missing; rebuilding from the CommitLog start"
                );
                (min, true)
            }
            _ => {
                tracing::info!("no dispatch record; re-dispatching the whole CommitLog");
                (min, true)
            }
        }
    }
}
