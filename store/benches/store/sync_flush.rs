//! SYNC_FLUSH, N concurrent writers as tokio tasks awaiting the put future.

use super::*;

pub(crate) fn bench_sync(writers: usize, secs: f64) {
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
