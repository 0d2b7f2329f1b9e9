//! Administration (mqadmin) requests to brokers and, through brokers, to clients: topics, groups, stats, offsets resets and broker config.

use crate::headers::HeaderError;

/// `topicFilterType` of a tag-filtered topic (`TopicFilterType.SINGLE_TAG`).
pub const TOPIC_FILTER_SINGLE_TAG: &str = "SINGLE_TAG";
/// `topicFilterType` `TopicFilterType.MULTI_TAG`.
pub const TOPIC_FILTER_MULTI_TAG: &str = "MULTI_TAG";

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) and UPDATE_AND_CREATE_STATIC_TOPIC (513)
    /// request (`CreateTopicRequestHeader`).
    ///
    /// `perm` is the PermName bits, `topicFilterType` must name a
    /// `TopicFilterType` (see [`CreateTopicRequestHeader::validate`]),
    /// `attributes` is `+key=value` (set) and `-key` (remove) items joined
    /// by commas; `force` is false when absent.
    pub struct CreateTopicRequestHeader {
        req topic: String = "topic",
        req default_topic: String = "defaultTopic",
        req read_queue_nums: i32 = "readQueueNums",
        req write_queue_nums: i32 = "writeQueueNums",
        req perm: i32 = "perm",
        req topic_filter_type: String = "topicFilterType",
        opt topic_sys_flag: i32 = "topicSysFlag",
        req order: bool = "order",
        opt attributes: String = "attributes",
        opt force: bool = "force",
        opt broker_name: String = "bname",
    }
}

impl CreateTopicRequestHeader {
    /// Java's `checkFields`: `topicFilterType` must be exactly
    /// [`TOPIC_FILTER_SINGLE_TAG`] or [`TOPIC_FILTER_MULTI_TAG`].
    pub fn validate(&self) -> Result<(), HeaderError> {
        match self.topic_filter_type.as_str() {
            TOPIC_FILTER_SINGLE_TAG | TOPIC_FILTER_MULTI_TAG => Ok(()),
            other => Err(HeaderError::Malformed {
                field: "topicFilterType",
                value: other.to_owned(),
                expected: "topic filter type (SINGLE_TAG or MULTI_TAG)",
            }),
        }
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request (`DeleteTopicRequestHeader`).
    pub struct DeleteTopicRequestHeader {
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_TOPIC_STATS_INFO (202) request (`GetTopicStatsInfoRequestHeader`);
    /// the answer is a TopicStatsTable body.
    pub struct GetTopicStatsInfoRequestHeader {
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_TOPIC_CONFIG (351) request (`GetTopicConfigRequestHeader`).
    pub struct GetTopicConfigRequestHeader {
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) request (`GetAllTopicConfigRequestHeader`):
    /// optional paging.
    ///
    /// Java marks `topicSeq` `@CFNotNull`, but older clients send no header
    /// at all and the broker returns every topic when all three keys are
    /// absent, so all three are optional here.
    pub struct GetAllTopicConfigRequestHeader {
        opt topic_seq: i32 = "topicSeq",
        opt data_version: String = "dataVersion",
        opt max_topic_num: i32 = "maxTopicNum",
    }
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) response (`GetAllTopicConfigResponseHeader`).
    ///
    /// Java marks `totalTopicNum` `@CFNotNull`, but brokers without paging
    /// do not send it and the client then takes the body as complete, so it
    /// is optional here.
    pub struct GetAllTopicConfigResponseHeader {
        opt total_topic_num: i32 = "totalTopicNum",
    }
}

command_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) request
    /// (`GetAllSubscriptionGroupRequestHeader`): optional paging, optional
    /// for the same reason as [`GetAllTopicConfigRequestHeader`] (Java marks
    /// `groupSeq` `@CFNotNull`).
    pub struct GetAllSubscriptionGroupRequestHeader {
        opt group_seq: i32 = "groupSeq",
        opt data_version: String = "dataVersion",
        opt max_group_num: i32 = "maxGroupNum",
    }
}

command_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) response
    /// (`GetAllSubscriptionGroupResponseHeader`); optional for the same
    /// reason as [`GetAllTopicConfigResponseHeader`].
    pub struct GetAllSubscriptionGroupResponseHeader {
        opt total_group_num: i32 = "totalGroupNum",
    }
}

