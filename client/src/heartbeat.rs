//! Heartbeats: the producer and consumer groups of an instance, sent to
//! every broker of the topics it uses (HEART_BEAT) every
//! `heartbeat_broker_interval` and whenever a group comes or goes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::PoisonError;

use skylark_protocol::body::{Body, ConsumerData, HeartbeatData, KeyStyle, ProducerData};
use skylark_protocol::headers::UnregisterClientRequestHeader;
use skylark_protocol::{RemotingCommand, RequestCode};

use crate::error::ClientError;
use crate::instance::ClientInstance;

/// The groups an instance reports in its heartbeats.
#[derive(Debug, Default)]
pub(crate) struct HeartbeatRegistry {
    producers: BTreeSet<String>,
    consumers: BTreeMap<String, ConsumerData>,
}

impl HeartbeatRegistry {
    /// The heartbeat body of `client_id`.
    fn data(&self, client_id: &str) -> HeartbeatData {
        HeartbeatData {
            client_id: client_id.to_owned(),
            producer_data_set: self
                .producers
                .iter()
                .map(|g| ProducerData {
                    group_name: g.clone(),
                })
                .collect(),
            consumer_data_set: self.consumers.values().cloned().collect(),
            ..Default::default()
        }
    }
}

impl ClientInstance {
    /// Adds a producer group to the heartbeats. Fails when the group is
    /// already registered on this instance (Java: "producer group has been created").
    pub fn register_producer(&self, group: &str) -> Result<(), ClientError> {
        let mut hb = self.lock_heartbeat();
        if !hb.producers.insert(group.to_owned()) {
            return Err(ClientError::InvalidArgument(format!(
                "producer group {group} is already started on client {}",
                self.client_id()
            )));
        }
        Ok(())
    }

    /// Adds or replaces a consumer group's data (its subscriptions, model,
    /// consume-from-where) in the heartbeats. Call
    /// [`ClientInstance::send_heartbeat_to_all_brokers`] after a change that
    /// brokers must see at once.
    pub fn register_consumer(&self, data: ConsumerData) {
        self.lock_heartbeat()
            .consumers
            .insert(data.group_name.clone(), data);
    }

    /// The consumer data registered for `group`.
    pub fn consumer_data(&self, group: &str) -> Option<ConsumerData> {
        self.lock_heartbeat().consumers.get(group).cloned()
    }

    /// Removes a producer group and tells every known broker (UNREGISTER_CLIENT).
    pub async fn unregister_producer(&self, group: &str) {
        self.lock_heartbeat().producers.remove(group);
        self.unregister_client(Some(group), None).await;
    }

    /// Removes a consumer group and tells every known broker (UNREGISTER_CLIENT).
    pub async fn unregister_consumer(&self, group: &str) {
        self.lock_heartbeat().consumers.remove(group);
        self.unregister_client(None, Some(group)).await;
    }

    /// The heartbeat this instance sends now.
    pub fn heartbeat_data(&self) -> HeartbeatData {
        self.lock_heartbeat().data(self.client_id())
    }

    /// Sends a heartbeat to every broker of the cached routes: masters
    /// always, replicas too when a consumer group is registered (consumers
    /// may pull from them). Failures are logged; returns how many brokers
    /// accepted it.
    pub async fn send_heartbeat_to_all_brokers(&self) -> usize {
        let data = self.heartbeat_data();
        if data.producer_data_set.is_empty() && data.consumer_data_set.is_empty() {
            return 0;
        }
        let with_replicas = !data.consumer_data_set.is_empty();
        let body = bytes::Bytes::from(data.encode(KeyStyle::Unquoted));
        let mut accepted = 0;
        for (name, ids) in self.broker_addr_table() {
            for (id, addr) in ids {
                if id != 0 && !with_replicas {
                    continue;
                }
                let cmd =
                    RemotingCommand::bare_request(RequestCode::HEART_BEAT).with_body(body.clone());
                match self.invoke_ok(&addr, cmd).await {
                    Ok(_) => accepted += 1,
                    Err(error) => {
                        tracing::warn!(broker = %name, %addr, %error, "heartbeat failed");
                    }
                }
            }
        }
        accepted
    }

    /// UNREGISTER_CLIENT to every known broker address.
    async fn unregister_client(&self, producer: Option<&str>, consumer: Option<&str>) {
        let header = UnregisterClientRequestHeader {
            client_id: self.client_id().to_owned(),
            producer_group: producer.map(str::to_owned),
            consumer_group: consumer.map(str::to_owned),
            broker_name: None,
        };
        for (name, ids) in self.broker_addr_table() {
            for addr in ids.values() {
                let cmd = RemotingCommand::request(RequestCode::UNREGISTER_CLIENT, &header);
                if let Err(error) = self.invoke_ok(addr, cmd).await {
                    tracing::warn!(broker = %name, %addr, %error, "unregister client failed");
                }
            }
        }
    }

    fn lock_heartbeat(&self) -> std::sync::MutexGuard<'_, HeartbeatRegistry> {
        self.inner
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_lists_groups() {
        let mut hb = HeartbeatRegistry::default();
        hb.producers.insert("pg".into());
        hb.consumers.insert(
            "cg".into(),
            ConsumerData {
                group_name: "cg".into(),
                ..Default::default()
            },
        );
        let d = hb.data("1.2.3.4@1");
        assert_eq!(d.client_id, "1.2.3.4@1");
        assert_eq!(d.producer_data_set[0].group_name, "pg");
        assert_eq!(d.consumer_data_set[0].group_name, "cg");
    }
}
