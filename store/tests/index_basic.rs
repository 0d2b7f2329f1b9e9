#![allow(clippy::unwrap_used)]
//! IndexFile layout, lookups, roll-over, retention, recovery and reload on
//! real files with tiny sizes.

use std::path::Path;

use skylark_protocol::message::{MessageSysFlag, java_string_hash};
use skylark_store::index_file::{
    HEADER_SIZE, IndexConfig, IndexError, IndexRequest, IndexService, build_key, key_hash,
};
use tempfile::TempDir;

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn small(slots: u32, entries: u32) -> IndexConfig {
    IndexConfig {
        hash_slot_num: slots,
        index_num: entries,
    }
}

fn only_file(dir: &Path) -> Vec<u8> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    std::fs::read(files.remove(0)).unwrap()
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn byte_layout_matches_rocketmq() {
    let tmp = TempDir::new().unwrap();
    let cfg = small(7, 10);
    let svc = IndexService::open(tmp.path(), cfg).unwrap();
    svc.build_index("TopicA", Some("UNIQ1"), Some("k1 k2"), 4_096, T0)
        .unwrap();
    svc.build_index("TopicA", None, Some("k1"), 8_192, T0 + 5_500)
        .unwrap();
    svc.flush().unwrap();
    let raw = only_file(tmp.path());
    assert_eq!(raw.len(), 40 + 7 * 4 + 10 * 20);
    assert_eq!(cfg.file_size().unwrap(), raw.len());
    // Header.
    assert_eq!(be_i64(&raw, 0), T0);
    assert_eq!(be_i64(&raw, 8), T0 + 5_500);
    assert_eq!(be_i64(&raw, 16), 4_096);
    assert_eq!(be_i64(&raw, 24), 8_192);
    // Three distinct slots used (the second "TopicA#k1" chains onto the first);
    // Java counts slots, not entries.
    assert_eq!(be_i32(&raw, 32), 3);
    assert_eq!(be_i32(&raw, 36), 5);
    // Entries 1..=4; entry 0 unused.
    let entry = |n: usize| HEADER_SIZE + 7 * 4 + n * 20;
    assert!(raw[entry(0)..entry(1)].iter().all(|b| *b == 0));
    let h = |k: &str| key_hash(&build_key("TopicA", k));
    let expect = [
        (h("UNIQ1"), 4_096, 0),
        (h("k1"), 4_096, 0),
        (h("k2"), 4_096, 0),
        // 5.5 s after the begin timestamp: 5 whole seconds.
        (h("k1"), 8_192, 5),
    ];
    for (i, (hash, phys, diff)) in expect.into_iter().enumerate() {
        let at = entry(i + 1);
        assert_eq!(be_i32(&raw, at), hash, "entry {}", i + 1);
        assert_eq!(be_i64(&raw, at + 4), phys);
        assert_eq!(be_i32(&raw, at + 12), diff);
    }
    // Entry 4 chains to entry 2 (same key); the slot points at entry 4.
    assert_eq!(be_i32(&raw, entry(4) + 16), 2);
    assert_eq!(
        be_i32(&raw, entry(2) + 16),
        if h("k1") % 7 == h("UNIQ1") % 7 { 1 } else { 0 }
    );
    let slot = |hash: i32| HEADER_SIZE + (hash % 7) as usize * 4;
    assert_eq!(be_i32(&raw, slot(h("k1"))), 4);
    assert_eq!(
        be_i32(&raw, slot(h("k2"))),
        if h("k2") % 7 == h("k1") % 7 { 4 } else { 3 }
    );
    // The hash is |String.hashCode()|.
    assert_eq!(h("k1"), java_string_hash("TopicA#k1").wrapping_abs().max(0));
}

