#![allow(clippy::unwrap_used)]
//! `MessageStore::put_message` throughput with ASYNC_FLUSH, for manual runs:
//! `cargo test --release -p skylark-store --test store_put_throughput -- --ignored --nocapture`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use skylark_protocol::message::{Message, StoredMessage};
use skylark_store::MessageStore;
use skylark_store::config::{FlushDiskType, MessageStoreConfig};

/// A message whose stored record is exactly `record_len` bytes.
fn message(record_len: usize) -> StoredMessage {
    let born: SocketAddr = "192.168.0.7:40000".parse().unwrap();
    let host: SocketAddr = "10.0.0.1:10911".parse().unwrap();
    let make = |body: usize| {
        let m = Message::new("PutBench", vec![42u8; body])
            .with_tags("TagA")
            .with_keys(["order-1"]);
        let mut s = StoredMessage::new(m, born, host);
        s.queue_id = 1;
        s.born_timestamp = 1_700_000_000_000;
        s
    };
    let overhead = make(0).encoded_len();
    let m = make(record_len - overhead);
    assert_eq!(m.encoded_len(), record_len);
    m
}

/// CPU time of the calling thread (immune to other processes on a busy machine).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec that outlives the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
#[ignore = "measures throughput; run by hand in release mode"]
fn put_message_rate_1k_async_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = MessageStoreConfig::with_root(dir.path());
    config.mapped_file_size_commit_log = 512 * 1024 * 1024;
    config.flush_disk_type = FlushDiskType::AsyncFlush;
    let store = MessageStore::open(config).unwrap();
    let msg = message(1024);
    assert!(store.put_message(&msg).wait_blocking().is_stored());
    // Let the pre-allocator fault in the next file.
    std::thread::sleep(Duration::from_secs(2));
    let n: usize = std::env::var("PUT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    // Timed in chunks: on a shared machine the fastest chunks show what the
    // put path costs, the total what this run got.
    let chunk = 10_000;
    let mut chunks = Vec::with_capacity(n / chunk);
    let (started, cpu) = (Instant::now(), thread_cpu());
    for _ in 0..n / chunk {
        let t = Instant::now();
        for _ in 0..chunk {
            let r = store.put_message(&msg).wait_blocking();
            assert!(r.is_stored());
        }
        chunks.push(t.elapsed());
    }
    let n = n / chunk * chunk;
    let (elapsed, cpu) = (started.elapsed(), thread_cpu() - cpu);
    chunks.sort();
    let rate = |d: Duration, k: usize| k as f64 / d.as_secs_f64();
    eprintln!(
        "{n} put_message of 1024-byte records in {elapsed:?}: {:.0} msg/s overall; \
         chunks of {chunk}: best {:.0} msg/s, median {:.0} msg/s; \
         putting thread's CPU {:.0} ns/msg",
        rate(elapsed, n),
        rate(chunks[0], chunk),
        rate(chunks[chunks.len() / 2], chunk),
        cpu.as_nanos() as f64 / n as f64
    );
    store.shutdown();
}

/// The two put paths side by side on bare CommitLogs, in alternating chunks
/// so both see the same machine: encode into a buffer then copy it in (the
/// old path), versus encode straight into the mapping.
#[test]
#[ignore = "measures throughput; run by hand in release mode"]
fn two_copy_vs_in_place_commitlog_append() {
    use skylark_protocol::message::record::{BODY_CRC_POS, body_crc};
    use skylark_store::commitlog::{CommitLog, CommitLogOptions};

    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = 256 * 1024 * 1024;
    let two_copy = CommitLog::open(CommitLogOptions::new(a.path(), file)).unwrap();
    let in_place = CommitLog::open(CommitLogOptions::new(b.path(), file)).unwrap();
    let msg = message(1024);
    let mut buf = Vec::new();
    let old = |buf: &mut Vec<u8>| {
        buf.clear();
        msg.encode(buf).unwrap();
        let crc = body_crc(&msg.body).to_be_bytes();
        buf[BODY_CRC_POS..BODY_CRC_POS + 4].copy_from_slice(&crc);
        two_copy.append(buf).unwrap();
    };
    let new = || {
        let (len, flag, crc) = (
            msg.encoded_len(),
            msg.normalized_sys_flag(),
            body_crc(&msg.body),
        );
        in_place
            .append_with(len, &msg.topic, msg.queue_id, flag, |dst| {
                let mut out = &mut *dst;
                msg.encode(&mut out).unwrap();
                dst[BODY_CRC_POS..BODY_CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
                Ok(())
            })
            .unwrap();
    };
    old(&mut buf);
    new();
    std::thread::sleep(Duration::from_secs(2));
    let (chunk, rounds) = (10_000, 40);
    let (mut best_old, mut best_new) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..chunk {
            old(&mut buf);
        }
        best_old = best_old.min(t.elapsed());
        let t = Instant::now();
        for _ in 0..chunk {
            new();
        }
        best_new = best_new.min(t.elapsed());
    }
    let ns = |d: Duration| d.as_nanos() as f64 / chunk as f64;
    eprintln!(
        "1024-byte records, best of {rounds} chunks of {chunk}: two-copy {:.0} ns/append, \
         in place {:.0} ns/append",
        ns(best_old),
        ns(best_new)
    );
}
