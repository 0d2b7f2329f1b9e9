//! Running a name server: binding, the expiry scanner, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use skylark_remoting::{ConnectionRegistry, RemotingServer};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::NameServerConfig;
use crate::error::NameServerError;
use crate::processor::NameServer;
use crate::route::ExpiredBroker;

/// A running name server. Dropping it stops the server too, without
/// waiting; [`shutdown`](Self::shutdown) stops it gracefully.
#[derive(Debug)]
pub struct NameServerHandle {
    local_addr: SocketAddr,
    server: Arc<NameServer>,
    registry: ConnectionRegistry,
    stop: watch::Sender<bool>,
    serving: JoinHandle<Result<(), NameServerError>>,
    scanning: JoinHandle<()>,
}

impl NameServer {
    /// Binds `config.listen_addr` and serves until the handle is shut down.
    pub async fn start(config: NameServerConfig) -> Result<NameServerHandle, NameServerError> {
        Self::new(config)?.spawn().await
    }

    /// Like [`start`](Self::start), reading time from `clock`.
    pub async fn start_with_clock(
        config: NameServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<NameServerHandle, NameServerError> {
        Self::with_clock(config, clock)?.spawn().await
    }

    /// Binds this name server's listen address and serves it in the background.
    pub async fn spawn(self) -> Result<NameServerHandle, NameServerError> {
        let addr = self.config().listen_addr.clone();
        let remoting = self.config().remoting.clone();
        let scan_interval = self.config().scan_interval.max(Duration::from_millis(1));
        let server = Arc::new(self);
        let remoting = RemotingServer::bind(addr.as_str(), server.clone(), remoting).await?;
        let local_addr = remoting.local_addr();
        let registry = remoting.registry();
        let (stop, stopped) = watch::channel(false);

        let mut serve_stop = stopped.clone();
        let serving = tokio::spawn(async move {
            remoting
                .serve(async move {
                    // A dropped handle (Err) stops the server as well.
                    let _ = serve_stop.wait_for(|stop| *stop).await;
                })
                .await
                .map_err(NameServerError::from)
        });
        let scanning = tokio::spawn(scan_loop(
            server.clone(),
            registry.clone(),
            scan_interval,
            stopped,
        ));
        tracing::info!(%local_addr, "name server started");
        Ok(NameServerHandle {
            local_addr,
            server,
            registry,
            stop,
            serving,
            scanning,
        })
    }
}

impl NameServerHandle {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The name server's state.
    pub fn name_server(&self) -> &Arc<NameServer> {
        &self.server
    }

    /// Runs one expiry scan now (as the timer would) and returns the
    /// brokers it dropped.
    pub fn scan_not_active_brokers(&self) -> Vec<ExpiredBroker> {
        scan_once(&self.server, &self.registry)
    }

    /// Stops accepting, lets in-flight requests finish, and waits until
    /// the server has stopped.
    pub async fn shutdown(self) -> Result<(), NameServerError> {
        let _ = self.stop.send(true);
        let _ = self.scanning.await;
        let served = match self.serving.await {
            Ok(result) => result,
            Err(error) => {
                tracing::error!(%error, "name server task failed");
                Ok(())
            }
        };
        tracing::info!(addr = %self.local_addr, "name server stopped");
        served
    }
}

/// Runs a name server with `config` until `shutdown` resolves, then stops it
/// gracefully.
pub async fn run(
    config: NameServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NameServerError> {
    let handle = NameServer::start(config).await?;
    shutdown.await;
    handle.shutdown().await
}

/// Scans every `interval` until stopped (first scan after one interval).
async fn scan_loop(
    server: Arc<NameServer>,
    registry: ConnectionRegistry,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            _ = ticker.tick() => {
                scan_once(&server, &registry);
            }
        }
    }
}

/// Drops silent brokers and closes their connections, as Java's
/// `scanNotActiveBroker` does (closing also drops other brokers that
/// registered over the same connection).
fn scan_once(server: &NameServer, registry: &ConnectionRegistry) -> Vec<ExpiredBroker> {
    let expired = server.routes().scan_not_active_broker();
    for broker in &expired {
        if let Some(conn) = broker.channel_id.and_then(|id| registry.get(id)) {
            conn.close();
        }
    }
    expired
}
