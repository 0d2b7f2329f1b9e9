//! MessageStore benchmark: append rate and latency (ASYNC_FLUSH from one
//! writer over 16, 10,000 and 100,000 queues; SYNC_FLUSH group commit from
//! 1, 16 and 256 writers), crash-recovery time for 1 GiB of CommitLog, and
//! the resident memory of an idle store with 10,000 queues.
//!
//! `cargo bench -p skylark-store --bench store [-- async sync recovery rss]`
//!
//! Knobs (environment):
//! - `SKYLARK_BENCH_SECS`: measured seconds per async run (default 3; sync
//!   runs take two thirds of it); each async run is a child process;
//! - `SKYLARK_BENCH_QUEUES`: queue counts of the async runs (default
//!   `16,10000,100000`);
//! - `SKYLARK_BENCH_WRITERS`: writer counts of the sync runs (default `1,16,256`);
//! - `SKYLARK_BENCH_RECOVERY_MIB`: CommitLog written before the crash (default 1024);
//! - `SKYLARK_BENCH_RSS_QUEUES`: queues of the memory run (default 10000);
//! - `SKYLARK_BENCH_RSS_WAIT_SECS`: longest wait for the memory run's writes
//!   to be dispatched (default 90);
//! - `SKYLARK_BENCH_COLD=0`: skip the cold-cache recovery run;
//! - `SKYLARK_BENCH_WAIT_SECS`: longest wait for dispatch to catch up after
//!   the warm-up and after an async run (default 5);
//! - `SKYLARK_BENCH_SHUTDOWN_SECS`: a store whose shutdown takes longer
//!   (default 10 s) is abandoned: async runs and the memory run's children
//!   then end their process, and the parent removes the files;
//! - `SKYLARK_BENCH_INDEX=0`: turn the IndexFile off (to attribute dispatch cost);
//! - `SKYLARK_BENCH_AWAIT=1`: the async writer polls each put future once, as
//!   `.await` in a task would, instead of calling `wait_blocking()`.
//!
//! Figures and the machine they came from: store/BENCHMARKS.md.
#![allow(clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use skylark_protocol::message::{Message, StoredMessage};
use skylark_store::MessageStore;
use skylark_store::config::{FlushDiskType, MessageStoreConfig};
use skylark_store::error::PutMessageStatus;
use skylark_store::mapped_file::MappedFile;

// ---------------------------------------------------------------------------
// Allocation counting: every thread counts its own allocations in a
// thread-local (no shared cache line); while `COUNTING` is on, threads other
// than the benchmark's writer also add to `OTHER_ALLOCS` (the writer never
// touches it, so counting does not slow the measured thread).

struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static OTHER_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static MY_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static IS_WRITER: Cell<bool> = const { Cell::new(false) };
}

fn note_alloc() {
    let _ = MY_ALLOCS.try_with(|c| c.set(c.get() + 1));
    if COUNTING.load(Ordering::Relaxed) && !IS_WRITER.try_with(Cell::get).unwrap_or(false) {
        OTHER_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn my_allocs() -> u64 {
    MY_ALLOCS.with(Cell::get)
}

// ---------------------------------------------------------------------------
// Knobs and formatting.

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Nanoseconds as µs or ms.
fn dur_ns(ns: u64) -> String {
    let us = ns as f64 / 1000.0;
    if us < 10.0 {
        format!("{us:.2} µs")
    } else if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.0} ms", us / 1000.0)
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("histogram bounds")
}

fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {} p99 {} (p99.9 {}, max {})",
        dur_ns(h.value_at_quantile(0.50)),
        dur_ns(h.value_at_quantile(0.99)),
        dur_ns(h.value_at_quantile(0.999)),
        dur_ns(h.max()),
    )
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

// ---------------------------------------------------------------------------
// Messages.

const BODY_LEN: usize = 1024;
const QUEUES_PER_TOPIC: usize = 8;

