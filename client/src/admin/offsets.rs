//! Consume progress, offset queries and offset resets.

use std::collections::BTreeMap;

use skylark_protocol::body::{Body, ConsumeStats, MessageQueue, ResetOffsetBody};
use skylark_protocol::headers::{
    GetConsumeStatsRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader, GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, ResetOffsetRequestHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::Admin;
use crate::error::ClientError;

/// A group's progress over every queue it consumes (`consumerProgress`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumeProgress {
    /// The group.
    pub group: String,
    /// One entry per queue, by topic, broker, queue id.
    pub queues: Vec<QueueProgress>,
    /// Messages consumed per second, summed over brokers.
    pub consume_tps: f64,
}

impl ConsumeProgress {
    /// The sum of every queue's lag.
    pub fn total_lag(&self) -> i64 {
        self.queues.iter().map(|q| q.lag).sum()
    }
}

/// One queue's offsets for a group (`OffsetWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue.
    pub queue: MessageQueue,
    /// One past the queue's last message.
    pub broker_offset: i64,
    /// The group's committed offset (-1 when it has none).
    pub consumer_offset: i64,
    /// The group's pull offset (5.x pop consumers; else as committed).
    pub pull_offset: i64,
    /// Messages not consumed yet: broker offset − committed offset.
    pub lag: i64,
    /// Store time of the last consumed message, ms (0 when unknown).
    pub last_timestamp: i64,
}

impl Admin {
    /// The consume stats of `group` (of one topic, or every topic it has
    /// offsets on) on the broker at `addr` (GET_CONSUME_STATS).
    pub async fn consume_stats_of(
        &self,
        addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumeStats, ClientError> {
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.to_owned(),
            topic: topic.map(str::to_owned),
            topic_list: None,
            broker_name: None,
        };
        self.call_body(
            addr,
            RemotingCommand::request(RequestCode::GET_CONSUME_STATS, &header),
        )
        .await
    }

    /// `group`'s progress on every master, merged: per queue the broker
    /// offset, the committed offset and the lag.
    pub async fn consume_progress(
        &self,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumeProgress, ClientError> {
        let mut progress = ConsumeProgress {
            group: group.to_owned(),
            queues: Vec::new(),
            consume_tps: 0.0,
        };
        let masters = self.masters(None).await?;
        let mut answered = 0;
        let mut last = None;
        for m in &masters {
            match self.consume_stats_of(&m.addr, group, topic).await {
                Ok(stats) => {
                    answered += 1;
                    progress.consume_tps += stats.consume_tps;
                    progress
                        .queues
                        .extend(
                            stats
                                .offset_table
                                .into_iter()
                                .map(|(queue, o)| QueueProgress {
                                    queue,
                                    broker_offset: o.broker_offset,
                                    consumer_offset: o.consumer_offset,
                                    pull_offset: o.pull_offset,
                                    lag: (o.broker_offset - o.consumer_offset.max(0)).max(0),
                                    last_timestamp: o.last_timestamp,
                                }),
                        );
                }
                Err(e) => last = Some(e),
            }
        }
        if answered == 0 {
            return Err(last.unwrap_or_else(|| {
                ClientError::NotFound("no master broker is registered".into())
            }));
        }
        progress.queues.sort_by(|a, b| {
            (&a.queue.topic, &a.queue.broker_name, a.queue.queue_id).cmp(&(
                &b.queue.topic,
                &b.queue.broker_name,
                b.queue.queue_id,
            ))
        });
        Ok(progress)
    }

    /// Moves `group`'s offsets on `topic` to the first message stored at or
    /// after `timestamp_ms` (-1: the end of each queue) on every master of
    /// the topic's route (INVOKE_BROKER_TO_RESET_OFFSET). Without `force` a
    /// queue only moves back. Returns the new offsets.
    pub async fn reset_offset_by_time(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<BTreeMap<MessageQueue, i64>, ClientError> {
        let header = ResetOffsetRequestHeader {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id: None,
            offset: None,
            timestamp: timestamp_ms,
            is_force: force,
            broker_name: None,
        };
        self.reset_on_route(topic, &header).await
    }

    /// Moves `group`'s offset of one queue to `offset` (within the queue's
    /// `[min, max]`), as `resetOffsetByQueueId` does.
    pub async fn reset_offset_to(
        &self,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<BTreeMap<MessageQueue, i64>, ClientError> {
        let header = ResetOffsetRequestHeader {
            group: group.to_owned(),
            topic: queue.topic.clone(),
            queue_id: Some(queue.queue_id),
            offset: Some(offset),
            timestamp: -1,
            is_force: true,
            broker_name: Some(queue.broker_name.clone()),
        };
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        self.reset_at(&addr, &header).await
    }

    async fn reset_on_route(
        &self,
        topic: &str,
        header: &ResetOffsetRequestHeader,
    ) -> Result<BTreeMap<MessageQueue, i64>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut offsets = BTreeMap::new();
        for broker in &route.broker_datas {
            let Some(addr) = broker.master_addr() else {
                continue;
            };
            offsets.extend(self.reset_at(addr, header).await?);
        }
        Ok(offsets)
    }

    async fn reset_at(
        &self,
        addr: &str,
        header: &ResetOffsetRequestHeader,
    ) -> Result<BTreeMap<MessageQueue, i64>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET, header);
        let response = self.call(addr, cmd).await?;
        if response.body.is_empty() {
            return Ok(BTreeMap::new());
        }
        Ok(ResetOffsetBody::decode(&response.body)?.offset_table)
    }

