//! `RouteInfoManager`: which brokers exist, which topics they host, and
//! whether they are still alive — the name server's whole routing state.
//!
//! One `RwLock` guards every table, as Java's single `ReentrantReadWriteLock`
//! does: registrations change several tables at once and readers must see
//! them consistent. Nothing does I/O under it; callers encode responses and
//! close connections after the lock is released.

mod register;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use skylark_protocol::body::{
    BrokerData, ClusterInfo, DataVersion, QueueData, TopicList, TopicQueueMappingInfo,
    TopicRouteData,
};
use skylark_protocol::message::topic::SYSTEM_TOPIC_PREFIX;
use skylark_protocol::message::{PermName, TopicSysFlag};

use crate::clock::Clock;

pub use register::{BrokerRegistration, ExpiredBroker, RegisterBrokerResult, UnregisterRequest};

/// Topics whose routes never get an acting master
/// (`TopicValidator.SYNC_BROKER_MEMBER_GROUP_PREFIX`).
const SYNC_BROKER_MEMBER_GROUP_PREFIX: &str = "SYNC_BROKER_MEMBER_";

/// A broker process's identity in the live table (`BrokerAddrInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddrInfo {
    /// Its cluster.
    pub cluster_name: String,
    /// The address clients use.
    pub broker_addr: String,
}

impl BrokerAddrInfo {
    /// The identity of `broker_addr` in `cluster_name`.
    pub fn new(cluster_name: impl Into<String>, broker_addr: impl Into<String>) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            broker_addr: broker_addr.into(),
        }
    }
}

/// What the live table knows of a registered broker (`BrokerLiveInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLiveInfo {
    /// Last registration or heartbeat, ms since the epoch.
    pub last_update_millis: i64,
    /// Silence after which the broker is dropped.
    pub heartbeat_timeout_millis: i64,
    /// The topic-config version of its last registration.
    pub data_version: DataVersion,
    /// The connection it registered over, if known.
    pub channel_id: Option<u64>,
    /// Its HA address (`brokerIP2:haPort`), handed to its slaves.
    pub ha_server_addr: String,
}

/// Behaviour switches of the manager, from [`crate::NameServerConfig`].
#[derive(Debug, Clone, Copy)]
pub struct RouteOptions {
    /// Expiry of brokers that do not send `heartbeatTimeoutMillis`.
    pub default_heartbeat_timeout_millis: i64,
    /// A master registration drops the broker's topics missing from it.
    pub delete_topic_with_broker_registration: bool,
    /// Routes of master-less groups name the lowest slave as acting master.
    pub support_acting_master: bool,
}

impl Default for RouteOptions {
    fn default() -> Self {
        Self {
            default_heartbeat_timeout_millis: 120_000,
            delete_topic_with_broker_registration: false,
            support_acting_master: false,
        }
    }
}

/// Every table, guarded together.
#[derive(Debug, Default)]
struct Tables {
    /// topic → broker name → queues.
    topic_queue: HashMap<String, BTreeMap<String, QueueData>>,
    /// broker name → group (id → address).
    broker_addr: BTreeMap<String, BrokerData>,
    /// cluster → broker names.
    cluster_addr: BTreeMap<String, BTreeSet<String>>,
    /// broker process → liveness.
    broker_live: HashMap<BrokerAddrInfo, BrokerLiveInfo>,
    /// broker process → filter servers (legacy).
    filter_server: HashMap<BrokerAddrInfo, Vec<String>>,
    /// topic → broker name → static-topic mapping.
    topic_queue_mapping: HashMap<String, BTreeMap<String, TopicQueueMappingInfo>>,
}

/// The routing state of one name server.
#[derive(Debug)]
pub struct RouteInfoManager {
    tables: RwLock<Tables>,
    clock: Arc<dyn Clock>,
    default_timeout_millis: i64,
    delete_topic_with_broker_registration: AtomicBool,
    support_acting_master: AtomicBool,
}

