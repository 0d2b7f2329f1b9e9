#![allow(clippy::unwrap_used)]
//! MessageStore restarts: clean shutdown, crashes with a torn tail, CRC
//! damage in the middle of a segment, a deleted ConsumeQueue directory, a
//! missing dispatch manifest, and the index rebuilt after a crash.

mod store_support;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

use skylark_store::MessageStore;
use skylark_store::error::RecordFault;
use skylark_store::mapped_file::MappedFile;
use skylark_store::message_store::GetMessageStatus;
use store_support::{CL_FILE, all, bodies, config, decode, msg, open, put_ok, settle};
use tempfile::TempDir;

/// Puts `n` messages round-robin over `queues` queues of `topic`, each with
/// key `k<i>` and a 400-byte body starting with `i`; returns physical offsets.
fn fill(store: &MessageStore, topic: &str, queues: i32, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let mut body = format!("{i:06}").into_bytes();
            body.resize(400, b'.');
            let m = msg(topic, i as i32 % queues, &body, "TagA", &[&format!("k{i}")]);
            let r = store.put_message(&m).wait_blocking();
            assert!(r.is_stored());
            r.append.unwrap().wrote_offset
        })
        .collect()
}

/// Every body of `topic`/`queue_id`, in queue order.
fn read_all(store: &MessageStore, topic: &str, queue_id: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = store.min_offset(topic, queue_id);
    loop {
        let r = store.get_messages(topic, queue_id, offset, 32, 1 << 20, &all);
        if r.status != GetMessageStatus::Found {
            return out;
        }
        out.extend(
            bodies(&r.messages)
                .into_iter()
                .map(|b| String::from_utf8(b[..6].to_vec()).unwrap()),
        );
        offset = r.next_begin_offset;
    }
}

fn overwrite(dir: &Path, offset: i64, bytes: &[u8]) {
    let size = CL_FILE as i64;
    let name = MappedFile::file_name(offset - offset % size);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("commitlog").join(name))
        .unwrap();
    f.seek(SeekFrom::Start((offset % size) as u64)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn clean_shutdown_keeps_everything_and_offsets_continue() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Clean", 3, 300);
    let end = store.commit_log_max_offset();
    assert!(end > 2 * CL_FILE as i64, "spans several files");
    store.shutdown();
    assert!(!dir.path().join("abort").exists());
    drop(store);

    let store = open(dir.path());
    let report = store.recovery_report().clone();
    assert!(!report.crashed && !report.full_redispatch, "{report:?}");
    assert_eq!((report.commit_log_end, report.cut), (end, None));
    // Only the last record (the index's end offset) is looked at again.
    assert!(
        report.dispatch_from < end && end - report.dispatch_from < 1000,
        "{report:?}"
    );
    for q in 0..3 {
        let got = read_all(&store, "Clean", q);
        let want: Vec<_> = (0..300)
            .filter(|i| i % 3 == q as usize)
            .map(|i| format!("{i:06}"))
            .collect();
        assert_eq!(got, want);
    }
    assert_eq!(put_ok(&store, &msg("Clean", 1, b"next", "", &[])), 100);
    settle(&store);
    let r = store.query_by_key("Clean", "k42", 32, 0, i64::MAX);
    assert_eq!(r.messages.len(), 1);
    assert!(dir.path().join("abort").exists());
}

#[test]
fn crash_with_garbage_after_the_tail_is_cut() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Crash", 2, 120);
    let end = store.commit_log_max_offset();
    store.simulate_crash();
    assert!(dir.path().join("abort").exists());
    overwrite(dir.path(), end, &[0xAB; 300]);

    let store = open(dir.path());
    let report = store.recovery_report().clone();
    assert!(report.crashed);
    assert_eq!(report.commit_log_end, end);
    assert_eq!(report.cut.map(|c| c.0), Some(end), "{report:?}");
    assert_eq!(read_all(&store, "Crash", 0).len(), 60);
    assert_eq!(read_all(&store, "Crash", 1).len(), 60);
    assert_eq!(put_ok(&store, &msg("Crash", 0, b"after", "", &[])), 60);
    settle(&store);
    let r = store.get_messages("Crash", 0, 60, 1, 1 << 20, &all);
    assert_eq!(decode(&r.messages[0]).physical_offset, end);
}

