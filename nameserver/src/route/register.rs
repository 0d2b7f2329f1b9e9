//! Broker membership: registration, unregistration, expiry of silent
//! brokers and removal of brokers whose connection closed.

use std::collections::BTreeSet;

use skylark_protocol::body::{
    BrokerData, QueueData, TopicConfig, TopicConfigAndMappingSerializeWrapper,
};
use skylark_protocol::message::PermName;

use super::{BrokerAddrInfo, BrokerLiveInfo, RouteInfoManager, Tables};

/// One REGISTER_BROKER, decoded.
#[derive(Debug, Clone, Default)]
pub struct BrokerRegistration {
    /// `clusterName`.
    pub cluster_name: String,
    /// `brokerAddr`: the address clients use.
    pub broker_addr: String,
    /// `brokerName`: the group.
    pub broker_name: String,
    /// `brokerId`: 0 for the master.
    pub broker_id: i64,
    /// `haServerAddr`.
    pub ha_server_addr: String,
    /// extField `__ZONE_NAME`.
    pub zone_name: Option<String>,
    /// `heartbeatTimeoutMillis`; `None` takes the server default.
    pub heartbeat_timeout_millis: Option<i64>,
    /// `enableActingMaster`; `None` marks a pre-5.0 broker.
    pub enable_acting_master: Option<bool>,
    /// The broker's topics, their version and static-topic mappings.
    pub topic_config: TopicConfigAndMappingSerializeWrapper,
    /// Filter servers; `None` leaves the recorded list alone.
    pub filter_server_list: Option<Vec<String>>,
    /// The connection it came over, so closing it unregisters the broker.
    pub channel_id: Option<u64>,
}

/// The answer to a registration (`RegisterBrokerResult`): for slaves, the
/// master to replicate from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterBrokerResult {
    /// The master's HA address.
    pub ha_server_addr: Option<String>,
    /// The master's address.
    pub master_addr: Option<String>,
}

/// One broker to unregister (`UnRegisterBrokerRequestHeader`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnregisterRequest {
    /// Its cluster.
    pub cluster_name: String,
    /// Its address.
    pub broker_addr: String,
    /// Its group.
    pub broker_name: String,
    /// Its id.
    pub broker_id: i64,
}

/// A broker dropped because it went silent or its connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredBroker {
    /// Which broker.
    pub addr: BrokerAddrInfo,
    /// The connection it had registered over, to close.
    pub channel_id: Option<u64>,
}