fn hosts() -> (SocketAddr, SocketAddr) {
    (
        "192.168.0.7:40000".parse().expect("born host"),
        "10.0.0.1:10911".parse().expect("store host"),
    )
}

/// The message for queue `q` of the benchmark: topic `BenchTopic<q / 8>`,
/// queue id `q % 8`, a 1 KiB body, and the properties a Java producer sends
/// (TAGS, a 32-hex-digit UNIQ_KEY, WAIT=true).
fn message(q: usize, body: &Bytes) -> StoredMessage {
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

fn messages(queues: usize) -> Vec<StoredMessage> {
    let body = Bytes::from(vec![b'x'; BODY_LEN]);
    (0..queues).map(|q| message(q, &body)).collect()
}

fn config(root: &Path, flush: FlushDiskType) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.flush_disk_type = flush;
    // Knob for attributing dispatch cost; the default keeps the index on.
    c.message_index_enable = std::env::var("SKYLARK_BENCH_INDEX").map_or(true, |v| v != "0");
    c
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("skylark-bench-")
        .tempdir()
        .expect("temp dir")
}

/// Puts one message into every queue (creating them) and waits (at most
/// `wait`) until all of it is dispatched, then gives the pre-allocator time
/// to fault in the next CommitLog file. Returns the time taken and whether
/// dispatch caught up.
fn warm_up(store: &MessageStore, msgs: &[StoredMessage], wait: Duration) -> (Duration, bool) {
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
fn resident_pages(path: &Path) -> Option<(usize, usize)> {
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
fn residency(root: &Path) -> String {
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
fn page_cache() -> u64 {
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

// ---------------------------------------------------------------------------
// ASYNC_FLUSH, one writer.

fn bench_async(root: &Path, queues: usize, secs: f64) {
    let store = MessageStore::open(config(root, FlushDiskType::AsyncFlush)).expect("open");
    let msgs = messages(queues);
    let record_len = msgs[0].encoded_len();
    let cached = page_cache();
    let wait = Duration::from_secs_f64(env_f64("SKYLARK_BENCH_WAIT_SECS", 5.0));
    let (setup, settled) = warm_up(&store, &msgs, wait);
    let start_offset = store.commit_log_max_offset();

    IS_WRITER.with(|w| w.set(true));
    let mut hist = histogram();
    let (mut n, mut bytes, mut i) = (0u64, 0u64, 0usize);
    // Puts over 1 ms (a CommitLog roll waiting for its file, preemption).
    let (mut stalls, mut stalled) = (0u64, 0u64);
    let writer_allocs = my_allocs();
    let dispatched_from = store.dispatched_offset();
    OTHER_ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let limit = Duration::from_secs_f64(secs);
    let poll = std::env::var("SKYLARK_BENCH_AWAIT").is_ok_and(|v| v == "1");
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    let mut last = start;
    while last - start < limit {
        for _ in 0..256 {
            let r = if poll {
                // What `.await` in a task does with a ready future.
                let mut fut = store.put_message(&msgs[i]);
                match Pin::new(&mut fut).poll(&mut cx) {
                    Poll::Ready(r) => r,
                    Poll::Pending => fut.wait_blocking(),
                }
            } else {
                store.put_message(&msgs[i]).wait_blocking()
            };
            let now = Instant::now();
            let took = (now - last).as_nanos() as u64;
            hist.saturating_record(took);
            if took > 1_000_000 {
                stalls += 1;
                stalled += took;
            }
            last = now;
            let Some(a) = r.append.filter(|_| r.status == PutMessageStatus::PutOk) else {
                panic!("put failed: {r:?}");
            };
            bytes += a.wrote_bytes as u64;
            n += 1;
            i += 1;
            if i == msgs.len() {
                i = 0;
            }
        }
    }
    let elapsed = last - start;
    let writer_allocs = my_allocs() - writer_allocs;
    IS_WRITER.with(|w| w.set(false));
    let behind = store.dispatch_behind_bytes();
    let t = Instant::now();
    let caught_up = store.wait_dispatched_all(wait);
    let catch_up = t.elapsed();
    COUNTING.store(false, Ordering::Relaxed);
    let other_allocs = OTHER_ALLOCS.load(Ordering::Relaxed);
    let dispatched = ((store.dispatched_offset() - dispatched_from) / record_len as i64).max(1);
    // Every put is in the CommitLog (files end with BLANK padding on top).
    assert!(store.commit_log_max_offset() - start_offset >= bytes as i64);

    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "async {} queues{}: {} msg/s, {} MB/s, {}",
        thousands(queues as u64),
        if poll { " (polled)" } else { "" },
        thousands(rate as u64),
        thousands((bytes as f64 / elapsed.as_secs_f64() / 1e6) as u64),
        percentiles(&hist),
    );
    let unstalled = elapsed.as_secs_f64() - stalled as f64 / 1e9;
    println!(
        "  {} puts took over 1 ms, {:.2} s in all; without them: {} msg/s",
        stalls,
        stalled as f64 / 1e9,
        thousands((n.saturating_sub(stalls) as f64 / unstalled.max(1e-9)) as u64),
    );
    let end_to_end = n as f64 / (elapsed + catch_up).as_secs_f64();
    if caught_up {
        println!(
            "  {} puts of {record_len}-byte records in {:.2} s; dispatch {} behind at the end, \
             caught up {:.2} s later: {} msg/s put-to-dispatched",
            thousands(n),
            elapsed.as_secs_f64(),
            mib(behind.max(0) as u64),
            catch_up.as_secs_f64(),
            thousands(end_to_end as u64),
        );
    } else {
        println!(
            "  {} puts of {record_len}-byte records in {:.2} s; dispatch {} behind at the end \
             and still {} behind {:.0} s later (SKYLARK_BENCH_WAIT_SECS)",
            thousands(n),
            elapsed.as_secs_f64(),
            mib(behind.max(0) as u64),
            mib(store.dispatch_behind_bytes().max(0) as u64),
            catch_up.as_secs_f64(),
        );
    }
    println!(
        "  allocations: writer {:.2} per put, store threads {:.2} per message dispatched; \
         setup (1 put per queue{}) {:.2} s; CQ tails mapped {}/{}",
        writer_allocs as f64 / n as f64,
        other_allocs as f64 / dispatched as f64,
        if settled {
            ", dispatched"
        } else {
            ", NOT all dispatched"
        },
        setup.as_secs_f64(),
        store.consume_queues().live_mappings(),
        store.consume_queues().max_mapped_tails(),
    );
    println!(
        "  {}; system page cache grew {} during the run",
        residency(root),
        mib(page_cache().saturating_sub(cached)),
    );
    shutdown_or_exit(store);
}

/// Shuts `store` down; if that takes longer than `SKYLARK_BENCH_SHUTDOWN_SECS`
/// (default 10), says so and ends this (child) process.
fn shutdown_or_exit(store: MessageStore) {
    let limit = Duration::from_secs_f64(env_f64("SKYLARK_BENCH_SHUTDOWN_SECS", 10.0));
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let watch = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let t = Instant::now();
            while t.elapsed() < limit {
                if done.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            println!(
                "  shutdown unfinished after {:.0} s: dispatch still {} behind; ending the process",
                limit.as_secs_f64(),
                mib(store.dispatch_behind_bytes().max(0) as u64),
            );
            std::process::exit(0);
        })
    };
    let t = Instant::now();
    store.shutdown();
    done.store(true, Ordering::Release);
    println!("  shutdown {:.1} s", t.elapsed().as_secs_f64());
    let _ = watch.join();
}

/// Runs `SKYLARK_BENCH_CHILD=<what>:<n>:<dir>` in a child process with a
/// fresh temp dir, removed afterwards.
fn run_child(what: &str, n: usize) {
    let dir = temp_dir();
    let exe = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new(&exe)
        .env(
            "SKYLARK_BENCH_CHILD",
            format!("{what}:{n}:{}", dir.path().display()),
        )
        .status()
        .expect("run child");
    assert!(status.success(), "child {what} {n} failed: {status}");
    let t = Instant::now();
    drop(dir);
    let took = t.elapsed();
    if took > Duration::from_secs(1) {
        println!("  removing the store files {:.1} s", took.as_secs_f64());
    }
}

// ---------------------------------------------------------------------------
// SYNC_FLUSH, N concurrent writers as tokio tasks awaiting the put future.

fn bench_sync(writers: usize, secs: f64) {
    let dir = temp_dir();
    let store =
        Arc::new(MessageStore::open(config(dir.path(), FlushDiskType::SyncFlush)).expect("open"));
    let msgs = Arc::new(messages(16));
    warm_up(&store, &msgs, Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let limit = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(&store);
            let msgs = Arc::clone(&msgs);
            rt.spawn(async move {
                let mut hist = histogram();
                let mut n = 0u64;
                let m = &msgs[w % msgs.len()];
                loop {
                    let t = Instant::now();
                    if t - start >= limit {
                        break;
                    }
                    let r = store.put_message(m).await;
                    assert_eq!(r.status, PutMessageStatus::PutOk, "sync put: {r:?}");
                    hist.saturating_record(t.elapsed().as_nanos() as u64);
                    n += 1;
                }
                (n, hist)
            })
        })
        .collect();
    let mut hist = histogram();
    let mut n = 0;
    for t in tasks {
        let (count, h) = rt.block_on(t).expect("writer task");
        n += count;
        hist.add(&h).expect("merge histograms");
    }
    let elapsed = start.elapsed();
    drop(rt);
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "sync {writers} writer{}: {} msg/s, {}",
        if writers == 1 { "" } else { "s" },
        thousands(rate as u64),
        percentiles(&hist),
    );
    // Little's law: puts in flight ≈ rate × mean latency ≈ records per msync.
    println!(
        "  {} puts in {:.2} s; mean latency {}, so about {:.1} puts share each flush",
        thousands(n),
        elapsed.as_secs_f64(),
        dur_ns(hist.mean() as u64),
        rate * hist.mean() / 1e9,
    );
    drop(store);
    drop(dir);
}

