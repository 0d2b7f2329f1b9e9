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
//! rebuilt. Skylark keeps two small files in `consumequeue/`, written by
//! every ConsumeQueue flush round (see `logics.rs`), by topic deletion and
//! at the end of a recovery that had none to go by: `.dispatched` (the
//! dispatch mark: every ConsumeQueue entry of a record below it is on disk)
//! and `.queues` (every non-empty queue, rewritten when the set changes).
//! ConsumeQueues and index each resume from their own point, and a range
//! only one of them lacks is dispatched to that one alone:
//!
//! - ConsumeQueues from `.dispatched`, after cutting every entry at or past
//!   it: those were never vouched for by a flush (after a power loss a
//!   queue's tail may hold a later page without an earlier one), so they
//!   are rebuilt from the CommitLog rather than trusted. If a queue
//!   `.queues` lists is gone,
//!   from the CommitLog's minimum offset instead, which rebuilds it while
//!   existing entries are skipped as duplicates; below `.dispatched` records
//!   then only go into queues that exist or are being rebuilt, as any other
//!   queue with records there was deleted (deletion rewrites both files
//!   before it returns) and must stay so. Without the files (e.g. a store
//!   written by Java) everything is re-dispatched from the minimum offset.
//! - The index from its newest file's end offset (after a crash, files the
//!   checkpoint does not cover are dropped first, as in Java, unless the
//!   crash was the process's alone: the `abort` file names this boot). The record at
//!   that offset may be indexed only in part, its keys having spanned two
//!   files; `IndexService::build_index` puts the keys it lacks.
//!
//! Afterwards the queue-offset table holds exactly the queues that have a
//! ConsumeQueue, at their max offsets.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::message::record::BLANK_LEN;

use super::dispatch::{Gates, Shared};
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
    /// The unclean exit happened on this kernel boot (the process died, the
    /// machine did not): index files were kept rather than rebuilt.
    pub same_boot: bool,
    /// Where the CRC re-walk of the CommitLog started.
    pub scan_from: i64,
    /// The CommitLog end after recovery.
    pub commit_log_end: i64,
    /// The first bad record found (the log was cut there), if any.
    pub cut: Option<(i64, RecordFault)>,
    /// Where re-dispatch started: the lower of
    /// [`consume_queue_from`](Self::consume_queue_from) and
    /// [`index_from`](Self::index_from). `commit_log_end - dispatch_from`
    /// bytes were re-dispatched.
    pub dispatch_from: i64,
    /// Where re-dispatch into ConsumeQueues started (the dispatch mark, or
    /// the CommitLog's minimum offset for a rebuild).
    pub consume_queue_from: i64,
    /// Where re-indexing started (the newest kept index file's end).
    pub index_from: i64,
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
        write_mark(&self.dir.join(DISPATCHED_FILE), dispatched)?;
        self.last_dispatched.store(dispatched, Ordering::Release);
        Ok(())
    }
}

/// Bytes of the `.dispatched` file: 20 digits and a newline.
const MARK_LEN: u64 = 21;

/// Overwrites the `.dispatched` file in place with `mark` as 20 digits and
/// syncs its data. The flusher writes it every round: a new file and a
/// rename each second would force a journal commit each second, which the
/// CommitLog's syncs would queue behind. 21 bytes at offset 0 lie in one
/// sector, which a disk writes whole or not at all, so a crash leaves the
/// old or the new value.
fn write_mark(path: &Path, mark: i64) -> Result<()> {
    let text = format!("{mark:020}\n");
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let file = match open() {
        // A store without queues yet has no `consumequeue` directory.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| open()),
        other => other,
    };
    file.and_then(|f| {
        f.write_all_at(text.as_bytes(), 0)?;
        // Once: a file from an older version holds fewer bytes.
        if f.metadata()?.len() != MARK_LEN {
            f.set_len(MARK_LEN)?;
        }
        f.sync_data()
    })
    .map_err(|e| StoreError::io("write", path, e))
}

/// Writes `path` through a synced temporary file and a rename, so a crash
/// leaves the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let create = || std::fs::File::create(&tmp);
    let file = match create() {
        // A store without queues yet has no `consumequeue` directory.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => tmp
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| create()),
        other => other,
    };
    let written = file.and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_data()));
    written.map_err(|e| StoreError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", path, e))
}