impl RouteInfoManager {
    /// Registers (or refreshes) a broker, as Java's `registerBroker`.
    ///
    /// Returns `None` when a single-topic registration arrives before the
    /// broker's first full one (Java answers "register broker failed").
    pub fn register_broker(&self, reg: BrokerRegistration) -> Option<RegisterBrokerResult> {
        let now = self.clock.now_millis();
        let delete_missing = self.delete_topic_with_broker_registration();
        let mut guard = self.write();
        let t = &mut *guard;
        let mut result = RegisterBrokerResult::default();

        t.cluster_addr
            .entry(reg.cluster_name.clone())
            .or_default()
            .insert(reg.broker_name.clone());

        let mut register_first = !t.broker_addr.contains_key(&reg.broker_name);
        let group = t
            .broker_addr
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster_name.clone(),
                broker_name: reg.broker_name.clone(),
                ..BrokerData::default()
            });
        let old_version_broker = reg.enable_acting_master.is_none();
        group.enable_acting_master = reg.enable_acting_master.unwrap_or(false);
        group.zone_name = reg.zone_name.clone();

        // A slave promoted to master (or the reverse) re-registers the same
        // address under a new id: one address, one entry.
        group
            .broker_addrs
            .retain(|id, addr| !(*addr == reg.broker_addr && *id != reg.broker_id));

        // Another address already holds this id: the registration with the
        // older controller state version loses.
        if let Some(old_addr) = group.broker_addrs.get(&reg.broker_id) {
            if *old_addr != reg.broker_addr {
                let old_key = BrokerAddrInfo::new(reg.cluster_name.clone(), old_addr.clone());
                let new_state = reg.topic_config.data_version.state_version;
                if let Some(old) = t.broker_live.get(&old_key) {
                    if old.data_version.state_version > new_state {
                        tracing::warn!(
                            cluster = %reg.cluster_name, broker = %reg.broker_name,
                            id = reg.broker_id, old_addr = %old_key.broker_addr,
                            new_addr = %reg.broker_addr,
                            "registration conflicts with a newer one, ignored"
                        );
                        t.broker_live.remove(&BrokerAddrInfo::new(
                            reg.cluster_name.clone(),
                            reg.broker_addr.clone(),
                        ));
                        return Some(result);
                    }
                }
            }
        }

        if !group.broker_addrs.contains_key(&reg.broker_id)
            && reg.topic_config.topic_config_table.len() == 1
        {
            tracing::warn!(
                broker = %reg.broker_name, id = reg.broker_id, addr = %reg.broker_addr,
                "single-topic registration before the broker registered"
            );
            return None;
        }

        let old_addr = group
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        register_first |= old_addr.is_none_or(|a| a.is_empty());

        let is_master = reg.broker_id == BrokerData::MASTER_ID;
        let min_id = group.broker_addrs.keys().next().copied();
        let is_prime_slave = !old_version_broker && !is_master && min_id == Some(reg.broker_id);
        let wipe_write = is_prime_slave && group.enable_acting_master;

        let live_key = BrokerAddrInfo::new(reg.cluster_name.clone(), reg.broker_addr.clone());
        let wrapper = &reg.topic_config;
        if is_master || is_prime_slave {
            let version_changed = t
                .broker_live
                .get(&live_key)
                .is_none_or(|live| live.data_version != wrapper.data_version);

            if delete_missing && wrapper.topic_queue_mapping_info_map.is_empty() {
                drop_missing_topics(t, &reg.broker_name, wrapper);
            }

            for topic in wrapper.topic_config_table.values() {
                let known = t
                    .topic_queue
                    .get(&topic.topic_name)
                    .is_some_and(|q| q.contains_key(&reg.broker_name));
                if register_first || version_changed || !known {
                    let mut queue = queue_data(&reg.broker_name, topic);
                    if wipe_write {
                        // The acting master of a master-less group serves reads only.
                        queue.perm &= !PermName::WRITE;
                    }
                    upsert_queue_data(t, &topic.topic_name, queue);
                }
            }

            if version_changed || register_first {
                for (topic, info) in &wrapper.topic_queue_mapping_info_map {
                    t.topic_queue_mapping
                        .entry(topic.clone())
                        .or_default()
                        .insert(info.bname.clone(), info.clone());
                }
            }
        }

        let prev = t.broker_live.insert(
            live_key.clone(),
            BrokerLiveInfo {
                last_update_millis: now,
                heartbeat_timeout_millis: reg
                    .heartbeat_timeout_millis
                    .unwrap_or(self.default_timeout_millis),
                data_version: wrapper.data_version,
                channel_id: reg.channel_id,
                ha_server_addr: reg.ha_server_addr.clone(),
            },
        );
        if prev.is_none() {
            tracing::info!(
                cluster = %reg.cluster_name, broker = %reg.broker_name, id = reg.broker_id,
                addr = %reg.broker_addr, ha = %reg.ha_server_addr, "new broker registered"
            );
        }

        if let Some(list) = &reg.filter_server_list {
            if list.is_empty() {
                t.filter_server.remove(&live_key);
            } else {
                t.filter_server.insert(live_key, list.clone());
            }
        }

        if !is_master {
            let master = t
                .broker_addr
                .get(&reg.broker_name)
                .and_then(|g| g.master_addr())
                .map(str::to_owned);
            if let Some(master) = master {
                let key = BrokerAddrInfo::new(reg.cluster_name.clone(), master.clone());
                if let Some(live) = t.broker_live.get(&key) {
                    result.ha_server_addr = Some(live.ha_server_addr.clone());
                    result.master_addr = Some(master);
                }
            }
        }
        Some(result)
    }

    /// Unregisters one broker (UNREGISTER_BROKER).
    pub fn unregister_broker(&self, request: &UnregisterRequest) {
        let mut t = self.write();
        unregister_locked(&mut t, std::slice::from_ref(request));
    }

    /// Unregisters several brokers at once, as Java's batch service does.
    pub fn unregister_brokers(&self, requests: &[UnregisterRequest]) {
        let mut t = self.write();
        unregister_locked(&mut t, requests);
    }

    /// Drops every broker silent for longer than its heartbeat timeout and
    /// returns them, so the caller can close their connections.
    pub fn scan_not_active_broker(&self) -> Vec<ExpiredBroker> {
        let now = self.clock.now_millis();
        let mut t = self.write();
        let expired: Vec<ExpiredBroker> = t
            .broker_live
            .iter()
            .filter(|(_, live)| {
                live.last_update_millis
                    .saturating_add(live.heartbeat_timeout_millis)
                    < now
            })
            .map(|(addr, live)| ExpiredBroker {
                addr: addr.clone(),
                channel_id: live.channel_id,
            })
            .collect();
        for broker in &expired {
            tracing::warn!(
                cluster = %broker.addr.cluster_name, addr = %broker.addr.broker_addr,
                "broker expired: no registration within its heartbeat timeout"
            );
        }
        remove_live_brokers(&mut t, expired.iter().map(|b| &b.addr));
        expired
    }

    /// Drops every broker that registered over connection `channel_id`,
    /// which has closed; returns them.
    pub fn on_channel_destroy(&self, channel_id: u64) -> Vec<ExpiredBroker> {
        // Most closing connections are clients', which never registered:
        // look under the read lock before taking the write lock.
        let registered = self
            .read()
            .broker_live
            .values()
            .any(|live| live.channel_id == Some(channel_id));
        if !registered {
            return Vec::new();
        }
        let mut t = self.write();
        let gone: Vec<ExpiredBroker> = t
            .broker_live
            .iter()
            .filter(|(_, live)| live.channel_id == Some(channel_id))
            .map(|(addr, _)| ExpiredBroker {
                addr: addr.clone(),
                channel_id: Some(channel_id),
            })
            .collect();
        for broker in &gone {
            tracing::info!(
                cluster = %broker.addr.cluster_name, addr = %broker.addr.broker_addr,
                channel = channel_id, "broker connection closed, unregistering"
            );
        }
        remove_live_brokers(&mut t, gone.iter().map(|b| &b.addr));
        gone
    }
}

