//! The broker's HTTP endpoint: `GET /metrics` (Prometheus text format),
//! `GET /healthz` (the process serves) and `GET /readyz` (the store is
//! recovered and the broker registered).
//!
//! It is bound before the store is opened, so a liveness probe passes
//! during a long recovery while readiness still says no.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use skylark_remoting::RemotingError;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::BrokerError;
use crate::metrics;

/// How long a stop waits for open requests before closing the port anyway:
/// hyper's graceful shutdown waits forever on a half-sent request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Renders every metric in the Prometheus text format; may block briefly
/// (it measures the disk), so it runs on the blocking pool.
pub(crate) type MetricsSource = Box<dyn Fn() -> String + Send + Sync>;

/// What the endpoint answers from; cheap to clone.
#[derive(Clone)]
pub(crate) struct HttpState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Set once the store is open.
    metrics: OnceLock<MetricsSource>,
    /// The broker's ready watch.
    ready: watch::Receiver<bool>,
}

impl fmt::Debug for HttpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpState")
            .field("metrics", &self.inner.metrics.get().is_some())
            .field("ready", &*self.inner.ready.borrow())
            .finish()
    }
}

impl HttpState {
    /// A state that reports ready when `ready` turns true, and serves no
    /// metrics until [`set_metrics`](Self::set_metrics).
    pub(crate) fn new(ready: watch::Receiver<bool>) -> Self {
        Self {
            inner: Arc::new(Inner {
                metrics: OnceLock::new(),
                ready,
            }),
        }
    }

    /// Serves `/metrics` from `source` from now on (a second call is ignored).
    pub(crate) fn set_metrics(&self, source: MetricsSource) {
        let _ = self.inner.metrics.set(source);
    }
}

