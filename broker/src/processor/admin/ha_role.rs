//! Skylark's role-change requests (HA_PROMOTE 47001, HA_FOLLOW 47002,
//! HA_STATUS 47003) and the replica's epoch handshake, which run the
//! epoch-fenced role changes on top of replication ([`crate::ha`]).
//!
//! - PROMOTE: replication into the store stops, the epoch file gets
//!   `(E, CommitLog end)`, the store takes puts, and the broker registers
//!   as brokerId 0.
//! - FOLLOW: writes stop at once; the master's status is fetched (it must
//!   be the MASTER of exactly that epoch); the CommitLog, ConsumeQueues and
//!   index are cut to the last offset both epoch histories share; then the
//!   broker follows the master's HA port with a replica's id.
//! - The handshake: before every connection to its master's HA port a
//!   replica fetches the master's status (telling it its own epoch, which
//!   fences a master of an older one) and truncates likewise; a master of
//!   an older epoch, or one that is not MASTER, is not followed. The HA
//!   byte stream itself stays RocketMQ's classic one.

use std::time::Duration;

use skylark_protocol::body::{Body, HaReplicaInfo, HaStatus, KeyStyle};
use skylark_protocol::headers::ha_role::{
    HaFollowRequestHeader, HaPromoteRequestHeader, HaStatusRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ClientConfig, RemotingClient};
use skylark_store::config::BrokerRole;

use super::super::{Outcome, header, reply, success};
use crate::broker::Broker;
use crate::ha::HaError;
use crate::ha::epoch::EpochHistory;
use crate::ha::role::{Role, RoleError};

/// Timeout of a status request to a master.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a new master keeps trying to tell its former master the epoch.
const TELL_FORMER_FOR: Duration = Duration::from_secs(120);
/// How long a role change waits for replicated appends to stop.
const QUIESCE_LIMIT: Duration = Duration::from_secs(3);

/// Why a master's status could not be had.
enum StatusError {
    /// The master does not know HA_STATUS (a RocketMQ broker): no epochs.
    NotSupported,
    /// Anything else.
    Failed(String),
}

impl Broker {
    /// Applies the role [`HaRole::open`](crate::ha::role::HaRole::open) settled on to the store and the
    /// replication service (before the broker serves).
    pub(crate) fn apply_saved_role(&self) {
        let state = self.ha_role.state();
        match state.role {
            Role::Fenced => self.store.set_slave(true),
            Role::Slave if state.master_addr.is_some() => {
                self.store.set_slave(true);
                self.ha.become_replica(
                    state.broker_id,
                    state.master_ha_addr.clone(),
                    state.master_addr.clone(),
                );
            }
            Role::Slave | Role::Master => {}
        }
    }

    /// Answers HA_PROMOTE, HA_FOLLOW and HA_STATUS.
    pub(crate) async fn handle_ha_role(&self, request: &RemotingCommand) -> Outcome {
        match request.request_code() {
            RequestCode::HA_PROMOTE => self.ha_promote(request).await,
            RequestCode::HA_FOLLOW => self.ha_follow(request).await,
            RequestCode::HA_STATUS => self.ha_status(request).await,
            _ => Ok(skylark_remoting::not_supported(request)),
        }
    }

    /// A send refused because this master is fenced, with the reason.
    pub(crate) fn refuse_fenced_write(&self, request: &RemotingCommand) -> Option<RemotingCommand> {
        self.ha_role.fence_refusal().map(|why| {
            reply(
                request,
                ResponseCode::SERVICE_NOT_AVAILABLE,
                format!("service not available now: {why}"),
            )
        })
    }

    /// Learns of `epoch`; a master of an older one is fenced at once.
    /// Whether it was.
    fn learn_epoch(&self, epoch: i32) -> bool {
        let fenced = self.ha_role.observe_epoch(epoch);
        if fenced {
            self.store.set_slave(true);
        }
        fenced
    }

