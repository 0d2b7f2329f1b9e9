//! The connecting side: [`RemotingClient`], one lazily opened connection per
//! address, shared by every caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use crate::config::ClientConfig;
use crate::connection::{self, ConnOptions, ConnectionHandle};
use crate::error::RemotingError;
use crate::handler::{DynRequestHandler, RequestHandler, not_supported};

/// How long a connection answered GO_AWAY may keep running untracked.
const RETIRED_GRACE: Duration = Duration::from_secs(30);

/// The slot of the handler for requests servers send to this client.
type HandlerSlot = Arc<RwLock<Option<Arc<dyn DynRequestHandler>>>>;

/// A client of many remoting servers (name servers, brokers), keeping one
/// connection per address. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct RemotingClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    opts: Arc<ConnOptions>,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    handler: HandlerSlot,
    shut_down: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotingClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the client knows about one address.
#[derive(Debug, Default)]
struct Endpoint {
    /// The current connection attempt or connection. Concurrent callers
    /// await the same cell, so a burst of invokes opens one socket; a closed
    /// connection is replaced by a fresh cell.
    cell: Arc<OnceCell<ConnectionHandle>>,
    /// Consecutive failed connects.
    failures: u32,
    /// No new attempt before this instant.
    retry_at: Option<Instant>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Connection tasks do not own the client; close them with it.
        let endpoints = self
            .endpoints
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for endpoint in endpoints.values() {
            if let Some(conn) = endpoint.cell.get() {
                conn.close();
            }
        }
    }
}

impl Default for RemotingClient {
    fn default() -> Self {
        Self::new(ClientConfig::default())
    }
}

impl RemotingClient {
    /// A client with these settings; it connects on first use.
    pub fn new(config: ClientConfig) -> Self {
        let opts = Arc::new(ConnOptions {
            max_frame_len: config.max_frame_len,
            idle_timeout: config.idle_timeout,
            max_in_flight: config.max_in_flight_per_connection,
            write_queue_capacity: config.write_queue_capacity,
            stats: None,
            drain: None,
        });
        Self {
            inner: Arc::new(Inner {
                config,
                opts,
                endpoints: Mutex::default(),
                handler: HandlerSlot::default(),
                shut_down: false.into(),
            }),
        }
    }

    /// Sets the handler for requests servers send on any connection of this
    /// client (NOTIFY_CONSUMER_IDS_CHANGED, GET_CONSUMER_RUNNING_INFO...).
    /// Without one they are answered REQUEST_CODE_NOT_SUPPORTED.
    pub fn set_request_handler(&self, handler: Arc<dyn DynRequestHandler>) {
        *self
            .inner
            .handler
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(handler);
    }