/// The parts recovery works on.
pub(crate) struct Recovery<'a> {
    pub(crate) config: &'a MessageStoreConfig,
    pub(crate) crashed: bool,
    pub(crate) same_boot: bool,
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
        // Missing queues are looked for first: cutting at the mark may
        // empty a queue, which does not make it a missing one.
        let cq = self.cq_start(min, end);
        if let Some(mark) = cq.mark.filter(|m| *m < end) {
            self.queues.truncate_dirty(mark)?;
        }
        // The index resumes at its newest file's end offset: records below it
        // are indexed, and of the record there, `build_index` puts only the
        // keys a crash lost (a record's keys may span two files).
        let index_from = match self.index {
            Some(index) => {
                index.truncate_from(end)?;
                index
                    .files()
                    .last()
                    .map_or(min, |(_, h)| h.end_phy_offset)
                    .clamp(min, end)
            }
            None => end,
        };
        // Each part from its own point: the range only one of them lacks is
        // dispatched to that one alone.
        let dispatch_from = cq.from.min(index_from);
        self.dispatch.set_gates(Gates {
            cq_from: cq.from,
            cq_create_from: cq.create_from,
            index_from,
        });
        self.dispatch.set_offset(dispatch_from);
        let reached = self.dispatch.dispatch_until(end, false);
        if reached < end {
            tracing::warn!(
                reached,
                end,
                "re-dispatch stopped short of the CommitLog end"
            );
        }
        self.dispatch.set_gates(Gates::default());
        self.dispatch.set_rebuilding(HashMap::new());
        self.queues.correct_min_offsets(min)?;
        if cq.full || cq.mark.is_none() {
            // Rebuilt, or no mark to go by: make what was dispatched durable
            // and record it, so a crash before the flusher's first round
            // does not start all over again. Failing here costs only that.
            let saved = self
                .queues
                .flush_all()
                .map_err(StoreError::from)
                .and_then(|()| self.manifest.save(reached, self.queues));
            if let Err(e) = saved {
                tracing::error!(error = %e, "cannot record the dispatch mark after recovery");
            }
        }
        // The next queue offsets are exactly those of the queues that have a
        // ConsumeQueue: `CommitLog::open` seeded the table from the records
        // of its newest file, deleted topics included, and those must start
        // over at 0 (as Java rebuilds the table from the ConsumeQueues).
        let queues = self.queues.queues();
        log.reset_queue_offsets(
            queues
                .iter()
                .map(|q| (q.topic(), q.queue_id(), q.max_offset())),
        );
        self.manifest.mark_dirty();
        let report = RecoveryReport {
            crashed: self.crashed,
            same_boot: self.same_boot,
            scan_from,
            commit_log_end: end,
            cut,
            dispatch_from,
            consume_queue_from: cq.from,
            index_from,
            full_redispatch: cq.full,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            crashed = report.crashed,
            scan_from,
            end,
            dispatch_from,
            full = cq.full,
            index_from,
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

    /// Where ConsumeQueue re-dispatch starts (see the module docs).
    fn cq_start(&self, min: i64, end: i64) -> CqStart {
        let dispatched = self.manifest.load_dispatched();
        let listed = self.manifest.load_queues();
        let (Some(dispatched), Some(listed)) = (dispatched, listed) else {
            if min >= end {
                return CqStart {
                    from: end,
                    create_from: end,
                    full: false,
                    mark: None,
                };
            }
            tracing::info!("no dispatch record; re-dispatching the whole CommitLog");
            return CqStart {
                from: min,
                create_from: min,
                full: true,
                mark: None,
            };
        };
        if min >= end {
            return CqStart {
                from: end,
                create_from: end,
                full: false,
                mark: Some(end),
            };
        }
        let dispatched = dispatched.clamp(min, end);
        let mut missing: HashMap<String, HashSet<i32>> = HashMap::new();
        for (topic, queue_id) in &listed {
            if missing.get(topic).is_some_and(|q| q.contains(queue_id)) {
                continue;
            }
            let gone = self
                .queues
                .queue(topic, *queue_id)
                .is_none_or(|cq| cq.file_count() == 0);
            if !gone {
                continue;
            }
            tracing::warn!(
                topic,
                queue_id,
                "a ConsumeQueue is missing; rebuilding it from the CommitLog start"
            );
            // Created now, so the re-dispatch below `dispatched` (which only
            // fills queues that exist) rebuilds it.
            if let Err(e) = self.queues.get_or_create(topic, *queue_id) {
                tracing::error!(topic, queue_id, error = %e, "cannot rebuild a ConsumeQueue");
            }
            missing.entry(topic.clone()).or_default().insert(*queue_id);
        }
        if missing.is_empty() {
            return CqStart {
                from: dispatched,
                create_from: dispatched,
                full: false,
                mark: Some(dispatched),
            };
        }
        self.dispatch.set_rebuilding(missing);
        CqStart {
            from: min,
            create_from: dispatched,
            full: true,
            mark: Some(dispatched),
        }
    }
}

