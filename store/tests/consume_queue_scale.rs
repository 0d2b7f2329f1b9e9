#![allow(clippy::unwrap_used)]
//! 10 000 queues under a small mapping budget: mappings stay under the cap,
//! idle queues cost little memory and no file descriptors, and everything
//! reads back, before and after a reload. Also concurrent readers and a writer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use skylark_store::consume_queue::{
    CQ_ENTRY_SIZE, ConsumeQueue, ConsumeQueueConfig, ConsumeQueueStore, CqEntry,
};
use tempfile::TempDir;

/// Counts live heap bytes, to bound the memory of idle queues.
struct Counting;

static HEAP: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers to `System`, only counting sizes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const QUEUES: i32 = 10_000;
const CAP: usize = 64;

fn entry(q: i32, n: i64) -> CqEntry {
    CqEntry {
        phys_offset: i64::from(q) * 1_000_000 + n * 64,
        size: 64,
        tags_code: i64::from(q),
    }
}

/// Everything from `from` to the end, a file's worth per read.
fn read_all(q: &ConsumeQueue, from: i64) -> Vec<CqEntry> {
    let mut out = Vec::new();
    loop {
        let got = q.read(from + out.len() as i64, 1_000).unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn ten_thousand_queues_stay_within_the_mapping_budget() {
    let tmp = TempDir::new().unwrap();
    let config = ConsumeQueueConfig {
        file_size: 4 * CQ_ENTRY_SIZE,
        max_mapped_tails: CAP,
    };
    let fds_before = open_fds();
    let heap_before = HEAP.load(Ordering::Relaxed);
    let store = ConsumeQueueStore::open(tmp.path().join("consumequeue"), config).unwrap();
    // Round-robin over all queues, three times: every append after the first
    // 64 queues evicts somebody's tail.
    for round in 0..3 {
        for q in 0..QUEUES {
            let topic = format!("Topic{}", q % 100);
            store.append(&topic, q, round, entry(q, round)).unwrap();
            assert!(
                store.live_mappings() <= CAP,
                "{} live mappings",
                store.live_mappings()
            );
        }
    }
    let heap = HEAP.load(Ordering::Relaxed) - heap_before;
    eprintln!(
        "heap for {QUEUES} queues: {heap} bytes ({} per queue)",
        heap / QUEUES as isize
    );
    // Idle queues: a few hundred bytes each, far below the 64 MiB target.
    assert!(heap < 64 << 20, "{heap} bytes for {QUEUES} queues");
    assert!(
        heap / i64::from(QUEUES) as isize <= 2_048,
        "{} bytes per queue",
        heap / QUEUES as isize
    );
    // Only mapped tails keep a descriptor.
    assert!(
        open_fds() <= fds_before + CAP + 8,
        "{} fds open",
        open_fds()
    );
    assert_eq!(store.queues().len(), QUEUES as usize);
    for q in (0..QUEUES).step_by(97) {
        let cq = store.queue(&format!("Topic{}", q % 100), q).unwrap();
        assert_eq!(
            cq.read(0, 10).unwrap(),
            (0..3).map(|n| entry(q, n)).collect::<Vec<_>>()
        );
    }
    drop(store);
    let store = ConsumeQueueStore::open(tmp.path().join("consumequeue"), config).unwrap();
    assert_eq!(store.queues().len(), QUEUES as usize);
    assert_eq!(store.live_mappings(), 0);
    for q in (0..QUEUES).step_by(89) {
        let cq = store.queue(&format!("Topic{}", q % 100), q).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (0, 3));
        // The fourth entry fills file 0; the fifth maps a new file 1.
        cq.append(3, entry(q, 3)).unwrap();
        cq.append(4, entry(q, 4)).unwrap();
        assert_eq!(
            read_all(&cq, 0),
            (0..5).map(|n| entry(q, n)).collect::<Vec<_>>()
        );
        assert!(store.live_mappings() <= CAP);
    }
    store.flush_all().unwrap();
}

#[test]
fn readers_see_a_consistent_prefix_while_a_writer_appends() {
    let tmp = TempDir::new().unwrap();
    let config = ConsumeQueueConfig {
        file_size: 7 * CQ_ENTRY_SIZE,
        max_mapped_tails: 2,
    };
    let store = Arc::new(ConsumeQueueStore::open(tmp.path(), config).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    for q in 0..4 {
                        let Some(cq) = store.queue("C", q) else {
                            continue;
                        };
                        let max = cq.max_offset();
                        let from = (max - 20 + r).max(0);
                        let got = cq.read(from, 32).unwrap();
                        // Everything below the max observed before the read
                        // must be the final entry.
                        for (i, e) in got.iter().enumerate() {
                            let n = from + i as i64;
                            if n < max {
                                assert_eq!(*e, entry(q, n));
                            }
                        }
                        reads += 1;
                    }
                }
                reads
            })
        })
        .collect();
    // Four queues under a budget of two: appends keep evicting each other.
    for n in 0..500 {
        for q in 0..4 {
            store.append("C", q, n, entry(q, n)).unwrap();
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    for q in 0..4 {
        let cq = store.queue("C", q).unwrap();
        assert_eq!(
            read_all(&cq, 0),
            (0..500).map(|n| entry(q, n)).collect::<Vec<_>>()
        );
    }
    assert!(store.live_mappings() <= 2);
}

/// With every mapping taken, a queue without one appends with `pwrite`
/// instead of evicting another tail on every entry (which made dispatch
/// over 100,000 queues crawl at a few thousand entries a second), and a
/// queue that keeps being written claims a mapping after 64 such appends.
#[test]
fn a_full_budget_is_not_remapped_on_every_append() {
    let tmp = TempDir::new().unwrap();
    let config = ConsumeQueueConfig {
        file_size: 1_000 * CQ_ENTRY_SIZE,
        max_mapped_tails: 4,
    };
    let root = tmp.path().join("consumequeue");
    let store = ConsumeQueueStore::open(&root, config).unwrap();
    for n in 0..20 {
        for q in 0..100 {
            store.append("R", q, n, entry(q, n)).unwrap();
        }
    }
    // The first four queues took the four places; nobody was evicted.
    assert_eq!(store.mappings_made(), 4);
    assert_eq!(store.live_mappings(), 4);
    // A busy queue earns a place, then writes through its mapping.
    for n in 20..200 {
        store.append("R", 50, n, entry(50, n)).unwrap();
    }
    assert_eq!(store.mappings_made(), 5);
    assert!(store.live_mappings() <= 4);
    let unflushed = store.queue("R", 99).unwrap().oldest_unflushed();
    assert_eq!(
        unflushed,
        entry(99, 0).phys_offset,
        "pwrite entries await a flush"
    );
    store.flush_all().unwrap();
    assert_eq!(store.queue("R", 99).unwrap().oldest_unflushed(), i64::MAX);
    for q in [0, 3, 4, 50, 99] {
        let cq = store.queue("R", q).unwrap();
        let n = if q == 50 { 200 } else { 20 };
        assert_eq!(
            read_all(&cq, 0),
            (0..n).map(|i| entry(q, i)).collect::<Vec<_>>()
        );
    }
    drop(store);
    let store = ConsumeQueueStore::open(&root, config).unwrap();
    for q in 0..100 {
        let n = if q == 50 { 200 } else { 20 };
        let cq = store.queue("R", q).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (0, n), "R/{q}");
        assert_eq!(cq.get(n - 1).unwrap(), Some(entry(q, n - 1)));
    }
}
