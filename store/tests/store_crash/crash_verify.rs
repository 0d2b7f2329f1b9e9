//! What must hold after each recovery, and the crash cycles that check it.

use super::*;

/// What the parent knows across cycles.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// The message seen at each (topic, queue, queue offset).
    pub(crate) slots: HashMap<(String, i32, i64), u64>,
    /// Each queue's max offset at the last check.
    pub(crate) max_offsets: HashMap<(String, i32), i64>,
    /// The next sequence number for the child.
    pub(crate) next_seq: u64,
}

/// What [`verify`] counted.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) records: usize,
    /// BLANK-padded segment ends walked over.
    pub(crate) blanks: usize,
    pub(crate) cq_files: usize,
}

/// Checks the reopened store against the child's acknowledgements and
/// `model`, and brings `model` up to date.
pub(crate) fn verify(store: &MessageStore, acks: &[Ack], model: &mut Model) -> Counts {
    settle(store);
    let mut counts = Counts::default();
    // ConsumeQueues → CommitLog: every entry of every queue, min to max,
    // points to an intact record of that queue at that offset.
    let mut entries: HashMap<(String, i32, i64), (u64, i64)> = HashMap::new();
    for cq in store.consume_queues().queues() {
        let known = TOPICS.contains(&cq.topic()) && (0..QUEUES).contains(&cq.queue_id());
        assert!(known, "unexpected queue {}/{}", cq.topic(), cq.queue_id());
        counts.cq_files += cq.file_count();
    }
    for topic in TOPICS {
        for queue_id in 0..QUEUES {
            assert_eq!(store.min_offset(topic, queue_id), 0, "{topic}/{queue_id}");
            let max = store.max_offset(topic, queue_id);
            let key = (topic.to_owned(), queue_id);
            let before = model.max_offsets.get(&key).copied().unwrap_or(0);
            assert!(
                max >= before,
                "{topic}/{queue_id} shrank from {before} to {max}"
            );
            model.max_offsets.insert(key, max);
            for (qo, rec) in read_queue(store, topic, queue_id) {
                let m = decode(&rec);
                assert_eq!(
                    (m.topic.as_str(), m.queue_id, m.queue_offset),
                    (topic, queue_id, qo),
                    "the entry at {topic}/{queue_id}/{qo} points to another record"
                );
                let seq = check_record(&m);
                let slot = (topic.to_owned(), queue_id, qo);
                let seen = *model.slots.entry(slot.clone()).or_insert(seq);
                assert_eq!(
                    seen, seq,
                    "queue offset {topic}/{queue_id}/{qo} held seq {seen}, now seq {seq}"
                );
                entries.insert(slot, (seq, m.physical_offset));
            }
        }
    }
    // CommitLog → ConsumeQueues: every record, walked with the store's
    // reads, is intact, stored once, and has its entry.
    let end = store.commit_log_max_offset();
    let mut at = store.commit_log_min_offset();
    assert_eq!(at, 0, "nothing is deleted");
    let mut seqs = HashSet::new();
    while at < end {
        // `get_record` tells damage (an error) from BLANK padding (`None`).
        match store.commit_log().get_record(at).unwrap() {
            Some(rec) => {
                let m = decode(&rec);
                assert_eq!(m.physical_offset, at);
                let seq = check_record(&m);
                assert!(seqs.insert(seq), "seq {seq} stored twice (again at {at})");
                let slot = (m.topic.clone(), m.queue_id, m.queue_offset);
                assert_eq!(
                    entries.get(&slot),
                    Some(&(seq, at)),
                    "the record at {at} (seq {seq}) lacks its entry {slot:?}"
                );
                at += rec.len() as i64;
            }
            None => {
                let left = CL_FILE as i64 - at % CL_FILE as i64;
                let blank = store.commit_log().get_message(at, BLANK_LEN);
                assert!(
                    blank.is_some_and(|b| b[..] == blank_bytes(left)[..]) && left < CL_FILE as i64,
                    "neither a record nor a BLANK at {at} (end {end})"
                );
                counts.blanks += 1;
                at += left;
            }
        }
        counts.records = seqs.len();
    }
    assert_eq!(at, end, "the walk ends at the CommitLog end");
    assert_eq!(entries.len(), seqs.len(), "one entry per record");
    // Every acknowledged message is where the child was told it went.
    for a in acks {
        let slot = (a.topic.clone(), a.queue_id, a.queue_offset);
        assert_eq!(
            entries.get(&slot),
            Some(&(a.seq, a.phys)),
            "acknowledged message lost or moved: {a:?}"
        );
    }
    // Each through the index too, by KEYS: index files now outlive a
    // process crash (cut at the CommitLog end) instead of being rebuilt.
    for a in acks {
        let key = format!("seq-{}", a.seq);
        let r = store.query_by_key(&a.topic, &key, 32, 0, i64::MAX);
        assert_eq!(r.messages.len(), 1, "query {key}");
        assert_eq!(decode(&r.messages[0]).physical_offset, a.phys);
    }
    let top = seqs.iter().chain(acks.iter().map(|a| &a.seq)).max();
    model.next_seq = model.next_seq.max(top.map_or(0, |s| s + 1));
    counts
}

