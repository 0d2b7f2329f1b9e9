//! ASYNC_FLUSH, one writer.

use super::*;

pub(crate) fn bench_async(root: &Path, queues: usize, secs: f64) {
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
    let usage = thread_usage();
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
    let (minor, major, preempted) = {
        let now = thread_usage();
        (now.0 - usage.0, now.1 - usage.1, now.2 - usage.2)
    };
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
    println!(
        "  writer thread: {} page faults ({} major, {:.1} per MiB written), \
         preempted {} times",
        thousands(minor + major),
        thousands(major),
        (minor + major) as f64 / (bytes as f64 / 1048576.0).max(1e-9),
        thousands(preempted),
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
pub(crate) fn shutdown_or_exit(store: MessageStore) {
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
pub(crate) fn run_child(what: &str, n: usize) {
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