#[test]
fn crc_damage_mid_segment_cuts_there_and_keeps_what_lies_before() {
    for crash in [false, true] {
        let dir = TempDir::new().unwrap();
        let store = open(dir.path());
        let offsets = fill(&store, "Crc", 1, 400);
        let victim = 330;
        let at = offsets[victim];
        assert!(at % CL_FILE as i64 > 4096, "mid-segment");
        assert!(offsets[victim + 1] / CL_FILE as i64 == at / CL_FILE as i64);
        let rec = store.message_by_phys_offset(at).unwrap();
        let body_at = decode(&rec).body.as_ptr() as usize - rec.as_ptr() as usize;
        if crash {
            store.simulate_crash();
        } else {
            store.shutdown();
            drop(store);
        }
        overwrite(dir.path(), at + body_at as i64 + 100, b"XX");

        let store = open(dir.path());
        let report = store.recovery_report().clone();
        assert_eq!(report.crashed, crash);
        let (cut_at, fault) = report.cut.unwrap();
        assert_eq!(cut_at, at);
        assert!(matches!(fault, RecordFault::BodyCrc { .. }), "{fault:?}");
        assert_eq!(store.commit_log_max_offset(), at);
        let got = read_all(&store, "Crc", 0);
        assert_eq!(
            got,
            (0..victim).map(|i| format!("{i:06}")).collect::<Vec<_>>()
        );
        assert_eq!(store.max_offset("Crc", 0), victim as i64);
        assert!(store.message_by_phys_offset(at).is_none());
        let r = store.get_messages("Crc", 0, victim as i64 + 5, 1, 1 << 20, &all);
        assert_eq!(
            (r.status, r.next_begin_offset),
            (GetMessageStatus::OffsetOverflowBadly, victim as i64)
        );
        assert_eq!(
            put_ok(&store, &msg("Crc", 0, b"new", "", &[])),
            victim as i64
        );
        settle(&store);
        assert!(
            store
                .query_by_key("Crc", "k331", 32, 0, i64::MAX)
                .messages
                .is_empty()
        );
        assert_eq!(
            store
                .query_by_key("Crc", "k329", 32, 0, i64::MAX)
                .messages
                .len(),
            1
        );
    }
}

#[test]
fn a_deleted_consume_queue_directory_is_rebuilt() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Gone", 2, 100);
    fill(&store, "Kept", 1, 30);
    store
        .put_message(&msg("Gone", 0, b"x", "", &[]))
        .wait_blocking();
    store.shutdown();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue/Gone")).unwrap();

    let store = open(dir.path());
    assert!(store.recovery_report().full_redispatch);
    assert_eq!(store.max_offset("Gone", 0), 51);
    assert_eq!(read_all(&store, "Gone", 1).len(), 50);
    assert_eq!(read_all(&store, "Kept", 0).len(), 30);
    assert_eq!(put_ok(&store, &msg("Gone", 1, b"more", "", &[])), 50);
    store.shutdown();
    drop(store);
    // The rebuilt queue is listed again: the next start is not a full one.
    let store = open(dir.path());
    assert!(!store.recovery_report().full_redispatch);
    assert_eq!(store.max_offset("Gone", 1), 51);
}

#[test]
fn without_a_dispatch_record_everything_is_re_dispatched() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Old", 2, 50);
    store.shutdown();
    drop(store);
    std::fs::remove_file(dir.path().join("consumequeue/.dispatched")).unwrap();
    std::fs::remove_file(dir.path().join("consumequeue/.queues")).unwrap();
    let store = open(dir.path());
    let report = store.recovery_report();
    assert!(
        report.full_redispatch && report.dispatch_from == 0,
        "{report:?}"
    );
    assert_eq!(read_all(&store, "Old", 0).len(), 25);
    assert_eq!(put_ok(&store, &msg("Old", 1, b"n", "", &[])), 25);
}

