//! [`ConsumerManager`]: consumer groups learned from heartbeats (Java's
//! `ConsumerManager` and `ConsumerGroupInfo`), and the notifications their
//! membership changes send.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use skylark_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerConnection, ConsumerData, MessageModel, SubscriptionData,
};
use skylark_remoting::ConnectionHandle;

use super::CHANNEL_EXPIRED_TIMEOUT;
use super::channel::ClientChannelInfo;
use super::notify::{NotifyRounds, Round};

/// Every consumer group with at least one live member.
#[derive(Debug)]
pub struct ConsumerManager {
    table: RwLock<HashMap<String, GroupEntry>>,
    channel_expiry: Duration,
}

/// One consumer group of a heartbeat, as [`ConsumerManager::register`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerRegistration<'a> {
    /// The group's `ConsumerData` from the heartbeat body.
    pub data: &'a ConsumerData,
    /// The heartbeat's `heartbeatFingerprint` (0 for a v1 heartbeat).
    pub fingerprint: i32,
    /// A v2 heartbeat that left the subscriptions out: keep the registered ones.
    pub without_sub: bool,
    /// The group's `notifyConsumerIdsChangedEnable`.
    pub notify: bool,
}

/// What a registration changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registered {
    /// A new member joined or the group's topics changed.
    pub changed: bool,
    /// The v2 answer `IS_SUB_CHANGE`: the client must send its subscriptions
    /// next time.
    pub sub_change: bool,
}

/// A snapshot of one consumer group (admin and pull checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupInfo {
    /// The group.
    pub group: String,
    /// Pull, push or pop, as the last heartbeat said.
    pub consume_type: Option<ConsumeType>,
    /// Clustering or broadcasting, as the last heartbeat said.
    pub message_model: Option<MessageModel>,
    /// Where new queues start, as the last heartbeat said.
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// The members' client ids, in connection order.
    pub client_ids: Vec<String>,
    /// Topic → subscription.
    pub subscriptions: BTreeMap<String, Arc<SubscriptionData>>,
}

#[derive(Debug)]
struct GroupEntry {
    consume_type: Option<ConsumeType>,
    message_model: Option<MessageModel>,
    consume_from_where: Option<ConsumeFromWhere>,
    subscriptions: HashMap<String, Arc<SubscriptionData>>,
    /// Members by connection id; ordered so listings are stable.
    channels: BTreeMap<u64, ClientChannelInfo>,
    /// The last heartbeat fingerprint of the group (Java keeps it per group,
    /// not per member).
    fingerprint: Option<i32>,
    rounds: NotifyRounds,
}

/// A notification to send once the table lock is released.
type Notice = (String, Vec<ConnectionHandle>, Round);

impl Default for ConsumerManager {
    fn default() -> Self {
        Self::new(CHANNEL_EXPIRED_TIMEOUT)
    }
}

impl ConsumerManager {
    /// A manager expiring members silent for longer than `channel_expiry`
    /// (`channelExpiredTimeout`, 120 s).
    pub fn new(channel_expiry: Duration) -> Self {
        Self {
            table: RwLock::default(),
            channel_expiry,
        }
    }

    /// Registers or refreshes `channel` as a member of the group of `reg`
    /// (`registerConsumer` / `registerConsumerWithoutSub`). A new member or
    /// a change of the group's topics notifies every member, unless the
    /// group broadcasts or `reg.notify` is off. A closed connection is not
    /// registered: its close has been (or is being) handled.
    pub fn register(
        &self,
        channel: &ClientChannelInfo,
        reg: ConsumerRegistration<'_>,
    ) -> Registered {
        let data = reg.data;
        let group = data.group_name.as_str();
        // The heartbeat's arrival, stamped when `channel` was made.
        let now = channel.last_update();
        let (registered, notice) = {
            let mut table = self.write();
            // Checked under the lock: `on_channel_closed` runs after the
            // connection is marked closed and takes this lock, so either we
            // see it closed or it sees our entry.
            if channel.conn().is_closed() {
                return Registered::default();
            }
            if !table.contains_key(group) {
                tracing::info!(group, client = channel.client_id(), "new consumer group");
                table.insert(group.to_owned(), GroupEntry::new(data));
            }
            let Some(entry) = table.get_mut(group) else {
                return Registered::default();
            };
            let sub_change = if reg.without_sub {
                // Java answers false for a group it has no fingerprint of,
                // which would leave a restarted broker without the group's
                // subscriptions for good; ask for them instead.
                entry.fingerprint != Some(reg.fingerprint)
            } else {
                entry.fingerprint.is_some_and(|f| f != reg.fingerprint)
            };
            entry.fingerprint = Some(reg.fingerprint);
            let joined = entry.update_channel(group, channel, data, now);
            let topics_changed =
                !reg.without_sub && entry.update_subscriptions(group, &data.subscription_data_set);
            let changed = joined || topics_changed;
            let notice = (changed && reg.notify && !entry.is_broadcasting())
                .then(|| (group.to_owned(), entry.members(), entry.rounds.next_round()));
            (
                Registered {
                    changed,
                    sub_change,
                },
                notice,
            )
        };
        if let Some((group, members, round)) = notice {
            round.notify(&group, members);
        }
        registered
    }

