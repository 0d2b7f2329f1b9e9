//! The messages, store configs and page-cache probes every section shares.

use super::*;

/// Body bytes of every message: 1 KiB, or `SKYLARK_BENCH_BODY`.
pub(crate) fn body_len() -> usize {
    env_f64("SKYLARK_BENCH_BODY", 1024.0).max(0.0) as usize
}
pub(crate) const QUEUES_PER_TOPIC: usize = 8;

pub(crate) fn hosts() -> (SocketAddr, SocketAddr) {
    (
        "192.168.0.7:40000".parse().expect("born host"),
        "10.0.0.1:10911".parse().expect("store host"),
    )
}

/// The message for queue `q` of the benchmark: topic `BenchTopic<q / 8>`,
/// queue id `q % 8`, the body given ([`body_len`] bytes), and the properties a Java producer sends
/// (TAGS, a 32-hex-digit UNIQ_KEY, WAIT=true).
pub(crate) fn message(q: usize, body: &Bytes) -> StoredMessage {
    let (born, store) = hosts();
    let m = Message::new(format!("BenchTopic{}", q / QUEUES_PER_TOPIC), body.clone())
        .with_tags("TagA")
        .with_property("UNIQ_KEY", format!("7F0000010C3418B4AAC2{q:012X}"))
        .with_property("WAIT", "true");
    let mut s = StoredMessage::new(m, born, store);
    s.queue_id = (q % QUEUES_PER_TOPIC) as i32;
    s.born_timestamp = 1_700_000_000_000;
    s
}

pub(crate) fn messages(queues: usize) -> Vec<StoredMessage> {
    let body = Bytes::from(vec![b'x'; body_len()]);
    (0..queues).map(|q| message(q, &body)).collect()
}

pub(crate) fn config(root: &Path, flush: FlushDiskType) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.flush_disk_type = flush;
    // Knob for attributing dispatch cost; the default keeps the index on.
    c.message_index_enable = std::env::var("SKYLARK_BENCH_INDEX").map_or(true, |v| v != "0");
    // Knobs for the CommitLog's warm window and whole-file pre-fault.
    if let Ok(mib) = std::env::var("SKYLARK_BENCH_WARM_MIB") {
        c.warm_window_size_commit_log = mib.parse::<usize>().expect("SKYLARK_BENCH_WARM_MIB") << 20;
    }
    c.warm_maped_file_enable = std::env::var("SKYLARK_BENCH_WARM_FILES").is_ok_and(|v| v == "1");
    c
}

pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("skylark-bench-")
        .tempdir()
        .expect("temp dir")
}

/// Puts one message into every queue (creating them) and waits (at most
/// `wait`) until all of it is dispatched, then gives the background threads
/// time to settle (pre-allocating the next CommitLog file, warming the
/// window or, with `SKYLARK_BENCH_WARM_FILES=1`, pre-faulting whole files).
/// Returns the time taken and whether dispatch caught up.
pub(crate) fn warm_up(
    store: &MessageStore,
    msgs: &[StoredMessage],
    wait: Duration,
) -> (Duration, bool) {
    let t = Instant::now();
    for m in msgs {
        let r = store.put_message(m).wait_blocking();
        assert_eq!(r.status, PutMessageStatus::PutOk, "warm-up put: {r:?}");
    }
    let done = store.wait_dispatched_all(wait);
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    (took, done)
}

/// Page-cache pages of `path` resident now, and its pages in all.
pub(crate) fn resident_pages(path: &Path) -> Option<(usize, usize)> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).ok()?;
    let len = usize::try_from(f.metadata().ok()?.len()).ok()?;
    if len == 0 {
        return Some((0, 0));
    }
    let pages = len.div_ceil(4096);
    let mut vec = vec![0u8; pages];
    // SAFETY: a private read-only mapping of an open file, unmapped below;
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
        if p == libc::MAP_FAILED {
            return None;
        }
        let rc = libc::mincore(p, len, vec.as_mut_ptr());
        libc::munmap(p, len);
        if rc != 0 {
            return None;
        }
    }
    Some((vec.iter().filter(|b| **b & 1 == 1).count(), pages))
}

/// Page-cache residency of the first ConsumeQueue file of queue 0 and of the
/// newest index file, as "CQ file x/y pages, index x/y pages".
pub(crate) fn residency(root: &Path) -> String {
    let first_file = |dir: &Path| -> Option<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v.pop()
    };
    let show = |p: Option<std::path::PathBuf>| {
        p.and_then(|p| resident_pages(&p)).map_or_else(
            || "n/a".to_owned(),
            |(r, t)| {
                format!(
                    "{}/{} pages ({})",
                    thousands(r as u64),
                    thousands(t as u64),
                    mib(r as u64 * 4096)
                )
            },
        )
    };
    format!(
        "page cache: one ConsumeQueue file {}, index file {}",
        show(first_file(&root.join("consumequeue/BenchTopic0/0"))),
        show(first_file(&root.join("index"))),
    )
}

/// `Cached` of /proc/meminfo in bytes (system-wide page cache).
pub(crate) fn page_cache() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("Cached:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}
