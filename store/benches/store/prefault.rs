//! What creating a CommitLog file costs: sparse, with its blocks reserved
//! (what the pre-allocator does by default), and pre-faulted whole
//! (`warmMapedFileEnable`); each file is created twice.

use super::*;
use skylark_store::mapped_file::Prepare;

pub(crate) fn bench_prefault() {
    let dir = temp_dir();
    let size = MessageStoreConfig::default().mapped_file_size_commit_log;
    let kinds = [
        ("sparse", Prepare::default()),
        (
            "blocks reserved",
            Prepare {
                reserve: true,
                prefault: false,
            },
        ),
        (
            "blocks reserved, pre-faulted",
            Prepare {
                reserve: true,
                prefault: true,
            },
        ),
    ];
    let mut offset = 0i64;
    for (name, prepare) in kinds {
        for _ in 0..2 {
            let t = Instant::now();
            let f = MappedFile::create(dir.path(), offset, size, prepare).expect("create");
            let took = t.elapsed();
            let t = Instant::now();
            f.delete().expect("delete");
            drop(f);
            println!(
                "create {} CommitLog file, {name}: {:.4} s (delete {:.4} s)",
                mib(size as u64),
                took.as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
            offset += size as i64;
        }
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