    /// Takes a just-fenced master out of the nameservers' routes (it no
    /// longer registers either), so producers stop being sent to it.
    async fn leave_routes(&self) {
        let client = RemotingClient::new(ClientConfig::default());
        self.unregister_all(&client).await;
        client.shutdown();
    }

    async fn ha_status(&self, request: &RemotingCommand) -> Outcome {
        let h: HaStatusRequestHeader = header(request)?;
        if let Some(epoch) = h.epoch {
            if self.learn_epoch(epoch) {
                self.leave_routes().await;
            }
        }
        Ok(success(request).with_body(self.ha_status_body().encode(KeyStyle::Unquoted)))
    }

    /// Role, epochs, offsets and replicas, as HA_STATUS answers.
    pub(crate) fn ha_status_body(&self) -> HaStatus {
        let role = self.ha_role.state();
        let ha = self.ha.status();
        let is_master = self.ha.is_master() && role.role != Role::Slave;
        let confirm_offset = if is_master {
            ha.replicas.iter().map(|r| r.ack_offset).max().unwrap_or(-1)
        } else {
            ha.follower.as_ref().map_or(-1, |f| f.reported_offset)
        };
        HaStatus {
            broker_name: self.config.broker_name.clone(),
            broker_id: self.ha.broker_id(),
            broker_addr: self.config.broker_addr(),
            ha_addr: format!(
                "{}:{}",
                self.config.broker_ip1,
                ha.ha_addr
                    .map_or(self.config.store.ha_listen_port, |a| a.port())
            ),
            role: if is_master {
                role.role.as_str()
            } else {
                Role::Slave.as_str()
            }
            .to_owned(),
            epoch: role.epoch,
            writable: is_master && self.ha_role.is_writable(),
            master_addr: if is_master {
                None
            } else {
                ha.state.master_addr.clone().or(role.master_addr)
            },
            epochs: self.ha_role.history().entries().to_vec(),
            commit_log_min_offset: self.store.commit_log_min_offset(),
            commit_log_max_offset: ha.max_offset,
            confirm_offset,
            dispatched_offset: self.store.dispatched_offset(),
            replicas: ha
                .replicas
                .iter()
                .map(|r| HaReplicaInfo {
                    addr: r.addr.to_string(),
                    ack_offset: r.ack_offset,
                    lag_bytes: r.lag_bytes,
                    in_sync: r.in_sync,
                })
                .collect(),
        }
    }

    async fn ha_promote(&self, request: &RemotingCommand) -> Outcome {
        let h: HaPromoteRequestHeader = header(request)?;
        let _changing = self.ha_role.changing.lock().await;
        if let Err(error) = self.ha_role.check_promotion(h.epoch) {
            return Ok(refused(request, &error));
        }
        tracing::warn!(epoch = h.epoch, "promotion requested");
        let former = self
            .ha
            .master_addr()
            .filter(|m| *m != self.config.broker_addr());
        self.ha.stop_replication();
        let end = self.quiesce().await;
        if let Err(error) = self.ha_role.promote(h.epoch, end) {
            return Ok(refused(request, &error));
        }
        self.store.set_slave(false);
        let role = match self.config.store.broker_role {
            BrokerRole::Slave => BrokerRole::AsyncMaster,
            master => master,
        };
        self.ha.become_master(role, 0);
        if let Some(former) = former {
            tokio::spawn(tell_former_master(former, h.epoch));
        }
        Ok(success(request).with_body(self.ha_status_body().encode(KeyStyle::Unquoted)))
    }