/// `TopicConfig` → `QueueData` of `broker_name`.
fn queue_data(broker_name: &str, topic: &TopicConfig) -> QueueData {
    QueueData {
        broker_name: broker_name.to_owned(),
        perm: topic.perm,
        read_queue_nums: topic.read_queue_nums,
        topic_sys_flag: topic.topic_sys_flag,
        write_queue_nums: topic.write_queue_nums,
    }
}

/// `createAndUpdateQueueData`.
fn upsert_queue_data(t: &mut Tables, topic: &str, queue: QueueData) {
    let queues = t.topic_queue.entry(topic.to_owned()).or_default();
    match queues.get(&queue.broker_name) {
        Some(existing) if *existing == queue => {}
        existing => {
            if let Some(old) = existing {
                tracing::info!(topic, old = ?old, new = ?queue, "topic changed");
            } else if queues.is_empty() {
                tracing::info!(topic, broker = %queue.broker_name, "new topic registered");
            }
            queues.insert(queue.broker_name.clone(), queue);
        }
    }
}

/// `deleteTopicWithBrokerRegistration`: topics of the broker that its
/// registration no longer lists lose its queues.
fn drop_missing_topics(
    t: &mut Tables,
    broker_name: &str,
    wrapper: &TopicConfigAndMappingSerializeWrapper,
) {
    t.topic_queue.retain(|topic, queues| {
        if queues.contains_key(broker_name) && !wrapper.topic_config_table.contains_key(topic) {
            queues.remove(broker_name);
            tracing::info!(
                topic,
                broker = broker_name,
                "topic no longer registered by broker"
            );
        }
        !queues.is_empty()
    });
}