    /// The master address of `broker_name` in `topic`'s route.
    async fn master_of(&self, topic: &str, broker_name: &str) -> Result<String, ClientError> {
        let route = self.topic_route(topic).await?;
        route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
            .and_then(|b| b.master_addr())
            .map(str::to_owned)
            .ok_or_else(|| ClientError::BrokerNotFound(broker_name.to_owned()))
    }

    /// Commits `offset` as `group`'s offset of `queue` (UPDATE_CONSUMER_OFFSET).
    pub async fn update_consumer_offset(
        &self,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<(), ClientError> {
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            commit_offset: offset,
            broker_name: Some(queue.broker_name.clone()),
        };
        self.call(
            &addr,
            RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET, &header),
        )
        .await
        .map(drop)
    }

    /// `group`'s committed offset of `queue` (QUERY_CONSUMER_OFFSET); `None`
    /// when it has none.
    pub async fn query_consumer_offset(
        &self,
        group: &str,
        queue: &MessageQueue,
    ) -> Result<Option<i64>, ClientError> {
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            set_zero_if_not_found: Some(false),
            broker_name: Some(queue.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET, &header);
        let response = self
            .instance
            .invoke(&addr, cmd, self.instance.config().request_timeout)
            .await?;
        match response.response_code() {
            ResponseCode::SUCCESS => Ok(Some(
                response
                    .read_header::<QueryConsumerOffsetResponseHeader>()?
                    .offset,
            )),
            ResponseCode::QUERY_NOT_FOUND => Ok(None),
            _ => Err(ClientError::from_response(&response, &addr)),
        }
    }

    /// The first offset still stored in `queue` (GET_MIN_OFFSET).
    pub async fn min_offset(&self, queue: &MessageQueue) -> Result<i64, ClientError> {
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        let header = GetMinOffsetRequestHeader {
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            broker_name: Some(queue.broker_name.clone()),
        };
        let response = self
            .call(
                &addr,
                RemotingCommand::request(RequestCode::GET_MIN_OFFSET, &header),
            )
            .await?;
        Ok(response.read_header::<GetMinOffsetResponseHeader>()?.offset)
    }

    /// One past the last offset of `queue` (GET_MAX_OFFSET).
    pub async fn max_offset(&self, queue: &MessageQueue) -> Result<i64, ClientError> {
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        let header = GetMaxOffsetRequestHeader {
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            committed: None,
            broker_name: Some(queue.broker_name.clone()),
        };
        let response = self
            .call(
                &addr,
                RemotingCommand::request(RequestCode::GET_MAX_OFFSET, &header),
            )
            .await?;
        Ok(response.read_header::<GetMaxOffsetResponseHeader>()?.offset)
    }

    /// The first offset of `queue` stored at or after `timestamp_ms`
    /// (SEARCH_OFFSET_BY_TIMESTAMP).
    pub async fn search_offset(
        &self,
        queue: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<i64, ClientError> {
        let addr = self.master_of(&queue.topic, &queue.broker_name).await?;
        let header = SearchOffsetRequestHeader {
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            timestamp: timestamp_ms,
            boundary_type: None,
            broker_name: Some(queue.broker_name.clone()),
        };
        let response = self
            .call(
                &addr,
                RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP, &header),
            )
            .await?;
        Ok(response.read_header::<SearchOffsetResponseHeader>()?.offset)
    }
}
