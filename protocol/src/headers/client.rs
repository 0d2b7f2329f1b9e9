//! Client sessions: heartbeat response keys, unregistering, consumer-group membership and retry (codes 34, 35, 36, 38, 40).

/// HEART_BEAT (34) response extField: `"true"` when the broker understands
/// heartbeat v2 (fingerprinted heartbeats without subscriptions)
/// (`MixAll.IS_SUPPORT_HEART_BEAT_V2`).
pub const IS_SUPPORT_HEART_BEAT_V2: &str = "IS_SUPPORT_HEART_BEAT_V2";
/// HEART_BEAT (34) response extField: whether the broker saw a subscription
/// change and needs a full heartbeat next time (`MixAll.IS_SUB_CHANGE`).
pub const IS_SUB_CHANGE: &str = "IS_SUB_CHANGE";

command_header! {
    /// HEART_BEAT (34) response keys. The request has no header (its body is
    /// HeartbeatData); Java brokers answer with these two extFields, `"true"`
    /// both for a v1 heartbeat (fingerprint 0), and
    /// `IS_SUB_CHANGE` = whether the group's fingerprint changed for a v2 one.
    /// Java clients read absent keys as false.
    pub struct HeartbeatResponseHeader {
        opt is_support_heart_beat_v2: bool = "IS_SUPPORT_HEART_BEAT_V2",
        opt is_sub_change: bool = "IS_SUB_CHANGE",
    }
}

command_header! {
    /// UNREGISTER_CLIENT (35) request (`UnregisterClientRequestHeader`);
    /// `clientID` is spelled as in Java.
    pub struct UnregisterClientRequestHeader {
        req client_id: String = "clientID",
        opt producer_group: String = "producerGroup",
        opt consumer_group: String = "consumerGroup",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36) request (`ConsumerSendMsgBackRequestHeader`).
    ///
    /// `offset` is the commit-log offset of the failed message; `delayLevel`
    /// 0 lets the broker choose (3 + reconsume times), below 0 sends it to
    /// the DLQ. `unitMode` is a Java primitive (false when absent).
    pub struct ConsumerSendMsgBackRequestHeader {
        req offset: i64 = "offset",
        req group: String = "group",
        req delay_level: i32 = "delayLevel",
        opt origin_msg_id: String = "originMsgId",
        opt origin_topic: String = "originTopic",
        opt unit_mode: bool = "unitMode",
        opt max_reconsume_times: i32 = "maxReconsumeTimes",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request
    /// (`GetConsumerListByGroupRequestHeader`); the answer is the body
    /// `{"consumerIdList":[...]}`.
    pub struct GetConsumerListByGroupRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40) request, broker to consumer, oneway
    /// (`NotifyConsumerIdsChangedRequestHeader`).
    pub struct NotifyConsumerIdsChangedRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt broker_name: String = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::{CommandHeader, HeaderError};

    #[test]
    fn heartbeat_response_keys() {
        let h = HeartbeatResponseHeader {
            is_support_heart_beat_v2: Some(true),
            is_sub_change: Some(false),
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get(IS_SUPPORT_HEART_BEAT_V2), Some("true"));
        assert_eq!(f.get(IS_SUB_CHANGE), Some("false"));
        assert_eq!(HeartbeatResponseHeader::read_from(&f).unwrap(), h);
        assert_eq!(
            HeartbeatResponseHeader::read_from(&ExtFields::new()).unwrap(),
            HeartbeatResponseHeader::default()
        );
    }

    #[test]
    fn unregister_client() {
        let h = UnregisterClientRequestHeader {
            client_id: "10.0.0.5@12345#1".into(),
            producer_group: None,
            consumer_group: Some("CG".into()),
            broker_name: None,
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get("clientID"), Some("10.0.0.5@12345#1"));
        assert_eq!(UnregisterClientRequestHeader::read_from(&f).unwrap(), h);
        let f: ExtFields = [("clientId", "x")].into_iter().collect();
        assert_eq!(
            UnregisterClientRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("clientID")
        );
    }

    #[test]
    fn send_back() {
        let h = ConsumerSendMsgBackRequestHeader {
            offset: 4096,
            group: "CG".into(),
            delay_level: 0,
            origin_msg_id: Some("7F000001".into()),
            origin_topic: Some("T".into()),
            unit_mode: Some(false),
            max_reconsume_times: Some(16),
            broker_name: Some("broker-a".into()),
        };
        let mut f = h.to_ext_fields();
        assert_eq!(ConsumerSendMsgBackRequestHeader::read_from(&f).unwrap(), h);
        f.insert("delayLevel", "-1");
        assert_eq!(
            ConsumerSendMsgBackRequestHeader::read_from(&f)
                .unwrap()
                .delay_level,
            -1
        );
        f.insert("delayLevel", "--1");
        assert_eq!(
            ConsumerSendMsgBackRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "delayLevel",
                value: "--1".into(),
                expected: "32-bit integer"
            }
        );
        f.remove("offset");
        assert_eq!(
            ConsumerSendMsgBackRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("offset")
        );
    }

    #[test]
    fn consumer_group_headers() {
        let h = GetConsumerListByGroupRequestHeader {
            consumer_group: "CG".into(),
            broker_name: None,
        };
        let f = h.to_ext_fields();
        assert_eq!(
            GetConsumerListByGroupRequestHeader::read_from(&f).unwrap(),
            h
        );
        let n = NotifyConsumerIdsChangedRequestHeader::read_from(&f).unwrap();
        assert_eq!(n.consumer_group, "CG");
        assert_eq!(
            NotifyConsumerIdsChangedRequestHeader::read_from(&ExtFields::new()).unwrap_err(),
            HeaderError::Missing("consumerGroup")
        );
    }
}
