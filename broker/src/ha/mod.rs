//! Replication inside a broker group, as RocketMQ's classic HA
//! (`DefaultHAService`): a master streams its CommitLog to replicas over
//! the HA port, replicas append it byte for byte and copy the master's
//! config, and a SYNC_MASTER acknowledges a send only once a replica holds it.
//!
//! - [`wire`]: the protocol's bytes and cutting a stream at record boundaries;
//! - [`master`]: the HA port and one connection per replica;
//! - [`replica`]: the connection to the master;
//! - [`in_sync`]: acknowledged offsets, the in-sync set, waiting sends;
//! - `sync_put`: SYNC_MASTER's wait after a put, for every processor;
//! - [`config_sync`]: the replica's periodic copy of the master's config.
//!
//! [`HaService`] holds the broker's role, id and master addresses, which
//! change at run time ([`HaService::become_master`],
//! [`HaService::become_replica`], [`HaService::stop_replication`]).

pub mod config_sync;
pub mod epoch;
pub mod in_sync;
pub mod master;
pub mod replica;
pub mod role;
mod sync_put;
pub mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, Weak};
use std::time::Duration;

use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use skylark_store::MessageStore;
use skylark_store::config::BrokerRole;
use skylark_store::error::StoreError;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use in_sync::ReplicaStatus;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// `haListenPort`'s default (`MessageStoreConfig`).
const DEFAULT_HA_PORT: u16 = 10912;

/// The HA port to bind: `haListenPort`; at its default with a
/// `listenPort` other than 10911, `listenPort` + 1 as Java's
/// `BrokerStartup` derives it; 0 picks a free port.
pub(crate) fn listen_port(config: &BrokerConfig) -> u16 {
    let port = config.store.ha_listen_port;
    if port == DEFAULT_HA_PORT && config.listen_port != crate::DEFAULT_LISTEN_PORT {
        config.listen_port.saturating_add(1)
    } else {
        port
    }
}

/// Why a replication connection or config copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    /// Socket error.
    #[error("HA connection: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes the protocol does not allow.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The store refused the bytes (boundary, offset or record check).
    #[error("appending replicated bytes: {0}")]
    Store(#[from] StoreError),
    /// The master streams from another offset than the replica's end.
    #[error("master sent offset {master}, the replica is at {replica}")]
    OffsetMismatch {
        /// Offset in the master's header.
        master: i64,
        /// The replica's end.
        replica: i64,
    },
    /// Nothing read for this long.
    #[error("nothing heard for {0:?}")]
    Expired(Duration),
    /// The other side of the connection went away.
    #[error("connection closed")]
    Closed,
    /// Copying the master's config failed.
    #[error("config copy: {0}")]
    Sync(String),
    /// Installing copied config failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// The HA settings, read once from the config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `haSendHeartbeatInterval`: reports and heartbeats when idle.
    pub(crate) heartbeat: Duration,
    /// `haHousekeepingInterval`: a connection silent this long is closed.
    pub(crate) housekeeping: Duration,
    /// `haTransferBatchSize`: bytes per transfer at most.
    pub(crate) transfer_batch: usize,
    /// `haMaxGapNotInSync`, bytes.
    pub(crate) max_gap: i64,
    /// `slaveTimeout`: how long a SYNC_MASTER send waits for a replica.
    pub(crate) slave_timeout: Duration,
}

impl Settings {
    fn from_config(config: &BrokerConfig) -> Self {
        Self {
            heartbeat: Duration::from_millis(config.ha_send_heartbeat_interval.max(10)),
            housekeeping: Duration::from_millis(config.ha_housekeeping_interval.max(100)),
            transfer_batch: config.store.ha_transfer_batch_size.max(1),
            max_gap: i64::try_from(config.store.ha_max_gap_not_in_sync).unwrap_or(i64::MAX),
            slave_timeout: Duration::from_millis(config.store.slave_timeout),
        }
    }
}

