//! Shared fixtures: a scriptable handler and a server runner.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{
    ConnectionHandle, ConnectionRegistry, RemotingServer, RequestHandler, ServerConfig,
    ServerStats, not_supported,
};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Echo code: answers SUCCESS with the request's body; extField `delayMs`
/// delays the answer.
pub const ECHO: RequestCode = RequestCode::HEART_BEAT;
/// Blocks until `TestHandler::release` is notified.
pub const BLOCK: RequestCode = RequestCode::PULL_MESSAGE;
/// Panics.
pub const PANIC: RequestCode = RequestCode::GET_BROKER_CONFIG;
/// Asks the peer back over the same connection (GET_CONSUMER_RUNNING_INFO)
/// and answers with the peer's body.
pub const CALL_BACK: RequestCode = RequestCode::GET_CONSUMER_LIST_BY_GROUP;

/// Answers through `send_response_parts`: body `head-`, 100 000 × `b`, `-tail`.
pub const PARTS: RequestCode = RequestCode::QUERY_MESSAGE;

/// A handler whose behaviour the request's code selects.
#[derive(Debug, Default)]
pub struct TestHandler {
    pub started: Notify,
    pub release: Notify,
    pub in_handler: AtomicUsize,
    pub oneways: AtomicUsize,
    pub oneway_seen: Notify,
    pub connects: AtomicUsize,
    pub closes: AtomicUsize,
    pub closed: Notify,
}

impl RequestHandler for TestHandler {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        if request.is_oneway() {
            self.oneways.fetch_add(1, Ordering::SeqCst);
            self.oneway_seen.notify_waiters();
            // Returned on purpose: the layer must not send it.
            return Some(RemotingCommand::response_to(
                &request,
                ResponseCode::SUCCESS,
            ));
        }
        self.in_handler.fetch_add(1, Ordering::SeqCst);
        let response = match request.request_code() {
            ECHO => {
                if let Some(ms) = request.ext("delayMs").and_then(|v| v.parse().ok()) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Some(
                    RemotingCommand::response_to(&request, ResponseCode::SUCCESS)
                        .with_body(request.body.clone()),
                )
            }
            BLOCK => {
                let released = self.release.notified();
                self.started.notify_waiters();
                released.await;
                Some(RemotingCommand::response_to(
                    &request,
                    ResponseCode::SUCCESS,
                ))
            }
            PANIC => panic!("test handler asked to panic"),
            PARTS => {
                let mut response = RemotingCommand::response_to(&request, ResponseCode::SUCCESS)
                    .with_body(&b"head-"[..]);
                response.set_ext("parts", "3");
                let parts = vec![
                    bytes::Bytes::from(vec![b'b'; 100_000]),
                    bytes::Bytes::from_static(b"-tail"),
                ];
                conn.send_response_parts(response, parts).await.ok();
                None
            }
            CALL_BACK => {
                let ask = RemotingCommand::bare_request(RequestCode::GET_CONSUMER_RUNNING_INFO);
                let answer = conn.invoke(ask, Duration::from_secs(5)).await;
                let body = answer.map(|a| a.body).unwrap_or_default();
                Some(RemotingCommand::response_to(&request, ResponseCode::SUCCESS).with_body(body))
            }
            _ => Some(not_supported(&request)),
        };
        self.in_handler.fetch_sub(1, Ordering::SeqCst);
        response
    }

    fn on_connect(&self, _conn: &ConnectionHandle) {
        self.connects.fetch_add(1, Ordering::SeqCst);
    }

    fn on_close(&self, _conn: &ConnectionHandle) {
        self.closes.fetch_add(1, Ordering::SeqCst);
        self.closed.notify_waiters();
    }
}

/// A server running in the background.
pub struct Running {
    pub addr: SocketAddr,
    pub handler: Arc<TestHandler>,
    pub registry: ConnectionRegistry,
    pub stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// The address as the client takes it.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Triggers graceful shutdown and waits for `serve` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("server did not stop")
            .unwrap();
    }

    /// Triggers shutdown and returns the serve task without waiting.
    pub fn begin_shutdown(mut self) -> JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
    }
}

/// Starts a server with `config` on `addr` (usually 127.0.0.1:0).
pub async fn start_at(addr: &str, config: ServerConfig) -> Running {
    let handler = Arc::new(TestHandler::default());
    let server = RemotingServer::bind(addr.to_owned(), handler.clone(), config)
        .await
        .unwrap();
    let addr = server.local_addr();
    let registry = server.registry();
    let stats = server.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        handler,
        registry,
        stats,
        stop: Some(stop),
        task,
    }
}

/// Starts a server with default settings on an ephemeral port.
pub async fn start() -> Running {
    start_at("127.0.0.1:0", ServerConfig::default()).await
}

/// An echo request carrying `body`.
pub fn echo(body: impl Into<bytes::Bytes>) -> RemotingCommand {
    RemotingCommand::bare_request(ECHO).with_body(body)
}

/// A client-side handler that records server-initiated requests.
#[derive(Debug)]
pub struct ClientSide {
    pub seen: mpsc::UnboundedSender<RemotingCommand>,
}

impl RequestHandler for ClientSide {
    async fn handle(
        &self,
        _conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let _ = self.seen.send(request.clone());
        match request.request_code() {
            RequestCode::GET_CONSUMER_RUNNING_INFO => Some(
                RemotingCommand::response_to(&request, ResponseCode::SUCCESS)
                    .with_body(&b"running-info"[..]),
            ),
            _ => None,
        }
    }
}

/// Waits for `cond` with a bounded number of short polls.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