/// Where recovery re-dispatches records into ConsumeQueues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CqStart {
    /// The first record re-dispatched to the ConsumeQueues.
    from: i64,
    /// Records below this only go into queues that exist (or are being
    /// rebuilt): every other queue with records there was deleted.
    create_from: i64,
    /// `from` is the CommitLog's start: a rebuild.
    full: bool,
    /// The dispatch mark (clamped to the CommitLog), if there was one:
    /// ConsumeQueue entries at or past it are cut and dispatched again.
    /// Without one (a store Java wrote), the queues are taken as they are.
    mark: Option<i64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use skylark_protocol::message::{Message, StoredMessage};

    use crate::MessageStore;
    use crate::config::MessageStoreConfig;

    fn open(dir: &std::path::Path) -> MessageStore {
        let mut c = MessageStoreConfig::with_root(dir);
        c.mapped_file_size_commit_log = 64 * 1024;
        c.mapped_file_size_consume_queue = 50 * 20;
        c.max_hash_slot_num = 512;
        c.max_index_num = 2_000;
        c.max_message_size = 16 * 1024;
        MessageStore::open(c).unwrap()
    }

    /// Puts a message; returns its queue and physical offsets.
    fn put(store: &MessageStore, topic: &str, queue_id: i32) -> (i64, i64) {
        let m = Message::new(topic, b"body".to_vec());
        let addr = "127.0.0.1:10911".parse().unwrap();
        let mut s = StoredMessage::new(m, addr, addr);
        s.queue_id = queue_id;
        let r = store.put_message(&s).wait_blocking();
        assert!(r.is_stored(), "{r:?}");
        let a = r.append.unwrap();
        (a.queue_offset, a.wrote_offset)
    }

    /// The mark is overwritten in place as 20 digits, whatever length the
    /// file had (an older version wrote it unpadded), and reads back.
    #[test]
    fn the_mark_is_rewritten_in_place_at_a_fixed_width() {
        let dir = tempfile::TempDir::new().unwrap();
        let manifest = super::Manifest::new(dir.path());
        let path = dir.path().join(super::DISPATCHED_FILE);
        std::fs::write(&path, "123456789").unwrap();
        assert_eq!(manifest.load_dispatched(), Some(123_456_789));
        for (before, mark) in [("7", 42), ("1234567890123456789012345", 5)] {
            std::fs::write(&path, before).unwrap();
            super::write_mark(&path, mark).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, format!("{mark:020}\n"));
            assert_eq!(manifest.load_dispatched(), Some(mark));
        }
    }

    /// A rebuild (a listed queue is missing) brings back the missing queues
    /// as they were: not a deleted topic, nor the earlier life of a topic
    /// deleted and created again.
    #[test]
    fn a_rebuild_brings_back_neither_deleted_topics_nor_earlier_lives() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = open(dir.path());
        for _ in 0..10 {
            put(&store, "Gone", 0);
            put(&store, "Again", 1);
        }
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        store.delete_topic("Gone").unwrap();
        store.delete_topic("Again").unwrap();
        let mut again = Vec::new();
        for i in 0..3 {
            let (qo, phys) = put(&store, "Again", 1);
            assert_eq!(qo, i);
            again.push(phys);
        }
        for _ in 0..5 {
            put(&store, "Lost", 0);
        }
        store.shutdown();
        drop(store);
        for topic in ["Again", "Lost"] {
            std::fs::remove_dir_all(dir.path().join("consumequeue").join(topic)).unwrap();
        }

        let store = open(dir.path());
        let report = store.recovery_report().clone();
        assert!(
            report.full_redispatch && report.dispatch_from == 0,
            "{report:?}"
        );
        assert!(store.consume_queues().queue("Gone", 0).is_none());
        assert_eq!(store.max_offset("Lost", 0), 5);
        let q = store.consume_queues().queue("Again", 1).unwrap();
        assert_eq!((q.min_offset(), q.max_offset()), (0, 3));
        let phys: Vec<i64> = q
            .read(0, 10)
            .unwrap()
            .iter()
            .map(|e| e.phys_offset)
            .collect();
        assert_eq!(phys, again);
        // Offsets go on from what the queues hold; the deleted topic's start over.
        assert_eq!(put(&store, "Again", 1).0, 3);
        assert_eq!(put(&store, "Gone", 0).0, 0);
        store.shutdown();
        drop(store);
        let store = open(dir.path());
        assert!(!store.recovery_report().full_redispatch);
        assert_eq!(store.max_offset("Again", 1), 4);
        assert_eq!(store.max_offset("Gone", 0), 1);
    }
}
