//! Memory of a store with large CommitLog files: new files are not faulted
//! in, only a bounded window ahead of the writer is (`warmWindowSizeCommitLog`),
//! unless `warmMapedFileEnable` asks for whole files; the next file is made
//! once the current one is half written.
//!
//! Measured, not timed: resident pages of the files by `mincore(2)` (page
//! cache) and of this process's mappings of them by `/proc/self/smaps`
//! (what RssFile counts). Waits are hang guards only.
#![allow(clippy::unwrap_used)]

mod store_support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;
use store_support::{msg, put_ok, settle};

const MIB: usize = 1 << 20;
/// Read-around (`read_ahead_kb`, 8 MiB on the test machine) may bring up to
/// about this much page cache in past what was asked for; it is not mapped.
const READ_AROUND: usize = 16 * MIB;

fn config(dir: &Path, file_size: usize, window: usize, whole: bool) -> MessageStoreConfig {
    let mut c = store_support::config(dir);
    c.mapped_file_size_commit_log = file_size;
    c.warm_window_size_commit_log = window;
    c.warm_maped_file_enable = whole;
    c
}

fn commit_log_file(dir: &Path, offset: usize) -> PathBuf {
    dir.join("commitlog").join(format!("{offset:020}"))
}

/// Bytes of `path` in the page cache, by `mincore` on a fresh mapping.
fn cached_bytes(path: &Path) -> usize {
    let f = std::fs::File::open(path).unwrap();
    let len = usize::try_from(f.metadata().unwrap().len()).unwrap();
    let mut vec = vec![0u8; len.div_ceil(4096)];
    // SAFETY: a read-only shared mapping of an open file, unmapped below;
    // mincore writes one byte per page into `vec`, which has that many.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let rc = libc::mincore(p, len, vec.as_mut_ptr());
        libc::munmap(p, len);
        assert_eq!(rc, 0);
    }
    vec.iter().filter(|b| **b & 1 != 0).count() * 4096
}

/// Resident bytes of this process's mappings of `path` (smaps `Rss`).
fn mapped_rss(path: &Path) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut inside = false;
    let mut rss = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line.split_whitespace().nth(5) == Some(name);
        } else if inside && line.starts_with("Rss:") {
            let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            rss += kb * 1024;
        }
    }
    rss
}

/// Waits (hang guard) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Puts `bytes` worth of 4 KiB-body messages; returns the CommitLog end.
fn fill(store: &MessageStore, bytes: usize) -> usize {
    let body = vec![b'r'; 4096];
    let m = msg("Residency", 0, &body, "", &[]);
    while (store.commit_log_max_offset() as usize) < bytes {
        put_ok(store, &m);
    }
    settle(store);
    store.commit_log_max_offset() as usize
}

#[test]
fn a_fresh_store_keeps_only_the_window_of_a_256_mib_file_resident() {
    let dir = tempfile::tempdir().unwrap();
    let (size, window) = (256 * MIB, 8 * MIB);
    let store = MessageStore::open(config(dir.path(), size, window, false)).unwrap();
    let first = commit_log_file(dir.path(), 0);
    // Opened but never written: the first file is made, nothing is resident.
    wait_until("the first file", || first.exists());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        cached_bytes(&first) <= READ_AROUND,
        "{}",
        cached_bytes(&first)
    );

    let wrote = fill(&store, 5 * MIB);
    let warm_end = wrote + window;
    // The window ahead of the writer gets warm: in the page cache, and mapped,
    // so RssFile counts it. Written pages leave the mapping once flushed.
    wait_until("the warm window", || {
        cached_bytes(&first) >= warm_end - 4096 && mapped_rss(&first) >= window - 4096
    });
    let rss = mapped_rss(&first);
    let cached = cached_bytes(&first);
    assert!(
        rss <= warm_end + MIB,
        "{rss} bytes of the file mapped after writing {wrote} with an {window}-byte window"
    );
    assert!(cached <= warm_end + READ_AROUND, "{cached} bytes cached");
    assert!(
        warm_end + READ_AROUND < size / 8,
        "the bound means something"
    );
    // The blocks are reserved all the same (fallocate), so a full disk
    // fails the file's creation, not an append through the mapping.
    let blocks = std::fs::metadata(&first).unwrap().blocks() * 512;
    assert!(blocks >= size as u64, "{blocks} bytes allocated");
    // The next file is asked for once this one is half written (not yet:
    // nothing has asked, so nothing can have made it); then it is made
    // but not faulted in.
    let second = commit_log_file(dir.path(), size);
    assert!(
        !second.exists(),
        "made before the first file was half written"
    );
    fill(&store, size / 2);
    wait_until("the next file", || second.exists());
    std::thread::sleep(Duration::from_millis(200));
    assert!(cached_bytes(&second) <= READ_AROUND);
    assert_eq!(mapped_rss(&second), 0);
    store.shutdown();
}

#[test]
fn warm_maped_file_enable_faults_in_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let size = 32 * MIB;
    let store = MessageStore::open(config(dir.path(), size, 0, true)).unwrap();
    // Past half the file, so that the next one is asked for.
    let wrote = fill(&store, size / 2 + MIB);
    assert!(wrote < size);
    let (first, second) = (
        commit_log_file(dir.path(), 0),
        commit_log_file(dir.path(), size),
    );
    // Everything ahead of the writer is mapped (flushed pages behind it may
    // have left the mapping), and the whole file is in the page cache.
    assert!(
        mapped_rss(&first) >= size - wrote,
        "the rest of the current file"
    );
    assert_eq!(cached_bytes(&first), size, "the whole current file");
    wait_until("the whole next file", || cached_bytes(&second) == size);
    store.shutdown();
}
