#![allow(clippy::unwrap_used)]
//! Heap allocations per steady-state SEND_MESSAGE_V2, counted by a global
//! allocator wrapper in this test binary of its own (the team's standard: no
//! per-message allocation on the hot path). Only the threads of the broker's
//! tokio runtime count: they decode the frame, run the processor and the
//! store's put, and encode and write the answer. The load comes from a plain
//! blocking socket on a thread of its own, and the store's own threads
//! (flushers, the dispatcher to ConsumeQueue and index) are not counted.

mod support;

use skylark_testkit::alloc_count::CountingAlloc;
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use skylark_protocol::message::Properties;
use skylark_protocol::message::property::UNIQ_KEY;
use skylark_protocol::{RemotingCodec, SerializeType};
use support::{TestBroker, send_request};
use tokio_util::codec::Encoder;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the broker runtime's threads as they start.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts every allocation and reallocation of the counted threads.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc(count);

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
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).unwrap();
            let len = u32::from_be_bytes(len) as usize;
            read.resize(len, 0);
            stream.read_exact(&mut read[..len]).unwrap();
            // Header word, then code 0 (SUCCESS) in the binary header.
            assert_eq!(&read[4..6], &[0, 0], "a send failed");
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| COUNTED.with(|c| c.set(true)))
        .build()
        .unwrap();
    let broker = runtime.block_on(TestBroker::start(|_| {}));
    let addr = broker.addr.clone();
    let (warm, measured) = std::thread::spawn(move || {
        let mut properties = Properties::new();
        properties.set_tags("TagA");
        properties.insert(UNIQ_KEY, "7F00000100002A9F0000000000000001");
        let mut request = send_request("AllocTopic", 0, properties, &[b'x'; 1024]);
        request.serialize_type = SerializeType::RocketMq;
        let mut frame = BytesMut::new();
        RemotingCodec::default()
            .encode(&request, &mut frame)
            .unwrap();
        let mut frame = frame.to_vec();
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
