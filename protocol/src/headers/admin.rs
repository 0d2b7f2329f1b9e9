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
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::CommandHeader;

    fn create_topic() -> CreateTopicRequestHeader {
        CreateTopicRequestHeader {
            topic: "T".into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            topic_filter_type: TOPIC_FILTER_SINGLE_TAG.into(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: Some("+message.type=NORMAL".into()),
            force: None,
            broker_name: None,
        }
    }

    #[test]
    fn create_topic_round_trip_and_validate() {
        let h = create_topic();
        let mut f = h.to_ext_fields();
        assert_eq!(f.get("order"), Some("false"));
        assert_eq!(f.get("force"), None);
        let got = CreateTopicRequestHeader::read_from(&f).unwrap();
        assert_eq!(got, h);
        assert_eq!(got.validate(), Ok(()));
        f.insert("topicFilterType", "single_tag");
        let got = CreateTopicRequestHeader::read_from(&f).unwrap();
        assert!(matches!(
            got.validate(),
            Err(HeaderError::Malformed {
                field: "topicFilterType",
                ..
            })
        ));
        f.insert("perm", "rw");
        assert_eq!(
            CreateTopicRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "perm",
                value: "rw".into(),
                expected: "32-bit integer"
            }
        );
        let mut f = h.to_ext_fields();
        f.remove("order");
        assert_eq!(
            CreateTopicRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("order")
        );
    }

    #[test]
    fn topic_headers() {
        let f: ExtFields = [("topic", "T"), ("bname", "broker-a")]
            .into_iter()
            .collect();
        let d = DeleteTopicRequestHeader::read_from(&f).unwrap();
        assert_eq!(d.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(d.to_ext_fields(), f);
        assert_eq!(
            GetTopicStatsInfoRequestHeader::read_from(&f).unwrap().topic,
            "T"
        );
        assert_eq!(
            GetTopicConfigRequestHeader::read_from(&f).unwrap().topic,
            "T"
        );
        assert_eq!(
            QueryTopicConsumeByWhoRequestHeader::read_from(&f)
                .unwrap()
                .topic,
            "T"
        );
        let empty = ExtFields::new();
        assert_eq!(
            DeleteTopicRequestHeader::read_from(&empty).unwrap_err(),
            HeaderError::Missing("topic")
        );
        assert_eq!(
            GetTopicStatsInfoRequestHeader::read_from(&empty).unwrap_err(),
            HeaderError::Missing("topic")
        );
    }

    #[test]
    fn paging_keys_are_optional() {
        let none = GetAllTopicConfigRequestHeader::read_from(&ExtFields::new()).unwrap();
        assert_eq!(none, GetAllTopicConfigRequestHeader::default());
        assert!(none.to_ext_fields().is_empty());
        let h = GetAllTopicConfigRequestHeader {
            topic_seq: Some(0),
            data_version: Some(String::new()),
            max_topic_num: Some(2000),
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.get("dataVersion"), Some(""));
        assert_eq!(GetAllTopicConfigRequestHeader::read_from(&f).unwrap(), h);
        f.insert("maxTopicNum", "");
        assert!(matches!(
            GetAllTopicConfigRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "maxTopicNum",
                ..
            })
        ));
        let r = GetAllTopicConfigResponseHeader {
            total_topic_num: Some(5),
        };
        assert_eq!(
            GetAllTopicConfigResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
            r
        );

        let g = GetAllSubscriptionGroupRequestHeader {
            group_seq: Some(10),
            data_version: None,
            max_group_num: Some(100),
        };
        assert_eq!(
            GetAllSubscriptionGroupRequestHeader::read_from(&g.to_ext_fields()).unwrap(),
            g
        );
        let r = GetAllSubscriptionGroupResponseHeader {
            total_group_num: None,
        };
        assert_eq!(
            GetAllSubscriptionGroupResponseHeader::read_from(&ExtFields::new()).unwrap(),
            r
        );
    }

    #[test]
    fn group_headers() {
        let d = DeleteSubscriptionGroupRequestHeader {
            group_name: "CG".into(),
            clean_offset: Some(true),
            broker_name: None,
        };
        let f = d.to_ext_fields();
        assert_eq!(f.get("cleanOffset"), Some("true"));
        assert_eq!(
            DeleteSubscriptionGroupRequestHeader::read_from(&f).unwrap(),
            d
        );
        let f: ExtFields = [("group", "CG")].into_iter().collect();
        assert_eq!(
            DeleteSubscriptionGroupRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("groupName")
        );
        assert_eq!(
            GetSubscriptionGroupConfigRequestHeader::read_from(&f)
                .unwrap()
                .group,
            "CG"
        );
        assert_eq!(
            QueryTopicsByConsumerRequestHeader::read_from(&f)
                .unwrap()
                .group,
            "CG"
        );
        assert_eq!(
            QuerySubscriptionByConsumerRequestHeader::read_from(&f)
                .unwrap()
                .topic,
            None
        );
        assert_eq!(
            QueryConsumeTimeSpanRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("topic")
        );
        let u = UpdateGroupForbiddenRequestHeader {
            group: "CG".into(),
            topic: "T".into(),
            readable: Some(false),
            broker_name: None,
        };
        assert_eq!(
            UpdateGroupForbiddenRequestHeader::read_from(&u.to_ext_fields()).unwrap(),
            u
        );
    }

    #[test]
    fn connections_and_consume_stats() {
        let c = GetConsumerConnectionListRequestHeader {
            consumer_group: "CG".into(),
            broker_name: None,
        };
        assert_eq!(
            GetConsumerConnectionListRequestHeader::read_from(&c.to_ext_fields()).unwrap(),
            c
        );
        let p = GetProducerConnectionListRequestHeader {
            producer_group: "PG".into(),
            broker_name: Some("b".into()),
        };
        assert_eq!(
            GetProducerConnectionListRequestHeader::read_from(&p.to_ext_fields()).unwrap(),
            p
        );
        assert_eq!(
            GetProducerConnectionListRequestHeader::read_from(&c.to_ext_fields()).unwrap_err(),
            HeaderError::Missing("producerGroup")
        );

        let mut s = GetConsumeStatsRequestHeader {
            consumer_group: "CG".into(),
            topic: Some("T".into()),
            topic_list: None,
            broker_name: None,
        };
        assert!(s.topic_list().is_empty());
        s.set_topic_list::<&str>(&[]);
        assert_eq!(s.topic_list, None);
        s.set_topic_list(&["A", "B"]);
        assert_eq!(s.topic_list.as_deref(), Some("A;B;"));
        assert_eq!(s.topic_list(), vec!["A", "B"]);
        let f = s.to_ext_fields();
        assert_eq!(GetConsumeStatsRequestHeader::read_from(&f).unwrap(), s);
        s.topic_list = Some(";;C;".into());
        assert_eq!(s.topic_list(), vec!["C"]);
        s.topic_list = Some("  ".into());
        assert!(s.topic_list().is_empty());
    }

    #[test]
    fn reset_offset() {
        let h = ResetOffsetRequestHeader {
            group: "CG".into(),
            topic: "T".into(),
            queue_id: None,
            offset: Some(-1),
            timestamp: 1_700_000_000_000,
            is_force: true,
            broker_name: None,
        };
        assert_eq!(h.queue_id_or_default(), -1);
        let f = h.to_ext_fields();
        assert_eq!(f.get("isForce"), Some("true"));
        assert_eq!(ResetOffsetRequestHeader::read_from(&f).unwrap(), h);
        let alias: ResetConsumerClientOffsetRequestHeader =
            ResetConsumerClientOffsetRequestHeader::read_from(&f).unwrap();
        assert_eq!(alias, h);
        // The Go client's 220 decoder omits isForce; Java always sends it.
        let f: ExtFields = [("topic", "T"), ("group", "CG"), ("timestamp", "5")]
            .into_iter()
            .collect();
        assert_eq!(
            ResetOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("isForce")
        );
        let mut f = h.to_ext_fields();
        f.insert("queueId", "3");
        f.insert("timestamp", "-1x");
        assert!(matches!(
            ResetOffsetRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "timestamp",
                ..
            })
        ));
    }

    #[test]
    fn consumer_admin_headers() {
        let s = GetConsumerStatusRequestHeader {
            topic: "T".into(),
            group: "CG".into(),
            client_addr: Some("10.0.0.5:5000".into()),
            broker_name: None,
        };
        assert_eq!(
            GetConsumerStatusRequestHeader::read_from(&s.to_ext_fields()).unwrap(),
            s
        );
        let r = GetConsumerRunningInfoRequestHeader {
            consumer_group: "CG".into(),
            client_id: "10.0.0.5@1".into(),
            jstack_enable: Some(false),
            broker_name: None,
        };
        let mut f = r.to_ext_fields();
        assert_eq!(
            GetConsumerRunningInfoRequestHeader::read_from(&f).unwrap(),
            r
        );
        f.remove("clientId");
        assert_eq!(
            GetConsumerRunningInfoRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("clientId")
        );
        let d = ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: "CG".into(),
            client_id: Some("10.0.0.5@1".into()),
            msg_id: Some("0A00000100002A9F0000000000000010".into()),
            broker_name: Some("broker-a".into()),
            topic: Some("T".into()),
            topic_sys_flag: None,
            group_sys_flag: None,
            bname: Some("broker-b".into()),
        };
        let f = d.to_ext_fields();
        assert_eq!(f.get("brokerName"), Some("broker-a"));
        assert_eq!(f.get("bname"), Some("broker-b"));
        assert_eq!(
            ConsumeMessageDirectlyResultRequestHeader::read_from(&f).unwrap(),
            d
        );
        let q = QueryConsumeQueueRequestHeader {
            topic: Some("T".into()),
            queue_id: Some(0),
            index: Some(10),
            count: Some(20),
            consumer_group: None,
            broker_name: None,
        };
        let mut f = q.to_ext_fields();
        assert_eq!(QueryConsumeQueueRequestHeader::read_from(&f).unwrap(), q);
        f.insert("index", "ten");
        assert!(matches!(
            QueryConsumeQueueRequestHeader::read_from(&f),
            Err(HeaderError::Malformed { field: "index", .. })
        ));
    }

    #[test]
    fn misc_admin_headers() {
        let c = CloneGroupOffsetRequestHeader {
            src_group: "A".into(),
            dest_group: "B".into(),
            topic: None,
            offline: Some(true),
            broker_name: None,
        };
        let mut f = c.to_ext_fields();
        assert_eq!(CloneGroupOffsetRequestHeader::read_from(&f).unwrap(), c);
        f.remove("destGroup");
        assert_eq!(
            CloneGroupOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("destGroup")
        );
        let v = ViewBrokerStatsDataRequestHeader {
            stats_name: "TOPIC_PUT_NUMS".into(),
            stats_key: "T".into(),
        };
        assert_eq!(
            ViewBrokerStatsDataRequestHeader::read_from(&v.to_ext_fields()).unwrap(),
            v
        );
        let o = GetConsumeStatsInBrokerHeader { is_order: true };
        let f = o.to_ext_fields();
        assert_eq!(f.get("isOrder"), Some("true"));
        assert_eq!(GetConsumeStatsInBrokerHeader::read_from(&f).unwrap(), o);
        let q = QueryCorrectionOffsetHeader {
            filter_groups: Some("G1,G2".into()),
            compare_group: "CG".into(),
            topic: "T".into(),
            broker_name: None,
        };
        assert_eq!(
            QueryCorrectionOffsetHeader::read_from(&q.to_ext_fields()).unwrap(),
            q
        );
        let b = GetBrokerConfigResponseHeader {
            version: r#"{"counter":3,"stateVersion":0,"timestamp":1700000000000}"#.into(),
        };
        assert_eq!(
            GetBrokerConfigResponseHeader::read_from(&b.to_ext_fields()).unwrap(),
            b
        );
        let m = GetBrokerMemberGroupRequestHeader {
            cluster_name: "C".into(),
            broker_name: "b".into(),
        };
        assert_eq!(
            GetBrokerMemberGroupRequestHeader::read_from(&m.to_ext_fields()).unwrap(),
            m
        );
        let r = ResetMasterFlushOffsetHeader {
            master_flush_offset: 1 << 40,
        };
        let mut f = r.to_ext_fields();
        assert_eq!(ResetMasterFlushOffsetHeader::read_from(&f).unwrap(), r);
        f.insert("masterFlushOffset", "1e12");
        assert!(matches!(
            ResetMasterFlushOffsetHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "masterFlushOffset",
                ..
            })
        ));
    }
}
