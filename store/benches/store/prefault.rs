//! What a CommitLog roll costs when the pre-allocated file is not ready.

use super::*;

pub(crate) fn bench_prefault() {
    let dir = temp_dir();
    let size = MessageStoreConfig::default().mapped_file_size_commit_log;
    for (i, prefault) in [(0i64, false), (1, true), (2, true)] {
        let t = Instant::now();
        let f = MappedFile::create(dir.path(), i * size as i64, size, prefault).expect("create");
        let took = t.elapsed();
        println!(
            "create {} CommitLog file{}: {:.3} s",
            mib(size as u64),
            if prefault { ", pre-faulted" } else { "" },
            took.as_secs_f64()
        );
        f.delete().expect("delete");
    }
}

/// Cost of one `Instant::now()`, which every timed put pays once.
pub(crate) fn timer_cost() -> Duration {
    let n = 1_000_000u32;
    let t = Instant::now();
    let mut x = t;
    for _ in 0..n {
        x = std::hint::black_box(Instant::now());
    }
    (x - t) / n
}

/// Writes back every dirty page (sync(2)), so what earlier sections left
/// dirty does not compete with SYNC_FLUSH for the disk.
pub(crate) fn settle_disk() {
    let t = Instant::now();
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let took = t.elapsed();
    if took > Duration::from_millis(100) {
        println!(
            "(sync(2) before the sync runs: {:.1} s)",
            took.as_secs_f64()
        );
    }
}
