//! The accepting side: [`RemotingServer`], its connection registry and
//! graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::task::TaskTracker;

use crate::config::ServerConfig;
use crate::connection::{self, ConnOptions, ConnectionHandle};
use crate::error::RemotingError;
use crate::handler::RequestHandler;
use crate::signal::Signal;
use crate::stats::{ServerStats, bump};

/// Pause after an accept error (e.g. out of file descriptors) so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Live connections of a server by id; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct ConnectionRegistry {
    inner: Arc<Mutex<HashMap<u64, ConnectionHandle>>>,
}

impl ConnectionRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ConnectionHandle>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection with this id, if still open.
    pub fn get(&self, id: u64) -> Option<ConnectionHandle> {
        self.lock().get(&id).cloned()
    }

    /// The open connection from this peer address, if any.
    pub fn by_remote(&self, remote: SocketAddr) -> Option<ConnectionHandle> {
        self.lock()
            .values()
            .find(|c| c.remote_addr() == remote)
            .cloned()
    }

    /// Every open connection.
    pub fn all(&self) -> Vec<ConnectionHandle> {
        self.lock().values().cloned().collect()
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn insert(&self, conn: ConnectionHandle) {
        self.lock().insert(conn.id(), conn);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// A bound remoting server; [`serve`](Self::serve) runs it.
#[derive(Debug)]
pub struct RemotingServer<H> {
    listener: TcpListener,
    local_addr: SocketAddr,
    handler: Arc<H>,
    config: ServerConfig,
    registry: ConnectionRegistry,
    stats: Arc<ServerStats>,
}

impl<H: RequestHandler> RemotingServer<H> {
    /// Binds the listening socket; requests will go to `handler`.
    pub async fn bind(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        handler: Arc<H>,
        config: ServerConfig,
    ) -> Result<Self, RemotingError> {
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| RemotingError::Bind {
                addr: format!("{addr:?}"),
                source,
            })?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            handler,
            config,
            registry: ConnectionRegistry::default(),
            stats: Arc::default(),
        })
    }

    /// The address actually bound (the port chosen for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live connections, usable while and after the server runs.
    pub fn registry(&self) -> ConnectionRegistry {
        self.registry.clone()
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<ServerStats> {
        self.stats.clone()
    }

    /// Accepts connections until `shutdown` resolves, then shuts down
    /// gracefully: stops accepting and reading, lets in-flight requests finish
    /// and their responses flush for up to `shutdown_timeout`, then closes
    /// whatever is left.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RemotingError> {
        let drain = Arc::new(Signal::default());
        let opts = Arc::new(ConnOptions {
            max_frame_len: self.config.max_frame_len,
            idle_timeout: self.config.idle_timeout,
            max_in_flight: self.config.max_in_flight_per_connection,
            write_queue_capacity: self.config.write_queue_capacity,
            stats: Some(self.stats.clone()),
            drain: Some(drain.clone()),
        });
        let tracker = TaskTracker::new();
        tracing::info!(addr = %self.local_addr, "remoting server listening");
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(addr = %self.local_addr, %error, "accept failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    }
                }
            };
            self.start_connection(stream, &opts, &tracker);
        }
        let Self {
            listener,
            local_addr,
            config,
            registry,
            ..
        } = self;
        // Refuse new connections while the old ones drain.
        drop(listener);
        shut_down(
            local_addr,
            config.shutdown_timeout,
            &registry,
            drain,
            tracker,
        )
        .await;
        Ok(())
    }

    /// Registers and spawns one accepted connection.
    fn start_connection(
        &self,
        stream: tokio::net::TcpStream,
        opts: &Arc<ConnOptions>,
        tracker: &TaskTracker,
    ) {
        let (conn, run) = match connection::spawn(stream, self.handler.clone(), opts.clone()) {
            Ok(started) => started,
            Err(error) => {
                // The peer vanished between accept and setup.
                tracing::debug!(%error, "dropping accepted connection");
                return;
            }
        };
        bump(Some(&self.stats), |s| &s.connections_accepted);
        tracing::debug!(remote = %conn.remote_addr(), id = conn.id(), "connection accepted");
        self.registry.insert(conn.clone());
        let registry = self.registry.clone();
        let stats = self.stats.clone();
        tracker.spawn(async move {
            run.await;
            registry.remove(conn.id());
            stats.connections_closed.fetch_add(1, Ordering::Relaxed);
        });
    }
}

/// Drains every connection, forcing them closed after the deadline.
async fn shut_down(
    addr: SocketAddr,
    deadline: Duration,
    registry: &ConnectionRegistry,
    drain: Arc<Signal>,
    tracker: TaskTracker,
) {
    tracing::info!(%addr, connections = registry.len(), "remoting server shutting down");
    drain.fire();
    tracker.close();
    if tokio::time::timeout(deadline, tracker.wait())
        .await
        .is_err()
    {
        let left = registry.all();
        tracing::warn!(
            %addr, connections = left.len(),
            "in-flight requests outlived the shutdown timeout, closing connections"
        );
        for conn in left {
            conn.close();
        }
        tracker.wait().await;
    }
    tracing::info!(%addr, "remoting server stopped");
}
