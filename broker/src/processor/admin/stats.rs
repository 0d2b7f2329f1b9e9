//! The broker's statistics: GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO
//! and GET_CONSUME_STATS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use skylark_protocol::body::{
    Body, ConsumeStats, KVTable, KeyStyle, MessageQueue, OffsetWrapper, TopicOffset,
    TopicStatsTable,
};
use skylark_protocol::command::SKYLARK_VERSION;
use skylark_protocol::headers::{GetConsumeStatsRequestHeader, GetTopicStatsInfoRequestHeader};
use skylark_protocol::message::record;
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_store::retention::{DiskUsage, StatvfsUsage};

use crate::broker::Broker;
use crate::processor::{Outcome, header, reply, success};

/// `MQVersion.getVersionDesc` of [`SKYLARK_VERSION`].
const VERSION_DESC: &str = "V5_3_3";

impl Broker {
    /// The runtime figures mqadmin's `brokerStatus` and `clusterList` show,
    /// those Skylark can state truthfully; traffic counters and thread-pool
    /// figures are left out, the timer ones are Java's for a broker without
    /// a timer wheel.
    pub(super) fn get_broker_runtime_info(&self, request: &RemotingCommand) -> RemotingCommand {
        let store = &self.store;
        let mut table: BTreeMap<String, String> = BTreeMap::new();
        let mut put = |key: &str, value: String| {
            table.insert(key.to_owned(), value);
        };
        put("brokerVersionDesc", VERSION_DESC.to_owned());
        put("brokerVersion", SKYLARK_VERSION.to_string());
        put("brokerActive", self.config.is_master().to_string());
        put(
            "commitLogMinOffset",
            store.commit_log_min_offset().to_string(),
        );
        put(
            "commitLogMaxOffset",
            store.commit_log_max_offset().to_string(),
        );
        put(
            "dispatchBehindBytes",
            store.dispatch_behind_bytes().to_string(),
        );
        put(
            "earliestMessageTimeStamp",
            self.earliest_message_time().to_string(),
        );
        put("startAcceptSendRequestTimeStamp", "0".to_owned());
        let commit_log_dir = store.config().commit_log_dir();
        if let Some(ratio) = disk_ratio(&commit_log_dir) {
            put("commitLogDiskRatio", ratio.clone());
            put(
                &format!("commitLogDiskRatio_{}", commit_log_dir.display()),
                ratio,
            );
        }
        if let Some(ratio) = disk_ratio(&store.config().consume_queue_dir()) {
            put("consumeQueueDiskRatio", ratio);
        }
        for key in ["timerReadBehind", "timerOffsetBehind", "timerCongestNum"] {
            put(key, "0".to_owned());
        }
        for key in ["timerEnqueueTps", "timerDequeueTps"] {
            put(key, "0.0".to_owned());
        }
        success(request).with_body(KVTable { table }.encode(KeyStyle::Unquoted))
    }

    /// Store time of the oldest message in the CommitLog, or -1
    /// (`getEarliestMessageTime`).
    fn earliest_message_time(&self) -> i64 {
        self.store
            .message_by_phys_offset(self.store.commit_log_min_offset())
            .and_then(|bytes| record::decode(&bytes).ok())
            .map_or(-1, |(message, _)| message.store_timestamp)
    }

    /// Each queue's offset range and last store time.
    pub(super) fn get_topic_stats_info(&self, request: &RemotingCommand) -> Outcome {
        let h: GetTopicStatsInfoRequestHeader = header(request)?;
        let Some(topic) = self.topics.get(&h.topic) else {
            return Ok(reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("topic[{}] not exist", h.topic),
            ));
        };
        let mut stats = TopicStatsTable::default();
        for queue_id in 0..topic.write_queue_nums.max(topic.read_queue_nums) {
            let min = self.store.min_offset(&h.topic, queue_id).max(0);
            let max = self.store.max_offset(&h.topic, queue_id).max(0);
            let last_update_timestamp = if max > 0 {
                self.store.message_store_time(&h.topic, queue_id, max - 1)
            } else {
                0
            };
            stats.offset_table.insert(
                MessageQueue::new(h.topic.as_str(), self.config.broker_name.as_str(), queue_id),
                TopicOffset {
                    last_update_timestamp,
                    max_offset: max,
                    min_offset: min,
                },
            );
        }
        Ok(success(request).with_body(stats.encode(KeyStyle::Unquoted)))
    }

    /// A group's progress on each readable queue of the topics asked for
    /// (else of every topic it has offsets on). When the group is online,
    /// topics it does not subscribe to are left out, as Java does (unless
    /// listed in `topicList`). `consumeTps` is 0: the broker keeps no
    /// traffic statistics yet.
    pub(super) fn get_consume_stats(&self, request: &RemotingCommand) -> Outcome {
        let h: GetConsumeStatsRequestHeader = header(request)?;
        let group = h.consumer_group.as_str();
        let listed = h.topic_list();
        let topics: BTreeSet<String> = if !listed.is_empty() {
            listed.into_iter().map(str::to_owned).collect()
        } else {
            let mut topics = match h.topic.as_deref().map(str::trim) {
                Some(topic) if !topic.is_empty() => BTreeSet::from([topic.to_owned()]),
                _ => self.offsets.topics_of_group(group),
            };
            if let Some(online) = self.consumers.group_info(group)
                && !online.subscriptions.is_empty()
            {
                topics.retain(|topic| {
                    let subscribed = online.subscriptions.contains_key(topic);
                    if !subscribed {
                        tracing::debug!(
                            topic,
                            group,
                            "consume stats: the online group does not subscribe to the topic"
                        );
                    }
                    subscribed
                });
            }
            topics
        };
        let mut stats = ConsumeStats::default();
        for name in &topics {
            let Some(topic) = self.topics.get(name) else {
                tracing::warn!(topic = %name, group, "consume stats of a topic that does not exist");
                continue;
            };
            for queue_id in 0..topic.read_queue_nums {
                let broker_offset = self.store.max_offset(name, queue_id).max(0);
                let consumer_offset = self
                    .offsets
                    .query(group, name, queue_id)
                    .unwrap_or(0)
                    .max(0);
                let last_timestamp = match consumer_offset - 1 {
                    at if at >= 0 => self.store.message_store_time(name, queue_id, at).max(0),
                    _ => 0,
                };
                stats.offset_table.insert(
                    MessageQueue::new(name.as_str(), self.config.broker_name.as_str(), queue_id),
                    OffsetWrapper {
                        broker_offset,
                        consumer_offset,
                        last_timestamp,
                        pull_offset: consumer_offset,
                    },
                );
            }
        }
        Ok(success(request).with_body(stats.encode(KeyStyle::Unquoted)))
    }
}

/// Used share of the partition holding `path`, as Java prints the double.
fn disk_ratio(path: &Path) -> Option<String> {
    match StatvfsUsage.used_ratio(path) {
        // Debug writes `1.0` as Java does; Display would write `1`.
        Ok(ratio) => Some(format!("{ratio:?}")),
        Err(error) => {
            tracing::debug!(path = %path.display(), %error, "cannot measure disk usage");
            None
        }
    }
}