impl RouteInfoManager {
    /// An empty manager reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>, options: RouteOptions) -> Self {
        Self {
            tables: RwLock::default(),
            clock,
            default_timeout_millis: options.default_heartbeat_timeout_millis,
            delete_topic_with_broker_registration: options
                .delete_topic_with_broker_registration
                .into(),
            support_acting_master: options.support_acting_master.into(),
        }
    }

    /// Switches `deleteTopicWithBrokerRegistration` at run time.
    pub fn set_delete_topic_with_broker_registration(&self, on: bool) {
        self.delete_topic_with_broker_registration
            .store(on, Ordering::Relaxed);
    }

    /// Switches `supportActingMaster` at run time.
    pub fn set_support_acting_master(&self, on: bool) {
        self.support_acting_master.store(on, Ordering::Relaxed);
    }

    /// Current `deleteTopicWithBrokerRegistration`.
    pub fn delete_topic_with_broker_registration(&self) -> bool {
        self.delete_topic_with_broker_registration
            .load(Ordering::Relaxed)
    }

    /// Current `supportActingMaster`.
    pub fn support_acting_master(&self) -> bool {
        self.support_acting_master.load(Ordering::Relaxed)
    }

    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every cluster and broker group (GET_BROKER_CLUSTER_INFO).
    pub fn cluster_info(&self) -> ClusterInfo {
        let t = self.read();
        ClusterInfo {
            broker_addr_table: t.broker_addr.clone(),
            cluster_addr_table: t.cluster_addr.clone(),
        }
    }

    /// The route of `topic`, or `None` when no live broker hosts it
    /// (`pickupTopicRouteData`; the caller adds `orderTopicConf`).
    pub fn pickup_topic_route_data(&self, topic: &str) -> Option<TopicRouteData> {
        let mut route = TopicRouteData::default();
        {
            let t = self.read();
            let queues = t.topic_queue.get(topic)?;
            route.queue_datas = queues.values().cloned().collect();
            for broker_name in queues.keys() {
                let Some(group) = t.broker_addr.get(broker_name) else {
                    continue;
                };
                if !t.filter_server.is_empty() {
                    for addr in group.broker_addrs.values() {
                        let key = BrokerAddrInfo::new(group.cluster.clone(), addr.clone());
                        // Java puts null for brokers without filter servers,
                        // which fastjson then leaves out.
                        if let Some(list) = t.filter_server.get(&key) {
                            route.filter_server_table.insert(addr.clone(), list.clone());
                        }
                    }
                }
                route.broker_datas.push(group.clone());
            }
            if route.broker_datas.is_empty() {
                return None;
            }
            route.topic_queue_mapping_by_broker = t.topic_queue_mapping.get(topic).cloned();
        }
        if self.support_acting_master() {
            apply_acting_master(topic, &mut route);
        }
        Some(route)
    }

    /// Every topic with a route (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
    pub fn all_topic_list(&self) -> TopicList {
        TopicList {
            broker_addr: None,
            topic_list: self.read().topic_queue.keys().cloned().collect(),
        }
    }

    /// Topics hosted by any broker of `cluster` (GET_TOPICS_BY_CLUSTER).
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let t = self.read();
        let mut list = TopicList::default();
        if let Some(names) = t.cluster_addr.get(cluster) {
            for (topic, queues) in &t.topic_queue {
                if names.iter().any(|name| queues.contains_key(name)) {
                    list.topic_list.insert(topic.clone());
                }
            }
        }
        list
    }

    /// Cluster and broker names, which brokers create as topics, plus one
    /// broker address to ask for the rest (GET_SYSTEM_TOPIC_LIST_FROM_NS).
    pub fn system_topic_list(&self) -> TopicList {
        let t = self.read();
        let mut list = TopicList::default();
        for (cluster, names) in &t.cluster_addr {
            list.topic_list.insert(cluster.clone());
            list.topic_list.extend(names.iter().cloned());
        }
        list.broker_addr = t
            .broker_addr
            .values()
            .find_map(|g| g.broker_addrs.values().next().cloned());
        list
    }

    /// Topics whose (first) queue data has `flag_test` true (unit topic lists).
    pub fn topics_with_sys_flag(&self, flag_test: impl Fn(i32) -> bool) -> TopicList {
        let t = self.read();
        let topic_list = t
            .topic_queue
            .iter()
            .filter(|(_, q)| {
                q.values()
                    .next()
                    .is_some_and(|qd| flag_test(qd.topic_sys_flag))
            })
            .map(|(topic, _)| topic.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// Unit topics (GET_UNIT_TOPIC_LIST).
    pub fn unit_topics(&self) -> TopicList {
        self.topics_with_sys_flag(TopicSysFlag::has_unit)
    }

    /// Topics with unit subscriptions (GET_HAS_UNIT_SUB_TOPIC_LIST).
    pub fn has_unit_sub_topics(&self) -> TopicList {
        self.topics_with_sys_flag(TopicSysFlag::has_unit_sub)
    }

    /// Non-unit topics with unit subscriptions (GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST).
    pub fn has_unit_sub_non_unit_topics(&self) -> TopicList {
        self.topics_with_sys_flag(|f| !TopicSysFlag::has_unit(f) && TopicSysFlag::has_unit_sub(f))
    }

    /// Clears WRITE on every topic of `broker_name`; returns how many
    /// topics it touched (WIPE_WRITE_PERM_OF_BROKER).
    pub fn wipe_write_perm_of_broker(&self, broker_name: &str) -> i32 {
        self.update_perm_of_broker(broker_name, |perm| perm & !PermName::WRITE)
    }

    /// Sets every topic of `broker_name` to read + write; returns how many
    /// topics it touched (ADD_WRITE_PERM_OF_BROKER).
    pub fn add_write_perm_of_broker(&self, broker_name: &str) -> i32 {
        self.update_perm_of_broker(broker_name, |_| PermName::READ | PermName::WRITE)
    }

    fn update_perm_of_broker(&self, broker_name: &str, change: impl Fn(i32) -> i32) -> i32 {
        let mut t = self.write();
        let mut count = 0i32;
        for queues in t.topic_queue.values_mut() {
            if let Some(qd) = queues.get_mut(broker_name) {
                qd.perm = change(qd.perm);
                count = count.saturating_add(1);
            }
        }
        count
    }

    /// Removes `topic` everywhere, or only from the brokers of `cluster`
    /// (DELETE_TOPIC_IN_NAMESRV).
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) {
        let mut t = self.write();
        let Some(cluster) = cluster else {
            t.topic_queue.remove(topic);
            return;
        };
        let Some(names) = t.cluster_addr.get(cluster).cloned() else {
            return;
        };
        if let Some(queues) = t.topic_queue.get_mut(topic) {
            for name in &names {
                queues.remove(name);
            }
            if queues.is_empty() {
                t.topic_queue.remove(topic);
            }
        }
    }

    /// Adds or replaces queue data of `topic` for known brokers; does
    /// nothing if any entry names an unknown broker (REGISTER_TOPIC_IN_NAMESRV).
    pub fn register_topic(&self, topic: &str, queue_datas: &[QueueData]) -> bool {
        if queue_datas.is_empty() {
            return false;
        }
        let mut t = self.write();
        if let Some(bad) = queue_datas
            .iter()
            .find(|qd| !t.broker_addr.contains_key(&qd.broker_name))
        {
            tracing::warn!(topic, broker = %bad.broker_name, "register topic names an unknown broker");
            return false;
        }
        let queues = t.topic_queue.entry(topic.to_owned()).or_default();
        for qd in queue_datas {
            queues.insert(qd.broker_name.clone(), qd.clone());
        }
        true
    }

    /// The topic-config version the broker last registered, if it is live.
    pub fn query_broker_topic_config(&self, cluster: &str, addr: &str) -> Option<DataVersion> {
        self.read()
            .broker_live
            .get(&BrokerAddrInfo::new(cluster, addr))
            .map(|l| l.data_version)
    }

    /// Whether `version` differs from what the broker last registered (or
    /// the broker is unknown).
    pub fn is_broker_topic_config_changed(
        &self,
        cluster: &str,
        addr: &str,
        version: &DataVersion,
    ) -> bool {
        self.query_broker_topic_config(cluster, addr).as_ref() != Some(version)
    }

    /// Marks the broker alive now (QUERY_DATA_VERSION, BROKER_HEARTBEAT).
    pub fn update_broker_info_update_timestamp(&self, cluster: &str, addr: &str) -> bool {
        let now = self.clock.now_millis();
        let mut t = self.write();
        match t.broker_live.get_mut(&BrokerAddrInfo::new(cluster, addr)) {
            Some(live) => {
                live.last_update_millis = now;
                true
            }
            None => false,
        }
    }

    /// The live-table entry of a broker.
    pub fn broker_live_info(&self, cluster: &str, addr: &str) -> Option<BrokerLiveInfo> {
        self.read()
            .broker_live
            .get(&BrokerAddrInfo::new(cluster, addr))
            .cloned()
    }

    /// The members (id → address) of group `broker_name`; empty if unknown.
    pub fn broker_addrs(&self, broker_name: &str) -> BTreeMap<i64, String> {
        self.read()
            .broker_addr
            .get(broker_name)
            .map(|g| g.broker_addrs.clone())
            .unwrap_or_default()
    }

    /// Number of live broker processes.
    pub fn live_broker_count(&self) -> usize {
        self.read().broker_live.len()
    }
}

/// In a group without master whose topic is read-only (its master is gone
/// and acting-master mode wiped the write perm), presents the lowest slave
/// as id 0 so clients can still use it for master-only reads.
fn apply_acting_master(topic: &str, route: &mut TopicRouteData) {
    let sync_prefix = format!("{SYSTEM_TOPIC_PREFIX}{SYNC_BROKER_MEMBER_GROUP_PREFIX}");
    if topic.starts_with(&sync_prefix) || route.queue_datas.is_empty() {
        return;
    }
    let need = route
        .broker_datas
        .iter()
        .any(|g| !g.broker_addrs.is_empty() && g.master_addr().is_none());
    if !need {
        return;
    }
    for group in &mut route.broker_datas {
        if group.broker_addrs.is_empty()
            || group.master_addr().is_some()
            || !group.enable_acting_master
        {
            continue;
        }
        let read_only = route
            .queue_datas
            .iter()
            .find(|qd| qd.broker_name == group.broker_name)
            .is_some_and(|qd| !PermName::is_writeable(qd.perm));
        if read_only {
            if let Some((_, addr)) = group.broker_addrs.pop_first() {
                group.broker_addrs.insert(BrokerData::MASTER_ID, addr);
            }
        }
    }
}