/// The broker's place in its group, changeable at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    /// ASYNC_MASTER, SYNC_MASTER or SLAVE.
    pub role: BrokerRole,
    /// 0 for the master, > 0 for replicas (registered with the nameservers).
    pub broker_id: i64,
    /// The master's remoting address (config copy), when a replica knows it.
    pub master_addr: Option<String>,
    /// The master's HA address, when a replica knows it.
    pub master_ha_addr: Option<String>,
    /// Whether `master_ha_addr` was given (`haMasterAddress`, or by
    /// [`HaService::become_replica`]) rather than learnt from the nameservers.
    pub master_ha_addr_fixed: bool,
}

/// A replica's view of its connection to the master.
#[derive(Debug, Default)]
pub(crate) struct ClientState {
    pub(crate) connected: AtomicBool,
    /// Offset last reported to the master.
    pub(crate) reported: AtomicI64,
    /// End of the last transfer the master announced.
    pub(crate) master_offset: AtomicI64,
}

/// What the HA tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<MessageStore>,
    pub(crate) settings: Settings,
    state: RwLock<RoleState>,
    pub(crate) in_sync: in_sync::InSync,
    /// Woken after puts, so connections stream at once.
    pub(crate) appended: Notify,
    /// Bumped to close every replica connection (role changes).
    pub(crate) generation: watch::Sender<u64>,
    pub(crate) client: ClientState,
    /// The broker, for the replica's epoch handshake (`role.rs`).
    pub(crate) broker: OnceLock<Weak<Broker>>,
}

impl Shared {
    fn state(&self) -> RoleState {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut RoleState)) {
        change(&mut self.state.write().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn is_master(&self) -> bool {
        self.state().role != BrokerRole::Slave
    }

    pub(crate) fn master_ha_addr(&self) -> Option<String> {
        self.state().master_ha_addr
    }
}

/// A replica's connection, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerStatus {
    /// Whether the HA connection is up.
    pub connected: bool,
    /// The offset last reported to the master.
    pub reported_offset: i64,
    /// End of the master's last announced transfer (its known max offset).
    pub master_offset: i64,
}

/// Role, offsets and replicas (`skylark broker status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaStatus {
    /// Role, id and master addresses.
    pub state: RoleState,
    /// The HA port's address, once bound.
    pub ha_addr: Option<SocketAddr>,
    /// This broker's CommitLog max offset.
    pub max_offset: i64,
    /// Connected replicas (a master).
    pub replicas: Vec<ReplicaStatus>,
    /// The connection to the master (a replica).
    pub follower: Option<FollowerStatus>,
}

/// Replication: the HA port, the connection to a master, the in-sync set.
#[derive(Debug)]
pub struct HaService {
    shared: Arc<Shared>,
    broker: OnceLock<Weak<Broker>>,
    ha_addr: OnceLock<SocketAddr>,
    /// The broker's stop signal, for tasks started later.
    stopped: OnceLock<watch::Receiver<bool>>,
    /// Stops the replica's tasks (client and config copy) when sent or dropped.
    replica_stop: Mutex<Option<watch::Sender<bool>>>,
}

impl HaService {
    /// The service for a broker with `config` over `store`; nothing runs
    /// before [`start`](Self::start).
    pub(crate) fn new(config: &BrokerConfig, store: Arc<MessageStore>) -> Self {
        let fixed = config.ha_master_address.clone().filter(|a| !a.is_empty());
        let state = RoleState {
            role: config.store.broker_role,
            broker_id: config.broker_id,
            master_addr: None,
            master_ha_addr_fixed: fixed.is_some(),
            master_ha_addr: fixed,
        };
        let max = store.commit_log_max_offset();
        let shared = Arc::new(Shared {
            store,
            settings: Settings::from_config(config),
            state: RwLock::new(state),
            in_sync: in_sync::InSync::new(),
            appended: Notify::new(),
            generation: watch::Sender::new(0),
            client: ClientState::default(),
            broker: OnceLock::new(),
        });
        shared.client.reported.store(max, Ordering::Relaxed);
        Self {
            shared,
            broker: OnceLock::new(),
            ha_addr: OnceLock::new(),
            stopped: OnceLock::new(),
            replica_stop: Mutex::new(None),
        }
    }

