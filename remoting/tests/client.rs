#![allow(clippy::unwrap_used)]
//! Client behaviour: timeouts, refused connects, lost connections, reconnects.

mod common;

use std::time::{Duration, Instant};

use common::{BLOCK, echo, start, start_at};
use skylark_protocol::{RemotingCodec, RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ClientConfig, RemotingClient, RemotingError, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::codec::FramedRead;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn invoke_times_out_and_the_connection_stays_usable() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let mut slow = echo(&b"slow"[..]);
    slow.set_ext("delayMs", "1000");
    let started = Instant::now();
    let err = client
        .invoke(&addr, slow, Duration::from_millis(50))
        .await
        .unwrap_err();
    let RemotingError::Timeout { code, elapsed, .. } = &err else {
        panic!("expected a timeout, got {err}");
    };
    assert_eq!(*code, RequestCode::HEART_BEAT);
    assert!(
        *elapsed >= Duration::from_millis(50) && started.elapsed() < Duration::from_millis(900)
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    // The late response is dropped; later requests get their own answers.
    for i in 0..5u8 {
        let response = client.invoke(&addr, echo(vec![i]), T).await.unwrap();
        assert_eq!(&response.body[..], &[i]);
    }
    // Once the late response has been sent (and dropped by the client)...
    common::eventually("slow request done", || {
        server
            .handler
            .in_handler
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = client.invoke(&addr, echo(&b"after"[..]), T).await.unwrap();
    assert_eq!(&response.body[..], b"after");
    server.shutdown().await;
}

#[tokio::test]
async fn refused_connects_fail_fast_then_back_off() {
    // A port that was just free: nothing listens on it.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let client = RemotingClient::new(ClientConfig {
        reconnect_backoff: Duration::from_millis(100),
        ..ClientConfig::default()
    });
    let started = Instant::now();
    let err = client.invoke(&addr, echo(&b""[..]), T).await.unwrap_err();
    assert!(matches!(err, RemotingError::ConnectFailed { .. }), "{err}");
    assert!(err.to_string().contains(&addr), "{err}");
    assert!(err.is_connection_error());
    // Within the backoff the client does not even try.
    let err = client.invoke(&addr, echo(&b""[..]), T).await.unwrap_err();
    assert!(matches!(err, RemotingError::Unreachable { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Once something listens and the backoff has passed, it connects.
    let server = start_at(&addr, ServerConfig::default()).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    client.invoke(&addr, echo(&b"up"[..]), T).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_dying_server_fails_pending_invokes_at_once() {
    // A "server" that reads one request and then drops the socket.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let fake = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut frames = FramedRead::new(socket, RemotingCodec::default());
        let request = futures::StreamExt::next(&mut frames)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(request.request_code(), RequestCode::HEART_BEAT);
    });
    let client = RemotingClient::default();
    let started = Instant::now();
    let err = client
        .invoke(&addr, echo(&b"doomed"[..]), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    fake.await.unwrap();

    // Several pipelined invokes all fail when a real server's connection drops.
    let server = start().await;
    let addr = server.addr();
    let blocked: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let addr = addr.clone();
            tokio::spawn(async move {
                client
                    .invoke(
                        &addr,
                        RemotingCommand::bare_request(BLOCK),
                        Duration::from_secs(30),
                    )
                    .await
            })
        })
        .collect();
    common::eventually("all blocked", || {
        server
            .handler
            .in_handler
            .load(std::sync::atomic::Ordering::SeqCst)
            == 8
    })
    .await;
    let started = Instant::now();
    for conn in server.registry.all() {
        conn.close();
    }
    for b in blocked {
        let err = b.await.unwrap().unwrap_err();
        assert!(
            matches!(err, RemotingError::ConnectionClosed { .. }),
            "{err}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    server.handler.release.notify_waiters();
    server.shutdown().await;
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() {
    let server = start().await;
    let addr = server.addr();
    let client = RemotingClient::default();
    client.invoke(&addr, echo(&b"one"[..]), T).await.unwrap();
    let first = client.connection(&addr).await.unwrap();
    server.shutdown().await;
    // The client notices the close by itself (FIN from the drain).
    tokio::time::timeout(T, first.closed()).await.unwrap();
    assert!(client.connected_addrs().is_empty());
    let server = start_at(&addr, ServerConfig::default()).await;
    let response = client.invoke(&addr, echo(&b"two"[..]), T).await.unwrap();
    assert_eq!(&response.body[..], b"two");
    let second = client.connection(&addr).await.unwrap();
    assert_ne!(first.id(), second.id());
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_first_uses_share_one_connection() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let calls = (0..50u8).map(|i| {
        let client = client.clone();
        let addr = addr.clone();
        async move { client.invoke(&addr, echo(vec![i]), T).await.unwrap() }
    });
    let responses = futures::future::join_all(calls).await;
    assert!(
        responses
            .iter()
            .all(|r| r.response_code() == ResponseCode::SUCCESS)
    );
    assert_eq!(server.stats.snapshot().connections_accepted, 1);
    client.shutdown();
    let err = client.invoke(&addr, echo(&b""[..]), T).await.unwrap_err();
    assert!(matches!(err, RemotingError::Shutdown), "{err}");
    common::eventually("server saw the close", || server.registry.is_empty()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unencodable_requests_fail_at_once() {
    let server = start().await;
    let client = RemotingClient::default();
    // POP codes do not fit the binary header.
    let mut pop = RemotingCommand::bare_request(RequestCode::POP_MESSAGE);
    pop.serialize_type = skylark_protocol::SerializeType::RocketMq;
    let started = Instant::now();
    let err = client.invoke(&server.addr(), pop, T).await.unwrap_err();
    assert!(matches!(err, RemotingError::Encode { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // The connection is unharmed.
    client
        .invoke(&server.addr(), echo(&b"ok"[..]), T)
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn responses_to_unknown_opaques_are_ignored() {
    // A server that answers with a wrong opaque first, then the right one.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (rd, wr) = socket.into_split();
        let mut frames = FramedRead::new(rd, RemotingCodec::default());
        let mut sink = tokio_util::codec::FramedWrite::new(wr, RemotingCodec::default());
        let request = futures::StreamExt::next(&mut frames)
            .await
            .unwrap()
            .unwrap();
        let stray = RemotingCommand::response_to(&request, ResponseCode::SYSTEM_ERROR)
            .with_opaque(request.opaque + 1000);
        let right = RemotingCommand::response_to(&request, ResponseCode::SUCCESS);
        futures::SinkExt::send(&mut sink, stray).await.unwrap();
        futures::SinkExt::send(&mut sink, right).await.unwrap();
        // Keep the socket open until the client is done.
        let _ = futures::StreamExt::next(&mut frames).await;
    });
    let client = RemotingClient::default();
    let response = client.invoke(&addr, echo(&b""[..]), T).await.unwrap();
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
}
