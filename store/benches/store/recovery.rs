//! Recovery after a crash.

use super::*;

pub(crate) fn drop_page_cache(root: &Path) {
    fn walk(dir: &Path) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for ent in rd.flatten() {
            let path = ent.path();
            if path.is_dir() {
                walk(&path);
            } else if let Ok(f) = std::fs::File::open(&path) {
                let _ = f.sync_data();
                // SAFETY: advisory call on an open descriptor.
                unsafe {
                    use std::os::fd::AsRawFd;
                    libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
                }
            }
        }
    }
    walk(root);
}

/// Major page faults of the whole process so far (`getrusage(RUSAGE_SELF)`).
pub(crate) fn process_major_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is valid; getrusage fills it in.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    if rc == 0 {
        u.ru_majflt.max(0) as u64
    } else {
        0
    }
}

/// Reads the first `limit` bytes of the files under `dir`, in name order,
/// with `read(2)` (the page cache dropped by the caller); returns the bytes
/// read and the time taken.
pub(crate) fn read_cold(dir: &Path, limit: u64) -> (u64, Duration) {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let t = Instant::now();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        if total >= limit {
            break;
        }
        let Ok(mut f) = std::fs::File::open(&path) else {
            continue;
        };
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 || total >= limit {
                break;
            }
            total += n as u64;
        }
    }
    (total, t.elapsed())
}

pub(crate) fn bench_recovery(target_mib: u64, cold: bool) {
    let dir = temp_dir();
    let c = config(dir.path(), FlushDiskType::AsyncFlush);
    let store = MessageStore::open(c.clone()).expect("open");
    let msgs = messages(16);
    let target = (target_mib << 20) as i64;
    let t = Instant::now();
    let mut i = 0;
    let mut n = 0u64;
    while store.commit_log_max_offset() < target {
        let r = store.put_message(&msgs[i % msgs.len()]).wait_blocking();
        assert_eq!(r.status, PutMessageStatus::PutOk);
        i += 1;
        n += 1;
    }
    assert!(store.wait_dispatched_all(Duration::from_secs(600)));
    let wrote = t.elapsed();
    // By default a ConsumeQueue/checkpoint flush round has run since the
    // last put (steady state); SKYLARK_BENCH_RECOVERY_SETTLE_MS=0 crashes as
    // soon as dispatch has caught up, as a crash under load would.
    let settle = env_f64("SKYLARK_BENCH_RECOVERY_SETTLE_MS", 1500.0).max(0.0);
    std::thread::sleep(Duration::from_secs_f64(settle / 1000.0));
    let end = store.commit_log_max_offset();
    store.simulate_crash();
    assert!(
        dir.path().join("abort").exists(),
        "the crash left no abort file"
    );

    let open = |label: &str| {
        let faults = process_major_faults();
        let t = Instant::now();
        let store = MessageStore::open(c.clone()).expect("reopen");
        let took = t.elapsed();
        let faults = process_major_faults() - faults;
        let r = store.recovery_report().clone();
        assert!(r.crashed, "{r:?}");
        assert_eq!(r.commit_log_end, end, "{r:?}");
        let per_gib = took.as_secs_f64() / (end as f64 / f64::from(1u32 << 30));
        println!(
            "recovery after crash, {} of CommitLog{label}: open {:.3} s ({:.3} s per GiB; \
             {:.3} s in the recovery step; {} major faults); CRC walk from {}, re-dispatch \
             of {}{} (ConsumeQueues {}, index {})",
            mib(end as u64),
            took.as_secs_f64(),
            per_gib,
            r.elapsed.as_secs_f64(),
            thousands(faults),
            mib(r.scan_from as u64),
            mib((r.commit_log_end - r.dispatch_from).max(0) as u64),
            if r.full_redispatch { " (full)" } else { "" },
            mib((r.commit_log_end - r.consume_queue_from).max(0) as u64),
            mib((r.commit_log_end - r.index_from).max(0) as u64),
        );
        store
    };
    println!(
        "  (wrote {} messages, {} in {:.2} s, crashed {:.0} ms after dispatch caught up)",
        thousands(n),
        mib(end as u64),
        wrote.as_secs_f64(),
        settle,
    );
    let store = open(", page cache hot");
    if cold {
        store.simulate_crash();
        drop_page_cache(dir.path());
        let first = dir.path().join("commitlog").join(MappedFile::file_name(0));
        if let Some((resident, pages)) = resident_pages(&first) {
            println!("  (first CommitLog file after dropping: {resident}/{pages} pages resident)");
        }
        // Freed memory may go back to the host (virtio-balloon free page
        // reporting, after ~2 s): a pause makes the cold open read into it.
        let pause = env_f64("SKYLARK_BENCH_COLD_PAUSE_MS", 0.0).max(0.0);
        std::thread::sleep(Duration::from_secs_f64(pause / 1000.0));
        let store = open(", page cache dropped");
        store.simulate_crash();
        // The disk's pace in the same minute, for scale on a shared machine.
        drop_page_cache(dir.path());
        let (bytes, took) = read_cold(&dir.path().join("commitlog"), end as u64);
        println!(
            "  (reading the same CommitLog files cold with read(2), 1 MiB at a time: {} in \
             {:.3} s, {:.3} s per GiB)",
            mib(bytes),
            took.as_secs_f64(),
            took.as_secs_f64() / (bytes as f64 / f64::from(1u32 << 30)),
        );
    } else {
        drop(store);
    }
    drop(dir);
}
