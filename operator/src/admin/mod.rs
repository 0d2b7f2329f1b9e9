//! What the controllers ask of brokers (create topics and groups, read lag
//! and offsets), as a trait so the reconcilers can be tested without brokers.
//! [`ClientAdmin`] implements it with skylark-client's admin calls.

mod client;
#[cfg(test)]
pub(crate) mod fake;

pub use client::ClientAdmin;

use std::collections::BTreeMap;
use std::future::Future;

/// A topic as the operator sets it on a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    /// Topic name.
    pub name: String,
    /// Read queues.
    pub read_queue_nums: i32,
    /// Write queues.
    pub write_queue_nums: i32,
    /// Permission bits (2 write, 4 read).
    pub perm: i32,
    /// Ordered topic.
    pub order: bool,
    /// Topic attributes (`message.type`).
    pub attributes: BTreeMap<String, String>,
}

/// A subscription group as the operator sets it on a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// Group name.
    pub name: String,
    /// Broadcast consumption.
    pub consume_broadcast: bool,
    /// Redeliveries before the DLQ.
    pub retry_max_times: i32,
}

/// Unconsumed messages of a group on one topic of one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLagOnBroker {
    /// Topic.
    pub topic: String,
    /// Broker offsets minus consumer offsets over the topic's queues.
    pub lag: i64,
}

/// A broker's role and replication state as it reports them (HA_STATUS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerState {
    /// `MASTER`, `SLAVE` or `FENCED` (a master that learned of a newer epoch).
    pub role: String,
    /// The newest failover epoch it knows.
    pub epoch: i64,
    /// Where its next CommitLog byte goes.
    pub commit_log_max_offset: i64,
    /// As master: replicas within haMaxGapNotInSync.
    pub in_sync_replicas: i32,
}

/// A failed admin call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No connection or no answer.
    #[error("broker {addr} is unreachable: {reason}")]
    Unreachable {
        /// The broker.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The broker answered with an error code.
    #[error("broker {addr} refused: code {code}: {remark}")]
    Refused {
        /// The broker.
        addr: String,
        /// RocketMQ response code.
        code: i32,
        /// The broker's remark.
        remark: String,
    },
    /// The operation is not available in this build.
    #[error("{0} is not implemented by the admin client yet")]
    Unsupported(&'static str),
}

impl AdminError {
    /// The broker's address when the error is about reaching it.
    pub fn unreachable_addr(&self) -> Option<&str> {
        match self {
            Self::Unreachable { addr, .. } => Some(addr),
            _ => None,
        }
    }
}

/// Admin calls against one broker at `addr` (`host:port`).
pub trait BrokerAdmin: Send + Sync + 'static {
    /// The topic's config on the broker, `None` when it has no such topic.
    fn topic(
        &self,
        addr: &str,
        topic: &str,
    ) -> impl Future<Output = Result<Option<TopicSettings>, AdminError>> + Send;
    /// Creates or updates a topic (UPDATE_AND_CREATE_TOPIC).
    fn put_topic(
        &self,
        addr: &str,
        topic: &TopicSettings,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Deletes a topic (DELETE_TOPIC_IN_BROKER); absent is fine.
    fn delete_topic(
        &self,
        addr: &str,
        topic: &str,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Removes the topic's route of `cluster` from the nameserver at `namesrv`
    /// (DELETE_TOPIC_IN_NAMESRV), as `mqadmin deleteTopic` does after the
    /// brokers: a nameserver keeps a route its brokers no longer hold.
    fn delete_topic_route(
        &self,
        namesrv: &str,
        topic: &str,
        cluster: &str,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Creates or updates a subscription group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    fn put_group(
        &self,
        addr: &str,
        group: &GroupSettings,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Deletes a subscription group (DELETE_SUBSCRIPTIONGROUP); absent is fine.
    fn delete_group(
        &self,
        addr: &str,
        group: &str,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// The group's lag per topic on this broker (GET_CONSUME_STATS).
    fn group_lag(
        &self,
        addr: &str,
        group: &str,
    ) -> impl Future<Output = Result<Vec<TopicLagOnBroker>, AdminError>> + Send;
    /// Consumers of the group connected to this broker (GET_CONSUMER_CONNECTION_LIST).
    fn group_members(
        &self,
        addr: &str,
        group: &str,
    ) -> impl Future<Output = Result<usize, AdminError>> + Send;
    /// The broker's role, epoch, CommitLog offset and in-sync replicas
    /// (Skylark's HA_STATUS; GET_BROKER_RUNTIME_INFO for a broker without it).
    fn broker_state(
        &self,
        addr: &str,
    ) -> impl Future<Output = Result<BrokerState, AdminError>> + Send;
}
