#![allow(clippy::unwrap_used)]
//! Graceful shutdown: in-flight requests finish, new ones are refused with
//! GO_AWAY or SYSTEM_BUSY, oneways still run, stuck connections are closed.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{BLOCK, echo, eventually, start, start_at};
use skylark_protocol::{RemotingCodec, RemotingCommand, ResponseCode};
use skylark_remoting::{RemotingClient, RemotingError, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

const T: Duration = Duration::from_secs(5);

/// A raw connection speaking frames, to control versions and watch for EOF.
struct Raw {
    socket: TcpStream,
    codec: RemotingCodec,
    buf: bytes::BytesMut,
}

impl Raw {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        Self {
            socket: TcpStream::connect(addr).await.unwrap(),
            codec: RemotingCodec::default(),
            buf: bytes::BytesMut::new(),
        }
    }

    async fn send(&mut self, cmd: RemotingCommand) {
        let mut out = bytes::BytesMut::new();
        self.codec.encode(cmd, &mut out).unwrap();
        self.socket.write_all(&out).await.unwrap();
    }

    /// The next frame, or `None` at EOF.
    async fn next(&mut self) -> Option<RemotingCommand> {
        loop {
            if let Some(cmd) = self.codec.decode(&mut self.buf).unwrap() {
                return Some(cmd);
            }
            let n = tokio::time::timeout(T, self.socket.read_buf(&mut self.buf))
                .await
                .unwrap()
                .unwrap();
            if n == 0 {
                return None;
            }
        }
    }
}

#[tokio::test]
async fn graceful_shutdown_completes_in_flight_requests() {
    let server = start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let handler = server.handler.clone();
    let pending = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut request = echo(&b"in-flight"[..]);
            request.set_ext("delayMs", "200");
            client.invoke(&addr, request, T).await
        })
    };
    eventually("request running", || {
        handler.in_handler.load(Ordering::SeqCst) == 1
    })
    .await;
    let started = Instant::now();
    server.shutdown().await;
    let response = pending.await.unwrap().unwrap();
    assert_eq!(&response.body[..], b"in-flight");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(handler.closes.load(Ordering::SeqCst), 1);
    // Nothing listens any more.
    let err = client
        .invoke(&addr, echo(&b"late"[..]), T)
        .await
        .unwrap_err();
    assert!(err.is_connection_error(), "{err}");
}

#[tokio::test]
async fn draining_refuses_new_requests_but_runs_oneways() {
    let server = start().await;
    let handler = server.handler.clone();
    let addr = server.addr;
    let mut raw = Raw::connect(addr).await;
    raw.send(RemotingCommand::bare_request(BLOCK).with_opaque(1))
        .await;
    eventually("request running", || {
        handler.in_handler.load(Ordering::SeqCst) == 1
    })
    .await;
    let serving = server.begin_shutdown();
    // Once the listener is gone, the drain has begun.
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut modern = echo(&b""[..]).with_opaque(2);
    modern.version = 479;
    raw.send(modern).await;
    let mut old = echo(&b""[..]).with_opaque(3);
    old.version = 401;
    raw.send(old).await;
    raw.send(echo(&b""[..]).with_opaque(4).into_oneway()).await;
    let go_away = raw.next().await.unwrap();
    assert_eq!(
        (go_away.opaque, go_away.response_code()),
        (2, ResponseCode::GO_AWAY)
    );
    let busy = raw.next().await.unwrap();
    assert_eq!(
        (busy.opaque, busy.response_code()),
        (3, ResponseCode::SYSTEM_BUSY)
    );
    eventually("oneway handled while draining", || {
        handler.oneways.load(Ordering::SeqCst) == 1
    })
    .await;
    handler.release.notify_waiters();
    let done = raw.next().await.unwrap();
    assert_eq!(
        (done.opaque, done.response_code()),
        (1, ResponseCode::SUCCESS)
    );
    assert!(
        raw.next().await.is_none(),
        "the server closes after the drain"
    );
    drop(raw);
    tokio::time::timeout(T, serving).await.unwrap().unwrap();
}

#[tokio::test]
async fn go_away_makes_the_client_reconnect() {
    let server = start().await;
    let handler = server.handler.clone();
    let addr = server.addr();
    let client = RemotingClient::default();
    let first = client.connection(&addr).await.unwrap();
    let blocked = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .invoke(&addr, RemotingCommand::bare_request(BLOCK), T)
                .await
        })
    };
    eventually("request running", || {
        handler.in_handler.load(Ordering::SeqCst) == 1
    })
    .await;
    let serving = server.begin_shutdown();
    let answer = loop {
        // Until the drain has begun requests are still served normally.
        let answer = client.invoke(&addr, echo(&b""[..]), T).await.unwrap();
        if answer.response_code() == ResponseCode::GO_AWAY {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(answer.remark.as_deref(), Some("please go away"));
    // The old connection still finishes its request; new uses reconnect
    // (and find nobody listening).
    handler.release.notify_waiters();
    assert_eq!(
        blocked.await.unwrap().unwrap().response_code(),
        ResponseCode::SUCCESS
    );
    let err = client.invoke(&addr, echo(&b""[..]), T).await.unwrap_err();
    assert!(err.is_connection_error(), "{err}");
    tokio::time::timeout(T, first.closed()).await.unwrap();
    tokio::time::timeout(T, serving).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_deadline_closes_stuck_connections() {
    let server = start_at(
        "127.0.0.1:0",
        ServerConfig {
            shutdown_timeout: Duration::from_millis(100),
            ..ServerConfig::default()
        },
    )
    .await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let handler = server.handler.clone();
    let stuck = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .invoke(&addr, RemotingCommand::bare_request(BLOCK), T)
                .await
        })
    };
    eventually("request running", || {
        handler.in_handler.load(Ordering::SeqCst) == 1
    })
    .await;
    server.shutdown().await;
    let err = stuck.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    handler.release.notify_waiters();
}