// ---------------------------------------------------------------------------
// Recovery after a crash.

fn drop_page_cache(root: &Path) {
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

fn bench_recovery(target_mib: u64, cold: bool) {
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
    // Steady state: a ConsumeQueue/checkpoint flush round has run since.
    std::thread::sleep(Duration::from_millis(1500));
    let end = store.commit_log_max_offset();
    store.simulate_crash();
    assert!(
        dir.path().join("abort").exists(),
        "the crash left no abort file"
    );

    let open = |label: &str| {
        let t = Instant::now();
        let store = MessageStore::open(c.clone()).expect("reopen");
        let took = t.elapsed();
        let r = store.recovery_report().clone();
        assert!(r.crashed, "{r:?}");
        assert_eq!(r.commit_log_end, end, "{r:?}");
        let per_gib = took.as_secs_f64() / (end as f64 / f64::from(1u32 << 30));
        println!(
            "recovery after crash, {} of CommitLog{label}: open {:.3} s ({:.3} s per GiB; \
             {:.3} s in the recovery step); CRC walk from {}, re-dispatch of {}{}",
            mib(end as u64),
            took.as_secs_f64(),
            per_gib,
            r.elapsed.as_secs_f64(),
            mib(r.scan_from as u64),
            mib((r.commit_log_end - r.dispatch_from).max(0) as u64),
            if r.full_redispatch { " (full)" } else { "" },
        );
        store
    };
    println!(
        "  (wrote {} messages, {} in {:.2} s, then crashed)",
        thousands(n),
        mib(end as u64),
        wrote.as_secs_f64()
    );
    let store = open(", page cache hot");
    if cold {
        store.simulate_crash();
        drop_page_cache(dir.path());
        let store = open(", page cache dropped");
        drop(store);
    } else {
        drop(store);
    }
    drop(dir);
}

// ---------------------------------------------------------------------------
// Resident memory of an idle store with many queues (in child processes,
// so earlier sections' heap does not count).

#[derive(Debug, Default, Clone, Copy)]
struct Rss {
    vm_rss: u64,
    anon: u64,
    file: u64,
    /// Resident pages of mappings under the store directory, by part.
    commit_log: u64,
    consume_queue: u64,
    index: u64,
    /// Mappings of the store's files.
    store_maps: u64,
}

fn read_rss(root: &Path) -> Rss {
    let mut out = Rss::default();
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    for line in status.lines() {
        let kb = |l: &str| -> u64 {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
                * 1024
        };
        if line.starts_with("VmRSS:") {
            out.vm_rss = kb(line);
        } else if line.starts_with("RssAnon:") {
            out.anon = kb(line);
        } else if line.starts_with("RssFile:") {
            out.file = kb(line);
        }
    }
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
    let root = root.to_string_lossy().into_owned();
    let mut part: Option<&str> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping header: "start-end perms offset dev inode [path]".
            part = line
                .split_whitespace()
                .nth(5)
                .filter(|p| p.starts_with(&root))
                .map(|p| {
                    if p.contains("/commitlog/") {
                        "commitlog"
                    } else if p.contains("/consumequeue/") {
                        "consumequeue"
                    } else if p.contains("/index/") {
                        "index"
                    } else {
                        "other"
                    }
                });
            if part.is_some() {
                out.store_maps += 1;
            }
        } else if let (Some(p), true) = (part, line.starts_with("Rss:")) {
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            match p {
                "commitlog" => out.commit_log += kb * 1024,
                "consumequeue" => out.consume_queue += kb * 1024,
                "index" => out.index += kb * 1024,
                _ => {}
            }
        }
    }
    out
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn report_rss(label: &str, base: &Rss, now: &Rss, queues: usize, store: &MessageStore) {
    let heap = now.anon.saturating_sub(base.anon);
    let touched = now.commit_log + now.consume_queue + now.index;
    println!(
        "rss {label}, {} queues idle: RssAnon +{} (heap, stacks), RssFile {} \
         (store mappings {}: CommitLog {}, ConsumeQueue {}, index {}), VmRSS {}",
        thousands(queues as u64),
        mib(heap),
        mib(now.file),
        now.store_maps,
        mib(now.commit_log),
        mib(now.consume_queue),
        mib(now.index),
        mib(now.vm_rss),
    );
    println!(
        "  beyond the store's touched mapped pages: {} ({} over the process before open); \
         CQ tails mapped {}; {} threads",
        mib(now.vm_rss.saturating_sub(touched)),
        mib(now
            .vm_rss
            .saturating_sub(touched)
            .saturating_sub(base.vm_rss)),
        store.consume_queues().live_mappings(),
        threads(),
    );
}

