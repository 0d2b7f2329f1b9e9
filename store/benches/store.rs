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
//! - `SKYLARK_BENCH_RECOVERY_SETTLE_MS`: how long after dispatch caught up
//!   the recovery run crashes (default 1500, a flush round later; 0: at once);
//! - `SKYLARK_BENCH_RSS_QUEUES`: queues of the memory run (default 10000);
//! - `SKYLARK_BENCH_RSS_WAIT_SECS`: longest wait for the memory run's writes
//!   to be dispatched (default 90);
//! - `SKYLARK_BENCH_BODY`: body bytes of every message (default 1024);
//! - `SKYLARK_BENCH_COLD=0`: skip the cold-cache recovery run;
//! - `SKYLARK_BENCH_COLD_PAUSE_MS`: pause between dropping the page cache
//!   and the cold open (default 0; 6000 lets the guest hand the freed
//!   memory back to the host first, as after a reboot);
//! - `SKYLARK_BENCH_WAIT_SECS`: longest wait for dispatch to catch up after
//!   the warm-up and after an async run (default 5);
//! - `SKYLARK_BENCH_SHUTDOWN_SECS`: a store whose shutdown takes longer
//!   (default 10 s) is abandoned: async runs and the memory run's children
//!   then end their process, and the parent removes the files;
//! - `SKYLARK_BENCH_INDEX=0`: turn the IndexFile off (to attribute dispatch cost);
//! - `SKYLARK_BENCH_AWAIT=1`: the async writer polls each put future once, as
//!   `.await` in a task would, instead of calling `wait_blocking()`;
//! - `SKYLARK_BENCH_WARM_MIB`: `warmWindowSizeCommitLog` in MiB (default 16;
//!   0 turns the warm window off);
//! - `SKYLARK_BENCH_WARM_FILES=1`: `warmMapedFileEnable` (pre-fault whole files).
//!
//! Figures and the machine they came from: store/BENCHMARKS.md.
#![allow(clippy::print_stdout)]

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
use skylark_testkit::alloc_count::CountingAlloc;

// ---------------------------------------------------------------------------
// Allocation counting: every thread counts its own allocations in a
// thread-local (no shared cache line); while `COUNTING` is on, threads other
// than the benchmark's writer also add to `OTHER_ALLOCS` (the writer never
// touches it, so counting does not slow the measured thread).

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

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc(note_alloc);

fn my_allocs() -> u64 {
    MY_ALLOCS.with(Cell::get)
}

#[path = "store/async_flush.rs"]
mod async_flush;
#[path = "store/knobs.rs"]
mod knobs;
#[path = "store/prefault.rs"]
mod prefault;
#[path = "store/recovery.rs"]
mod recovery;
#[path = "store/rss.rs"]
mod rss;
#[path = "store/sync_flush.rs"]
mod sync_flush;
#[path = "store/workload.rs"]
mod workload;
use async_flush::*;
use knobs::*;
use prefault::*;
use recovery::*;
use rss::*;
use sync_flush::*;
use workload::*;

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
        "skylark-store bench: {}-byte bodies, {} s per async run; load average {load:.2}{}; \
         Instant::now() {} ns (paid once per timed put)",
        body_len(),
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
