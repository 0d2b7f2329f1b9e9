//! Resident memory of an idle store with many queues.

use super::*;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Rss {
    pub(crate) vm_rss: u64,
    pub(crate) anon: u64,
    pub(crate) file: u64,
    /// Resident pages of mappings under the store directory, by part.
    pub(crate) commit_log: u64,
    pub(crate) consume_queue: u64,
    pub(crate) index: u64,
    /// Mappings of the store's files.
    pub(crate) store_maps: u64,
}

pub(crate) fn read_rss(root: &Path) -> Rss {
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

pub(crate) fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

pub(crate) fn report_rss(label: &str, base: &Rss, now: &Rss, queues: usize, store: &MessageStore) {
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

pub(crate) fn rss_child(mode: &str, root: &Path, queues: usize) {
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

pub(crate) fn bench_rss(queues: usize) {
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
