#![allow(clippy::unwrap_used)]
//! Random append / re-dispatch / truncate / retention / reopen sequences
//! against a `Vec` model, plus loads of corrupt files.

use std::path::Path;

use proptest::prelude::*;
use skylark_store::consume_queue::{
    AppendOutcome, CQ_ENTRY_SIZE, ConsumeQueue, ConsumeQueueConfig, ConsumeQueueError,
    ConsumeQueueStore, CqEntry,
};
use tempfile::TempDir;

const PER_FILE: usize = 4;

fn config() -> ConsumeQueueConfig {
    ConsumeQueueConfig {
        file_size: PER_FILE * CQ_ENTRY_SIZE,
        max_mapped_tails: 1,
    }
}

fn open(dir: &Path) -> ConsumeQueueStore {
    ConsumeQueueStore::open(dir, config()).unwrap()
}

/// Everything from `from` to the end, a file's worth per read.
fn read_all(q: &ConsumeQueue, from: i64) -> Vec<CqEntry> {
    let mut out = Vec::new();
    loop {
        let got = q.read(from + out.len() as i64, 1_000).unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

fn entry(n: i64) -> CqEntry {
    CqEntry {
        phys_offset: 1_000 + n * 100,
        size: 100,
        tags_code: n,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    Redispatch(u8),
    Truncate(u16),
    Expire(u16),
    Read(u8, u8),
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..12).prop_map(Op::Append),
        1 => any::<u8>().prop_map(Op::Redispatch),
        1 => any::<u16>().prop_map(Op::Truncate),
        1 => any::<u16>().prop_map(Op::Expire),
        2 => (any::<u8>(), 0u8..20).prop_map(|(a, b)| Op::Read(a, b)),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

/// The model: entries `0..len` are `entry(n)`; `min` is the minimum offset;
/// `first_file` the first entry of the first file on disk; `floor` the last
/// retention bound, re-applied after a reopen as the store does at startup.
#[derive(Debug, Default)]
struct Model {
    len: i64,
    min: i64,
    first_file: i64,
    floor: i64,
}

impl Model {
    /// First index in `[from, len)` whose record is at or past `phys`.
    fn first_at_or_after(&self, from: i64, phys: i64) -> i64 {
        (from..self.len)
            .find(|n| entry(*n).phys_offset >= phys)
            .unwrap_or(self.len.max(from))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_vec_model(ops in proptest::collection::vec(op(), 1..40)) {
        let tmp = TempDir::new().unwrap();
        let mut store = open(tmp.path());
        let mut m = Model::default();
        for op in ops {
            let q = store.get_or_create("M", 0).unwrap();
            match op {
                Op::Append(k) => {
                    for _ in 0..k {
                        prop_assert_eq!(q.append(m.len, entry(m.len)).unwrap(), AppendOutcome::Appended);
                        m.len += 1;
                    }
                }
                Op::Redispatch(i) => {
                    if m.len > 0 {
                        let n = i64::from(i) % m.len;
                        prop_assert_eq!(q.append(n, entry(n)).unwrap(), AppendOutcome::Duplicate);
                    }
                }
                Op::Truncate(x) => {
                    let phys = i64::from(x) % (1_200 + m.len * 100);
                    q.truncate_dirty(phys).unwrap();
                    let cut = m.first_at_or_after(m.first_file, phys);
                    if cut <= m.first_file {
                        // Every file deleted: the queue starts over at 0.
                        m = Model::default();
                    } else {
                        m.len = cut;
                        m.min = m.min.min(m.len);
                        // The commit log never keeps a minimum past its end.
                        m.floor = m.floor.min(entry(m.len).phys_offset);
                    }
                }
                Op::Expire(x) => {
                    // A commit-log minimum is at most its end.
                    let phys = i64::from(x) % (1_001 + m.len * 100);
                    q.delete_expired(phys).unwrap();
                    let per = PER_FILE as i64;
                    while m.first_file + per < m.len && entry(m.first_file + per - 1).phys_offset < phys {
                        m.first_file += per;
                    }
                    m.min = m.min.max(m.first_file);
                    m.min = if m.min >= m.len { m.len } else { m.first_at_or_after(m.min, phys) };
                    m.floor = m.floor.max(phys);
                }
                Op::Read(from, n) => {
                    let from = i64::from(from) % (m.len + 3);
                    match q.read(from, usize::from(n)) {
                        Ok(got) => {
                            prop_assert!(from >= m.min);
                            // At most one file's worth per read.
                            let n = i64::from(n).min(PER_FILE as i64);
                            let end = m.len.min(from + n).max(from);
                            let want: Vec<_> = (from..end).map(entry).collect();
                            prop_assert_eq!(got, want);
                        }
                        Err(ConsumeQueueError::BelowMin { .. }) => prop_assert!(from < m.min),
                        Err(e) => prop_assert!(false, "read failed: {}", e),
                    }
                }
                Op::Flush => store.flush_all().unwrap(),
                Op::Reopen => {
                    drop(q);
                    drop(store);
                    store = open(tmp.path());
                    if let Some(q) = store.queue("M", 0) {
                        q.correct_min_offset(m.floor).unwrap();
                    }
                    continue;
                }
            }
            prop_assert_eq!(q.max_offset(), m.len);
            prop_assert_eq!(q.min_offset(), m.min);
            let max_phys = if m.len > 0 { entry(m.len - 1).phys_offset + 100 } else { -1 };
            prop_assert_eq!(q.max_phys_offset(), max_phys);
        }
        let q = store.get_or_create("M", 0).unwrap();
        prop_assert_eq!(q.max_offset(), m.len);
        prop_assert_eq!(q.min_offset(), m.min);
        let all = read_all(&q, m.min);
        prop_assert_eq!(all, (m.min..m.len).map(entry).collect::<Vec<_>>());
    }
}

fn qdir(tmp: &TempDir) -> std::path::PathBuf {
    tmp.path().join("T").join("0")
}

#[test]
fn torn_tail_entries_are_cut_on_load() {
    let tmp = TempDir::new().unwrap();
    {
        let store = open(tmp.path());
        for n in 0..6 {
            store.append("T", 0, n, entry(n)).unwrap();
        }
        store.flush_all().unwrap();
    }
    // A torn write: entry 6 has an offset but no size yet.
    let path = qdir(&tmp).join("00000000000000000080");
    let mut raw = std::fs::read(&path).unwrap();
    raw[40..48].copy_from_slice(&5_000i64.to_be_bytes());
    std::fs::write(&path, &raw).unwrap();
    let store = open(tmp.path());
    let q = store.queue("T", 0).unwrap();
    assert_eq!(q.max_offset(), 6);
    // The torn bytes were cleared, so a second load agrees.
    drop(store);
    assert!(
        std::fs::read(&path).unwrap()[40..60]
            .iter()
            .all(|b| *b == 0)
    );
    let store = open(tmp.path());
    assert_eq!(store.queue("T", 0).unwrap().max_offset(), 6);
}

#[test]
fn bad_files_are_reported_not_panicked_on() {
    let tmp = TempDir::new().unwrap();
    {
        let store = open(tmp.path());
        for n in 0..9 {
            store.append("T", 0, n, entry(n)).unwrap();
        }
        store.flush_all().unwrap();
    }
    // Garbage in the middle of a full file is returned as data, not a crash.
    let first = qdir(&tmp).join("00000000000000000000");
    let mut raw = std::fs::read(&first).unwrap();
    raw[20..40].fill(0xFF);
    std::fs::write(&first, &raw).unwrap();
    {
        let store = open(tmp.path());
        let q = store.queue("T", 0).unwrap();
        let e = q.read(1, 1).unwrap()[0];
        assert_eq!((e.phys_offset, e.size), (-1, -1));
        // Searches over garbage terminate.
        q.offset_by_time(5, |p, _| Some(p)).unwrap();
        q.truncate_dirty(1_750).unwrap();
        assert_eq!(q.max_offset(), 8);
    }
    // A file of the wrong size.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap();
    f.set_len(30).unwrap();
    let err = ConsumeQueueStore::open(tmp.path(), config()).unwrap_err();
    assert!(
        matches!(err, ConsumeQueueError::BadFileSize { actual: 30, .. }),
        "{err}"
    );
    f.set_len(80).unwrap();
    // A hole between files.
    std::fs::rename(
        qdir(&tmp).join("00000000000000000080"),
        qdir(&tmp).join("00000000000000000160"),
    )
    .unwrap();
    let err = ConsumeQueueStore::open(tmp.path(), config()).unwrap_err();
    assert!(
        matches!(
            err,
            ConsumeQueueError::NotContiguous {
                prev: 0,
                next: 160,
                ..
            }
        ),
        "{err}"
    );
    // Stray names are ignored.
    std::fs::rename(
        qdir(&tmp).join("00000000000000000160"),
        qdir(&tmp).join("junk.tmp"),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("T").join("not-a-queue")).unwrap();
    let store = open(tmp.path());
    assert_eq!(store.queues().len(), 1);
}
