#![allow(clippy::unwrap_used)]
//! ConsumeQueue round trips, byte layout, recovery, truncation, retention
//! and time search on real files.

use std::path::Path;

use skylark_store::consume_queue::{
    AppendOutcome, CQ_ENTRY_SIZE, ConsumeQueue, ConsumeQueueConfig, ConsumeQueueError,
    ConsumeQueueStore, CqEntry, file_name,
};
use tempfile::TempDir;

/// Five entries per file, so boundaries come quickly.
const PER_FILE: usize = 5;

fn config() -> ConsumeQueueConfig {
    ConsumeQueueConfig {
        file_size: PER_FILE * CQ_ENTRY_SIZE,
        max_mapped_tails: 8,
    }
}

fn open(dir: &Path) -> ConsumeQueueStore {
    ConsumeQueueStore::open(dir.join("consumequeue"), config()).unwrap()
}

/// Entry n of the test queues: records of 100 bytes, one after the other.
fn entry(n: i64) -> CqEntry {
    CqEntry {
        phys_offset: 1_000 + n * 100,
        size: 100,
        tags_code: n * 7 - 3,
    }
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

fn fill(store: &ConsumeQueueStore, topic: &str, qid: i32, range: std::ops::Range<i64>) {
    for n in range {
        assert_eq!(
            store.append(topic, qid, n, entry(n)).unwrap(),
            AppendOutcome::Appended
        );
    }
}

#[test]
fn append_read_reopen_across_files() {
    let tmp = TempDir::new().unwrap();
    {
        let store = open(tmp.path());
        fill(&store, "T", 0, 0..23);
        let q = store.queue("T", 0).unwrap();
        assert_eq!((q.min_offset(), q.max_offset()), (0, 23));
        assert_eq!(q.file_count(), 5);
        assert_eq!(q.max_phys_offset(), entry(22).phys_offset + 100);
        // A read crossing a file boundary; one file's worth at most.
        let got = q.read(3, 10).unwrap();
        assert_eq!(got, (3..8).map(entry).collect::<Vec<_>>());
        assert_eq!(read_all(&q, 3), (3..23).map(entry).collect::<Vec<_>>());
        // Short at the end, empty past it.
        assert_eq!(q.read(20, 10).unwrap().len(), 3);
        assert!(q.read(23, 10).unwrap().is_empty());
        assert_eq!(q.get(22).unwrap(), Some(entry(22)));
        assert_eq!(q.get(23).unwrap(), None);
        store.flush_all().unwrap();
    }
    let store = open(tmp.path());
    let q = store.queue("T", 0).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (0, 23));
    assert_eq!(read_all(&q, 0), (0..23).map(entry).collect::<Vec<_>>());
    assert_eq!(q.max_phys_offset(), entry(22).phys_offset + 100);
    // Appending resumes where it stopped.
    fill(&store, "T", 0, 23..26);
    assert_eq!(
        q.read(21, 10).unwrap(),
        (21..26).map(entry).collect::<Vec<_>>()
    );
}

#[test]
fn byte_layout_matches_rocketmq() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    fill(&store, "TopicA", 3, 0..7);
    store.flush_all().unwrap();
    let qdir = tmp.path().join("consumequeue").join("TopicA").join("3");
    let first = std::fs::read(qdir.join("00000000000000000000")).unwrap();
    let second = std::fs::read(qdir.join("00000000000000000100")).unwrap();
    assert_eq!(first.len(), 100);
    assert_eq!(second.len(), 100);
    let e = entry(1);
    let mut want = Vec::new();
    want.extend_from_slice(&e.phys_offset.to_be_bytes());
    want.extend_from_slice(&e.size.to_be_bytes());
    want.extend_from_slice(&e.tags_code.to_be_bytes());
    assert_eq!(&first[20..40], &want[..]);
    // Entry 6 is the second in the second file; the rest is still zero.
    assert_eq!(&second[20..40], &entry(6).encode()[..]);
    assert!(second[40..].iter().all(|b| *b == 0));
    assert_eq!(file_name(100), "00000000000000000100");
}