    /// Removes the member on `conn` from `group` (UNREGISTER_CLIENT, a
    /// consumer shutting down); the rest of the group is notified when
    /// `notify`. Returns whether it was a member.
    pub fn unregister(&self, group: &str, conn: &ConnectionHandle, notify: bool) -> bool {
        let notice = {
            let mut table = self.write();
            let Some(entry) = table.get_mut(group) else {
                return false;
            };
            let Some(gone) = entry.channels.remove(&conn.id()) else {
                return false;
            };
            tracing::info!(group, client = gone.client_id(), "consumer unregistered");
            if entry.channels.is_empty() {
                table.remove(group);
                tracing::info!(group, "consumer group has no member left, removed");
                None
            } else {
                (notify && !entry.is_broadcasting())
                    .then(|| (group.to_owned(), entry.members(), entry.rounds.next_round()))
            }
        };
        if let Some((group, members, round)) = notice {
            round.notify(&group, members);
        }
        true
    }

    /// Removes `conn` from every group (the connection closed: how a
    /// consumer leaving is noticed) and notifies the remaining members.
    /// Returns whether it was a member of any group.
    pub fn on_channel_closed(&self, conn: &ConnectionHandle) -> bool {
        let id = conn.id();
        let mut notices: Vec<Notice> = Vec::new();
        let mut removed = false;
        {
            let mut table = self.write();
            table.retain(|group, entry| {
                let Some(gone) = entry.channels.remove(&id) else {
                    return true;
                };
                removed = true;
                tracing::info!(
                    group, client = gone.client_id(), remote = %conn.remote_addr(),
                    "consumer channel closed, member removed"
                );
                if entry.channels.is_empty() {
                    tracing::info!(group, "consumer group has no member left, removed");
                    return false;
                }
                if !entry.is_broadcasting() {
                    notices.push((group.clone(), entry.members(), entry.rounds.next_round()));
                }
                true
            });
        }
        for (group, members, round) in notices {
            round.notify(&group, members);
        }
        removed
    }

    /// Expires members silent for longer than the channel expiry (Java's
    /// `scanNotActiveChannel`, run every 10 s): removes them, closes their
    /// connections and notifies the rest of each group.
    pub fn scan_not_active_channels(&self) {
        self.scan_not_active_channels_at(Instant::now());
    }

    /// [`Self::scan_not_active_channels`] as if it ran at `now`. Returns the
    /// connections it closed.
    pub(crate) fn scan_not_active_channels_at(&self, now: Instant) -> Vec<ConnectionHandle> {
        let mut expired = Vec::new();
        let mut notices: Vec<Notice> = Vec::new();
        {
            let mut table = self.write();
            table.retain(|group, entry| {
                let before = entry.channels.len();
                entry.channels.retain(|_, member| {
                    if !member.is_expired(now, self.channel_expiry) {
                        return true;
                    }
                    tracing::warn!(
                        group, client = member.client_id(), remote = %member.conn().remote_addr(),
                        "SCAN: removing expired consumer channel"
                    );
                    expired.push(member.conn().clone());
                    false
                });
                if entry.channels.is_empty() {
                    tracing::warn!(group, "SCAN: consumer group has no member left, removed");
                    return false;
                }
                // Java sends nothing here (the close event it triggers
                // finds the member already gone); the members left still
                // deserve to rebalance at once.
                if entry.channels.len() != before && !entry.is_broadcasting() {
                    notices.push((group.clone(), entry.members(), entry.rounds.next_round()));
                }
                true
            });
        }
        for conn in &expired {
            conn.close();
        }
        for (group, members, round) in notices {
            round.notify(&group, members);
        }
        expired
    }

    /// The group's registered subscription of `topic` (the pull path's
    /// subscription when the pull carries none).
    pub fn subscription(&self, group: &str, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.read().get(group)?.subscriptions.get(topic).cloned()
    }

    /// Whether `group` has a live member.
    pub fn is_online(&self, group: &str) -> bool {
        self.read().contains_key(group)
    }

    /// The group's message model: `None` when the group has no member,
    /// `Some(None)` when its heartbeat did not say (pull checks).
    pub fn message_model(&self, group: &str) -> Option<Option<MessageModel>> {
        self.read().get(group).map(|entry| entry.message_model)
    }

    /// A snapshot of `group`, if it has a live member.
    pub fn group_info(&self, group: &str) -> Option<ConsumerGroupInfo> {
        let table = self.read();
        let entry = table.get(group)?;
        Some(ConsumerGroupInfo {
            group: group.to_owned(),
            consume_type: entry.consume_type,
            message_model: entry.message_model,
            consume_from_where: entry.consume_from_where,
            client_ids: entry.client_ids(),
            subscriptions: entry
                .subscriptions
                .iter()
                .map(|(topic, sub)| (topic.clone(), sub.clone()))
                .collect(),
        })
    }

