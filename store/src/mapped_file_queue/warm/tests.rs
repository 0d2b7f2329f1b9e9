use std::time::{Duration, Instant};

use super::super::{MappedFileQueue, QueueOptions};
use crate::config::OS_PAGE_SIZE;
use crate::mapped_file::MappedFile;

const MIB: usize = 1 << 20;

/// A queue of `file_size`-byte files with a `window`-byte warm window.
fn queue(dir: &std::path::Path, file_size: usize, window: usize) -> MappedFileQueue {
    MappedFileQueue::open(
        dir,
        QueueOptions {
            warm_window: window,
            ..QueueOptions::new(file_size)
        },
    )
    .unwrap()
}

/// Appends `len` bytes of 7s (a stand-in for records) to `file`.
fn append(file: &MappedFile, len: usize) {
    file.append_with(len, 1, |dst, _| {
        dst.fill(7);
        Ok(())
    })
    .unwrap();
}

/// Waits (10 s at most: a hang guard, not a timing assertion) until every
/// page of `[from, to)` of `file` is resident.
fn wait_resident(file: &MappedFile, from: usize, to: usize) {
    let want = (to - from).div_ceil(OS_PAGE_SIZE);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = file.resident_pages(from, to);
        if got >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "[{from}, {to}) of {}: {got} of {want} pages resident",
            file.path().display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_window_follows_the_writer_and_no_further() {
    let dir = tempfile::tempdir().unwrap();
    let (size, window) = (256 * MIB, 4 * MIB);
    let q = queue(dir.path(), size, window);
    let file = q.roll(0).unwrap();
    // Read-around may add up to `read_ahead_kb` (8 MiB on the test machine)
    // past what was populated; the bound is still a fraction of the file.
    let slack = 16 * MIB;
    let mut wrote = 0;
    for step in [MIB, 3 * MIB, 10 * MIB, 30 * MIB] {
        append(&file, step);
        wrote += step;
        wait_resident(&file, wrote / OS_PAGE_SIZE * OS_PAGE_SIZE, wrote + window);
        let resident = file.resident_pages(0, size) * OS_PAGE_SIZE;
        assert!(
            resident <= wrote + window + slack,
            "{resident} bytes resident after writing {wrote} with a {window}-byte window"
        );
    }
    assert!(
        wrote + window + slack < size / 2,
        "the bound means something"
    );
}

#[test]
fn the_window_reaches_into_the_next_file_before_the_roll() {
    let dir = tempfile::tempdir().unwrap();
    let (size, window) = (64 * MIB, 4 * MIB);
    let q = queue(dir.path(), size, window);
    let first = q.roll(0).unwrap();
    append(&first, size - 2 * MIB);
    // The pre-allocated second file gets its first 2 MiB warmed; a second
    // mapping of it sees the same page cache.
    let path = dir.path().join(MappedFile::file_name(size as i64));
    let deadline = Instant::now() + Duration::from_secs(10);
    let next = loop {
        if let Ok(next) = MappedFile::open(&path, size) {
            break next;
        }
        assert!(Instant::now() < deadline, "no pre-allocated file");
        std::thread::sleep(Duration::from_millis(2));
    };
    wait_resident(&next, 0, 2 * MIB);
    let resident = next.resident_pages(0, size) * OS_PAGE_SIZE;
    assert!(
        resident <= 2 * MIB + 16 * MIB,
        "{resident} bytes of the next file resident"
    );
}

#[test]
fn whole_file_prefault_is_still_there_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let size = 16 * MIB;
    let q = MappedFileQueue::open(
        dir.path(),
        QueueOptions {
            prefault: true,
            ..QueueOptions::new(size)
        },
    )
    .unwrap();
    q.request_next(0);
    let file = q.roll(0).unwrap();
    assert_eq!(file.resident_pages(0, size), size / OS_PAGE_SIZE);
}