command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352) request
    /// (`GetSubscriptionGroupConfigRequestHeader`).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        req group: String = "group",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request
    /// (`DeleteSubscriptionGroupRequestHeader`); `cleanOffset` is false when
    /// absent.
    pub struct DeleteSubscriptionGroupRequestHeader {
        req group_name: String = "groupName",
        opt clean_offset: bool = "cleanOffset",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// UPDATE_AND_GET_GROUP_FORBIDDEN (353) request
    /// (`UpdateGroupForbiddenRequestHeader`); without `readable` it only reads.
    pub struct UpdateGroupForbiddenRequestHeader {
        req group: String = "group",
        req topic: String = "topic",
        opt readable: bool = "readable",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request
    /// (`GetConsumerConnectionListRequestHeader`); the answer is a
    /// ConsumerConnection body, CONSUMER_NOT_ONLINE when there is none.
    pub struct GetConsumerConnectionListRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request
    /// (`GetProducerConnectionListRequestHeader`).
    pub struct GetProducerConnectionListRequestHeader {
        req producer_group: String = "producerGroup",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208) request (`GetConsumeStatsRequestHeader`).
    ///
    /// A non-blank `topicList` (`;`-separated, see
    /// [`GetConsumeStatsRequestHeader::topic_list`]) wins over `topic`;
    /// without either the broker reports every topic the group has offsets
    /// for.
    pub struct GetConsumeStatsRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt topic: String = "topic",
        opt topic_list: String = "topicList",
        opt broker_name: String = "bname",
    }
}

impl GetConsumeStatsRequestHeader {
    /// `topicList` split on `;` with empty names dropped; empty when the key
    /// is absent or blank (Java's `fetchTopicList`).
    pub fn topic_list(&self) -> Vec<&str> {
        match self.topic_list.as_deref() {
            Some(list) if !list.trim().is_empty() => {
                list.split(';').filter(|t| !t.is_empty()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Sets `topicList` as Java's `updateTopicList` does (each name followed
    /// by `;`); an empty slice leaves the field unchanged.
    pub fn set_topic_list<S: AsRef<str>>(&mut self, topics: &[S]) {
        if topics.is_empty() {
            return;
        }
        let mut list = String::new();
        for topic in topics {
            list.push_str(topic.as_ref());
            list.push(';');
        }
        self.topic_list = Some(list);
    }
}

command_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222, admin to broker) and
    /// RESET_CONSUMER_CLIENT_OFFSET (220, broker to consumer) request
    /// (`ResetOffsetRequestHeader`).
    ///
    /// `timestamp` (ms) picks the offsets; `queueId` (Java default -1, see
    /// [`ResetOffsetRequestHeader::queue_id_or_default`]) with `offset`
    /// resets one queue to an explicit offset. Java's reset-by-time sends
    /// `offset` -1, meaning none.
    pub struct ResetOffsetRequestHeader {
        req group: String = "group",
        req topic: String = "topic",
        opt queue_id: i32 = "queueId",
        opt offset: i64 = "offset",
        req timestamp: i64 = "timestamp",
        req is_force: bool = "isForce",
        opt broker_name: String = "bname",
    }
}

impl ResetOffsetRequestHeader {
    /// `queueId`, -1 (all queues) when absent.
    pub fn queue_id_or_default(&self) -> i32 {
        self.queue_id.unwrap_or(-1)
    }
}

/// RESET_CONSUMER_CLIENT_OFFSET (220) uses the same header as 222.
pub type ResetConsumerClientOffsetRequestHeader = ResetOffsetRequestHeader;

command_header! {
    /// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223, admin to broker) and
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221, broker to consumer) request
    /// (`GetConsumerStatusRequestHeader`); `clientAddr` narrows 223 to one
    /// client.
    pub struct GetConsumerStatusRequestHeader {
        req topic: String = "topic",
        req group: String = "group",
        opt client_addr: String = "clientAddr",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307) request, admin to broker and broker to
    /// consumer (`GetConsumerRunningInfoRequestHeader`); `jstackEnable` is
    /// false when absent.
    pub struct GetConsumerRunningInfoRequestHeader {
        req consumer_group: String = "consumerGroup",
        req client_id: String = "clientId",
        opt jstack_enable: bool = "jstackEnable",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309) request, admin to broker and broker to
    /// consumer (`ConsumeMessageDirectlyResultRequestHeader`).
    ///
    /// This header has both its own `brokerName` (the broker holding the
    /// message, [`Self::broker_name`]) and the inherited `bname`
    /// ([`Self::bname`]).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt client_id: String = "clientId",
        opt msg_id: String = "msgId",
        opt broker_name: String = "brokerName",
        opt topic: String = "topic",
        opt topic_sys_flag: i32 = "topicSysFlag",
        opt group_sys_flag: i32 = "groupSysFlag",
        opt bname: String = "bname",
    }
}