    async fn ha_follow(&self, request: &RemotingCommand) -> Outcome {
        let h: HaFollowRequestHeader = header(request)?;
        let _changing = self.ha_role.changing.lock().await;
        if let Err(error) = self.ha_role.check_not_older(h.epoch) {
            return Ok(refused(request, &error));
        }
        if h.master_addr == self.config.broker_addr() {
            return Ok(reply(
                request,
                ResponseCode::INVALID_PARAMETER,
                "a broker cannot follow itself",
            ));
        }
        let master = match fetch_status(&h.master_addr, self.ha_role.epoch()).await {
            Ok(master) => master,
            Err(StatusError::NotSupported) => {
                return Ok(reply(
                    request,
                    ResponseCode::CONTROLLER_MASTER_NOT_AVAILABLE,
                    format!(
                        "{} does not answer HA_STATUS: not a Skylark broker",
                        h.master_addr
                    ),
                ));
            }
            Err(StatusError::Failed(why)) => {
                return Ok(reply(
                    request,
                    ResponseCode::CONTROLLER_MASTER_NOT_AVAILABLE,
                    format!("cannot reach the master {}: {why}", h.master_addr),
                ));
            }
        };
        if master.epoch > h.epoch {
            if self.learn_epoch(master.epoch) {
                self.leave_routes().await;
            }
            return Ok(reply(
                request,
                ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH,
                format!(
                    "epoch {} is stale: {} is already at epoch {}",
                    h.epoch, h.master_addr, master.epoch
                ),
            ));
        }
        if master.role != Role::Master.as_str() || master.epoch != h.epoch {
            return Ok(reply(
                request,
                ResponseCode::CONTROLLER_MASTER_NOT_AVAILABLE,
                format!(
                    "{} is not the master of epoch {}: it is {} at epoch {}",
                    h.master_addr, h.epoch, master.role, master.epoch
                ),
            ));
        }
        tracing::warn!(master = %h.master_addr, epoch = h.epoch, "following a new master");
        // No write may be accepted from here on, even if the change fails
        // below: the master of an epoch at least ours exists.
        self.ha_role.fence();
        self.store.set_slave(true);
        self.ha.stop_replication();
        self.quiesce().await;
        if let Err(why) = self.reconcile_with(&master).await {
            return Ok(reply(request, ResponseCode::SYSTEM_ERROR, why));
        }
        let broker_id = h
            .broker_id
            .filter(|id| *id > 0)
            .or_else(|| Some(self.ha.broker_id()).filter(|id| *id > 0))
            .or_else(|| Some(self.config.broker_id).filter(|id| *id > 0))
            .unwrap_or(1);
        if let Err(error) = self
            .ha_role
            .follow(h.epoch, &h.master_addr, &master.ha_addr, broker_id)
        {
            return Ok(refused(request, &error));
        }
        self.ha.become_replica(
            broker_id,
            Some(master.ha_addr.clone()),
            Some(h.master_addr.clone()),
        );
        Ok(success(request).with_body(self.ha_status_body().encode(KeyStyle::Unquoted)))
    }

