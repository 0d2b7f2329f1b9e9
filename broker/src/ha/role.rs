//! The broker's role in its group and the epoch fence around it: MASTER
//! (writable), SLAVE (following a master), or FENCED (a master that learned
//! of a newer epoch and refuses writes until it follows the new master or
//! is promoted again).
//!
//! The newest epoch the broker knows of only grows. A request carrying an
//! older one is refused; a newer one, however it arrives (a role-change
//! request, a replica's handshake), fences a master at once. The state is
//! saved in `haRole.json` in the store root before it takes effect, so a
//! fenced or deposed master stays so across a restart even when its config
//! file still names it master, and a broker told to follow a master keeps
//! following it; only `HA_PROMOTE` makes it master again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use skylark_store::config::BrokerRole;

use super::epoch::{EpochEntry, EpochError, EpochFile, EpochHistory};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::ConfigFile;

/// The role file's name in the store root.
pub(crate) const ROLE_FILE: &str = "haRole.json";

/// What a broker is in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// The group's master: accepts writes.
    Master,
    /// A replica: follows a master, refuses writes.
    Slave,
    /// A master that learned of a newer epoch: refuses writes.
    Fenced,
}

impl Role {
    /// `MASTER`, `SLAVE` or `FENCED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "MASTER",
            Self::Slave => "SLAVE",
            Self::Fenced => "FENCED",
        }
    }
}

/// The role, as saved in `haRole.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRecord {
    /// The role.
    pub role: Role,
    /// The newest epoch the broker knows of.
    pub epoch: i32,
    /// The id it registers with (0 as master).
    pub broker_id: i64,
    /// The master it follows (remoting address), when set by `HA_FOLLOW`;
    /// `None` for a replica following the master of its config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_addr: Option<String>,
    /// That master's HA address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_ha_addr: Option<String>,
}

impl RoleRecord {
    /// A replica never registers as 0 (a master's id).
    fn with_replica_id(mut self) -> Self {
        if self.role == Role::Slave && self.broker_id == 0 {
            self.broker_id = 1;
        }
        self
    }
}

/// The role its config file gives a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfiguredRole {
    /// `brokerId` 0 and `brokerRole` not SLAVE.
    pub master: bool,
    /// `brokerId`.
    pub broker_id: i64,
}

impl ConfiguredRole {
    /// What `config` says.
    pub fn of(config: &BrokerConfig) -> Self {
        Self {
            master: config.broker_id == 0 && config.store.broker_role != BrokerRole::Slave,
            broker_id: config.broker_id,
        }
    }
}

