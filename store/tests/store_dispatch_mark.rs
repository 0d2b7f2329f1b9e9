#![allow(clippy::unwrap_used)]
//! The dispatch mark (`consumequeue/.dispatched`): every ConsumeQueue flush
//! round advances it, not only the thorough ones (every 60 s), so a crash
//! re-dispatches a bounded tail of the CommitLog; and recovery rebuilds the
//! entries past it instead of trusting them.

mod store_support;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;
use skylark_store::consume_queue::CqEntry;
use store_support::{msg, put, read_queue, settle};
use tempfile::TempDir;

/// The mark in `.dispatched`, if written.
fn mark(dir: &Path) -> Option<i64> {
    std::fs::read_to_string(dir.join("consumequeue/.dispatched"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The index time in the `checkpoint` file on disk (bytes 16..24).
fn index_checkpoint(dir: &Path) -> i64 {
    let raw = std::fs::read(dir.join("checkpoint")).unwrap();
    i64::from_be_bytes(raw[16..24].try_into().unwrap())
}

/// Commit-log offsets of the entries of `topic`/`queue_id`.
fn entries(store: &MessageStore, topic: &str, queue_id: i32) -> Vec<i64> {
    let q = store.consume_queues().queue(topic, queue_id).unwrap();
    let mut out = Vec::new();
    while (out.len() as i64) < q.max_offset() {
        let got = q.read(out.len() as i64, 1000).unwrap();
        assert!(!got.is_empty());
        out.extend(got.iter().map(|e| e.phys_offset));
    }
    out
}

/// Before, the mark moved only on thorough rounds, and a new store had none
/// until its first one: a crash in the first minute re-dispatched the whole
/// CommitLog. Now regular rounds move it as far as every queue is flushed,
/// and a queue too slow to fill `flushConsumeQueueLeastPages` (the `Cold`
/// one, written once at the start) is flushed once it lags a quarter of a
/// CommitLog file behind, so it cannot hold the mark back either.
#[test]
fn a_crash_before_any_thorough_round_re_dispatches_only_a_bounded_tail() {
    const CL_FILE: usize = 1 << 20;
    let dir = TempDir::new().unwrap();
    let mut config = store_support::config(dir.path());
    config.mapped_file_size_commit_log = CL_FILE;
    // 10,000 entries a file: busy queues dirty whole pages between rounds.
    config.mapped_file_size_consume_queue = 10_000 * 20;
    config.flush_interval_consume_queue = 20;
    // No thorough round during the test.
    config.flush_consume_queue_thorough_interval = 3_600_000;
    let lag_limit = (CL_FILE / 4) as i64;
    let store = MessageStore::open(config.clone()).unwrap();
    let cold = put(&store, &msg("Cold", 0, b"cold", "", &["cold"]));
    let mut phys = vec![Vec::new(); 4];
    let mut last_ts = 0;
    for i in 0..20_000 {
        let q = i % 4;
        let m = msg("Hot", q as i32, &[b'h'; 150], "TagA", &[&format!("k{i}")]);
        let a = put(&store, &m).append.unwrap();
        phys[q].push(a.wrote_offset);
        last_ts = a.store_timestamp;
    }
    settle(&store);
    let end = store.commit_log_max_offset();
    assert!(end > 4 * CL_FILE as i64, "several CommitLog files: {end}");
    // The rounds (every 20 ms) bring the mark within the lag limit of the
    // end, and flush the index (so the crash keeps its file); the deadline
    // is only a hang guard.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = || {
        mark(dir.path()).is_some_and(|m| m >= end - lag_limit)
            && index_checkpoint(dir.path()) >= last_ts
    };
    while !done() {
        assert!(
            Instant::now() < deadline,
            "mark {:?} never came within {lag_limit} of {end}",
            mark(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    store.simulate_crash();

    let store = MessageStore::open(config).unwrap();
    let r = store.recovery_report().clone();
    assert!(r.crashed && !r.full_redispatch, "{r:?}");
    assert_eq!(r.commit_log_end, end);
    assert!(
        r.consume_queue_from >= end - lag_limit,
        "ConsumeQueues re-dispatched {} bytes: {r:?}",
        end - r.consume_queue_from
    );
    assert!(
        end - r.dispatch_from <= lag_limit,
        "re-dispatched {} bytes: {r:?}",
        end - r.dispatch_from
    );
    // Nothing lost: every queue holds exactly its records, in order.
    for (q, want) in phys.iter().enumerate() {
        assert_eq!(&entries(&store, "Hot", q as i32), want, "Hot/{q}");
        assert_eq!(read_queue(&store, "Hot", q as i32).len(), want.len());
    }
    assert_eq!(
        entries(&store, "Cold", 0),
        [cold.append.unwrap().wrote_offset]
    );
    let found = store.query_by_key("Hot", "k19999", 32, 0, i64::MAX);
    assert_eq!(found.messages.len(), 1);
}

/// ConsumeQueue entries past the mark were never vouched for by a flush:
/// after a power loss a tail may hold a later page without an earlier one,
/// or a torn entry. Recovery cuts every queue at the mark and rebuilds the
/// rest from the CommitLog; it used to keep whatever it found (a zeroed
/// entry stayed a hole, re-dispatch skipping it as already there).
#[test]
fn entries_past_the_mark_are_rebuilt_not_trusted() {
    let dir = TempDir::new().unwrap();
    let mut config: MessageStoreConfig = store_support::config(dir.path());
    // Rounds only when the test asks.
    config.flush_interval_consume_queue = 600_000;
    let store = MessageStore::open(config.clone()).unwrap();
    // A new store has a mark from the start.
    assert_eq!(mark(dir.path()), Some(0));
    let mut phys = Vec::new();
    for i in 0..30 {
        let r = put(
            &store,
            &msg("Mark", 0, &[b'm'; 40], "", &[&format!("m{i}")]),
        );
        phys.push(r.append.unwrap().wrote_offset);
    }
    settle(&store);
    store.flush_logics();
    let marked = store.commit_log_max_offset();
    assert_eq!(mark(dir.path()), Some(marked));
    for i in 30..60 {
        let r = put(
            &store,
            &msg("Mark", 0, &[b'm'; 40], "", &[&format!("m{i}")]),
        );
        phys.push(r.append.unwrap().wrote_offset);
    }
    settle(&store);
    store.simulate_crash();

    // Past the mark (entries 30..59; 50 entries a file): a hole at 35, a
    // torn entry at 42, and a stale one at 55 in the second file.
    let file0 = dir.path().join("consumequeue/Mark/0/00000000000000000000");
    let file1 = dir.path().join("consumequeue/Mark/0/00000000000000001000");
    let f0 = std::fs::OpenOptions::new().write(true).open(file0).unwrap();
    f0.write_all_at(&[0; 20], 35 * 20).unwrap();
    f0.write_all_at(&[0; 12], 42 * 20).unwrap();
    let stale = CqEntry {
        phys_offset: phys[3],
        size: 7,
        tags_code: 0,
    };
    let f1 = std::fs::OpenOptions::new().write(true).open(file1).unwrap();
    f1.write_all_at(&stale.encode(), 5 * 20).unwrap();

    let store = MessageStore::open(config).unwrap();
    let r = store.recovery_report().clone();
    assert!(r.crashed && !r.full_redispatch, "{r:?}");
    assert_eq!(r.consume_queue_from, marked, "{r:?}");
    assert_eq!(entries(&store, "Mark", 0), phys);
    assert_eq!(read_queue(&store, "Mark", 0).len(), 60);
}
