#![allow(clippy::unwrap_used)]
//! Shutdown behind a dispatch backlog: `Dispatcher::stop` waits its 5 s
//! and then stops the dispatcher mid-backlog (it used to dispatch up to the
//! end it had started with, which could take hours); the next open
//! re-dispatches the rest from the persisted dispatch position.

mod store_support;

use std::time::{Duration, Instant};

use store_support::{decode, msg, open, put_ok, read_queue, settle};
use tempfile::TempDir;

const TOPIC: &str = "Backlog";
const QUEUES: i32 = 4;
const PER_QUEUE: i64 = 1_250;
/// Per record: 5 000 records take at least 10 s to dispatch, twice the
/// shutdown's wait.
const DELAY: Duration = Duration::from_millis(2);

#[test]
fn shutdown_returns_within_its_wait_and_reopen_dispatches_the_rest() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    store.set_dispatch_delay_for_test(DELAY);
    for i in 0..PER_QUEUE {
        for q in 0..QUEUES {
            let body = format!("q{q}-m{i}");
            assert_eq!(put_ok(&store, &msg(TOPIC, q, body.as_bytes(), "", &[])), i);
        }
    }
    let t = Instant::now();
    store.shutdown();
    let took = t.elapsed();
    // 5 s of waiting, then at most 64 records (~130 ms here) before the
    // dispatcher sees the stop flag, plus the final flushes.
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    drop(store);

    let store = open(dir.path());
    settle(&store);
    for q in 0..QUEUES {
        let got = read_queue(&store, TOPIC, q);
        assert_eq!(got.len() as i64, PER_QUEUE, "queue {q}");
        for (qo, rec) in got {
            let body = format!("q{q}-m{qo}");
            assert_eq!(decode(&rec).body.as_ref(), body.as_bytes());
        }
    }
}

#[test]
fn the_backlog_is_really_left_behind_at_shutdown() {
    // Guards the test above against passing vacuously: with the delay,
    // dispatch is far behind when shutdown's wait begins.
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    store.set_dispatch_delay_for_test(DELAY);
    for i in 0..PER_QUEUE {
        put_ok(&store, &msg(TOPIC, 0, format!("m{i}").as_bytes(), "", &[]));
    }
    assert!(!store.wait_dispatched_all(Duration::from_millis(100)));
    assert!(store.dispatch_behind_bytes() > 0);
    store.simulate_crash();
}
