#![allow(clippy::unwrap_used)]
//! Flushing: group commit shares one flush among many puts, a slow flush
//! turns into FLUSH_DISK_TIMEOUT instead of a hang, and async flushing
//! reaches the disk without holding puts.

mod commitlog_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use commitlog_support::{CountingSync, options, record};
use skylark_store::commitlog::{CommitLog, CommitLogOptions};
use skylark_store::config::FlushDiskType;
use skylark_store::error::{PutMessageStatus, StoreError};

fn sync_options(
    dir: &std::path::Path,
    sync: Arc<CountingSync>,
    timeout: Duration,
) -> CommitLogOptions {
    let mut opts = options(dir, 1024 * 1024);
    opts.flush.mode = FlushDiskType::SyncFlush;
    opts.flush.sync_flush_timeout = timeout;
    opts.disk_sync = sync;
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_puts_share_a_few_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let sync = CountingSync::new(30);
    let log = Arc::new(
        CommitLog::open(sync_options(
            dir.path(),
            Arc::clone(&sync),
            Duration::from_secs(5),
        ))
        .unwrap(),
    );
    let puts = 64;
    let tasks: Vec<_> = (0..puts)
        .map(|i| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let rec = record("Sync", i % 4, &[i as u8; 512]);
                let put = log.put(&rec, true).unwrap();
                let end = put.append.end_offset();
                let status = put.flush.await;
                (status, end, log.flushed_offset())
            })
        })
        .collect();
    for task in tasks {
        let (status, end, flushed) = task.await.unwrap();
        assert_eq!(status, PutMessageStatus::PutOk);
        assert!(flushed >= end, "completed only after a flush covering it");
    }
    let flushes = sync.calls();
    eprintln!("{puts} concurrent sync puts took {flushes} flushes");
    assert!(flushes >= 1);
    assert!(
        flushes <= 8,
        "{puts} puts took {flushes} flushes; group commit should share them"
    );
    assert_eq!(log.flushed_offset(), log.max_offset());
}

#[test]
fn blocking_waiters_from_threads_also_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let sync = CountingSync::new(20);
    let log = Arc::new(
        CommitLog::open(sync_options(
            dir.path(),
            Arc::clone(&sync),
            Duration::from_secs(5),
        ))
        .unwrap(),
    );
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..4)
                    .map(|_| {
                        log.put(&record("Threads", t, b"payload"), true)
                            .unwrap()
                            .flush
                            .wait_blocking()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert!(
            t.join()
                .unwrap()
                .iter()
                .all(|&s| s == PutMessageStatus::PutOk)
        );
    }
    assert!(sync.calls() < 64, "64 puts, {} flushes", sync.calls());
}

#[tokio::test]
async fn a_slow_flush_completes_the_put_with_flush_disk_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sync = CountingSync::new(1500);
    let log = CommitLog::open(sync_options(
        dir.path(),
        Arc::clone(&sync),
        Duration::from_millis(200),
    ))
    .unwrap();
    let started = Instant::now();
    let put = log.put(&record("Slow", 0, b"late"), true).unwrap();
    let end = put.append.end_offset();
    let status = put.flush.await;
    let waited = started.elapsed();
    assert_eq!(status, PutMessageStatus::FlushDiskTimeout);
    assert!(status.is_stored(), "the message is kept");
    assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
    assert!(
        waited < Duration::from_millis(1200),
        "did not wait for the hung flush: {waited:?}"
    );
    assert!(log.get_record(0).unwrap().is_some());
    // Once the disk catches up, puts complete normally again.
    sync.delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.flushed_offset() < end && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        log.flushed_offset() >= end,
        "the slow flush finished in the background"
    );
    let put = log.put(&record("Slow", 0, b"on time"), true).unwrap();
    assert_eq!(put.flush.await, PutMessageStatus::PutOk);
    assert!(log.flushed_offset() > end);
}

#[test]
fn wait_false_and_async_flush_complete_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sync = CountingSync::new(200);
    let log = CommitLog::open(sync_options(
        dir.path(),
        Arc::clone(&sync),
        Duration::from_secs(5),
    ))
    .unwrap();
    let put = log.put(&record("NoWait", 0, b"x"), false).unwrap();
    assert_eq!(put.flush.try_status(), Some(PutMessageStatus::PutOk));
    drop(log);

    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 1024 * 1024);
    opts.flush.interval = Duration::from_millis(10);
    opts.flush.thorough_interval = Duration::from_millis(100);
    let log = CommitLog::open(opts).unwrap();
    let put = log.put(&record("Async", 0, b"y"), true).unwrap();
    assert_eq!(put.flush.try_status(), Some(PutMessageStatus::PutOk));
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.flushed_offset() < log.max_offset() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        log.flushed_offset(),
        log.max_offset(),
        "the thorough flush covers even one page"
    );
}

#[test]
fn shutdown_flushes_and_releases_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let sync = CountingSync::new(0);
    let mut log = CommitLog::open(sync_options(
        dir.path(),
        Arc::clone(&sync),
        Duration::from_secs(5),
    ))
    .unwrap();
    let put = log.put(&record("Bye", 0, b"z"), true).unwrap();
    log.shutdown();
    assert_eq!(log.flushed_offset(), log.max_offset());
    assert_eq!(put.flush.wait_blocking(), PutMessageStatus::PutOk);
    let late = log.put(&record("Bye", 0, b"late"), true).unwrap_err();
    assert!(
        matches!(late, StoreError::NotWritable),
        "no flusher after shutdown"
    );
    assert_eq!(late.put_status(), PutMessageStatus::ServiceNotAvailable);
}