#[test]
fn queues_are_created_lazily() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    let q = store.get_or_create("Lazy", 1).unwrap();
    assert!(!q.dir().exists());
    assert_eq!(
        (q.min_offset(), q.max_offset(), q.max_phys_offset()),
        (0, 0, -1)
    );
    assert!(q.read(0, 4).unwrap().is_empty());
    q.append(0, entry(0)).unwrap();
    assert!(q.dir().join("00000000000000000000").exists());
    assert!(store.get_or_create("a/b", 0).is_err());
    assert!(store.get_or_create("..", 0).is_err());
}

#[test]
fn first_entry_mid_file_is_padded() {
    let tmp = TempDir::new().unwrap();
    {
        let store = open(tmp.path());
        let q = store.get_or_create("P", 0).unwrap();
        q.append(7, entry(7)).unwrap();
        assert_eq!((q.min_offset(), q.max_offset()), (7, 8));
        assert!(matches!(
            q.read(5, 1),
            Err(ConsumeQueueError::BelowMin { min: 7, .. })
        ));
        assert_eq!(q.read(7, 5).unwrap(), vec![entry(7)]);
        store.flush_all().unwrap();
        let raw = std::fs::read(q.dir().join("00000000000000000100")).unwrap();
        assert_eq!(&raw[0..20], &CqEntry::PAD.encode()[..]);
        assert_eq!(&raw[20..40], &CqEntry::PAD.encode()[..]);
        assert_eq!(&raw[40..60], &entry(7).encode()[..]);
        assert_eq!(
            &raw[0..12],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF]
        );
    }
    let store = open(tmp.path());
    let q = store.queue("P", 0).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (7, 8));
    assert_eq!(q.max_phys_offset(), entry(7).phys_offset + 100);
}

#[test]
fn redispatch_is_idempotent_and_gaps_are_refused() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    fill(&store, "D", 0, 0..6);
    let q = store.queue("D", 0).unwrap();
    // Same entry again, and an older one at a new offset: both skipped.
    assert_eq!(q.append(5, entry(5)).unwrap(), AppendOutcome::Duplicate);
    assert_eq!(q.append(6, entry(2)).unwrap(), AppendOutcome::Duplicate);
    // A newer record at an old offset: skipped by offset.
    assert_eq!(q.append(3, entry(40)).unwrap(), AppendOutcome::Duplicate);
    let err = q.append(8, entry(8)).unwrap_err();
    assert!(
        matches!(
            err,
            ConsumeQueueError::OffsetGap {
                expected: 8,
                next: 6,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        q.append(-1, entry(9)),
        Err(ConsumeQueueError::BadOffset(-1))
    ));
    assert_eq!(q.max_offset(), 6);
    assert_eq!(read_all(&q, 0), (0..6).map(entry).collect::<Vec<_>>());
}

#[test]
fn time_search_finds_the_first_record_at_or_after() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    fill(&store, "Time", 0, 0..17);
    let q = store.queue("Time", 0).unwrap();
    // Store time of entry n: 10 × (n / 2) (pairs share a millisecond).
    let time_of = |phys: i64, size: i32| {
        assert_eq!(size, 100);
        Some((phys - 1_000) / 100 / 2 * 10)
    };
    assert_eq!(q.offset_by_time(0, time_of).unwrap(), 0);
    assert_eq!(q.offset_by_time(-5, time_of).unwrap(), 0);
    assert_eq!(q.offset_by_time(10, time_of).unwrap(), 2);
    assert_eq!(q.offset_by_time(11, time_of).unwrap(), 4);
    assert_eq!(q.offset_by_time(80, time_of).unwrap(), 16);
    assert_eq!(q.offset_by_time(81, time_of).unwrap(), 17);
    // Records missing from the commit log count as older.
    let gone_below_6 = |phys: i64, size: i32| {
        let n = (phys - 1_000) / 100;
        (n >= 6).then(|| time_of(phys, size)).flatten()
    };
    assert_eq!(q.offset_by_time(0, gone_below_6).unwrap(), 6);
    // After retention the search starts at the minimum.
    q.delete_expired(entry(11).phys_offset).unwrap();
    assert_eq!(q.offset_by_time(0, time_of).unwrap(), 11);
    let empty = store.get_or_create("Time", 1).unwrap();
    assert_eq!(empty.offset_by_time(0, time_of).unwrap(), 0);
}