/// No index flush before the crash, so the index checkpoint covers no
/// file. After a crash of the process alone (the `abort` file names this
/// boot) the page cache still held every index write: the files are kept
/// and cut at the CommitLog end. After a machine crash (another boot) they
/// may be torn on disk: dropped and rebuilt from the CommitLog, as Java does.
#[test]
fn the_index_is_kept_after_a_process_crash_and_rebuilt_after_a_reboot() {
    if skylark_store::checkpoint::boot_id().is_none() {
        eprintln!("no boot id here: only the rebuild applies");
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut c = config(dir.path());
    // No ConsumeQueue/index flush (and checkpoint) before the crash.
    c.flush_interval_consume_queue = 600_000;
    // About 60 keys a file: the 160 keys of 80 messages fill three files.
    c.max_index_num = 64;
    let store = MessageStore::open(c.clone()).unwrap();
    fill(&store, "Idx", 2, 80);
    settle(&store);
    let end = store.commit_log_max_offset();
    let files = store.index().unwrap().file_count();
    assert!(files > 1, "several index files: {files}");
    store.simulate_crash();
    let check = |store: &MessageStore| {
        for i in 0..80 {
            let r = store.query_by_key("Idx", &format!("k{i}"), 32, 0, i64::MAX);
            assert_eq!(r.messages.len(), 1, "k{i}");
        }
        assert_eq!(read_all(store, "Idx", 1).len(), 40);
    };

    let store = MessageStore::open(c.clone()).unwrap();
    let r = store.recovery_report().clone();
    assert!(r.crashed && r.same_boot, "{r:?}");
    // Only the last record (the index's end offset) is looked at again.
    assert!(
        r.index_from < end && end - r.index_from < 1000,
        "nothing re-indexed: {r:?}"
    );
    assert_eq!(store.index().unwrap().file_count(), files);
    check(&store);
    store.simulate_crash();

    // As if the machine had restarted since the crash.
    std::fs::write(dir.path().join("abort"), "1\nanother-boot\n").unwrap();
    let store = MessageStore::open(c).unwrap();
    let r = store.recovery_report().clone();
    assert!(r.crashed && !r.same_boot, "{r:?}");
    assert_eq!(r.index_from, 0, "every index file rebuilt: {r:?}");
    check(&store);
}

/// Recovery cost: `SKYLARK_RECOVERY_MIB` MiB (default 256) of 1 KiB
/// messages in 64 MiB files, reopened after a clean shutdown, after a
/// crash, and with a full re-dispatch. Run with `--ignored --nocapture`.
#[test]
#[ignore = "measurement"]
fn recovery_cost() {
    let mib: usize = std::env::var("SKYLARK_RECOVERY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = TempDir::new().unwrap();
    let mut c = config(dir.path());
    c.mapped_file_size_commit_log = 64 << 20;
    c.mapped_file_size_consume_queue = 300_000 * 20;
    c.max_hash_slot_num = 500_000;
    c.max_index_num = 2_000_000;
    let store = MessageStore::open(c.clone()).unwrap();
    let n = mib * 1024 * 1024 / 1100;
    let started = Instant::now();
    for i in 0..n {
        let m = msg(
            "Cost",
            (i % 16) as i32,
            &[b'x'; 900],
            "TagA",
            &[&format!("k{i}")],
        );
        store.put_message(&m).wait_blocking();
    }
    settle(&store);
    let end = store.commit_log_max_offset();
    eprintln!(
        "wrote {n} messages, {} MiB, in {:?}",
        end >> 20,
        started.elapsed()
    );
    store.shutdown();
    drop(store);
    let time = |label: &str| {
        let t = Instant::now();
        let s = MessageStore::open(c.clone()).unwrap();
        let r = s.recovery_report().clone();
        eprintln!(
            "{label}: open {:?}, recovery {:?}, dispatch from {} ({} MiB re-dispatched)",
            t.elapsed(),
            r.elapsed,
            r.dispatch_from,
            (r.commit_log_end - r.dispatch_from) >> 20
        );
        s
    };
    drop(time("clean"));
    time("before crash").simulate_crash();
    drop(time("crash"));
    std::fs::remove_file(dir.path().join("consumequeue/.dispatched")).unwrap();
    drop(time("full re-dispatch"));
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    drop(time("index rebuild"));
}

#[test]
fn a_queue_rebuilt_after_retention_starts_at_the_first_kept_record() {
    use skylark_store::retention::{RetentionOptions, RetentionService};
    use std::time::{Duration, SystemTime};
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Ret", 1, 500);
    settle(&store);
    let mut opts = RetentionOptions::from_config(store.config());
    opts.file_reserved_time = Duration::ZERO;
    opts.delete_files_interval = Duration::ZERO;
    let svc = RetentionService::new(
        store.commit_log(),
        std::sync::Arc::clone(store.consume_queues()),
        store.index().cloned(),
        opts,
    );
    svc.request_manual_delete();
    svc.run_once(SystemTime::now() + Duration::from_secs(3600));
    let cl_min = store.commit_log_min_offset();
    assert!(cl_min > 0);
    let first_kept = read_all(&store, "Ret", 0)[0].clone();
    store.shutdown();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue/Ret")).unwrap();

    let store = open(dir.path());
    assert!(store.recovery_report().full_redispatch);
    assert_eq!(store.recovery_report().dispatch_from, cl_min);
    let got = read_all(&store, "Ret", 0);
    assert_eq!(got[0], first_kept);
    assert_eq!(got.last().unwrap(), "000499");
    assert_eq!(
        store.min_offset("Ret", 0),
        first_kept.parse::<i64>().unwrap()
    );
    assert_eq!(put_ok(&store, &msg("Ret", 0, b"n", "", &[])), 500);
}

#[test]
fn drop_shuts_down_cleanly() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Drop", 1, 10);
    drop(store);
    assert!(!dir.path().join("abort").exists());
    let store = open(dir.path());
    assert!(!store.recovery_report().crashed);
    assert_eq!(read_all(&store, "Drop", 0).len(), 10);
}

#[test]
fn a_deleted_topic_starts_over_and_stays_deleted_after_restart() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Del", 2, 20);
    fill(&store, "Keep", 1, 5);
    store.delete_topic("Del").unwrap();
    assert_eq!(store.max_offset("Del", 0), 0);
    assert!(!dir.path().join("consumequeue/Del").exists());
    assert_eq!(put_ok(&store, &msg("Del", 0, b"fresh", "", &[])), 0);
    settle(&store);
    drop(store);
    let store = open(dir.path());
    assert!(!store.recovery_report().full_redispatch);
    assert_eq!(store.max_offset("Del", 0), 1);
    assert_eq!(store.max_offset("Del", 1), 0);
    assert_eq!(read_all(&store, "Keep", 0).len(), 5);
}