/// The BLANK record padding the last `left` bytes of a segment.
pub(crate) fn blank_bytes(left: i64) -> Vec<u8> {
    let mut b = Vec::new();
    write_blank(&mut b, left as usize).unwrap();
    b.truncate(BLANK_LEN);
    b
}

/// xorshift64*, seeded from the clock unless `SKYLARK_CRASH_SEED` is set.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn from_env(test: &str) -> Self {
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            .max(1);
        eprintln!("{test}: seed {seed} (replay with {SEED_ENV}={seed})");
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

pub(crate) fn cycles() -> usize {
    std::env::var(CYCLES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES)
}

pub(crate) fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Opens the store after a kill.
pub(crate) fn open_after_kill(config: &MessageStoreConfig) -> MessageStore {
    MessageStore::open(config.clone()).unwrap_or_else(|e| panic!("reopen after a kill failed: {e}"))
}

/// Totals over crash cycles.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) acked: usize,
    pub(crate) stored: usize,
    pub(crate) killed_before_open: usize,
    pub(crate) cuts: usize,
    pub(crate) segments: usize,
    pub(crate) blanks: usize,
    pub(crate) cq_files: usize,
}

/// Runs `cycles` kill-and-recover cycles on a fresh store.
pub(crate) fn crash_cycles(rng: &mut Rng, first: usize, cycles: usize, totals: &mut Totals) {
    let dir = TempDir::new().unwrap();
    let logs = TempDir::new().unwrap();
    let config = crash_config(dir.path());
    let mut model = Model::default();
    for cycle in first..first + cycles {
        // One kill in five lands at a random moment from the spawn (often in
        // the child's own open and recovery); the others while it writes.
        let kill = if rng.range(0, 5) == 0 {
            Kill::Spawned(Duration::from_millis(rng.range(0, 40)))
        } else {
            Kill::Opened(Duration::from_millis(rng.range(20, 300)))
        };
        let run = run_child(dir.path(), logs.path(), model.next_seq, kill);
        let t = Instant::now();
        let store = open_after_kill(&config);
        let report = store.recovery_report().clone();
        if run.opened.is_some() {
            assert!(report.crashed, "{report:?}");
        } else {
            totals.killed_before_open += 1;
        }
        // Nothing was damaged, so a cut can only be the torn tail.
        if let Some((at, fault)) = report.cut {
            assert_eq!(at, report.commit_log_end, "{fault}");
            totals.cuts += 1;
        }
        let counts = verify(&store, &run.acks, &mut model);
        eprintln!(
            "cycle {cycle}: kill {kill:?}, opened after {:?}, {} acked, {} not acked in time, \
             {} records in store, end {}, cut {:?}, scan from {}, dispatch from {} \
             (ConsumeQueues from {}), recovery {:?}, check {:?}",
            run.opened,
            run.acks.len(),
            run.nacks.len(),
            counts.records,
            report.commit_log_end,
            report.cut,
            report.scan_from,
            report.dispatch_from,
            report.consume_queue_from,
            report.elapsed,
            t.elapsed(),
        );
        totals.acked += run.acks.len();
        store.shutdown();
    }
    // A last clean restart changes nothing.
    let store = MessageStore::open(config).unwrap();
    let report = store.recovery_report().clone();
    assert!(!report.crashed && report.cut.is_none(), "{report:?}");
    let counts = verify(&store, &[], &mut model);
    totals.stored += counts.records;
    totals.blanks += counts.blanks;
    totals.cq_files += counts.cq_files;
    totals.segments += files_in(&dir.path().join("commitlog"));
}
