//! Helpers shared by the retention integration tests: a small store on real
//! files, a fake disk-usage probe, and clocks at chosen hours.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use skylark_protocol::message::{Message, StoredMessage};
use skylark_store::commitlog::{CommitLog, CommitLogOptions};
use skylark_store::consume_queue::{CQ_ENTRY_SIZE, ConsumeQueueConfig, ConsumeQueueStore, CqEntry};
use skylark_store::index_file::{IndexConfig, IndexService};
use skylark_store::retention::{DiskUsage, HourClock, RetentionOptions, RetentionService};
use tempfile::TempDir;

/// CommitLog file size: a dozen records per file.
pub const SEG: usize = 4096;
/// ConsumeQueue entries per file.
pub const CQ_PER_FILE: usize = 5;
/// The topic every record goes to.
pub const TOPIC: &str = "RetentionTopic";

/// An encoded record of about 300 bytes.
pub fn record(n: usize) -> Vec<u8> {
    let born = "192.168.0.7:40000".parse().unwrap();
    let store = "10.0.0.1:10911".parse().unwrap();
    let body = format!("{n:08}").repeat(25);
    let mut msg = StoredMessage::new(Message::new(TOPIC, body.into_bytes()), born, store);
    msg.born_timestamp = 1_700_000_000_000;
    msg.to_bytes().unwrap().to_vec()
}

/// A fake [`DiskUsage`]: one ratio for the ConsumeQueue root, one for
/// everything else, and a switch that makes every probe fail.
#[derive(Debug, Default)]
pub struct FakeDisk {
    commit_log: AtomicU64,
    logics: AtomicU64,
    fail: AtomicBool,
}

impl FakeDisk {
    /// Both partitions at `ratio`.
    pub fn new(ratio: f64) -> Arc<Self> {
        let d = Arc::new(Self::default());
        d.set(ratio);
        d
    }

    /// Sets both partitions.
    pub fn set(&self, ratio: f64) {
        self.set_commit_log(ratio);
        self.set_logics(ratio);
    }

    /// Sets the CommitLog's partition.
    pub fn set_commit_log(&self, ratio: f64) {
        self.commit_log.store(ratio.to_bits(), Ordering::SeqCst);
    }

    /// Sets the ConsumeQueues' partition.
    pub fn set_logics(&self, ratio: f64) {
        self.logics.store(ratio.to_bits(), Ordering::SeqCst);
    }

    /// Makes every probe fail (or work again).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl DiskUsage for FakeDisk {
    fn used_ratio(&self, path: &Path) -> io::Result<f64> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("probe failure"));
        }
        let slot = if path.ends_with("consumequeue") {
            &self.logics
        } else {
            &self.commit_log
        };
        Ok(f64::from_bits(slot.load(Ordering::SeqCst)))
    }
}

/// The next moment (half past) at `hour` UTC after the real now.
pub fn at_hour(hour: u64) -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut t = now - now % 86_400 + hour * 3_600 + 1_800;
    if t <= now {
        t += 86_400;
    }
    UNIX_EPOCH + Duration::from_secs(t)
}

/// Retention options for tests: RocketMQ's defaults, UTC hours, no pauses.
pub fn options() -> RetentionOptions {
    RetentionOptions {
        hour_clock: HourClock::Utc,
        delete_files_interval: Duration::ZERO,
        initial_delay: Duration::ZERO,
        ..RetentionOptions::default()
    }
}

/// A CommitLog with ConsumeQueue `TOPIC`/0 and an index built from it.
pub struct Store {
    pub dir: TempDir,
    pub log: Arc<CommitLog>,
    pub cq: Arc<ConsumeQueueStore>,
    pub index: Arc<IndexService>,
    /// Offset and size of every record appended.
    pub records: Vec<(i64, usize)>,
}

impl Store {
    /// An empty store in a fresh directory.
    pub fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut o = CommitLogOptions::new(dir.path().join("commitlog"), SEG);
        o.preallocate = false;
        o.prefault = false;
        let log = Arc::new(CommitLog::open(o).unwrap());
        let cq = ConsumeQueueStore::open(
            dir.path().join("consumequeue"),
            ConsumeQueueConfig {
                file_size: CQ_PER_FILE * CQ_ENTRY_SIZE,
                max_mapped_tails: 8,
            },
        )
        .unwrap();
        // Five keys per index file.
        let index = IndexService::open(
            dir.path().join("index"),
            IndexConfig {
                hash_slot_num: 4,
                index_num: 6,
            },
        )
        .unwrap();
        Self {
            dir,
            log,
            cq: Arc::new(cq),
            index: Arc::new(index),
            records: Vec::new(),
        }
    }

    /// Appends (and dispatches) records until the log has `files` files.
    pub fn fill(&mut self, files: usize) {
        while self.log.queue().files().len() < files {
            self.put();
        }
        self.log.queue().flush(0).unwrap();
    }

    /// Appends one record and dispatches it to the ConsumeQueue and the index.
    pub fn put(&mut self) {
        let n = self.records.len();
        let r = self.log.append(&record(n)).unwrap();
        let entry = CqEntry {
            phys_offset: r.wrote_offset,
            size: i32::try_from(r.wrote_bytes).unwrap(),
            tags_code: 0,
        };
        self.cq.append(TOPIC, 0, r.queue_offset, entry).unwrap();
        let key = format!("K{n}");
        self.index
            .build_index(TOPIC, Some(&key), None, r.wrote_offset, r.store_timestamp)
            .unwrap();
        self.records.push((r.wrote_offset, r.wrote_bytes));
    }

    /// Number of CommitLog files in the list.
    pub fn files(&self) -> usize {
        self.log.queue().files().len()
    }

    /// Sets the modification time of CommitLog file `i` `hours` into the past.
    pub fn age(&self, i: usize, hours: u64) {
        let files = self.log.queue().files();
        let f = std::fs::File::options()
            .write(true)
            .open(files[i].path())
            .unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(hours * 3_600))
            .unwrap();
    }

    /// Ages every file but the newest past the default 72 hours.
    pub fn age_all_but_last(&self) {
        for i in 0..self.files() - 1 {
            self.age(i, 100);
        }
    }

    /// Number of 20-digit files in the CommitLog directory.
    pub fn files_on_disk(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("commitlog"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().len() == 20)
            .count()
    }

    /// A retention service over this store measuring with `disk`.
    pub fn service(&self, options: RetentionOptions, disk: &Arc<FakeDisk>) -> RetentionService {
        RetentionService::new(
            &self.log,
            Arc::clone(&self.cq),
            Some(Arc::clone(&self.index)),
            options,
        )
        .with_disk_usage(Arc::clone(disk) as Arc<dyn DiskUsage>)
    }
}
