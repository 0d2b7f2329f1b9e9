#![allow(clippy::unwrap_used)]
//! Server behaviour: round trips, pipelining, isolation of bad connections,
//! server-initiated requests and graceful shutdown.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BLOCK, CALL_BACK, ClientSide, PANIC, PARTS, echo, eventually, start, start_at};
use futures::future::join_all;
use skylark_protocol::{RemotingCodec, RemotingCommand, RequestCode, ResponseCode, SerializeType};
use skylark_remoting::{ClientConfig, RemotingClient, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder};

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn round_trip_in_both_serializations() {
    let server = start().await;
    let client = RemotingClient::default();
    for ser in [SerializeType::Json, SerializeType::RocketMq] {
        let mut request = echo(&b"hello"[..]);
        request.serialize_type = ser;
        request.set_ext("topic", "t1");
        let response = client.invoke(&server.addr(), request, T).await.unwrap();
        assert_eq!(response.response_code(), ResponseCode::SUCCESS);
        assert!(response.is_response());
        assert_eq!(response.serialize_type, ser);
        assert_eq!(&response.body[..], b"hello");
    }
    // Unknown codes are the handler's business: REQUEST_CODE_NOT_SUPPORTED.
    let unknown = RemotingCommand::bare_request(RequestCode::Unknown(4242));
    let response = client.invoke(&server.addr(), unknown, T).await.unwrap();
    assert_eq!(
        response.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    assert!(response.remark.unwrap().contains("4242"));
    server.shutdown().await;
}

#[tokio::test]
async fn responses_may_be_sent_in_parts_by_the_handler() {
    let server = start().await;
    let client = RemotingClient::default();
    for ser in [SerializeType::Json, SerializeType::RocketMq] {
        let mut request = RemotingCommand::bare_request(PARTS);
        request.serialize_type = ser;
        let response = client.invoke(&server.addr(), request, T).await.unwrap();
        assert_eq!(response.ext("parts"), Some("3"));
        assert_eq!(response.serialize_type, ser);
        assert_eq!(response.body.len(), 5 + 100_000 + 5);
        assert!(response.body.starts_with(b"head-b") && response.body.ends_with(b"b-tail"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn oneway_requests_are_handled_but_never_answered() {
    let server = start().await;
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    let mut codec = RemotingCodec::default();
    let mut out = bytes::BytesMut::new();
    codec
        .encode(echo(&b"x"[..]).with_opaque(1).into_oneway(), &mut out)
        .unwrap();
    // A two-way request after it: its answer must be the first frame back.
    codec
        .encode(echo(&b"y"[..]).with_opaque(2), &mut out)
        .unwrap();
    socket.write_all(&out).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let response = loop {
        if let Some(cmd) = codec.decode(&mut buf).unwrap() {
            break cmd;
        }
        let n = tokio::time::timeout(T, socket.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "server closed the connection");
    };
    assert_eq!(response.opaque, 2);
    eventually("oneway handled", || {
        server.handler.oneways.load(Ordering::SeqCst) == 1
    })
    .await;
    // Nothing else arrives.
    let extra = tokio::time::timeout(Duration::from_millis(100), socket.read_buf(&mut buf)).await;
    assert!(
        extra.is_err() && buf.is_empty(),
        "unexpected bytes: {buf:?}"
    );
    // Through the client too.
    let client = RemotingClient::default();
    client
        .invoke_oneway(&server.addr(), echo(&b"z"[..]))
        .await
        .unwrap();
    eventually("second oneway", || {
        server.handler.oneways.load(Ordering::SeqCst) == 2
    })
    .await;
    drop(socket);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_pipelined_requests_return_out_of_order_to_their_callers() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let order = Arc::new(Mutex::new(Vec::new()));
    let calls = (0..1000u32).map(|i| {
        let client = client.clone();
        let addr = addr.clone();
        let order = order.clone();
        async move {
            let mut request = echo(i.to_be_bytes().to_vec());
            if i % 10 == 0 {
                // Early requests answered late: responses overtake them.
                request.set_ext("delayMs", "50");
            }
            let response = client.invoke(&addr, request, T).await.unwrap();
            assert_eq!(&response.body[..], &i.to_be_bytes());
            order.lock().unwrap().push(i);
        }
    });
    join_all(calls).await;
    let order = std::mem::take(&mut *order.lock().unwrap());
    assert_eq!(order.len(), 1000);
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "responses came in order"
    );
    // All on one connection.
    assert_eq!(server.stats.snapshot().connections_accepted, 1);
    assert_eq!(server.stats.snapshot().requests, 1000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_round_trip_among_small_ones() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let calls = (0..24u32).map(|i| {
        let client = client.clone();
        let addr = addr.clone();
        async move {
            // Every fourth body is 6 MiB: written from its own buffer, in
            // many partial writes, between coalesced small frames.
            let len = if i % 4 == 0 { 6 << 20 } else { 100 };
            let body: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
            let response = client.invoke(&addr, echo(body.clone()), T).await.unwrap();
            assert!(response.body == body, "body {i} corrupted");
        }
    });
    join_all(calls).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_request_does_not_block_the_connection() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let slow = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .invoke(&addr, RemotingCommand::bare_request(BLOCK), T)
                .await
        })
    };
    eventually("slow request running", || {
        server.handler.in_handler.load(Ordering::SeqCst) == 1
    })
    .await;
    for i in 0..20u8 {
        let response = client.invoke(&addr, echo(vec![i]), T).await.unwrap();
        assert_eq!(&response.body[..], &[i]);
    }
    assert!(!slow.is_finished());
    server.handler.release.notify_waiters();
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    server.shutdown().await;
}

/// Connects and writes `bytes`; returns whether the server closed the
/// connection afterwards.
async fn send_garbage(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    let Ok(mut socket) = TcpStream::connect(addr).await else {
        return false;
    };
    if socket.write_all(bytes).await.is_err() {
        return true;
    }
    let mut sink = [0u8; 256];
    loop {
        match tokio::time::timeout(T, socket.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_frames_close_only_their_connection() {
    let server = start_at(
        "127.0.0.1:0",
        ServerConfig {
            max_frame_len: 1 << 20,
            ..ServerConfig::default()
        },
    )
    .await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let garbage: Vec<Vec<u8>> = vec![
        u32::MAX.to_be_bytes().to_vec(),               // oversized length
        (2u32 << 20).to_be_bytes().to_vec(),           // just over the max
        vec![0, 0, 0, 2, 0, 0],                        // shorter than its header word
        vec![0, 0, 0, 5, 7, 0, 0, 1, b'{'],            // unknown serialize type
        vec![0, 0, 0, 6, 0, 0, 0, 2, b'{', b'x'],      // broken JSON header
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), // wrong protocol
        // A plausible frame whose header is noise.
        [0, 0, 0, 100, 0, 0, 0, 60]
            .into_iter()
            .chain((0..96u8).map(|i| i.wrapping_mul(37)))
            .collect(),
    ];
    let flood = {
        let garbage = garbage.clone();
        let addr = server.addr;
        tokio::spawn(async move {
            let mut closed = 0;
            for _ in 0..10 {
                let batch = garbage.iter().map(|g| send_garbage(addr, g));
                closed += join_all(batch).await.into_iter().filter(|c| *c).count();
            }
            closed
        })
    };
    for i in 0..100u32 {
        let response = client
            .invoke(&addr, echo(i.to_be_bytes().to_vec()), T)
            .await
            .unwrap();
        assert_eq!(&response.body[..], &i.to_be_bytes());
    }
    let closed = flood.await.unwrap();
    assert_eq!(closed, garbage.len() * 10, "every bad connection is closed");
    assert_eq!(
        server.stats.snapshot().decode_errors,
        (garbage.len() * 10) as u64
    );
    // The good connection survived all of it.
    assert_eq!(client.connected_addrs(), vec![addr.clone()]);
    client.invoke(&addr, echo(&b"after"[..]), T).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn server_initiated_oneway_and_invoke_reach_the_client() {
    let server = start().await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let client = RemotingClient::default();
    client.set_request_handler(Arc::new(ClientSide { seen: seen_tx }));
    let conn = client.connection(&server.addr()).await.unwrap();
    eventually("registered", || server.registry.len() == 1).await;
    let server_side = server.registry.by_remote(conn.local_addr()).unwrap();
    assert_eq!(server_side.remote_addr(), conn.local_addr());
    assert_eq!(
        server.registry.get(server_side.id()).unwrap().id(),
        server_side.id()
    );

    server_side
        .send_oneway(RemotingCommand::bare_request(
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
        ))
        .await
        .unwrap();
    let got = tokio::time::timeout(T, seen.recv()).await.unwrap().unwrap();
    assert_eq!(got.request_code(), RequestCode::NOTIFY_CONSUMER_IDS_CHANGED);
    assert!(got.is_oneway());

    let mut ask = RemotingCommand::bare_request(RequestCode::GET_CONSUMER_RUNNING_INFO);
    ask.serialize_type = SerializeType::RocketMq;
    let answer = server_side.invoke(ask, T).await.unwrap();
    assert_eq!(answer.response_code(), ResponseCode::SUCCESS);
    assert_eq!(&answer.body[..], b"running-info");
    assert_eq!(answer.serialize_type, SerializeType::RocketMq);

    // A handler may call back over the connection its request came on.
    let response = client
        .invoke(&server.addr(), RemotingCommand::bare_request(CALL_BACK), T)
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"running-info");

    // A client without a handler answers REQUEST_CODE_NOT_SUPPORTED.
    let bare = RemotingClient::default();
    let conn = bare.connection(&server.addr()).await.unwrap();
    eventually("registered", || server.registry.len() == 2).await;
    let server_side = server.registry.by_remote(conn.local_addr()).unwrap();
    let answer = server_side
        .invoke(
            RemotingCommand::bare_request(RequestCode::GET_CONSUMER_RUNNING_INFO),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        answer.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    server.shutdown().await;
}

#[tokio::test]
async fn overload_and_panics_get_answers() {
    let server = start_at(
        "127.0.0.1:0",
        ServerConfig {
            max_in_flight_per_connection: 2,
            ..ServerConfig::default()
        },
    )
    .await;
    let addr = server.addr();
    let client = RemotingClient::new(ClientConfig::default());
    // Two blocked requests fill the connection; the third is refused.
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            let addr = addr.clone();
            tokio::spawn(async move {
                client
                    .invoke(&addr, RemotingCommand::bare_request(BLOCK), T)
                    .await
            })
        })
        .collect();
    eventually("two running", || {
        server.handler.in_handler.load(Ordering::SeqCst) == 2
    })
    .await;
    let busy = client.invoke(&addr, echo(&b""[..]), T).await.unwrap();
    assert_eq!(busy.response_code(), ResponseCode::SYSTEM_BUSY);
    server.handler.release.notify_waiters();
    for b in blocked {
        assert_eq!(
            b.await.unwrap().unwrap().response_code(),
            ResponseCode::SUCCESS
        );
    }
    // A panicking handler yields SYSTEM_ERROR, and the connection lives on.
    let failed = client
        .invoke(&addr, RemotingCommand::bare_request(PANIC), T)
        .await
        .unwrap();
    assert_eq!(failed.response_code(), ResponseCode::SYSTEM_ERROR);
    client.invoke(&addr, echo(&b"ok"[..]), T).await.unwrap();
    let stats = server.stats.snapshot();
    assert_eq!((stats.busy_rejections, stats.handler_panics), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let server = start_at(
        "127.0.0.1:0",
        ServerConfig {
            idle_timeout: Some(Duration::from_millis(300)),
            ..ServerConfig::default()
        },
    )
    .await;
    let addr = server.addr();
    let client = RemotingClient::default();
    // Requests keep it open past the timeout...
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        client.invoke(&addr, echo(&b"ok"[..]), T).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.stats.snapshot().connections_accepted, 1);
    // Left alone, the connection is closed for idleness.
    let conn = client.connection(&addr).await.unwrap();
    tokio::time::timeout(T, conn.closed()).await.unwrap();
    eventually("idle close counted", || {
        server.stats.snapshot().idle_closed == 1
    })
    .await;
    eventually("registry emptied", || server.registry.is_empty()).await;
    assert_eq!(server.stats.live_connections(), 0);
    // And the client reconnects on next use.
    client.invoke(&addr, echo(&b"again"[..]), T).await.unwrap();
    server.shutdown().await;
}