/// Binds `addr` and serves the endpoint until `stop` turns true (or its
/// sender is dropped), then finishes in-flight requests (for at most
/// [`DRAIN_TIMEOUT`]) and ends the task.
pub(crate) async fn serve(
    addr: &str,
    state: HttpState,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), BrokerError> {
    let bind_error = |source| RemotingError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    let mut drain = stop.clone();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        });
        let mut server = std::pin::pin!(server.into_future());
        let served = tokio::select! {
            served = &mut server => served,
            () = async { let _ = drain.wait_for(|stop| *stop).await; } => {
                match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
                    Ok(served) => served,
                    Err(_) => {
                        // Dropping the server closes the port; a stalled
                        // connection's task ends when its peer goes away.
                        tracing::warn!(
                            addr = %local_addr,
                            "HTTP requests still open at stop; closing the port"
                        );
                        Ok(())
                    }
                }
            }
        };
        if let Err(error) = served {
            tracing::error!(addr = %local_addr, %error, "HTTP endpoint failed");
        }
    });
    tracing::info!(addr = %local_addr, "HTTP endpoint listening");
    Ok((local_addr, task))
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let rendered =
        tokio::task::spawn_blocking(move || state.inner.metrics.get().map(|render| render())).await;
    match rendered {
        Ok(Some(text)) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Ok(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is being opened\n",
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering metrics failed\n",
            )
                .into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if *state.inner.ready.borrow() {
        (StatusCode::OK, "ready")
    } else if state.inner.metrics.get().is_none() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: recovering the store",
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: not yet registered with a nameserver",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Generous guard against hangs; passing tests never wait this long.
    const HANG_GUARD: Duration = Duration::from_secs(30);

    /// An HTTP response: status code, headers (lower-cased names) and body.
    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Sends `GET path` over a fresh connection and reads the whole reply.
    async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
        let exchange = async {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head =
                format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            raw
        };
        let raw = tokio::time::timeout(HANG_GUARD, exchange).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect::<Vec<_>>();
        let body = if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Decodes a chunked body.
    fn dechunk(mut rest: &str) -> String {
        let mut body = String::new();
        loop {
            let (size, tail) = rest.split_once("\r\n").unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                return body;
            }
            body.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
    }

    /// An endpoint on loopback with its ready and stop senders.
    async fn start() -> (
        SocketAddr,
        HttpState,
        watch::Sender<bool>,
        watch::Sender<bool>,
        JoinHandle<()>,
    ) {
        let (ready_tx, ready) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let state = HttpState::new(ready);
        let (addr, task) = serve("127.0.0.1:0", state.clone(), stop).await.unwrap();
        (addr, state, ready_tx, stop_tx, task)
    }

    #[tokio::test]
    async fn http_healthz_answers_ok_while_serving() {
        let (addr, _state, _ready, _stop, _task) = start().await;
        let reply = request(addr, "GET", "/healthz").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "ok");
    }

    #[tokio::test]
    async fn http_readyz_follows_the_ready_watch() {
        let (addr, state, ready, _stop, _task) = start().await;
        let reply = request(addr, "GET", "/readyz").await;
        assert_eq!(reply.status, 503);
        assert!(reply.body.contains("recovering"), "{}", reply.body);

        state.set_metrics(Box::new(String::new));
        let reply = request(addr, "GET", "/readyz").await;
        assert_eq!(reply.status, 503);
        assert!(reply.body.contains("registered"), "{}", reply.body);

        ready.send(true).unwrap();
        let reply = request(addr, "GET", "/readyz").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "ready");
    }

    #[tokio::test]
    async fn http_metrics_serves_the_text_format() {
        let (addr, state, _ready, _stop, _task) = start().await;
        assert_eq!(request(addr, "GET", "/metrics").await.status, 503);

        let metrics = Arc::new(metrics::BrokerMetrics::new());
        metrics.record_put("TopicA", 2, 300);
        let source = metrics.clone();
        state.set_metrics(Box::new(move || {
            source.render(&metrics::ScrapeValues {
                connections: 4,
                ..Default::default()
            })
        }));
        let reply = request(addr, "GET", "/metrics").await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4")
        );
        assert!(
            reply
                .body
                .contains("skylark_messages_in_total{topic=\"TopicA\"} 2\n"),
            "{}",
            reply.body
        );
        assert!(
            reply.body.contains("skylark_connections 4\n"),
            "{}",
            reply.body
        );
    }

    #[tokio::test]
    async fn http_unknown_paths_and_methods_are_refused() {
        let (addr, _state, _ready, _stop, _task) = start().await;
        assert_eq!(request(addr, "GET", "/nope").await.status, 404);
        assert_eq!(request(addr, "POST", "/healthz").await.status, 405);
    }

    #[tokio::test]
    async fn http_stops_on_the_stop_watch_and_frees_the_port() {
        let (addr, _state, _ready, stop, task) = start().await;
        assert_eq!(request(addr, "GET", "/healthz").await.status, 200);
        stop.send(true).unwrap();
        tokio::time::timeout(HANG_GUARD, task)
            .await
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    #[tokio::test]
    async fn http_stops_despite_a_stalled_request() {
        let (addr, _state, _ready, stop, task) = start().await;
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        assert_eq!(request(addr, "GET", "/healthz").await.status, 200);
        stop.send(true).unwrap();
        tokio::time::timeout(HANG_GUARD, task)
            .await
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    #[tokio::test]
    async fn http_stops_when_the_stop_sender_is_dropped() {
        let (_addr, _state, _ready, stop, task) = start().await;
        drop(stop);
        tokio::time::timeout(HANG_GUARD, task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn http_endpoint_of_a_started_broker() {
        let dir = tempfile::tempdir().unwrap();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let http_port = free.local_addr().unwrap().port();
        drop(free);
        let config = crate::BrokerConfig {
            listen_port: 0,
            http_listen_port: http_port,
            store: skylark_store::config::MessageStoreConfig::with_root(dir.path()),
            ..crate::BrokerConfig::default()
        };
        let handle = crate::Broker::start(config).await.unwrap();
        let addr = handle.http_addr().unwrap();
        assert_eq!(addr.port(), http_port);
        assert!(handle.wait_ready(HANG_GUARD).await);

        assert_eq!(request(addr, "GET", "/healthz").await.body, "ok");
        assert_eq!(request(addr, "GET", "/readyz").await.status, 200);
        let reply = request(addr, "GET", "/metrics").await;
        assert_eq!(reply.status, 200);
        for family in [
            "skylark_commitlog_max_offset 0\n",
            "skylark_dispatch_behind_bytes 0\n",
            "skylark_pulls_suspended 0\n",
            "skylark_disk_full 0\n",
            "# TYPE skylark_connections gauge\n",
            "# TYPE skylark_disk_used_ratio gauge\n",
        ] {
            assert!(reply.body.contains(family), "{family} in {}", reply.body);
        }

        handle.shutdown().await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    #[tokio::test]
    async fn http_bind_failure_is_an_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let (_stop_tx, stop) = watch::channel(false);
        let (_ready_tx, ready) = watch::channel(false);
        let error = serve(&addr, HttpState::new(ready), stop).await.unwrap_err();
        assert!(error.to_string().contains(&addr), "{error}");
    }
}