command_header! {
    /// QUERY_CONSUME_QUEUE (321) request (`QueryConsumeQueueRequestHeader`):
    /// `count` ConsumeQueue entries of a queue from `index`, with filter
    /// results for `consumerGroup`. Every key is optional in Java (the
    /// numbers default to 0).
    pub struct QueryConsumeQueueRequestHeader {
        opt topic: String = "topic",
        opt queue_id: i32 = "queueId",
        opt index: i64 = "index",
        opt count: i32 = "count",
        opt consumer_group: String = "consumerGroup",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300) request
    /// (`QueryTopicConsumeByWhoRequestHeader`); the answer is a GroupList body.
    pub struct QueryTopicConsumeByWhoRequestHeader {
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_TOPICS_BY_CONSUMER (343) request
    /// (`QueryTopicsByConsumerRequestHeader`); the answer is a TopicList body.
    pub struct QueryTopicsByConsumerRequestHeader {
        req group: String = "group",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_SUBSCRIPTION_BY_CONSUMER (345) request
    /// (`QuerySubscriptionByConsumerRequestHeader`).
    pub struct QuerySubscriptionByConsumerRequestHeader {
        req group: String = "group",
        opt topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_CONSUME_TIME_SPAN (303) request
    /// (`QueryConsumeTimeSpanRequestHeader`).
    pub struct QueryConsumeTimeSpanRequestHeader {
        req topic: String = "topic",
        req group: String = "group",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_CORRECTION_OFFSET (308) request (`QueryCorrectionOffsetHeader`);
    /// `filterGroups` is comma-separated.
    pub struct QueryCorrectionOffsetHeader {
        opt filter_groups: String = "filterGroups",
        req compare_group: String = "compareGroup",
        req topic: String = "topic",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// CLONE_GROUP_OFFSET (314) request (`CloneGroupOffsetRequestHeader`);
    /// without `topic` every topic of `srcGroup` is cloned, `offline` is
    /// false when absent.
    pub struct CloneGroupOffsetRequestHeader {
        req src_group: String = "srcGroup",
        req dest_group: String = "destGroup",
        opt topic: String = "topic",
        opt offline: bool = "offline",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA (315) request (`ViewBrokerStatsDataRequestHeader`),
    /// e.g. `statsName` `TOPIC_PUT_NUMS`, `statsKey` a topic.
    pub struct ViewBrokerStatsDataRequestHeader {
        req stats_name: String = "statsName",
        req stats_key: String = "statsKey",
    }
}

command_header! {
    /// GET_BROKER_CONSUME_STATS (317) request (`GetConsumeStatsInBrokerHeader`).
    pub struct GetConsumeStatsInBrokerHeader {
        req is_order: bool = "isOrder",
    }
}

command_header! {
    /// GET_BROKER_CONFIG (26) response (`GetBrokerConfigResponseHeader`):
    /// `version` is the configuration's DataVersion JSON, the body the
    /// properties text. The request has no header; UPDATE_BROKER_CONFIG (25)
    /// has none either (properties body).
    pub struct GetBrokerConfigResponseHeader {
        req version: String = "version",
    }
}

command_header! {
    /// GET_BROKER_MEMBER_GROUP (901) request (`GetBrokerMemberGroupRequestHeader`).
    pub struct GetBrokerMemberGroupRequestHeader {
        req cluster_name: String = "clusterName",
        req broker_name: String = "brokerName",
    }
}

command_header! {
    /// RESET_MASTER_FLUSH_OFFSET (908) request (`ResetMasterFlushOffsetHeader`).
    pub struct ResetMasterFlushOffsetHeader {
        req master_flush_offset: i64 = "masterFlushOffset",
    }
}

#[cfg(test)]
mod tests;