/// Why a role change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// The request's epoch is older than (or, to become master, not newer
    /// than) the broker's.
    #[error(
        "epoch {requested} is stale: this broker knows epoch {known}{}",
        if *promote { "; a promotion needs a newer one" } else { "" }
    )]
    StaleEpoch {
        /// The request's epoch.
        requested: i32,
        /// The newest the broker knows.
        known: i32,
        /// Whether it was a promotion (which needs a strictly newer epoch).
        promote: bool,
    },
    /// The epoch file could not be changed.
    #[error(transparent)]
    Epoch(#[from] EpochError),
    /// The role file could not be saved.
    #[error(transparent)]
    Persist(#[from] BrokerError),
}

/// The broker's role, epoch history and write fence.
#[derive(Debug)]
pub struct HaRole {
    epochs: EpochFile,
    file: ConfigFile,
    state: RwLock<RoleRecord>,
    /// Read on every send: whether writes are accepted.
    writable: AtomicBool,
    /// Serialises role changes (they await the master and the store).
    pub(crate) changing: tokio::sync::Mutex<()>,
}

impl HaRole {
    /// Loads the epoch and role files of the store at `root` and settles
    /// the role the broker starts with: the configured one, except that a
    /// broker configured as master whose saved role is not MASTER, or that
    /// knows of an epoch newer than its own last term, starts FENCED. A
    /// master without any term starts epoch 1 at `max_offset`.
    pub fn open(
        root: &Path,
        configured: ConfiguredRole,
        max_offset: i64,
    ) -> Result<Self, RoleError> {
        let epochs = EpochFile::load(root)?;
        let file = ConfigFile::new(root, ROLE_FILE);
        let saved = read_saved(file.path())?;
        let known = saved
            .as_ref()
            .map_or(0, |s| s.epoch)
            .max(epochs.last_epoch());
        // A replica told to follow a master (HA_FOLLOW) keeps following it,
        // whatever its config file says: that request is the newer decision.
        let told_to_follow = saved
            .as_ref()
            .is_some_and(|s| s.role == Role::Slave && s.master_addr.is_some());
        let state = if configured.master && !told_to_follow {
            let deposed = saved
                .as_ref()
                .is_some_and(|s| s.role != Role::Master || s.epoch > epochs.last_epoch());
            if deposed {
                tracing::error!(
                    epoch = known, own_epoch = epochs.last_epoch(), file = %file.path().display(),
                    "configured as master but deposed (a newer epoch exists or it was a replica): \
                     starting FENCED, refusing writes; promote it (HA_PROMOTE) or point it at the \
                     master (HA_FOLLOW)"
                );
                RoleRecord {
                    role: Role::Fenced,
                    epoch: known,
                    broker_id: 0,
                    master_addr: None,
                    master_ha_addr: None,
                }
            } else {
                if epochs.history().is_empty() {
                    epochs.append(EpochEntry {
                        epoch: known + 1,
                        start_offset: max_offset,
                    })?;
                }
                RoleRecord {
                    role: Role::Master,
                    epoch: epochs.last_epoch().max(known),
                    broker_id: 0,
                    master_addr: None,
                    master_ha_addr: None,
                }
            }
        } else {
            let followed = saved.filter(|s| s.role == Role::Slave);
            RoleRecord {
                role: Role::Slave,
                epoch: known,
                broker_id: followed
                    .as_ref()
                    .map_or(configured.broker_id, |s| s.broker_id),
                master_ha_addr: followed.as_ref().and_then(|s| s.master_ha_addr.clone()),
                master_addr: followed.and_then(|s| s.master_addr),
            }
            .with_replica_id()
        };
        let role = Self {
            epochs,
            file,
            writable: AtomicBool::new(state.role == Role::Master),
            state: RwLock::new(state.clone()),
            changing: tokio::sync::Mutex::new(()),
        };
        role.save(&state)?;
        tracing::info!(
            role = state.role.as_str(),
            epoch = state.epoch,
            broker_id = state.broker_id,
            master = state.master_addr.as_deref().unwrap_or("-"),
            "HA role"
        );
        Ok(role)
    }

    /// [`HaRole::open`] for a broker with `config` whose CommitLog ends at
    /// `max_offset`.
    pub(crate) fn open_for(config: &BrokerConfig, max_offset: i64) -> Result<Self, BrokerError> {
        Self::open(
            &config.store.store_path_root_dir,
            ConfiguredRole::of(config),
            max_offset,
        )
        .map_err(|e| BrokerError::Config(format!("HA role: {e}")))
    }

    fn save(&self, state: &RoleRecord) -> Result<(), BrokerError> {
        let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
        self.file.save(|| bytes)
    }

    /// The role as it stands.
    pub fn state(&self) -> RoleRecord {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the state, saved first; writes are fenced before the save
    /// when the new role refuses them, and allowed only after it.
    fn set(&self, next: RoleRecord) -> Result<(), BrokerError> {
        let writable = next.role == Role::Master;
        if !writable {
            self.writable.store(false, Ordering::SeqCst);
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let saved = self.save(&next);
        // Fencing stands in memory even when the save failed.
        if saved.is_ok() || !writable {
            *state = next;
        }
        drop(state);
        saved?;
        if writable {
            self.writable.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Whether the broker is a fenced master.
    pub fn is_fenced(&self) -> bool {
        self.state().role == Role::Fenced
    }

    /// Whether sends are accepted now.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// Why a send is refused when the broker is a fenced master; `None`
    /// otherwise (a replica's refusal is the replication layer's).
    pub fn fence_refusal(&self) -> Option<String> {
        if self.is_writable() {
            return None;
        }
        let s = self.state();
        (s.role == Role::Fenced).then(|| {
            format!(
                "this broker is a fenced master: epoch {} is newer than its own term {}; it \
                 refuses writes until it follows the new master",
                s.epoch,
                self.epochs.last_epoch()
            )
        })
    }

    /// The newest epoch known.
    pub fn epoch(&self) -> i32 {
        self.state().epoch
    }

    /// The epoch history.
    pub fn history(&self) -> EpochHistory {
        self.epochs.history()
    }

    /// Refuses `requested` when it is older than the newest epoch known.
    pub fn check_not_older(&self, requested: i32) -> Result<(), RoleError> {
        let known = self.epoch();
        if requested < known {
            return Err(RoleError::StaleEpoch {
                requested,
                known,
                promote: false,
            });
        }
        Ok(())
    }

    /// Learns of epoch `epoch`: when it is newer than any known, it is
    /// saved, and a master is fenced (it stops accepting writes at once).
    /// Whether the broker was fenced by it.
    pub fn observe_epoch(&self, epoch: i32) -> bool {
        let mut next = self.state();
        if epoch <= next.epoch {
            return false;
        }
        let fenced = next.role == Role::Master;
        next.epoch = epoch;
        if fenced {
            next.role = Role::Fenced;
            tracing::warn!(
                epoch,
                own_epoch = self.epochs.last_epoch(),
                "learned of a newer epoch: fenced, refusing writes"
            );
        }
        if let Err(error) = self.set(next) {
            tracing::error!(%error, epoch, "cannot save the newer epoch (it stands in memory)");
        }
        fenced
    }

    /// Fences a master before it follows another one (saved; a replica
    /// is left as it is). Its replicas' handshakes then refuse to follow it.
    pub fn fence(&self) {
        let mut next = self.state();
        if next.role != Role::Master {
            self.writable.store(false, Ordering::SeqCst);
            return;
        }
        next.role = Role::Fenced;
        if let Err(error) = self.set(next) {
            tracing::error!(%error, "cannot save the fence (it stands in memory)");
        }
    }

    /// Checks that `epoch` may start a master term here: newer than every
    /// epoch known.
    pub fn check_promotion(&self, epoch: i32) -> Result<(), RoleError> {
        let known = self.epoch().max(self.epochs.last_epoch());
        if epoch <= known {
            return Err(RoleError::StaleEpoch {
                requested: epoch,
                known,
                promote: true,
            });
        }
        Ok(())
    }

    /// Starts master term `epoch` at CommitLog offset `max_offset`: drops
    /// the terms this store holds no byte of (starting at or past
    /// `max_offset`), appends `(epoch, max_offset)` to the epoch file, then
    /// saves the role and allows writes. Replication into this store must
    /// have stopped.
    pub fn promote(&self, epoch: i32, max_offset: i64) -> Result<(), RoleError> {
        self.check_promotion(epoch)?;
        self.epochs.truncate_from(max_offset)?;
        self.epochs.append(EpochEntry {
            epoch,
            start_offset: max_offset,
        })?;
        self.set(RoleRecord {
            role: Role::Master,
            epoch,
            broker_id: 0,
            master_addr: None,
            master_ha_addr: None,
        })?;
        tracing::warn!(epoch, start_offset = max_offset, "promoted to master");
        Ok(())
    }

    /// Becomes a replica of the master at `master_addr` (HA port
    /// `master_ha_addr`) at `epoch` with id `broker_id`; writes stop before
    /// anything is saved.
    pub fn follow(
        &self,
        epoch: i32,
        master_addr: &str,
        master_ha_addr: &str,
        broker_id: i64,
    ) -> Result<(), RoleError> {
        self.check_not_older(epoch)?;
        self.set(RoleRecord {
            role: Role::Slave,
            epoch,
            broker_id,
            master_addr: Some(master_addr.to_owned()),
            master_ha_addr: Some(master_ha_addr.to_owned()),
        })?;
        Ok(())
    }

    /// A replica's handshake with its master, whose history is `master`
    /// and whose CommitLog ends at `master_end`, while this store ends at
    /// `end`: learns the master's epoch and returns the offset to truncate
    /// to (the consistent point, never above `end`); `None` when the two
    /// histories share no term. After truncating, call
    /// [`HaRole::take_history`].
    pub fn handshake(&self, master: &EpochHistory, master_end: i64, end: i64) -> Option<i64> {
        self.observe_epoch(master.last_epoch());
        self.epochs
            .history()
            .consistent_point(end, master, master_end)
            .map(|p| p.min(end))
    }

    /// Takes the master's epoch history as its own, once the CommitLog
    /// holds nothing past the consistent point (a crash before this just
    /// repeats the handshake).
    pub fn take_history(&self, master: &EpochHistory) -> Result<(), RoleError> {
        Ok(self.epochs.replace(master)?)
    }
}

/// The saved role, `None` when there is none yet.
fn read_saved(path: &Path) -> Result<Option<RoleRecord>, BrokerError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            BrokerError::Config(format!(
                "{} is corrupt ({e}); it records the broker's role and newest epoch — restore \
                 it, or remove it to take the role from the config file",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BrokerError::io("read", path, e)),
    }
}

#[cfg(test)]
mod tests;
