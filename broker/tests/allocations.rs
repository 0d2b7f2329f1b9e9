#![allow(clippy::unwrap_used)]
//! Heap allocations per steady-state SEND_MESSAGE_V2 and PULL_MESSAGE,
//! counted by a global allocator wrapper in this test binary of its own (the
//! team's standard: no per-message allocation on the hot path). Only the
//! threads of each test's broker runtime count, each test into its own
//! counter: they decode the frame, run the processor and the store's put or
//! read, and encode and write the answer. The load comes from a plain
//! blocking socket on a thread of its own, and the store's own threads
//! (flushers, the dispatcher to ConsumeQueue and index) are not counted.

mod support;

use skylark_testkit::alloc_count::CountingAlloc;
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use skylark_protocol::message::Properties;
use skylark_protocol::message::property::UNIQ_KEY;
use skylark_protocol::{RemotingCodec, RemotingCommand, RequestCode, SerializeType};
use support::{TestBroker, pull_header, send_request};
use tokio::runtime::Runtime;
use tokio_util::codec::Encoder;

thread_local! {
    /// The counter of the broker runtime this thread belongs to, set as it starts.
    static COUNTER: Cell<Option<&'static AtomicU64>> = const { Cell::new(None) };
}

fn count() {
    if let Ok(Some(counter)) = COUNTER.try_with(Cell::get) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts every allocation and reallocation of the counted threads.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc(count);

/// A two-worker runtime whose threads count their allocations into `counter`.
fn counted_runtime(counter: &'static AtomicU64) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || COUNTER.with(|c| c.set(Some(counter))))
        .build()
        .unwrap()
}

/// `request` as a ROCKETMQ-serialized frame.
fn frame(mut request: RemotingCommand) -> Vec<u8> {
    request.serialize_type = SerializeType::RocketMq;
    let mut frame = BytesMut::new();
    RemotingCodec::default()
        .encode(&request, &mut frame)
        .unwrap();
    frame.to_vec()
}

/// Reads one answer into `read` and returns its code (binary header).
fn read_answer(stream: &mut TcpStream, read: &mut Vec<u8>) -> u16 {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let len = u32::from_be_bytes(len) as usize;
    read.resize(len, 0);
    stream.read_exact(&mut read[..len]).unwrap();
    // After the header word comes the code.
    u16::from_be_bytes([read[4], read[5]])
}

/// A pre-encoded 1 KiB send to queue 0 of `topic`, with tags and a UNIQ_KEY.
fn send_frame(topic: &str) -> Vec<u8> {
    let mut properties = Properties::new();
    properties.set_tags("TagA");
    properties.insert(UNIQ_KEY, "7F00000100002A9F0000000000000001");
    frame(send_request(topic, 0, properties, &[b'x'; 1024]))
}

/// Requests kept in flight on the connection, as a pipelining client does.
const DEPTH: usize = 32;
/// Sends before counting: topic creation, buffers growing to their size.
const WARMUP: usize = 4096;
/// Sends counted.
const MEASURED: usize = 8192;

/// Sends `n` pre-encoded SEND_MESSAGE_V2 frames, `DEPTH` at a time, each with
/// its own opaque, and reads the answers; allocates nothing itself once
/// `frame` and `read` are built.
fn pipeline(
    stream: &mut TcpStream,
    frame: &mut [u8],
    read: &mut Vec<u8>,
    n: usize,
    next: &mut i32,
) {
    // The opaque's offset in a ROCKETMQ frame: length, header word, code,
    // language, version.
    const OPAQUE_AT: usize = 4 + 4 + 2 + 1 + 2;
    let mut sent = 0;
    while sent < n {
        let batch = DEPTH.min(n - sent);
        for _ in 0..batch {
            frame[OPAQUE_AT..OPAQUE_AT + 4].copy_from_slice(&next.to_be_bytes());
            *next += 1;
            stream.write_all(frame).unwrap();
        }
        for _ in 0..batch {
            assert_eq!(read_answer(stream, read), 0, "a send failed");
        }
        sent += batch;
    }
}

/// Steady-state allocations per single send, on the broker's threads:
///
/// 1. the request's future, boxed so that the connection's reader can poll
///    it once and answer at once, or hand it to a task of its own when it
///    waits (skylark-remoting; an ASYNC_FLUSH send answers at once, so no
///    task is spawned);
/// 2. the record's topic `String` (`Message::topic` is owned: the record
///    outlives the frame in timer and schedule re-puts).
///
/// The `extFields` vectors of the request and the response and the message's
/// `Properties` pair vector are recycled per thread (skylark-protocol's
/// `pair_pool`). The half a send more allowed is the broker's periodic tasks
/// (timer checkpoint, metrics) running on the same threads meanwhile.
const PINNED_PER_SEND: f64 = 2.5;

#[test]
fn a_steady_state_send_allocates_at_most_the_pinned_count() {
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    let runtime = counted_runtime(&ALLOCATIONS);
    let broker = runtime.block_on(TestBroker::start(|_| {}));
    let addr = broker.addr.clone();
    let (warm, measured) = std::thread::spawn(move || {
        let mut frame = send_frame("AllocTopic");
        let mut read = Vec::with_capacity(4096);
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut opaque = 1;
        pipeline(&mut stream, &mut frame, &mut read, WARMUP, &mut opaque);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        pipeline(&mut stream, &mut frame, &mut read, MEASURED, &mut opaque);
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        (before, after - before)
    })
    .join()
    .unwrap();
    let per_send = measured as f64 / MEASURED as f64;
    eprintln!(
        "allocations: {warm} during start-up and warm-up, {measured} over {MEASURED} sends: {per_send:.2} per send"
    );
    runtime.block_on(broker.stop());
    assert!(
        per_send <= PINNED_PER_SEND,
        "{per_send:.2} allocations per steady-state send, more than the {PINNED_PER_SEND} pinned"
    );
}

/// Records per full pull (what Java consumers ask for by default).
const PER_PULL: usize = 32;
/// Pulls of each size before counting, and pulls of each size counted.
const PULL_WARMUP: usize = 64;
const PULLS_MEASURED: usize = 192;

/// Steady-state allocations per pull, whatever it returns: decoding the
/// request's header fields and subscription, the ConsumeQueue entries read,
/// the result's two vectors (sized once), the response header, the metrics'
/// labels and the request's future. Measured: 24.0.
const PINNED_PER_PULL: f64 = 28.0;

/// Allocations per record beyond the first in a pull: none (a record is a
/// view of the mapped CommitLog, a reference count). The allowance covers
/// the broker's periodic tasks running on the same threads meanwhile.
const PINNED_PER_EXTRA_RECORD: f64 = 0.05;

#[test]
fn a_steady_state_pull_allocates_per_pull_not_per_record() {
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    let runtime = counted_runtime(&ALLOCATIONS);
    let broker = runtime.block_on(TestBroker::start(|_| {}));
    let addr = broker.addr.clone();
    let total = (PULL_WARMUP + PULLS_MEASURED) * PER_PULL;
    let [(singles, _), (fulls, bytes)] = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut read = Vec::with_capacity(64 * 1024);
        let mut opaque = 1;
        let mut send = send_frame("PullAllocTopic");
        pipeline(&mut stream, &mut send, &mut read, total, &mut opaque);
        // Each request is encoded here, on the client's thread, which does
        // not count.
        let mut pull = |offset: usize, max: usize, read: &mut Vec<u8>| {
            let mut header =
                pull_header("PullAllocGroup", "PullAllocTopic", 0, offset as i64, "*", 0);
            header.max_msg_nums = max as i32;
            let request = RemotingCommand::request(RequestCode::PULL_MESSAGE, &header);
            stream.write_all(&frame(request)).unwrap();
            read_answer(&mut stream, read)
        };
        // Dispatch runs behind the put: wait (hang guard) until the last
        // record is pullable.
        let deadline = Instant::now() + Duration::from_secs(30);
        while pull(total - 1, 1, &mut read) != 0 {
            assert!(
                Instant::now() < deadline,
                "the records were never dispatched"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Pulls of one record, then of 32, walking the queue; each counted
        // after a warm-up of its own.
        [1, PER_PULL].map(|max| {
            for i in 0..PULL_WARMUP {
                assert_eq!(
                    pull(i * PER_PULL, max, &mut read),
                    0,
                    "a pull found nothing"
                );
            }
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            let mut bytes = 0;
            for i in PULL_WARMUP..PULL_WARMUP + PULLS_MEASURED {
                assert_eq!(
                    pull(i * PER_PULL, max, &mut read),
                    0,
                    "a pull found nothing"
                );
                bytes += read.len();
            }
            (ALLOCATIONS.load(Ordering::Relaxed) - before, bytes)
        })
    })
    .join()
    .unwrap();
    runtime.block_on(broker.stop());
    let per_pull = fulls as f64 / PULLS_MEASURED as f64;
    let extra_records = (PULLS_MEASURED * (PER_PULL - 1)) as f64;
    let per_extra_record = (fulls as f64 - singles as f64).max(0.0) / extra_records;
    eprintln!(
        "allocations: {singles} over {PULLS_MEASURED} pulls of 1 record, {fulls} over \
         {PULLS_MEASURED} pulls of {PER_PULL} ({bytes} bytes answered): {per_pull:.2} per \
         pull, {per_extra_record:.3} per record beyond the first"
    );
    assert!(
        bytes >= PULLS_MEASURED * PER_PULL * 1024,
        "the pulls did not return {PER_PULL} records each ({bytes} bytes)"
    );
    assert!(
        per_pull <= PINNED_PER_PULL,
        "{per_pull:.2} allocations per steady-state pull, more than the {PINNED_PER_PULL} pinned"
    );
    assert!(
        per_extra_record <= PINNED_PER_EXTRA_RECORD,
        "{per_extra_record:.3} allocations per pulled record, more than the \
         {PINNED_PER_EXTRA_RECORD} pinned"
    );
}