    /// Waits until replicated appends have stopped (the CommitLog end holds
    /// still), then for dispatch; returns the end.
    async fn quiesce(&self) -> i64 {
        let deadline = tokio::time::Instant::now() + QUIESCE_LIMIT;
        let mut end = self.store.commit_log_max_offset();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.store.commit_log_max_offset();
            if now == end || tokio::time::Instant::now() >= deadline {
                end = now;
                break;
            }
            end = now;
        }
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.wait_dispatched_all(QUIESCE_LIMIT)).await;
        end
    }

    /// Cuts the store to the last offset it shares with `master` and takes
    /// the master's epoch history; the reason when they share none.
    async fn reconcile_with(&self, master: &HaStatus) -> Result<(), String> {
        let history = EpochHistory::new(master.epochs.clone())
            .map_err(|e| format!("the master's epoch history is invalid: {e}"))?;
        let end = self.store.commit_log_max_offset();
        let point = self
            .ha_role
            .handshake(&history, master.commit_log_max_offset, end)
            .ok_or_else(|| {
                format!(
                    "this broker shares no epoch with the master {} (ours: {:?}, theirs: {:?}); \
                     its data cannot be reconciled — empty its store to follow it",
                    master.broker_addr,
                    self.ha_role.history().entries(),
                    master.epochs
                )
            })?;
        if point < end {
            tracing::warn!(
                from = point, to = end, master = %master.broker_addr,
                "truncating what the master of the newer epoch does not have"
            );
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.truncate_to(point))
                .await
                .map_err(|e| format!("truncation panicked: {e}"))?
                .map_err(|e| format!("cannot truncate the store to {point}: {e}"))?;
        }
        self.ha_role
            .take_history(&history)
            .map_err(|e| e.to_string())
    }

    /// The epoch handshake a replica makes before each connection to its
    /// master's HA port.
    pub(crate) async fn replica_handshake(&self) -> Result<(), HaError> {
        let failed =
            |why: String| HaError::Io(std::io::Error::other(format!("epoch handshake: {why}")));
        let Some(master_addr) = self.ha.master_addr() else {
            if self.config.namesrv_addrs().is_empty() {
                // Only an HA address is known (`haMasterAddress`): classic replication.
                return Ok(());
            }
            return Err(failed(
                "the master's address is not known yet (the nameservers tell it)".to_owned(),
            ));
        };
        let _changing = self.ha_role.changing.lock().await;
        let master = match fetch_status(&master_addr, self.ha_role.epoch()).await {
            Ok(master) => master,
            Err(StatusError::NotSupported) => {
                tracing::info!(master = %master_addr, "master has no epochs (a RocketMQ broker): classic replication");
                return Ok(());
            }
            Err(StatusError::Failed(why)) => return Err(failed(format!("{master_addr}: {why}"))),
        };
        if master.role != Role::Master.as_str() {
            return Err(failed(format!(
                "{master_addr} is {} (epoch {}), not a master",
                master.role, master.epoch
            )));
        }
        let ours = self.ha_role.epoch();
        if master.epoch < ours {
            return Err(failed(format!(
                "{master_addr} is master of epoch {}, older than ours ({ours}); not following it",
                master.epoch
            )));
        }
        self.reconcile_with(&master).await.map_err(failed)
    }
}

/// Tells the master this broker followed before its promotion about the
/// new epoch, which fences it (best effort: a master that is down or cut
/// off learns it from the operator's FOLLOW, or from a replica's handshake).
/// Retried while it does not answer, up to [`TELL_FORMER_FOR`].
async fn tell_former_master(former: String, epoch: i32) {
    let give_up = tokio::time::Instant::now() + TELL_FORMER_FOR;
    loop {
        match fetch_status(&former, epoch).await {
            Ok(status) => {
                tracing::info!(former = %former, role = %status.role, epoch, "told the former master of the new epoch");
                return;
            }
            Err(StatusError::NotSupported) => return,
            Err(StatusError::Failed(why)) => {
                if tokio::time::Instant::now() >= give_up {
                    tracing::warn!(former = %former, epoch, %why, "could not tell the former master of the new epoch");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A refusal for a role change: stale epochs get Java's fencing code.
fn refused(request: &RemotingCommand, error: &RoleError) -> RemotingCommand {
    let code = match error {
        RoleError::StaleEpoch { .. } => ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH,
        _ => ResponseCode::SYSTEM_ERROR,
    };
    reply(request, code, error.to_string())
}

/// The HA_STATUS of the broker at `addr`, telling it our `epoch`.
async fn fetch_status(addr: &str, epoch: i32) -> Result<HaStatus, StatusError> {
    let client = RemotingClient::new(ClientConfig::default());
    let request = RemotingCommand::request(
        RequestCode::HA_STATUS,
        &HaStatusRequestHeader { epoch: Some(epoch) },
    );
    let answer = client.invoke(addr, request, STATUS_TIMEOUT).await;
    client.shutdown();
    let response = answer.map_err(|e| StatusError::Failed(e.to_string()))?;
    match response.response_code() {
        ResponseCode::SUCCESS => HaStatus::decode(&response.body)
            .map_err(|e| StatusError::Failed(format!("bad HA_STATUS body: {e}"))),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED => Err(StatusError::NotSupported),
        code => Err(StatusError::Failed(format!(
            "{code}: {}",
            response.remark.as_deref().unwrap_or_default()
        ))),
    }
}