#[test]
fn lookups_follow_collision_chains_newest_first() {
    let tmp = TempDir::new().unwrap();
    // One slot: every key collides.
    let svc = IndexService::open(tmp.path(), small(1, 100)).unwrap();
    for i in 0..20i64 {
        let key = if i % 3 == 0 { "A" } else { "B" };
        svc.build_index("T", None, Some(key), 100 * i, T0 + i * 1_000)
            .unwrap();
    }
    let a = svc.query("T", "A", 100, 0, i64::MAX);
    assert_eq!(a.phys_offsets, vec![1_800, 1_500, 1_200, 900, 600, 300, 0]);
    assert_eq!(a.index_last_update_phy_offset, 1_900);
    assert_eq!(a.index_last_update_timestamp, T0 + 19_000);
    assert_eq!(
        svc.query("T", "A", 2, 0, i64::MAX).phys_offsets,
        vec![1_800, 1_500]
    );
    assert!(svc.query("T", "C", 10, 0, i64::MAX).phys_offsets.is_empty());
    assert!(
        svc.query("Other", "A", 10, 0, i64::MAX)
            .phys_offsets
            .is_empty()
    );
    // "Aa" and "BB" share String.hashCode(): matching is by hash only.
    assert_eq!(java_string_hash("T#Aa"), java_string_hash("T#BB"));
    svc.build_index("T", None, Some("Aa"), 5_000, T0 + 30_000)
        .unwrap();
    svc.build_index("T", None, Some("BB"), 5_100, T0 + 30_000)
        .unwrap();
    assert_eq!(
        svc.query("T", "Aa", 10, 0, i64::MAX).phys_offsets,
        vec![5_100, 5_000]
    );
}

#[test]
fn time_range_filters_and_stops_at_older_entries() {
    let tmp = TempDir::new().unwrap();
    let svc = IndexService::open(tmp.path(), small(16, 100)).unwrap();
    for i in 0..10i64 {
        svc.build_index("T", Some("K"), None, i * 10, T0 + i * 10_000)
            .unwrap();
    }
    let q = |b: i64, e: i64| svc.query("T", "K", 100, b, e).phys_offsets;
    assert_eq!(q(T0 + 20_000, T0 + 50_000), vec![50, 40, 30, 20]);
    assert_eq!(q(T0 + 20_001, T0 + 49_999), vec![40, 30]);
    assert_eq!(q(T0 + 95_000, i64::MAX), Vec::<i64>::new());
    assert_eq!(q(0, T0 - 1), Vec::<i64>::new());
    assert_eq!(q(0, i64::MAX).len(), 10);
}

#[test]
fn full_files_roll_over_and_reload() {
    let tmp = TempDir::new().unwrap();
    // Entries 1..=3 per file.
    let cfg = small(5, 4);
    {
        let svc = IndexService::open(tmp.path(), cfg).unwrap();
        for i in 0..10i64 {
            // Two keys per record: files fill mid-record.
            svc.build_index(
                "T",
                Some(&format!("U{i}")),
                Some("shared"),
                1_000 + i * 10,
                T0 + i * 1_000,
            )
            .unwrap();
        }
        let files = svc.files();
        assert_eq!(files.len(), 7);
        // The newest full file is the sixth.
        assert_eq!(svc.checkpoint_timestamp(), files[5].1.end_timestamp);
        // Names are strictly increasing even within one millisecond.
        assert!(files.windows(2).all(|w| w[0].0 < w[1].0));
        // A new file starts from the previous one's end until its first put.
        for w in files.windows(2) {
            assert!(w[1].1.begin_phy_offset >= w[0].1.end_phy_offset);
            assert!(w[1].1.begin_timestamp >= w[0].1.end_timestamp);
        }
        let got = svc.query("T", "shared", 100, 0, i64::MAX).phys_offsets;
        assert_eq!(
            got,
            (0..10).rev().map(|i| 1_000 + i * 10).collect::<Vec<_>>()
        );
        assert_eq!(
            svc.query("T", "U3", 100, 0, i64::MAX).phys_offsets,
            vec![1_030]
        );
        assert_eq!(
            svc.query("T", "shared", 4, 0, i64::MAX).phys_offsets.len(),
            4
        );
        svc.flush().unwrap();
    }
    let svc = IndexService::open(tmp.path(), cfg).unwrap();
    assert_eq!(svc.file_count(), 7);
    let got = svc.query("T", "shared", 100, 0, i64::MAX).phys_offsets;
    assert_eq!(got.len(), 10);
    // Re-dispatch of already indexed records is skipped.
    svc.build_index("T", Some("U5"), Some("shared"), 1_050, T0 + 5_000)
        .unwrap();
    assert_eq!(
        svc.query("T", "U5", 100, 0, i64::MAX).phys_offsets,
        vec![1_050]
    );
    // Appending continues in the newest file.
    svc.build_index("T", Some("U10"), None, 1_100, T0 + 10_000)
        .unwrap();
    assert_eq!(
        svc.query("T", "U10", 100, 0, i64::MAX).phys_offsets,
        vec![1_100]
    );
}