/// Unregisters the brokers behind live-table keys, finding each one's name
/// and id in the address table (`setupUnRegisterRequest`). Keys no group
/// lists are just dropped from the live table.
fn remove_live_brokers<'a>(t: &mut Tables, keys: impl Iterator<Item = &'a BrokerAddrInfo>) {
    let mut requests = Vec::new();
    for key in keys {
        let found = t.broker_addr.values().find_map(|g| {
            if g.cluster != key.cluster_name {
                return None;
            }
            g.broker_addrs
                .iter()
                .find(|(_, addr)| **addr == key.broker_addr)
                .map(|(id, _)| (g.broker_name.clone(), *id))
        });
        match found {
            Some((broker_name, broker_id)) => requests.push(UnregisterRequest {
                cluster_name: key.cluster_name.clone(),
                broker_addr: key.broker_addr.clone(),
                broker_name,
                broker_id,
            }),
            None => {
                t.broker_live.remove(key);
                t.filter_server.remove(key);
            }
        }
    }
    unregister_locked(t, &requests);
}

/// `unRegisterBroker` on the locked tables.
fn unregister_locked(t: &mut Tables, requests: &[UnregisterRequest]) {
    let mut removed = BTreeSet::new();
    let mut reduced = BTreeSet::new();
    for req in requests {
        let key = BrokerAddrInfo::new(req.cluster_name.clone(), req.broker_addr.clone());
        let was_live = t.broker_live.remove(&key).is_some();
        t.filter_server.remove(&key);
        let mut group_gone = false;
        if let Some(group) = t.broker_addr.get_mut(&req.broker_name) {
            group
                .broker_addrs
                .retain(|_, addr| *addr != req.broker_addr);
            if group.broker_addrs.is_empty() {
                t.broker_addr.remove(&req.broker_name);
                group_gone = true;
            }
        }
        tracing::info!(
            cluster = %req.cluster_name, broker = %req.broker_name, id = req.broker_id,
            addr = %req.broker_addr, was_live, group_gone, "broker unregistered"
        );
        if group_gone {
            if let Some(names) = t.cluster_addr.get_mut(&req.cluster_name) {
                names.remove(&req.broker_name);
                if names.is_empty() {
                    t.cluster_addr.remove(&req.cluster_name);
                }
            }
            removed.insert(req.broker_name.clone());
        } else {
            reduced.insert(req.broker_name.clone());
        }
    }
    clean_topics(t, &removed, &reduced);
}

/// Drops queue data of removed groups; in acting-master groups that lost
/// their master, makes the topics read-only.
fn clean_topics(t: &mut Tables, removed: &BTreeSet<String>, reduced: &BTreeSet<String>) {
    let Tables {
        topic_queue,
        broker_addr,
        ..
    } = t;
    topic_queue.retain(|_, queues| {
        for name in removed {
            queues.remove(name);
        }
        for name in reduced {
            let Some(qd) = queues.get_mut(name) else {
                continue;
            };
            let Some(group) = broker_addr.get(name) else {
                continue;
            };
            let no_master = group
                .broker_addrs
                .keys()
                .next()
                .is_none_or(|min| *min > BrokerData::MASTER_ID);
            if group.enable_acting_master && no_master {
                qd.perm &= !PermName::WRITE;
            }
        }
        !queues.is_empty()
    });
}
