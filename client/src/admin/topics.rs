//! Topic administration: create/update, list, describe, delete.

use std::collections::BTreeSet;

use skylark_protocol::body::{
    Body, MessageQueue, TopicConfig, TopicConfigSerializeWrapper, TopicList, TopicRouteData,
    TopicStatsTable,
};
use skylark_protocol::headers::{
    CreateTopicRequestHeader, DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader,
    GetAllTopicConfigRequestHeader, GetTopicStatsInfoRequestHeader,
};
use skylark_protocol::message::topic::AUTO_CREATE_TOPIC_KEY_TOPIC;
use skylark_protocol::{RemotingCommand, RequestCode};

use super::{Admin, BrokerMaster};
use crate::error::ClientError;

/// A topic's route and the offsets of its queues (`topicRoute` + `topicStatus`).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicDescription {
    /// The topic.
    pub topic: String,
    /// The nameserver's route.
    pub route: TopicRouteData,
    /// Every queue of every master of the route, by broker then queue id.
    pub queues: Vec<QueueStatus>,
}

/// One queue's offsets (`TopicOffset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// The queue.
    pub queue: MessageQueue,
    /// The first offset still stored.
    pub min_offset: i64,
    /// One past the last offset.
    pub max_offset: i64,
    /// Store time of the last message, ms (0 when empty).
    pub last_update_timestamp: i64,
}

impl Admin {
    /// Creates or updates `config`'s topic on the broker at `addr`
    /// (UPDATE_AND_CREATE_TOPIC). Attribute keys without a `+`/`-` sign get `+`.
    pub async fn create_topic(&self, addr: &str, config: &TopicConfig) -> Result<(), ClientError> {
        let attributes = (!config.attributes.is_empty()).then(|| {
            config
                .attributes
                .iter()
                .map(|(k, v)| {
                    let sign = if k.starts_with(['+', '-']) { "" } else { "+" };
                    format!("{sign}{k}={v}")
                })
                .collect::<Vec<_>>()
                .join(",")
        });
        let header = CreateTopicRequestHeader {
            topic: config.topic_name.clone(),
            default_topic: AUTO_CREATE_TOPIC_KEY_TOPIC.to_owned(),
            read_queue_nums: config.read_queue_nums,
            write_queue_nums: config.write_queue_nums,
            perm: config.perm,
            topic_filter_type: config.topic_filter_type.name().to_owned(),
            topic_sys_flag: Some(config.topic_sys_flag),
            order: config.order,
            attributes,
            force: None,
            broker_name: None,
        };
        self.call(
            addr,
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC, &header),
        )
        .await
        .map(drop)
    }

    /// Creates or updates the topic on every master of `cluster` (every
    /// cluster when `None`); returns the masters it was created on.
    pub async fn create_topic_in_cluster(
        &self,
        cluster: Option<&str>,
        config: &TopicConfig,
    ) -> Result<Vec<BrokerMaster>, ClientError> {
        let masters = self.some_masters(cluster).await?;
        for m in &masters {
            self.create_topic(&m.addr, config).await?;
        }
        // A later send must see the new queues, not a cached stand-in.
        self.instance.forget_route(&config.topic_name);
        Ok(masters)
    }

    /// Every topic the nameservers route (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
    pub async fn topic_list(&self) -> Result<BTreeSet<String>, ClientError> {
        let response = self
            .instance
            .invoke_namesrv_ok(RemotingCommand::bare_request(
                RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
            ))
            .await?;
        Ok(TopicList::decode(&response.body)?.topic_list)
    }

    /// Every topic config of the broker at `addr` (GET_ALL_TOPIC_CONFIG).
    pub async fn all_topic_configs(
        &self,
        addr: &str,
    ) -> Result<TopicConfigSerializeWrapper, ClientError> {
        let cmd = RemotingCommand::request(
            RequestCode::GET_ALL_TOPIC_CONFIG,
            &GetAllTopicConfigRequestHeader::default(),
        );
        self.call_body(addr, cmd).await
    }

    /// The route of `topic`, fresh from the nameserver.
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        self.instance.fetch_route_data(topic).await
    }

    /// The offsets of `topic`'s queues on the broker at `addr` (GET_TOPIC_STATS_INFO).
    pub async fn topic_stats(
        &self,
        addr: &str,
        topic: &str,
    ) -> Result<TopicStatsTable, ClientError> {
        let header = GetTopicStatsInfoRequestHeader {
            topic: topic.to_owned(),
            broker_name: None,
        };
        self.call_body(
            addr,
            RemotingCommand::request(RequestCode::GET_TOPIC_STATS_INFO, &header),
        )
        .await
    }

    /// `topic`'s route and every queue's offsets, from each master of the route.
    pub async fn describe_topic(&self, topic: &str) -> Result<TopicDescription, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut queues = Vec::new();
        for broker in &route.broker_datas {
            let Some(addr) = broker.master_addr() else {
                continue;
            };
            let stats = self.topic_stats(addr, topic).await?;
            queues.extend(
                stats
                    .offset_table
                    .into_iter()
                    .map(|(queue, o)| QueueStatus {
                        queue,
                        min_offset: o.min_offset,
                        max_offset: o.max_offset,
                        last_update_timestamp: o.last_update_timestamp,
                    }),
            );
        }
        queues.sort_by(|a, b| {
            (&a.queue.broker_name, a.queue.queue_id).cmp(&(&b.queue.broker_name, b.queue.queue_id))
        });
        Ok(TopicDescription {
            topic: topic.to_owned(),
            route,
            queues,
        })
    }

    /// Deletes `topic` from the broker at `addr` (DELETE_TOPIC_IN_BROKER).
    pub async fn delete_topic_in_broker(&self, addr: &str, topic: &str) -> Result<(), ClientError> {
        let header = DeleteTopicRequestHeader {
            topic: topic.to_owned(),
            broker_name: None,
        };
        self.call(
            addr,
            RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER, &header),
        )
        .await
        .map(drop)
    }

    /// Deletes `topic`'s route of `cluster` (all clusters when `None`) from
    /// every nameserver (DELETE_TOPIC_IN_NAMESRV).
    pub async fn delete_topic_in_namesrv(
        &self,
        topic: &str,
        cluster: Option<&str>,
    ) -> Result<(), ClientError> {
        let header = DeleteTopicFromNamesrvRequestHeader {
            topic: topic.to_owned(),
            cluster_name: cluster.map(str::to_owned),
            broker_name: None,
        };
        let addrs = self.instance.config().namesrv_addrs.clone();
        if addrs.is_empty() {
            return Err(ClientError::NoNameserver);
        }
        for addr in &addrs {
            self.call(
                addr,
                RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV, &header),
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes `topic` from every master of `cluster` (every cluster when
    /// `None`) and then from the nameservers, as `mqadmin deleteTopic` does.
    pub async fn delete_topic(
        &self,
        topic: &str,
        cluster: Option<&str>,
    ) -> Result<(), ClientError> {
        for m in self.masters(cluster).await? {
            self.delete_topic_in_broker(&m.addr, topic).await?;
        }
        self.delete_topic_in_namesrv(topic, cluster).await?;
        self.instance.forget_route(topic);
        Ok(())
    }
}
