//! Running a broker: opening the store, binding the remoting and fast
//! ports, the background tasks (registration, offset persistence, client
//! housekeeping), readiness, and a graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use skylark_remoting::{ClientConfig, RemotingClient, RemotingServer, ServerConfig};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::http::{self, HttpState};
use crate::{schedule, timer};

/// How often silent client channels are looked for (Java's ClientHousekeepingService).
const CLIENT_SCAN_INTERVAL: Duration = Duration::from_secs(10);
/// Delay before a failed first registration is retried.
const REGISTER_RETRY: Duration = Duration::from_secs(1);

/// A running broker. Dropping it stops the servers without the graceful
/// steps; [`shutdown`](Self::shutdown) stops it properly.
#[derive(Debug)]
pub struct BrokerHandle {
    broker: Arc<Broker>,
    local_addr: SocketAddr,
    fast_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    ready: watch::Receiver<bool>,
    servers: JoinSet<()>,
    tasks: JoinSet<()>,
    namesrv_client: RemotingClient,
}

impl Broker {
    /// Opens the store (recovering it), binds the ports and starts serving
    /// and registering with the configured nameservers.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        let bind_host = config
            .listen_host
            .clone()
            .unwrap_or_else(|| config.broker_ip1.clone());
        let main_addr = format!("{bind_host}:{}", config.listen_port);
        let fast_addr = format!("{bind_host}:{}", config.fast_port());
        let (stop, stopped) = watch::channel(false);
        let (ready_tx, ready) = watch::channel(false);
        // Bound before recovery so liveness probes pass while it runs;
        // dropping `stop` on an error below stops it.
        let http_state = HttpState::new(ready.clone());
        let mut http_task = None;
        if config.http_listen_port != 0 {
            let addr = format!("{bind_host}:{}", config.http_listen_port);
            http_task = Some(http::serve(&addr, http_state.clone(), stopped.clone()).await?);
        }
        // Recovery reads and maps files: keep it off the async workers.
        let broker = tokio::task::spawn_blocking(move || Broker::open(config))
            .await
            .map_err(|error| BrokerError::Config(format!("broker open panicked: {error}")))??;
        let broker = Arc::new(broker);
        let weak: Weak<Broker> = Arc::downgrade(&broker);
        broker
            .store
            .set_arrival_listener(Arc::new(move |topic: &str, queue_id, _, _, _| {
                if let Some(broker) = weak.upgrade() {
                    broker.pull_holds.message_arrived(topic, queue_id);
                }
            }));

        broker
            .ha
            .start(
                &broker,
                &bind_host,
                crate::ha::listen_port(&broker.config),
                stopped.clone(),
            )
            .await?;

        let server_config = ServerConfig::default();
        let main =
            RemotingServer::bind(main_addr.as_str(), broker.clone(), server_config.clone()).await?;
        let fast = RemotingServer::bind(fast_addr.as_str(), broker.clone(), server_config).await?;
        let local_addr = main.local_addr();
        let fast_local = fast.local_addr();
        let stats = [main.stats(), fast.stats()];
        let scraped = broker.clone();
        http_state.set_metrics(Box::new(move || scraped.render_metrics(&stats)));