    /// Binds the HA port (`haListenPort`; 0 picks one) on `host`, accepts
    /// replicas until `stopped`, and follows the master when the broker is a
    /// replica. Returns the bound address.
    pub(crate) async fn start(
        &self,
        broker: &Arc<Broker>,
        host: &str,
        port: u16,
        stopped: watch::Receiver<bool>,
    ) -> Result<SocketAddr, BrokerError> {
        let _ = self.broker.set(Arc::downgrade(broker));
        let _ = self.shared.broker.set(Arc::downgrade(broker));
        let addr = format!("{host}:{port}");
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| BrokerError::io("bind HA port", &addr, e))?;
        let local = listener
            .local_addr()
            .map_err(|e| BrokerError::io("bind HA port", &addr, e))?;
        let _ = self.ha_addr.set(local);
        let _ = self.stopped.set(stopped.clone());
        tokio::spawn(master::accept_loop(listener, self.shared.clone(), stopped));
        if !self.is_master() {
            self.start_replica_tasks();
        }
        tracing::info!(ha = %local, role = ?self.role(), "HA port bound");
        Ok(local)
    }

    /// The HA port's address, once bound.
    pub fn ha_addr(&self) -> Option<SocketAddr> {
        self.ha_addr.get().copied()
    }

    /// The current role.
    pub fn role(&self) -> BrokerRole {
        self.shared.state().role
    }

    /// Whether the broker is a master (ASYNC_MASTER or SYNC_MASTER).
    pub fn is_master(&self) -> bool {
        self.shared.is_master()
    }

    /// The id registered with the nameservers (0 for the master).
    pub fn broker_id(&self) -> i64 {
        self.shared.state().broker_id
    }

    /// Role, id and master addresses.
    pub fn state(&self) -> RoleState {
        self.shared.state()
    }

    /// The master's remoting address, when a replica knows it.
    pub fn master_addr(&self) -> Option<String> {
        self.shared.state().master_addr
    }

    /// Makes this broker a master with `role` (ASYNC_MASTER or SYNC_MASTER)
    /// and id `broker_id`: stops following any master and accepts replicas.
    /// The caller fences epochs and makes the store writable; this only
    /// switches replication.
    pub fn become_master(&self, role: BrokerRole, broker_id: i64) {
        let role = if role == BrokerRole::Slave {
            BrokerRole::AsyncMaster
        } else {
            role
        };
        self.stop_replica_tasks();
        self.shared.update(|s| {
            s.role = role;
            s.broker_id = broker_id;
            s.master_addr = None;
        });
        // Acknowledgements of replicas of an earlier master mean nothing here.
        self.shared
            .in_sync
            .reset(self.shared.store.commit_log_max_offset());
        self.wake_registration();
        tracing::info!(?role, broker_id, "became master");
    }

    /// Makes this broker a replica with id `broker_id` following the master
    /// whose HA port is `master_ha_addr` (None: learnt from the nameservers'
    /// registration answers) and remoting port `master_addr` (None: learnt
    /// likewise). Closes connections of its own replicas and (re)starts
    /// following at once from its CommitLog's end; the caller truncates
    /// first when the new master's epoch requires it.
    pub fn become_replica(
        &self,
        broker_id: i64,
        master_ha_addr: Option<String>,
        master_addr: Option<String>,
    ) {
        self.shared.update(|s| {
            s.role = BrokerRole::Slave;
            s.broker_id = broker_id;
            s.master_ha_addr_fixed = master_ha_addr.is_some();
            if master_ha_addr.is_some() {
                s.master_ha_addr = master_ha_addr;
            }
            if master_addr.is_some() {
                s.master_addr = master_addr;
            }
        });
        self.close_replica_connections();
        self.start_replica_tasks();
        self.wake_registration();
        tracing::info!(broker_id, state = ?self.state(), "became replica");
    }

    /// Stops replicating in both directions: no longer follows a master and
    /// closes every replica connection (new ones are still accepted while
    /// the broker is a master). The role stays as it is.
    pub fn stop_replication(&self) {
        self.stop_replica_tasks();
        self.close_replica_connections();
        tracing::info!("replication stopped");
    }

    /// Closes the connections of this master's replicas (they reconnect).
    pub fn close_replica_connections(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Takes the master addresses a nameserver answered a registration with
    /// (Java's `updateMasterAddress` / `updateHaMasterAddress`).
    pub(crate) fn on_registered(&self, master_addr: Option<String>, ha_addr: Option<String>) {
        if self.is_master() {
            return;
        }
        let mut changed = false;
        self.shared.update(|s| {
            if let Some(addr) = master_addr.filter(|a| !a.is_empty()) {
                changed |= s.master_addr.as_ref() != Some(&addr);
                s.master_addr = Some(addr);
            }
            if let Some(addr) = ha_addr.filter(|a| !a.is_empty()) {
                if !s.master_ha_addr_fixed {
                    changed |= s.master_ha_addr.as_ref() != Some(&addr);
                    s.master_ha_addr = Some(addr);
                }
            }
        });
        if changed {
            tracing::info!(state = ?self.state(), "learnt the master's addresses");
        }
    }

    /// Wakes the connections streaming to replicas (after a put).
    pub(crate) fn notify_appended(&self) {
        self.shared.appended.notify_waiters();
    }

    /// Connected replicas, their acknowledged offsets and lags.
    pub fn replicas(&self) -> Vec<ReplicaStatus> {
        self.shared.in_sync.replicas(
            self.shared.store.commit_log_max_offset(),
            self.shared.settings.max_gap,
        )
    }

    /// Everything `skylark broker status` shows.
    pub fn status(&self) -> HaStatus {
        let state = self.state();
        let follower = (state.role == BrokerRole::Slave).then(|| FollowerStatus {
            connected: self.shared.client.connected.load(Ordering::Acquire),
            reported_offset: self.shared.client.reported.load(Ordering::Acquire),
            master_offset: self.shared.client.master_offset.load(Ordering::Acquire),
        });
        HaStatus {
            state,
            ha_addr: self.ha_addr(),
            max_offset: self.shared.store.commit_log_max_offset(),
            replicas: self.replicas(),
            follower,
        }
    }

    /// The HA gauges in Prometheus' text format: per replica its lag and
    /// acknowledged offset, the in-sync count, and a replica's lag behind
    /// its master.
    pub(crate) fn render_metrics(&self) -> String {
        let status = self.status();
        let registry = Registry::new();
        let mut out = Vec::new();
        let built = (|| -> prometheus::Result<()> {
            let lag = IntGaugeVec::new(
                Opts::new(
                    "skylark_ha_replica_lag_bytes",
                    "CommitLog bytes a replica has not acknowledged (master side)",
                ),
                &["replica"],
            )?;
            let ack = IntGaugeVec::new(
                Opts::new(
                    "skylark_ha_replica_ack_offset",
                    "CommitLog offset a replica last acknowledged (master side)",
                ),
                &["replica"],
            )?;
            let in_sync = IntGauge::new(
                "skylark_ha_replicas_in_sync",
                "Replicas whose lag is under haMaxGapNotInSync",
            )?;
            let connected = IntGauge::new("skylark_ha_replicas_connected", "Connected replicas")?;
            let is_replica =
                IntGauge::new("skylark_ha_is_replica", "1 when this broker is a replica")?;
            let following = IntGauge::new(
                "skylark_ha_master_connected",
                "1 while this replica's HA connection to its master is up",
            )?;
            let behind = IntGauge::new(
                "skylark_ha_master_lag_bytes",
                "Bytes this replica is behind what its master announced (replica side)",
            )?;
            for r in &status.replicas {
                let name = r.addr.to_string();
                lag.with_label_values(&[name.as_str()]).set(r.lag_bytes);
                ack.with_label_values(&[name.as_str()]).set(r.ack_offset);
            }
            in_sync.set(status.replicas.iter().filter(|r| r.in_sync).count() as i64);
            connected.set(status.replicas.len() as i64);
            is_replica.set(i64::from(status.follower.is_some()));
            if let Some(f) = &status.follower {
                behind.set((f.master_offset - status.max_offset).max(0));
                following.set(i64::from(f.connected));
            }
            registry.register(Box::new(lag))?;
            registry.register(Box::new(ack))?;
            registry.register(Box::new(in_sync))?;
            registry.register(Box::new(connected))?;
            registry.register(Box::new(is_replica))?;
            registry.register(Box::new(behind))?;
            registry.register(Box::new(following))?;
            TextEncoder::new().encode(&registry.gather(), &mut out)
        })();
        if let Err(error) = built {
            tracing::warn!(%error, "cannot render the HA metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn start_replica_tasks(&self) {
        let Some(stopped) = self.stopped.get().cloned() else {
            // Not started yet: `start` starts them.
            return;
        };
        let (tx, rx) = watch::channel(false);
        if let Some(old) = self.replica_tasks().replace(tx) {
            let _ = old.send(true);
        }
        let stop = merged_stop(rx, stopped);
        tokio::spawn(replica::run(self.shared.clone(), stop.clone()));
        if let Some(broker) = self.broker.get() {
            tokio::spawn(config_sync::run(broker.clone(), stop));
        }
    }

    fn stop_replica_tasks(&self) {
        if let Some(old) = self.replica_tasks().take() {
            let _ = old.send(true);
        }
    }

    fn replica_tasks(&self) -> MutexGuard<'_, Option<watch::Sender<bool>>> {
        self.replica_stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_registration(&self) {
        if let Some(broker) = self.broker.get().and_then(Weak::upgrade) {
            broker.topics.changed().notify_one();
        }
    }

    /// Stops everything (broker shutdown).
    pub(crate) fn shutdown(&self) {
        self.stop_replica_tasks();
        self.close_replica_connections();
    }
}

/// A stop signal that fires when either `own` or `broker` does (or is dropped).
fn merged_stop(
    mut own: watch::Receiver<bool>,
    mut broker: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = own.wait_for(|s| *s) => {}
            _ = broker.wait_for(|s| *s) => {}
            () = tx.closed() => return,
        }
        let _ = tx.send(true);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config_in;

    #[test]
    fn the_ha_port_follows_the_listen_port_as_in_java() {
        let mut config = BrokerConfig::default();
        assert_eq!(listen_port(&config), 10912);
        config.listen_port = 20911;
        assert_eq!(listen_port(&config), 20912);
        config.store.ha_listen_port = 30000;
        assert_eq!(listen_port(&config), 30000);
        config.store.ha_listen_port = 0;
        assert_eq!(listen_port(&config), 0);
    }

    #[test]
    fn a_slave_needs_an_id_above_zero() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        config.store.broker_role = BrokerRole::Slave;
        config.broker_id = 0;
        let refused = Broker::open(config).unwrap_err();
        assert!(
            refused.to_string().contains("brokerId must be > 0"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn roles_change_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        config.store.broker_role = BrokerRole::SyncMaster;
        let broker = Broker::open(config).unwrap();
        let ha = broker.ha();
        assert!(ha.is_master());
        assert_eq!(ha.role(), BrokerRole::SyncMaster);
        ha.become_replica(2, Some("127.0.0.1:1".into()), Some("127.0.0.1:2".into()));
        assert_eq!(ha.role(), BrokerRole::Slave);
        assert_eq!(ha.broker_id(), 2);
        assert_eq!(ha.master_addr().as_deref(), Some("127.0.0.1:2"));
        // A fixed HA address is not replaced by registration answers.
        ha.on_registered(Some("127.0.0.1:3".into()), Some("127.0.0.1:4".into()));
        let state = ha.state();
        assert_eq!(state.master_ha_addr.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(state.master_addr.as_deref(), Some("127.0.0.1:3"));
        assert!(ha.status().follower.is_some());
        ha.become_master(BrokerRole::AsyncMaster, 0);
        assert!(ha.is_master());
        assert_eq!(ha.broker_id(), 0);
        assert_eq!(ha.master_addr(), None);
        assert!(ha.status().follower.is_none());
    }
}