    /// The client ids of `group`'s members (GET_CONSUMER_LIST_BY_GROUP);
    /// empty when it has none.
    pub fn client_ids(&self, group: &str) -> Vec<String> {
        self.read()
            .get(group)
            .map(GroupEntry::client_ids)
            .unwrap_or_default()
    }

    /// The members of `group` (to send them requests: reset offset, running info).
    pub fn channels(&self, group: &str) -> Vec<ClientChannelInfo> {
        self.read()
            .get(group)
            .map(|entry| entry.channels.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The member of `group` with `client_id`.
    pub fn find_channel(&self, group: &str, client_id: &str) -> Option<ClientChannelInfo> {
        self.read()
            .get(group)?
            .channels
            .values()
            .find(|member| member.client_id() == client_id)
            .cloned()
    }

    /// The groups with a live member.
    pub fn groups(&self) -> BTreeSet<String> {
        self.read().keys().cloned().collect()
    }

    /// The live groups subscribed to `topic` (QUERY_TOPIC_CONSUME_BY_WHO).
    pub fn groups_of_topic(&self, topic: &str) -> BTreeSet<String> {
        self.read()
            .iter()
            .filter(|(_, entry)| entry.subscriptions.contains_key(topic))
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// The admin view of `group` (GET_CONSUMER_CONNECTION_LIST), if it has a
    /// live member.
    pub fn consumer_connection(&self, group: &str) -> Option<ConsumerConnection> {
        let table = self.read();
        let entry = table.get(group)?;
        Some(ConsumerConnection {
            connection_set: entry
                .channels
                .values()
                .map(ClientChannelInfo::connection)
                .collect(),
            consume_from_where: entry.consume_from_where,
            consume_type: entry.consume_type,
            message_model: entry.message_model,
            subscription_table: entry
                .subscriptions
                .iter()
                .map(|(topic, sub)| (topic.clone(), SubscriptionData::clone(sub)))
                .collect(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, GroupEntry>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, GroupEntry>> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl GroupEntry {
    fn new(data: &ConsumerData) -> Self {
        Self {
            consume_type: data.consume_type,
            message_model: data.message_model,
            consume_from_where: data.consume_from_where,
            subscriptions: HashMap::new(),
            channels: BTreeMap::new(),
            fingerprint: None,
            rounds: NotifyRounds::default(),
        }
    }

    fn is_broadcasting(&self) -> bool {
        self.message_model == Some(MessageModel::Broadcasting)
    }

    fn members(&self) -> Vec<ConnectionHandle> {
        self.channels.values().map(|m| m.conn().clone()).collect()
    }

    fn client_ids(&self) -> Vec<String> {
        self.channels
            .values()
            .map(|m| m.client_id().to_owned())
            .collect()
    }

    /// Java's `updateChannel`: the group takes the heartbeat's settings;
    /// returns whether `channel` is a new member.
    fn update_channel(
        &mut self,
        group: &str,
        channel: &ClientChannelInfo,
        data: &ConsumerData,
        now: Instant,
    ) -> bool {
        self.consume_type = data.consume_type;
        self.message_model = data.message_model;
        self.consume_from_where = data.consume_from_where;
        match self.channels.get_mut(&channel.channel_id()) {
            None => {
                tracing::info!(
                    group, client = channel.client_id(), remote = %channel.conn().remote_addr(),
                    consume_type = ?data.consume_type, message_model = ?data.message_model,
                    "new consumer connected"
                );
                let mut member = channel.clone();
                member.touch(now);
                self.channels.insert(channel.channel_id(), member);
                true
            }
            Some(member) => {
                if member.client_id() != channel.client_id() {
                    tracing::error!(
                        group,
                        old = member.client_id(),
                        new = channel.client_id(),
                        "consumer channel exists but its client id changed"
                    );
                    *member = channel.clone();
                }
                member.touch(now);
                false
            }
        }
    }

    /// Java's `updateSubscription`: new topics are added, newer versions
    /// replace older ones, topics no longer listed are dropped. Returns
    /// whether the set of topics changed (a newer version alone is not a
    /// change: push consumers bump it on every rebalance).
    fn update_subscriptions(&mut self, group: &str, subs: &[SubscriptionData]) -> bool {
        let mut changed = false;
        for sub in subs {
            match self.subscriptions.get_mut(&sub.topic) {
                None => {
                    tracing::info!(group, topic = %sub.topic, expression = %sub.sub_string, "subscription added");
                    self.subscriptions
                        .insert(sub.topic.clone(), Arc::new(sub.clone()));
                    changed = true;
                }
                Some(old) if sub.sub_version > old.sub_version => {
                    if old.sub_string != sub.sub_string {
                        tracing::info!(
                            group, topic = %sub.topic, old = %old.sub_string, new = %sub.sub_string,
                            "subscription changed"
                        );
                    }
                    *old = Arc::new(sub.clone());
                }
                Some(_) => {}
            }
        }
        self.subscriptions.retain(|topic, _| {
            let kept = subs.iter().any(|sub| &sub.topic == topic);
            if !kept {
                tracing::warn!(group, topic = %topic, "subscription removed");
                changed = true;
            }
            kept
        });
        changed
    }
}

#[cfg(test)]
mod tests;