        let mut servers = JoinSet::new();
        let http_addr = http_task.map(|(addr, task)| {
            // Joined with the ports at shutdown.
            servers.spawn(async move {
                let _ = task.await;
            });
            addr
        });
        for server in [main, fast] {
            let mut stopped = stopped.clone();
            servers.spawn(async move {
                let addr = server.local_addr();
                let served = server
                    .serve(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
                if let Err(error) = served {
                    tracing::error!(%addr, %error, "broker port failed");
                }
            });
        }

        let namesrv_client = RemotingClient::new(ClientConfig::default());
        let mut tasks = JoinSet::new();
        tasks.spawn(register_loop(
            broker.clone(),
            namesrv_client.clone(),
            ready_tx,
            stopped.clone(),
        ));
        tasks.spawn(every(
            broker.config.flush_consumer_offset_period(),
            stopped.clone(),
            {
                let broker = broker.clone();
                move || {
                    let broker = broker.clone();
                    async move {
                        // A file write and fsync: off the async workers.
                        let saved =
                            tokio::task::spawn_blocking(move || broker.offsets.persist()).await;
                        if let Ok(Err(error)) = saved {
                            tracing::error!(%error, "cannot persist consumer offsets");
                        }
                    }
                }
            },
        ));
        for (level, _) in broker.schedule.levels().iter() {
            tasks.spawn(schedule::deliver_level(
                broker.clone(),
                level,
                stopped.clone(),
            ));
        }
        tasks.spawn(every(schedule::PERSIST_INTERVAL, stopped.clone(), {
            let broker = broker.clone();
            move || {
                let broker = broker.clone();
                async move {
                    let saved =
                        tokio::task::spawn_blocking(move || broker.schedule.persist()).await;
                    if let Ok(Err(error)) = saved {
                        tracing::error!(%error, "cannot persist delay offsets");
                    }
                }
            }
        }));
        if broker.timer.enabled() {
            tasks.spawn(timer::dispatch(broker.clone(), stopped.clone()));
            tasks.spawn(timer::deliver(broker.clone(), stopped.clone()));
            tasks.spawn(every(timer::PERSIST_INTERVAL, stopped.clone(), {
                let broker = broker.clone();
                move || {
                    let broker = broker.clone();
                    async move {
                        let saved =
                            tokio::task::spawn_blocking(move || broker.timer.persist()).await;
                        if let Ok(Err(error)) = saved {
                            tracing::error!(%error, "cannot persist the timer wheel");
                        }
                    }
                }
            }));
        }
        tasks.spawn(every(
            broker.config.transaction_check_period(),
            stopped.clone(),
            {
                let broker = broker.clone();
                let stopped = stopped.clone();
                move || {
                    let broker = broker.clone();
                    let stopped = stopped.clone();
                    async move { broker.check_transactions(&stopped).await }
                }
            },
        ));
        tasks.spawn(every(CLIENT_SCAN_INTERVAL, stopped, {
            let broker = broker.clone();
            move || {
                broker.scan_not_active_channels();
                std::future::ready(())
            }
        }));
        tracing::info!(
            addr = %local_addr, fast = %fast_local, name = %broker.config.broker_name,
            cluster = %broker.config.broker_cluster_name, "broker started"
        );
        Ok(BrokerHandle {
            broker,
            local_addr,
            fast_addr: fast_local,
            http_addr,
            stop,
            ready,
            servers,
            tasks,
            namesrv_client,
        })
    }
}

impl BrokerHandle {
    /// The remoting address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The fast (VIP) port's address.
    pub fn fast_addr(&self) -> SocketAddr {
        self.fast_addr
    }

    /// The HTTP endpoint's address (/metrics, /healthz, /readyz), when
    /// `httpListenPort` is set.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The HA port's address (replicas connect to it).
    pub fn ha_addr(&self) -> Option<SocketAddr> {
        self.broker.ha.ha_addr()
    }

    /// The broker's state.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Whether recovery is done and the first registration succeeded.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// A receiver that turns true once the broker is ready.
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.clone()
    }

    /// Waits until the broker is ready, at most `timeout`; whether it is.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.ready.clone();
        tokio::time::timeout(timeout, ready.wait_for(|ready| *ready))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops gracefully: answers suspended pulls, stops accepting, lets
    /// in-flight requests finish, unregisters from the nameservers, saves
    /// offsets (consumer and delay) and config, then flushes the store and
    /// writes its checkpoint.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        tracing::info!(addr = %self.local_addr, "broker stopping");
        self.broker.pull_holds.stop();
        let _ = self.stop.send(true);
        self.broker.ha.shutdown();
        while self.servers.join_next().await.is_some() {}
        while self.tasks.join_next().await.is_some() {}
        self.broker.unregister_all(&self.namesrv_client).await;
        self.namesrv_client.shutdown();
        let broker = self.broker.clone();
        let persisted = tokio::task::spawn_blocking(move || {
            let saved = broker.offsets.persist();
            let delays = broker.schedule.persist();
            let timers = broker.timer.persist();
            broker.store.clear_arrival_listener();
            broker.store.shutdown();
            saved.and(delays).and(timers)
        })
        .await
        .map_err(|error| BrokerError::Config(format!("broker shutdown panicked: {error}")))?;
        tracing::info!(addr = %self.local_addr, "broker stopped");
        persisted
    }
}

/// Runs a broker with `config` until `shutdown` resolves, then stops it gracefully.
pub async fn run(
    config: BrokerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BrokerError> {
    let handle = Broker::start(config).await?;
    shutdown.await;
    handle.shutdown().await
}

/// Registers at start (retrying every second until one nameserver
/// accepts), then every `registerNameServerPeriod` and whenever the topics
/// change. Ready after the first successful round (or at once without
/// nameservers).
async fn register_loop(
    broker: Arc<Broker>,
    client: RemotingClient,
    ready: watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) {
    let period = broker.config.register_period();
    loop {
        let outcome = broker.register_all(&client).await;
        if outcome.registered > 0 || outcome.configured == 0 {
            let _ = ready.send(true);
        }
        let wait = if *ready.borrow() {
            period
        } else {
            REGISTER_RETRY
        };
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(wait) => {}
            () = broker.topics.changed().notified() => {}
        }
    }
}

/// Runs `task` every `interval` until stopped.
async fn every<F: Future<Output = ()>>(
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
    task: impl Fn() -> F,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            _ = ticker.tick() => {}
        }
        task().await;
    }
}