#[test]
fn truncate_removes_entries_and_files() {
    let tmp = TempDir::new().unwrap();
    {
        let store = open(tmp.path());
        fill(&store, "Tr", 0, 0..13);
        let q = store.queue("Tr", 0).unwrap();
        // Cut in the middle of the third file (entry 11 onwards).
        q.truncate_dirty(entry(11).phys_offset).unwrap();
        assert_eq!(q.max_offset(), 11);
        assert_eq!(q.max_phys_offset(), entry(10).phys_offset + 100);
        assert_eq!(q.file_count(), 3);
        // A cut at a file start deletes that file (entry 10 starts file 3).
        q.truncate_dirty(entry(10).phys_offset).unwrap();
        assert_eq!((q.max_offset(), q.file_count()), (10, 2));
        assert!(!q.dir().join(file_name(200)).exists());
        // A cut past the end changes nothing.
        q.truncate_dirty(i64::MAX).unwrap();
        assert_eq!(q.max_offset(), 10);
        // Re-dispatch after the cut writes again (a new file 3 included).
        fill(&store, "Tr", 0, 10..12);
        q.truncate_dirty(entry(7).phys_offset + 50).unwrap();
        assert_eq!(q.max_offset(), 8);
        store.flush_all().unwrap();
    }
    let store = open(tmp.path());
    let q = store.queue("Tr", 0).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (0, 8));
    assert_eq!(read_all(&q, 0), (0..8).map(entry).collect::<Vec<_>>());
    // Truncating everything leaves an empty queue that restarts anywhere.
    q.truncate_dirty(0).unwrap();
    assert_eq!((q.min_offset(), q.max_offset(), q.file_count()), (0, 0, 0));
    assert_eq!(q.max_phys_offset(), -1);
    q.append(3, entry(3)).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (3, 4));
}

#[test]
fn retention_deletes_whole_files_below_the_commit_log_minimum() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    fill(&store, "R", 0, 0..13);
    let q = store.queue("R", 0).unwrap();
    // Entry 7 is the new commit-log minimum: file 0 (entries 0..5) goes,
    // file 1 (5..10) stays because entries 7..10 are still valid.
    assert_eq!(store.delete_expired(entry(7).phys_offset).unwrap(), 1);
    assert_eq!((q.min_offset(), q.max_offset(), q.file_count()), (7, 13, 2));
    assert!(matches!(
        q.read(6, 1),
        Err(ConsumeQueueError::BelowMin { .. })
    ));
    assert_eq!(q.read(7, 1).unwrap(), vec![entry(7)]);
    // Everything expired: the last file is kept, the queue reads empty.
    assert_eq!(q.delete_expired(i64::MAX).unwrap(), 1);
    assert_eq!(
        (q.min_offset(), q.max_offset(), q.file_count()),
        (13, 13, 1)
    );
    // The minimum never moves back.
    q.correct_min_offset(0).unwrap();
    assert_eq!(q.min_offset(), 13);
    fill(&store, "R", 0, 13..15);
    assert_eq!(q.read(13, 5).unwrap(), vec![entry(13), entry(14)]);
    // After a reload the minimum is recomputed from the files plus the
    // commit log's minimum, as the store does at startup.
    drop(q);
    drop(store);
    let store = open(tmp.path());
    let q = store.queue("R", 0).unwrap();
    assert_eq!(q.min_offset(), 10);
    store.correct_min_offsets(entry(13).phys_offset).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (13, 15));
}

#[test]
fn remove_topic_deletes_its_files() {
    let tmp = TempDir::new().unwrap();
    let store = open(tmp.path());
    fill(&store, "Gone", 0, 0..3);
    fill(&store, "Gone", 1, 0..3);
    fill(&store, "Kept", 0, 0..3);
    store.remove_topic("Gone").unwrap();
    assert!(store.queue("Gone", 0).is_none());
    assert!(!tmp.path().join("consumequeue/Gone").exists());
    assert_eq!(store.topics(), vec!["Kept".to_owned()]);
    assert_eq!(store.queues().len(), 1);
}