fn rss_child(mode: &str, root: &Path, queues: usize) {
    let c = config(root, FlushDiskType::AsyncFlush);
    let base = read_rss(root);
    let cached = page_cache();
    let store = MessageStore::open(c).expect("open");
    let opened = Instant::now();
    if mode == "fill" {
        let msgs = messages(queues);
        for _ in 0..4 {
            for m in &msgs {
                let r = store.put_message(m).wait_blocking();
                assert_eq!(r.status, PutMessageStatus::PutOk);
            }
        }
        drop(msgs);
    }
    let wait = Duration::from_secs_f64(env_f64("SKYLARK_BENCH_RSS_WAIT_SECS", 90.0));
    if !store.wait_dispatched_all(wait) {
        println!(
            "  dispatch still {} behind after {:.0} s (SKYLARK_BENCH_RSS_WAIT_SECS)",
            mib(store.dispatch_behind_bytes().max(0) as u64),
            wait.as_secs_f64()
        );
    } else if mode == "fill" {
        println!(
            "  {} messages into {} queues dispatched {:.1} s after opening",
            thousands(4 * queues as u64),
            thousands(queues as u64),
            opened.elapsed().as_secs_f64()
        );
    }
    // Idle: a few ConsumeQueue flush rounds and the pre-allocation finish.
    std::thread::sleep(Duration::from_secs(3));
    let now = read_rss(root);
    let label = if mode == "fill" {
        "after writing 4 messages per queue"
    } else {
        "after reopening"
    };
    report_rss(label, &base, &now, queues, &store);
    println!(
        "  {}; system page cache grew {}",
        residency(root),
        mib(page_cache().saturating_sub(cached)),
    );
    shutdown_or_exit(store);
}