    /// Sends `cmd` to `addr` and waits up to `timeout` (connecting included)
    /// for the response.
    ///
    /// A GO_AWAY answer (the server is shutting down) is returned as is —
    /// callers treat it as retryable elsewhere, as Java's producer does —
    /// and the next use of `addr` opens a new connection. Unlike Java the
    /// request is not retried here: that would need a copy of every request.
    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let start = Instant::now();
        let code = cmd.code;
        let conn = match tokio::time::timeout(timeout, self.connection(addr)).await {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(RemotingError::Timeout {
                    addr: addr.to_owned(),
                    code: RequestCode::from(code),
                    elapsed: start.elapsed(),
                });
            }
        };
        let response = conn
            .invoke(cmd, timeout.saturating_sub(start.elapsed()))
            .await?;
        if response.response_code() == ResponseCode::GO_AWAY {
            tracing::info!(remote = addr, code, "server is going away, will reconnect");
            // Not closed: the server still finishes what is in flight on it.
            self.retire(addr, &conn);
        }
        Ok(response)
    }

    /// Sends a oneway request to `addr`.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<(), RemotingError> {
        self.connection(addr).await?.send_oneway(cmd).await
    }

    /// The open connection to `addr`, connecting if there is none. Fails
    /// fast with [`RemotingError::Unreachable`] while backing off after a
    /// failed connect.
    pub async fn connection(&self, addr: &str) -> Result<ConnectionHandle, RemotingError> {
        let cell = {
            let mut endpoints = self.lock_endpoints();
            if self.is_shut_down() {
                return Err(RemotingError::Shutdown);
            }
            // Lookup by &str: no allocation on the hot path.
            match endpoints.get_mut(addr) {
                Some(endpoint) => {
                    if let Some(conn) = endpoint.cell.get() {
                        if !conn.is_closed() {
                            return Ok(conn.clone());
                        }
                        endpoint.cell = Arc::default();
                    }
                    endpoint.cell.clone()
                }
                None => endpoints.entry(addr.to_owned()).or_default().cell.clone(),
            }
        };
        cell.get_or_try_init(|| self.connect(addr)).await.cloned()
    }

    /// Makes the next use of `addr` open a new connection instead of `conn`,
    /// which is left to finish its in-flight requests.
    fn retire(&self, addr: &str, conn: &ConnectionHandle) {
        let retired = match self.lock_endpoints().get_mut(addr) {
            Some(endpoint) if endpoint.cell.get().is_some_and(|c| c.id() == conn.id()) => {
                endpoint.cell = Arc::default();
                true
            }
            _ => false,
        };
        if retired {
            // The server closes it after its drain; this is for one that does not.
            let conn = conn.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(RETIRED_GRACE, conn.closed()).await;
                conn.close();
            });
        }
    }

    /// Closes the connection to `addr`, if any; the next use reconnects.
    pub fn close_connection(&self, addr: &str) {
        if let Some(endpoint) = self.lock_endpoints().remove(addr)
            && let Some(conn) = endpoint.cell.get()
        {
            conn.close();
        }
    }

    /// Addresses with an open connection.
    pub fn connected_addrs(&self) -> Vec<String> {
        self.lock_endpoints()
            .iter()
            .filter(|(_, e)| e.cell.get().is_some_and(|c| !c.is_closed()))
            .map(|(addr, _)| addr.clone())
            .collect()
    }

    /// Closes every connection; later calls fail with [`RemotingError::Shutdown`].
    /// Dropping the last clone does the same, unless the request handler
    /// holds a clone of the client (a cycle): then call this.
    pub fn shutdown(&self) {
        self.inner
            .shut_down
            .store(true, std::sync::atomic::Ordering::Release);
        let endpoints = std::mem::take(&mut *self.lock_endpoints());
        for endpoint in endpoints.values() {
            if let Some(conn) = endpoint.cell.get() {
                conn.close();
            }
        }
    }

    fn is_shut_down(&self) -> bool {
        self.inner
            .shut_down
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn lock_endpoints(&self) -> std::sync::MutexGuard<'_, HashMap<String, Endpoint>> {
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One connect attempt, honouring and updating the address's backoff.
    async fn connect(&self, addr: &str) -> Result<ConnectionHandle, RemotingError> {
        {
            let endpoints = self.lock_endpoints();
            let retry_at = endpoints.get(addr).and_then(|e| e.retry_at);
            if let Some(retry_in) =
                retry_at.and_then(|at| at.checked_duration_since(Instant::now()))
            {
                return Err(RemotingError::Unreachable {
                    addr: addr.to_owned(),
                    retry_in,
                });
            }
        }
        let result = self.open(addr).await;
        let mut endpoints = self.lock_endpoints();
        // Absent if closed or shut down meanwhile; the result still stands.
        if let Some(endpoint) = endpoints.get_mut(addr) {
            match &result {
                Ok(_) => {
                    endpoint.failures = 0;
                    endpoint.retry_at = None;
                }
                Err(error) => {
                    endpoint.failures = endpoint.failures.saturating_add(1);
                    let backoff = self.backoff(endpoint.failures);
                    endpoint.retry_at = Some(Instant::now() + backoff);
                    tracing::warn!(remote = addr, %error, retry_in = ?backoff, "connect failed");
                }
            }
        }
        result
    }

    /// The wait after `failures` consecutive failed connects.
    fn backoff(&self, failures: u32) -> Duration {
        let config = &self.inner.config;
        let doublings = failures.saturating_sub(1).min(16);
        config
            .reconnect_backoff
            .saturating_mul(1 << doublings)
            .min(config.max_reconnect_backoff)
    }

    /// Opens the TCP connection and starts its tasks.
    async fn open(&self, addr: &str) -> Result<ConnectionHandle, RemotingError> {
        let timeout = self.inner.config.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(RemotingError::ConnectFailed {
                    addr: addr.to_owned(),
                    source,
                });
            }
            Err(_) => {
                return Err(RemotingError::ConnectTimeout {
                    addr: addr.to_owned(),
                    timeout,
                });
            }
        };
        let dispatch = Arc::new(ClientDispatch {
            handler: self.inner.handler.clone(),
        });
        let (conn, run) =
            connection::spawn(stream, dispatch, self.inner.opts.clone()).map_err(|source| {
                RemotingError::ConnectFailed {
                    addr: addr.to_owned(),
                    source,
                }
            })?;
        tokio::spawn(run);
        if self.is_shut_down() {
            // Shut down while we were connecting: nobody would close it.
            conn.close();
            return Err(RemotingError::Shutdown);
        }
        tracing::debug!(remote = addr, id = conn.id(), "connected");
        Ok(conn)
    }
}

/// Routes server-initiated requests to the handler set on the client, read
/// at each request so it may be set after connections exist.
struct ClientDispatch {
    handler: HandlerSlot,
}

impl ClientDispatch {
    fn current(&self) -> Option<Arc<dyn DynRequestHandler>> {
        self.handler
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RequestHandler for ClientDispatch {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        match self.current() {
            Some(handler) => handler.handle_boxed(conn, request).await,
            None => Some(not_supported(&request)),
        }
    }

    fn on_connect(&self, conn: &ConnectionHandle) {
        if let Some(handler) = self.current() {
            handler.on_connect_dyn(conn);
        }
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        if let Some(handler) = self.current() {
            handler.on_close_dyn(conn);
        }
    }
}
