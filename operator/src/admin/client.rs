//! [`BrokerAdmin`] over skylark-client's admin calls, each to one broker.

use skylark_client::ClientError;
use skylark_client::admin::Admin;
use skylark_protocol::body::{Body as _, ConsumerConnection, SubscriptionGroupConfig, TopicConfig};
use skylark_protocol::headers::{
    DeleteTopicFromNamesrvRequestHeader, GetConsumerConnectionListRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::{AdminError, BrokerAdmin, BrokerState, GroupSettings, TopicLagOnBroker, TopicSettings};

/// The brokers as reached through skylark-client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientAdmin {
    admin: Admin,
}

impl ClientAdmin {
    /// An admin client that talks to brokers by address (no nameserver
    /// lookups). Must be called inside a tokio runtime.
    pub fn start() -> Result<Self, ClientError> {
        let config = skylark_client::ClientConfig {
            instance_name: "skylark-operator".to_owned(),
            ..skylark_client::ClientConfig::default()
        };
        Ok(Self {
            admin: Admin::start(config)?,
        })
    }
}

fn convert(addr: &str, error: ClientError) -> AdminError {
    match error {
        ClientError::Server { code, remark, .. } => AdminError::Refused {
            addr: addr.to_owned(),
            code: code.value(),
            remark,
        },
        other => AdminError::Unreachable {
            addr: addr.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// A broker's topic attributes without `+`/`-` signs, and with
/// `message.type` NORMAL when absent (RocketMQ 5's default; a 4.x broker keeps
/// no attributes), so that an unset type is not seen as drift.
fn normalized(
    attributes: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut out: std::collections::BTreeMap<String, String> = attributes
        .iter()
        .map(|(k, v)| (k.trim_start_matches(['+', '-']).to_owned(), v.clone()))
        .collect();
    out.entry("message.type".to_owned())
        .or_insert_with(|| "NORMAL".to_owned());
    out
}

fn is_code(error: &ClientError, code: ResponseCode) -> bool {
    matches!(error, ClientError::Server { code: c, .. } if *c == code)
}

impl BrokerAdmin for ClientAdmin {
    async fn topic(&self, addr: &str, topic: &str) -> Result<Option<TopicSettings>, AdminError> {
        let table = self
            .admin
            .all_topic_configs(addr)
            .await
            .map_err(|e| convert(addr, e))?;
        Ok(table.topic_config_table.get(topic).map(|c| TopicSettings {
            name: c.topic_name.clone(),
            read_queue_nums: c.read_queue_nums,
            write_queue_nums: c.write_queue_nums,
            perm: c.perm,
            order: c.order,
            attributes: normalized(&c.attributes),
        }))
    }

    async fn put_topic(&self, addr: &str, topic: &TopicSettings) -> Result<(), AdminError> {
        let mut config = TopicConfig::new(topic.name.clone());
        config.read_queue_nums = topic.read_queue_nums;
        config.write_queue_nums = topic.write_queue_nums;
        config.perm = topic.perm;
        config.order = topic.order;
        config.attributes = topic.attributes.clone();
        self.admin
            .create_topic(addr, &config)
            .await
            .map_err(|e| convert(addr, e))
    }

    async fn delete_topic(&self, addr: &str, topic: &str) -> Result<(), AdminError> {
        match self.admin.delete_topic_in_broker(addr, topic).await {
            Err(e) if !is_code(&e, ResponseCode::TOPIC_NOT_EXIST) => Err(convert(addr, e)),
            _ => Ok(()),
        }
    }

    async fn delete_topic_route(
        &self,
        namesrv: &str,
        topic: &str,
        cluster: &str,
    ) -> Result<(), AdminError> {
        let header = DeleteTopicFromNamesrvRequestHeader {
            topic: topic.to_owned(),
            cluster_name: Some(cluster.to_owned()),
            broker_name: None,
        };
        let cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV, &header);
        self.admin
            .instance()
            .invoke_ok(namesrv, cmd)
            .await
            .map(drop)
            .map_err(|e| convert(namesrv, e))
    }

    async fn put_group(&self, addr: &str, group: &GroupSettings) -> Result<(), AdminError> {
        let mut config = match self.admin.group_config(addr, &group.name).await {
            Ok(config) => config,
            Err(ClientError::NotFound(_)) => SubscriptionGroupConfig {
                group_name: group.name.clone(),
                ..SubscriptionGroupConfig::default()
            },
            Err(e) if is_code(&e, ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST) => {
                SubscriptionGroupConfig {
                    group_name: group.name.clone(),
                    ..SubscriptionGroupConfig::default()
                }
            }
            Err(e) => return Err(convert(addr, e)),
        };
        if config.consume_broadcast_enable == group.consume_broadcast
            && config.retry_max_times == group.retry_max_times
            && config.group_name == group.name
        {
            return Ok(());
        }
        config.consume_broadcast_enable = group.consume_broadcast;
        config.retry_max_times = group.retry_max_times;
        self.admin
            .create_group(addr, &config)
            .await
            .map_err(|e| convert(addr, e))
    }

    async fn delete_group(&self, addr: &str, group: &str) -> Result<(), AdminError> {
        match self.admin.delete_group(addr, group, true).await {
            Err(e) if !is_code(&e, ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST) => {
                Err(convert(addr, e))
            }
            _ => Ok(()),
        }
    }

    async fn group_lag(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<Vec<TopicLagOnBroker>, AdminError> {
        let stats = match self.admin.consume_stats_of(addr, group, None).await {
            Ok(stats) => stats,
            // A group that never committed has no stats yet: no lag to show.
            Err(e) if is_code(&e, ResponseCode::CONSUMER_NOT_ONLINE) => return Ok(Vec::new()),
            Err(e) => return Err(convert(addr, e)),
        };
        let mut lag: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for (queue, offsets) in &stats.offset_table {
            let behind = if offsets.consumer_offset < 0 {
                offsets.broker_offset
            } else {
                (offsets.broker_offset - offsets.consumer_offset).max(0)
            };
            *lag.entry(queue.topic.clone()).or_insert(0) += behind;
        }
        Ok(lag
            .into_iter()
            .map(|(topic, lag)| TopicLagOnBroker { topic, lag })
            .collect())
    }

    async fn group_members(&self, addr: &str, group: &str) -> Result<usize, AdminError> {
        let header = GetConsumerConnectionListRequestHeader {
            consumer_group: group.to_owned(),
            broker_name: None,
        };
        let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST, &header);
        match self.admin.instance().invoke_ok(addr, cmd).await {
            Ok(response) => ConsumerConnection::decode(&response.body)
                .map(|c| c.connection_set.len())
                .map_err(|e| AdminError::Refused {
                    addr: addr.to_owned(),
                    code: 0,
                    remark: format!("undecodable consumer connection list: {e}"),
                }),
            Err(e) if is_code(&e, ResponseCode::CONSUMER_NOT_ONLINE) => Ok(0),
            Err(e) => Err(convert(addr, e)),
        }
    }

    async fn broker_state(&self, addr: &str) -> Result<BrokerState, AdminError> {
        match self.admin.ha_status(addr, None).await {
            Ok(status) => {
                let in_sync = status.replicas.iter().filter(|r| r.in_sync).count();
                Ok(BrokerState {
                    role: status.role,
                    epoch: i64::from(status.epoch),
                    commit_log_max_offset: status.commit_log_max_offset,
                    in_sync_replicas: i32::try_from(in_sync).unwrap_or(i32::MAX),
                })
            }
            // A RocketMQ broker has no HA_STATUS: its offset from runtime info.
            Err(e) if is_code(&e, ResponseCode::REQUEST_CODE_NOT_SUPPORTED) => {
                let info = self
                    .admin
                    .broker_runtime_info(addr)
                    .await
                    .map_err(|e| convert(addr, e))?;
                let offset = info
                    .get("commitLogMaxOffset")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| AdminError::Refused {
                        addr: addr.to_owned(),
                        code: 0,
                        remark: "runtime info has no commitLogMaxOffset".to_owned(),
                    })?;
                Ok(BrokerState {
                    role: "UNKNOWN".to_owned(),
                    epoch: 0,
                    commit_log_max_offset: offset,
                    in_sync_replicas: 0,
                })
            }
            Err(e) => Err(convert(addr, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::normalized;

    #[test]
    fn attributes_lose_signs_and_default_the_message_type() {
        let from_broker = BTreeMap::from([("+message.type".to_owned(), "FIFO".to_owned())]);
        assert_eq!(
            normalized(&from_broker),
            BTreeMap::from([("message.type".to_owned(), "FIFO".to_owned())])
        );
        assert_eq!(
            normalized(&BTreeMap::new()),
            BTreeMap::from([("message.type".to_owned(), "NORMAL".to_owned())])
        );
    }
}