#[test]
fn rollback_records_are_not_indexed() {
    let tmp = TempDir::new().unwrap();
    let svc = IndexService::open(tmp.path(), small(16, 100)).unwrap();
    let mut req = IndexRequest {
        topic: "T",
        uniq_key: Some("U"),
        keys: Some(" a  b "),
        phy_offset: 10,
        store_timestamp: T0,
        sys_flag: MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
    };
    svc.dispatch(&req).unwrap();
    assert!(svc.query("T", "U", 10, 0, i64::MAX).phys_offsets.is_empty());
    req.sys_flag = MessageSysFlag::TRANSACTION_COMMIT_TYPE;
    svc.dispatch(&req).unwrap();
    for k in ["U", "a", "b"] {
        assert_eq!(
            svc.query("T", k, 10, 0, i64::MAX).phys_offsets,
            vec![10],
            "{k}"
        );
    }
    // Empty tokens are skipped: three keys, so index count 4.
    assert_eq!(svc.files()[0].1.index_count, 4);
}

#[test]
fn retention_deletes_old_files_but_never_the_newest() {
    let tmp = TempDir::new().unwrap();
    let svc = IndexService::open(tmp.path(), small(5, 3)).unwrap();
    for i in 0..8i64 {
        svc.build_index("T", Some(&format!("U{i}")), None, i * 100, T0 + i)
            .unwrap();
    }
    // Two keys per file: ends at 100, 300, 500, 700.
    assert_eq!(svc.file_count(), 4);
    assert_eq!(svc.delete_expired(300).unwrap(), 1);
    assert_eq!(svc.file_count(), 3);
    assert_eq!(svc.delete_expired(301).unwrap(), 1);
    assert_eq!(svc.delete_expired(i64::MAX).unwrap(), 1);
    assert_eq!(svc.file_count(), 1);
    assert_eq!(
        svc.query("T", "U7", 10, 0, i64::MAX).phys_offsets,
        vec![700]
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn truncation_restores_files_byte_for_byte() {
    let tmp = TempDir::new().unwrap();
    let before = TempDir::new().unwrap();
    let cfg = small(3, 50);
    let record = |svc: &IndexService, i: i64| {
        let keys = format!("k{} k{}", i % 4, i % 5);
        svc.build_index(
            "T",
            Some(&format!("U{i}")),
            Some(&keys),
            i * 64,
            T0 + i * 1_000,
        )
        .unwrap();
    };
    {
        let svc = IndexService::open(tmp.path(), cfg).unwrap();
        for i in 0..9 {
            record(&svc, i);
        }
        svc.flush().unwrap();
        for (path, _) in svc.files() {
            std::fs::copy(&path, before.path().join(path.file_name().unwrap())).unwrap();
        }
        for i in 9..16 {
            record(&svc, i);
        }
        // 16 records × 3 keys = 48 entries: one file of 49.
        assert_eq!(svc.file_count(), 1);
        svc.truncate_from(9 * 64).unwrap();
        svc.flush().unwrap();
    }
    let after: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(after.len(), 1);
    let restored = std::fs::read(&after[0]).unwrap();
    let saved = std::fs::read(before.path().join(after[0].file_name().unwrap())).unwrap();
    assert!(
        restored == saved,
        "truncation did not restore the earlier bytes"
    );
    // And the service keeps working from there.
    let svc = IndexService::open(tmp.path(), cfg).unwrap();
    for i in 9..12 {
        record(&svc, i);
    }
    // k1 is in records 1 (twice: "k1 k1"), 5, 6, 9 and 11.
    assert_eq!(
        svc.query("T", "k1", 100, 0, i64::MAX).phys_offsets,
        vec![704, 576, 384, 320, 64, 64]
    );
}

#[test]
fn truncation_deletes_files_past_the_cut() {
    let tmp = TempDir::new().unwrap();
    let svc = IndexService::open(tmp.path(), small(5, 3)).unwrap();
    for i in 0..8i64 {
        svc.build_index("T", Some(&format!("U{i}")), None, i * 100, T0 + i * 1_000)
            .unwrap();
    }
    assert_eq!(svc.file_count(), 4);
    // Cut at record 3: file 2 (records 2, 3) keeps record 2, files 3, 4 go.
    svc.truncate_from(300).unwrap();
    assert_eq!(svc.file_count(), 2);
    let h = svc.files()[1].1;
    assert_eq!(
        (h.index_count, h.end_phy_offset, h.end_timestamp),
        (2, 200, T0 + 2_000)
    );
    assert!(
        svc.query("T", "U3", 10, 0, i64::MAX)
            .phys_offsets
            .is_empty()
    );
    assert_eq!(
        svc.query("T", "U2", 10, 0, i64::MAX).phys_offsets,
        vec![200]
    );
    // Re-dispatch from the cut.
    svc.build_index("T", Some("U3"), None, 300, T0 + 3_000)
        .unwrap();
    assert_eq!(
        svc.query("T", "U3", 10, 0, i64::MAX).phys_offsets,
        vec![300]
    );
    svc.truncate_from(0).unwrap();
    assert_eq!(svc.file_count(), 0);
}

#[test]
fn unclean_exit_drops_files_newer_than_the_checkpoint() {
    let tmp = TempDir::new().unwrap();
    let cfg = small(5, 3);
    {
        let svc = IndexService::open(tmp.path(), cfg).unwrap();
        for i in 0..6i64 {
            svc.build_index("T", Some(&format!("U{i}")), None, i * 100, T0 + i * 1_000)
                .unwrap();
        }
        svc.flush().unwrap();
    }
    let svc = IndexService::open_checked(tmp.path(), cfg, false, T0 + 3_000).unwrap();
    assert_eq!(svc.file_count(), 2);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
    drop(svc);
    let svc = IndexService::open_checked(tmp.path(), cfg, true, 0).unwrap();
    assert_eq!(svc.file_count(), 2);
}

#[test]
fn corrupt_files_are_reported_or_survived() {
    let tmp = TempDir::new().unwrap();
    let cfg = small(1, 6);
    {
        let svc = IndexService::open(tmp.path(), cfg).unwrap();
        for i in 0..4i64 {
            svc.build_index("T", Some("K"), None, i * 10, T0).unwrap();
        }
        svc.flush().unwrap();
    }
    let path = std::fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut raw = std::fs::read(&path).unwrap();
    let entry = |n: usize| HEADER_SIZE + 4 + n * 20;
    // A cycle: entry 2 points back to entry 4.
    raw[entry(2) + 16..entry(2) + 20].copy_from_slice(&4i32.to_be_bytes());
    // An index count past the capacity.
    raw[36..40].copy_from_slice(&1_000i32.to_be_bytes());
    std::fs::write(&path, &raw).unwrap();
    let svc = IndexService::open(tmp.path(), cfg).unwrap();
    let got = svc.query("T", "K", 1_000, 0, i64::MAX).phys_offsets;
    assert!(got.len() <= 6, "{got:?}");
    // Full (clamped count): the next key goes to a new file.
    svc.build_index("T", Some("K"), None, 100, T0).unwrap();
    assert_eq!(svc.file_count(), 2);
    drop(svc);
    // A file of the wrong size.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(10)
        .unwrap();
    let err = IndexService::open(tmp.path(), cfg).unwrap_err();
    assert!(
        matches!(err, IndexError::BadFileSize { actual: 10, .. }),
        "{err}"
    );
    assert!(IndexService::open(tmp.path(), small(0, 1)).is_err());
}

#[test]
fn queries_run_while_the_index_is_built_and_rolled() {
    let tmp = TempDir::new().unwrap();
    let svc = std::sync::Arc::new(IndexService::open(tmp.path(), small(8, 16)).unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let svc = std::sync::Arc::clone(&svc);
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let got = svc.query("T", "K", 1_000, 0, i64::MAX).phys_offsets;
                // Newest first, never shrinking, never more than was built.
                assert!(got.windows(2).all(|w| w[0] > w[1]), "{got:?}");
                assert!(got.len() >= seen && got.len() <= 300);
                seen = got.len();
            }
        })
    };
    for i in 0..300i64 {
        svc.build_index("T", Some("K"), None, i * 10, T0 + i)
            .unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    reader.join().unwrap();
    assert_eq!(svc.file_count(), 20);
    assert_eq!(
        svc.query("T", "K", 1_000, 0, i64::MAX).phys_offsets.len(),
        300
    );
}
