//! The running consumers of each client instance, for the requests brokers
//! send them: NOTIFY_CONSUMER_IDS_CHANGED wakes their rebalances (as in
//! Java, one notice rebalances every consumer of the instance), and
//! RESET_CONSUMER_CLIENT_OFFSET moves a push consumer's offsets while it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use skylark_protocol::body::{Body, ResetOffsetBody};
use skylark_protocol::headers::{NotifyConsumerIdsChangedRequestHeader, ResetOffsetRequestHeader};
use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::{ConnectionHandle, RequestHandler};

use tokio::sync::Notify;

use super::push::Shared;
use super::rebalance;
use crate::instance::ClientInstance;

/// A running consumer as the brokers' requests reach it.
#[derive(Debug, Clone)]
pub(crate) enum Member {
    /// A push consumer: rebalances and takes offset resets.
    Push(Weak<Shared>),
    /// A consumer that only rebalances (the lite pull consumer; Java's
    /// client resets push consumers only).
    Rebalancing(Weak<Notify>),
}

impl Member {
    /// A push consumer's entry.
    pub(crate) fn push(shared: &Arc<Shared>) -> Self {
        Self::Push(Arc::downgrade(shared))
    }

    /// A rebalance-only entry.
    pub(crate) fn rebalancing(trigger: &Arc<Notify>) -> Self {
        Self::Rebalancing(Arc::downgrade(trigger))
    }

    fn is_alive(&self) -> bool {
        match self {
            Self::Push(w) => w.strong_count() > 0,
            Self::Rebalancing(w) => w.strong_count() > 0,
        }
    }

    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Push(a), Self::Push(b)) => a.ptr_eq(b),
            (Self::Rebalancing(a), Self::Rebalancing(b)) => a.ptr_eq(b),
            _ => false,
        }
    }

    fn rebalance_now(&self) {
        match self {
            Self::Push(w) => {
                if let Some(shared) = w.upgrade() {
                    shared.rebalance_now.notify_one();
                }
            }
            Self::Rebalancing(w) => {
                if let Some(trigger) = w.upgrade() {
                    trigger.notify_one();
                }
            }
        }
    }
}

/// Instance (by address of its shared state) → its running consumers.
type Table = HashMap<usize, Vec<Member>>;

static CONSUMERS: Mutex<Option<Table>> = Mutex::new(None);

fn key(instance: &ClientInstance) -> usize {
    Arc::as_ptr(&instance.inner) as usize
}

/// Adds a started consumer and makes sure its instance routes the brokers'
/// requests here.
pub(crate) fn register(instance: &ClientInstance, member: Member) {
    let k = key(instance);
    {
        let mut table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
        let list = table.get_or_insert_with(HashMap::new).entry(k).or_default();
        list.retain(Member::is_alive);
        list.push(member);
    }
    instance.register_request_handler(
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
        Arc::new(IdsChanged { instance: k }),
    );
    instance.register_request_handler(
        RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
        Arc::new(ResetOffset { instance: k }),
    );
}

/// Removes a consumer that stopped.
pub(crate) fn unregister(instance: &ClientInstance, member: &Member) {
    let k = key(instance);
    let mut table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(map) = table.as_mut()
        && let Some(list) = map.get_mut(&k)
    {
        list.retain(|m| m.is_alive() && !m.same(member));
        if list.is_empty() {
            map.remove(&k);
        }
    }
}

/// The running consumers of an instance.
fn members_of(instance: usize) -> Vec<Member> {
    let table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
    table
        .as_ref()
        .and_then(|m| m.get(&instance))
        .cloned()
        .unwrap_or_default()
}

/// Handles NOTIFY_CONSUMER_IDS_CHANGED (a oneway) for one instance.
#[derive(Debug)]
struct IdsChanged {
    instance: usize,
}

impl RequestHandler for IdsChanged {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let group = request
            .read_header::<NotifyConsumerIdsChangedRequestHeader>()
            .map(|h| h.consumer_group)
            .unwrap_or_default();
        tracing::info!(%group, broker = %conn.remote_addr(), "consumer ids changed, rebalancing");
        for member in members_of(self.instance) {
            member.rebalance_now();
        }
        None
    }
}

/// Handles RESET_CONSUMER_CLIENT_OFFSET (a oneway: the broker moved the
/// group's offsets, by `mqadmin resetOffsetByTime` or `skylark offset
/// reset`) for one instance: the group's push consumer takes the new offsets
/// (Java's `MQClientInstance.resetOffset`).
#[derive(Debug)]
struct ResetOffset {
    instance: usize,
}

impl RequestHandler for ResetOffset {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let broker = conn.remote_addr();
        let header = match request.read_header::<ResetOffsetRequestHeader>() {
            Ok(h) => h,
            Err(error) => {
                tracing::warn!(%broker, %error, "bad offset reset notice ignored");
                return None;
            }
        };
        let table = match ResetOffsetBody::decode(&request.body) {
            Ok(body) => body.offset_table,
            Err(error) => {
                tracing::warn!(%broker, group = %header.group, %error, "bad offset reset notice ignored");
                return None;
            }
        };
        let shared = members_of(self.instance)
            .into_iter()
            .find_map(|member| match member {
                Member::Push(w) => w.upgrade().filter(|s| s.config.group == header.group),
                Member::Rebalancing(_) => None,
            });
        let Some(shared) = shared else {
            tracing::info!(%broker, group = %header.group, "offset reset for a group with no push consumer here: ignored");
            return None;
        };
        tracing::info!(%broker, group = %header.group, topic = %header.topic, queues = table.len(), "broker reset the group's offsets");
        // Off the connection's reader: it commits offsets and may wait for
        // an orderly listener to let go of a queue.
        tokio::spawn(async move { rebalance::reset_offsets(&shared, &header.topic, &table).await });
        None
    }
}
