#![allow(clippy::unwrap_used)]
//! Append throughput, for manual runs:
//! `cargo test --release -p skylark-store --test commitlog_throughput -- --ignored --nocapture`.

mod commitlog_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use commitlog_support::{options, record};
use skylark_store::commitlog::CommitLog;
use skylark_store::config::FlushDiskType;
use skylark_store::error::PutMessageStatus;

#[test]
#[ignore = "measures throughput; run by hand in release mode"]
fn single_thread_append_rate() {
    let dir = tempfile::tempdir().unwrap();
    let file = 256 * 1024 * 1024;
    let log = CommitLog::open(options(dir.path(), file)).unwrap();
    let rec = record("Bench", 0, &[42u8; 1024 - 120]);
    // Let the pre-allocator fault in the file after the first one.
    log.append(&rec).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let n = 400_000;
    let started = Instant::now();
    for _ in 0..n {
        log.append(&rec).unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{n} appends of {} bytes in {elapsed:?}: {:.0} msg/s, {} files",
        rec.len(),
        n as f64 / elapsed.as_secs_f64(),
        log.queue().files().len()
    );
}

#[test]
#[ignore = "measures throughput; run by hand in release mode"]
fn sync_flush_put_rate_with_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 256 * 1024 * 1024);
    opts.flush.mode = FlushDiskType::SyncFlush;
    let log = Arc::new(CommitLog::open(opts).unwrap());
    let (threads, per_thread) = (64, 500);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let rec = record("SyncBench", t % 8, &[7u8; 1024 - 120]);
                for _ in 0..per_thread {
                    let status = log.put(&rec, true).unwrap().flush.wait_blocking();
                    assert_eq!(status, PutMessageStatus::PutOk);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = started.elapsed();
    let n = threads * per_thread;
    eprintln!(
        "{n} sync-flushed puts from {threads} threads in {elapsed:?}: {:.0} msg/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
