//! The rebalancing consumers of each client instance, so that a broker's
//! NOTIFY_CONSUMER_IDS_CHANGED wakes their rebalances. As in Java, one
//! notice rebalances every consumer of the instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use skylark_protocol::headers::NotifyConsumerIdsChangedRequestHeader;
use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::{ConnectionHandle, RequestHandler};

use tokio::sync::Notify;

use crate::instance::ClientInstance;

/// Instance (by address of its shared state) → its running consumers.
type Table = HashMap<usize, Vec<Weak<Notify>>>;

static CONSUMERS: Mutex<Option<Table>> = Mutex::new(None);

fn key(instance: &ClientInstance) -> usize {
    Arc::as_ptr(&instance.inner) as usize
}

/// Adds a started consumer's rebalance trigger and makes sure its instance
/// routes the notice here.
pub(crate) fn register(instance: &ClientInstance, trigger: &Arc<Notify>) {
    let k = key(instance);
    {
        let mut table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
        let list = table.get_or_insert_with(HashMap::new).entry(k).or_default();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(trigger));
    }
    instance.register_request_handler(
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
        Arc::new(IdsChanged { instance: k }),
    );
}

/// Removes a consumer that stopped.
pub(crate) fn unregister(instance: &ClientInstance, trigger: &Arc<Notify>) {
    let k = key(instance);
    let mut table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(map) = table.as_mut() {
        if let Some(list) = map.get_mut(&k) {
            list.retain(|w| {
                w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(trigger))
            });
            if list.is_empty() {
                map.remove(&k);
            }
        }
    }
}

/// The running consumers of an instance.
fn consumers_of(instance: usize) -> Vec<Arc<Notify>> {
    let table = CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner);
    table
        .as_ref()
        .and_then(|m| m.get(&instance))
        .map(|list| list.iter().filter_map(Weak::upgrade).collect())
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
        for trigger in consumers_of(self.instance) {
            trigger.notify_one();
        }
        None
    }
}