fn bench_rss(queues: usize) {
    let dir = temp_dir();
    let exe = std::env::current_exe().expect("current exe");
    for mode in ["fill", "open"] {
        let status = std::process::Command::new(&exe)
            .env(
                "SKYLARK_BENCH_CHILD",
                format!("{mode}:{queues}:{}", dir.path().display()),
            )
            .status()
            .expect("run child");
        assert!(status.success(), "rss child {mode} failed: {status}");
    }
    drop(dir);
}

// ---------------------------------------------------------------------------
// What a CommitLog roll costs when the pre-allocated file is not ready:
// creating and pre-faulting one file of the default size.

fn bench_prefault() {
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
fn timer_cost() -> Duration {
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
fn settle_disk() {
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

// ---------------------------------------------------------------------------

fn main() {
    if let Ok(child) = std::env::var("SKYLARK_BENCH_CHILD") {
        let mut parts = child.splitn(3, ':');
        let mode = parts.next().expect("mode").to_owned();
        let queues: usize = parts
            .next()
            .and_then(|q| q.parse().ok())
            .expect("queue count");
        let root = parts.next().expect("dir").to_owned();
        if mode == "async" {
            bench_async(Path::new(&root), queues, env_f64("SKYLARK_BENCH_SECS", 3.0));
        } else {
            rss_child(&mode, Path::new(&root), queues);
        }
        return;
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`)
    // this is not a benchmark run: minutes of I/O do not belong in a test.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("store benchmark: run it with `cargo bench -p skylark-store --bench store`");
        return;
    }
    // Section names are the other arguments.
    let mut sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if sections.is_empty() {
        sections = ["async", "sync", "recovery", "rss"]
            .map(String::from)
            .to_vec();
    }
    let secs = env_f64("SKYLARK_BENCH_SECS", 3.0);
    let load = load_average();
    println!(
        "skylark-store bench: 1 KiB bodies, {} s per async run; load average {load:.2}{}; \
         Instant::now() {} ns (paid once per timed put)",
        secs,
        if load > 1.0 {
            " (busy machine: figures are pessimistic)"
        } else {
            ""
        },
        timer_cost().as_nanos(),
    );
    let started = Instant::now();
    for s in &sections {
        match s.as_str() {
            "async" => {
                for q in env_list("SKYLARK_BENCH_QUEUES", &[16, 10_000, 100_000]) {
                    run_child("async", q.max(1));
                }
            }
            "sync" => {
                settle_disk();
                for w in env_list("SKYLARK_BENCH_WRITERS", &[1, 16, 256]) {
                    bench_sync(w.max(1), secs * 2.0 / 3.0);
                }
            }
            "recovery" => bench_recovery(
                env_f64("SKYLARK_BENCH_RECOVERY_MIB", 1024.0).max(1.0) as u64,
                std::env::var("SKYLARK_BENCH_COLD").map_or(true, |v| v != "0"),
            ),
            "prefault" => bench_prefault(),
            "rss" => bench_rss(env_f64("SKYLARK_BENCH_RSS_QUEUES", 10_000.0).max(1.0) as usize),
            other => println!("unknown section {other:?} (async, sync, recovery, rss, prefault)"),
        }
    }
    println!("total {:.0} s", started.elapsed().as_secs_f64());
}
