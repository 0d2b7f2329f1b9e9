//! [`ProducerManager`]: producer groups learned from heartbeats (Java's
//! `ProducerManager`), for transaction checks and admin listings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use skylark_protocol::body::ProducerConnection;
use skylark_remoting::ConnectionHandle;

use super::CHANNEL_EXPIRED_TIMEOUT;
use super::channel::ClientChannelInfo;

/// Every producer group with at least one live member.
#[derive(Debug)]
pub struct ProducerManager {
    tables: RwLock<Tables>,
    channel_expiry: Duration,
    /// Round-robin position of [`ProducerManager::any_channel`].
    next: AtomicUsize,
}

#[derive(Debug, Default)]
struct Tables {
    /// Group → members by connection id.
    groups: HashMap<String, BTreeMap<u64, ClientChannelInfo>>,
    /// Client id → the connection it last registered on (`clientChannelTable`).
    clients: HashMap<String, ConnectionHandle>,
}

impl Default for ProducerManager {
    fn default() -> Self {
        Self::new(CHANNEL_EXPIRED_TIMEOUT)
    }
}

impl ProducerManager {
    /// A manager expiring members silent for longer than `channel_expiry` (120 s).
    pub fn new(channel_expiry: Duration) -> Self {
        Self {
            tables: RwLock::default(),
            channel_expiry,
            next: AtomicUsize::new(0),
        }
    }

    /// Registers or refreshes `channel` as a member of `group` (`registerProducer`).
    /// A closed connection is not registered.
    pub fn register(&self, group: &str, channel: &ClientChannelInfo) {
        // The heartbeat's arrival, stamped when `channel` was made.
        let now = channel.last_update();
        let mut tables = self.write();
        if channel.conn().is_closed() {
            return;
        }
        let Tables { groups, clients } = &mut *tables;
        if !groups.contains_key(group) {
            groups.insert(group.to_owned(), BTreeMap::new());
        }
        let Some(members) = groups.get_mut(group) else {
            return;
        };
        match members.get_mut(&channel.channel_id()) {
            Some(member) => member.touch(now),
            None => {
                tracing::info!(
                    group, client = channel.client_id(), remote = %channel.conn().remote_addr(),
                    "new producer connected"
                );
                let mut member = channel.clone();
                member.touch(now);
                members.insert(channel.channel_id(), member);
                clients.insert(channel.client_id().to_owned(), channel.conn().clone());
            }
        }
    }

    /// Removes the member on `conn` from `group` (UNREGISTER_CLIENT).
    /// Returns whether it was a member.
    pub fn unregister(&self, group: &str, conn: &ConnectionHandle) -> bool {
        let mut tables = self.write();
        let Tables { groups, clients } = &mut *tables;
        let Some(members) = groups.get_mut(group) else {
            return false;
        };
        let gone = members.remove(&conn.id());
        if members.is_empty() {
            groups.remove(group);
            tracing::info!(group, "producer group has no member left, removed");
        }
        let Some(member) = gone else {
            return false;
        };
        tracing::info!(group, client = member.client_id(), "producer unregistered");
        // Java forgets the client id even when the connection still serves
        // another of its producer groups; keep it while it does.
        let still_member = groups
            .values()
            .any(|members| members.contains_key(&member.channel_id()));
        if !still_member {
            forget_client(clients, &member);
        }
        true
    }

    /// Removes `conn` from every group (the connection closed). Returns
    /// whether it was a member of any group.
    pub fn on_channel_closed(&self, conn: &ConnectionHandle) -> bool {
        let id = conn.id();
        let mut removed = false;
        let mut tables = self.write();
        let Tables { groups, clients } = &mut *tables;
        groups.retain(|group, members| {
            let Some(gone) = members.remove(&id) else {
                return true;
            };
            removed = true;
            tracing::info!(
                group, client = gone.client_id(), remote = %conn.remote_addr(),
                "producer channel closed, member removed"
            );
            forget_client(clients, &gone);
            !members.is_empty()
        });
        removed
    }

    /// Expires members silent for longer than the channel expiry and
    /// closes their connections (Java's `scanNotActiveChannel`).
    pub fn scan_not_active_channels(&self) {
        self.scan_not_active_channels_at(Instant::now());
    }

    /// [`Self::scan_not_active_channels`] as if it ran at `now`. Returns the
    /// connections it closed.
    pub(crate) fn scan_not_active_channels_at(&self, now: Instant) -> Vec<ConnectionHandle> {
        let mut expired = Vec::new();
        {
            let mut tables = self.write();
            let Tables { groups, clients } = &mut *tables;
            groups.retain(|group, members| {
                members.retain(|_, member| {
                    if !member.is_expired(now, self.channel_expiry) {
                        return true;
                    }
                    tracing::warn!(
                        group, client = member.client_id(), remote = %member.conn().remote_addr(),
                        "SCAN: removing expired producer channel"
                    );
                    forget_client(clients, member);
                    expired.push(member.conn().clone());
                    false
                });
                !members.is_empty()
            });
        }
        for conn in &expired {
            conn.close();
        }
        expired
    }

    /// A live connection of a member of `group`, taken round-robin
    /// (`getAvailableChannel`: where transaction checks go).
    pub fn any_channel(&self, group: &str) -> Option<ConnectionHandle> {
        let tables = self.read();
        let members = tables.groups.get(group)?;
        let len = members.len();
        if len == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % len;
        members
            .values()
            .cycle()
            .skip(start)
            .take(len)
            .find(|member| !member.conn().is_closed())
            .map(|member| member.conn().clone())
    }

    /// The connection client `client_id` last registered a producer on.
    pub fn find_channel(&self, client_id: &str) -> Option<ConnectionHandle> {
        self.read().clients.get(client_id).cloned()
    }

    /// Whether `group` has a live member.
    pub fn is_online(&self, group: &str) -> bool {
        self.read().groups.contains_key(group)
    }

    /// The members of `group`.
    pub fn channels(&self, group: &str) -> Vec<ClientChannelInfo> {
        self.read()
            .groups
            .get(group)
            .map(|members| members.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The groups with a live member.
    pub fn groups(&self) -> BTreeSet<String> {
        self.read().groups.keys().cloned().collect()
    }

    /// The admin view of `group` (GET_PRODUCER_CONNECTION_LIST), if it has
    /// a live member.
    pub fn producer_connection(&self, group: &str) -> Option<ProducerConnection> {
        let tables = self.read();
        let members = tables.groups.get(group)?;
        Some(ProducerConnection {
            connection_set: members
                .values()
                .map(ClientChannelInfo::connection)
                .collect(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Drops `member`'s client-id entry if it still points at its connection.
fn forget_client(clients: &mut HashMap<String, ConnectionHandle>, member: &ClientChannelInfo) {
    if clients
        .get(member.client_id())
        .is_some_and(|conn| conn.id() == member.channel_id())
    {
        clients.remove(member.client_id());
    }
}

#[cfg(test)]
mod tests;
