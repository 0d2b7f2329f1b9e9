//! Pulling messages: PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) request and response.

command_header! {
    /// PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) request
    /// (`PullMessageRequestHeader`).
    ///
    /// `queueOffset` is the next offset wanted, `sysFlag` the PullSysFlag
    /// bits, `suspendTimeoutMillis` the long-polling hold time and
    /// `subscription` is sent only with the subscription flag set.
    /// `proxyFrowardClientId` is spelled as in Java.
    pub struct PullMessageRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req queue_offset: i64 = "queueOffset",
        req max_msg_nums: i32 = "maxMsgNums",
        req sys_flag: i32 = "sysFlag",
        req commit_offset: i64 = "commitOffset",
        req suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        opt subscription: String = "subscription",
        req sub_version: i64 = "subVersion",
        opt expression_type: String = "expressionType",
        opt max_msg_bytes: i32 = "maxMsgBytes",
        opt request_source: i32 = "requestSource",
        opt proxy_froward_client_id: String = "proxyFrowardClientId",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// Response to PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361)
    /// (`PullMessageResponseHeader`). On SUCCESS the body is the stored
    /// records, concatenated.
    pub struct PullMessageResponseHeader {
        req suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        req next_begin_offset: i64 = "nextBeginOffset",
        req min_offset: i64 = "minOffset",
        req max_offset: i64 = "maxOffset",
        opt offset_delta: i64 = "offsetDelta",
        opt topic_sys_flag: i32 = "topicSysFlag",
        opt group_sys_flag: i32 = "groupSysFlag",
        opt forbidden_type: i32 = "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::{CommandHeader, HeaderError};
    use proptest::prelude::*;

    fn push_pull() -> PullMessageRequestHeader {
        PullMessageRequestHeader {
            consumer_group: "CG".into(),
            topic: "T".into(),
            queue_id: 1,
            queue_offset: 100,
            max_msg_nums: 32,
            sys_flag: 0b0111,
            commit_offset: 90,
            suspend_timeout_millis: 15_000,
            subscription: Some("TagA || TagB".into()),
            sub_version: 1_700_000_000_000,
            expression_type: Some("TAG".into()),
            max_msg_bytes: None,
            request_source: None,
            proxy_froward_client_id: None,
            broker_name: Some("broker-a".into()),
        }
    }

    #[test]
    fn request_round_trip() {
        let h = push_pull();
        let f = h.to_ext_fields();
        assert_eq!(f.len(), 12);
        assert_eq!(f.get("suspendTimeoutMillis"), Some("15000"));
        assert_eq!(f.get("maxMsgBytes"), None);
        assert_eq!(PullMessageRequestHeader::read_from(&f).unwrap(), h);

        let h = PullMessageRequestHeader {
            max_msg_bytes: Some(4 << 20),
            request_source: Some(-1),
            proxy_froward_client_id: Some("proxy-1".into()),
            ..push_pull()
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get("proxyFrowardClientId"), Some("proxy-1"));
        assert_eq!(PullMessageRequestHeader::read_from(&f).unwrap(), h);
    }

    #[test]
    fn go_client_pull_decodes() {
        // What rocketmq-client-go v2 sends (no maxMsgBytes, requestSource).
        let f: ExtFields = [
            ("consumerGroup", "CG"),
            ("topic", "T"),
            ("queueId", "0"),
            ("queueOffset", "0"),
            ("maxMsgNums", "32"),
            ("sysFlag", "2"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "20000"),
            ("subscription", "*"),
            ("subVersion", "0"),
            ("expressionType", "TAG"),
            ("bname", "broker-a"),
        ]
        .into_iter()
        .collect();
        let h = PullMessageRequestHeader::read_from(&f).unwrap();
        assert_eq!(h.suspend_timeout_millis, 20_000);
        assert_eq!(h.subscription.as_deref(), Some("*"));
    }

    #[test]
    fn request_missing_and_malformed() {
        let mut f = push_pull().to_ext_fields();
        f.remove("subVersion");
        assert_eq!(
            PullMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("subVersion")
        );
        let mut f = push_pull().to_ext_fields();
        f.insert("queueOffset", "12x");
        assert_eq!(
            PullMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "queueOffset",
                value: "12x".into(),
                expected: "64-bit integer"
            }
        );
        let mut f = push_pull().to_ext_fields();
        f.insert("maxMsgBytes", "4294967296");
        assert!(matches!(
            PullMessageRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "maxMsgBytes",
                ..
            })
        ));
    }

    #[test]
    fn response_round_trip_and_errors() {
        let h = PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset: 132,
            min_offset: 0,
            max_offset: 200,
            offset_delta: None,
            topic_sys_flag: Some(0),
            group_sys_flag: Some(0),
            forbidden_type: None,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.len(), 6);
        assert_eq!(PullMessageResponseHeader::read_from(&f).unwrap(), h);
        f.insert("minOffset", "-");
        assert!(matches!(
            PullMessageResponseHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "minOffset",
                ..
            })
        ));
        f.remove("minOffset");
        assert_eq!(
            PullMessageResponseHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("minOffset")
        );
    }

    fn arb_pull() -> impl Strategy<Value = PullMessageRequestHeader> {
        (
            (
                any::<String>(),
                any::<String>(),
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                any::<i64>(),
            ),
            (
                proptest::option::of(any::<String>()),
                any::<i64>(),
                proptest::option::of(any::<String>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<String>()),
                proptest::option::of(any::<String>()),
            ),
        )
            .prop_map(
                |((cg, t, qid, qo, mmn, sf, co, stm), (sub, sv, et, mmb, rs, pfc, bn))| {
                    PullMessageRequestHeader {
                        consumer_group: cg,
                        topic: t,
                        queue_id: qid,
                        queue_offset: qo,
                        max_msg_nums: mmn,
                        sys_flag: sf,
                        commit_offset: co,
                        suspend_timeout_millis: stm,
                        subscription: sub,
                        sub_version: sv,
                        expression_type: et,
                        max_msg_bytes: mmb,
                        request_source: rs,
                        proxy_froward_client_id: pfc,
                        broker_name: bn,
                    }
                },
            )
    }

    fn arb_pull_response() -> impl Strategy<Value = PullMessageResponseHeader> {
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i32>()),
        )
            .prop_map(|(s, n, min, max, d, t, g, fb)| PullMessageResponseHeader {
                suggest_which_broker_id: s,
                next_begin_offset: n,
                min_offset: min,
                max_offset: max,
                offset_delta: d,
                topic_sys_flag: t,
                group_sys_flag: g,
                forbidden_type: fb,
            })
    }

    proptest! {
        #[test]
        fn prop_pull_request_round_trip(h in arb_pull()) {
            let f = h.to_ext_fields();
            prop_assert_eq!(PullMessageRequestHeader::read_from(&f).unwrap(), h);
        }

        #[test]
        fn prop_pull_response_round_trip(h in arb_pull_response()) {
            let f = h.to_ext_fields();
            prop_assert_eq!(PullMessageResponseHeader::read_from(&f).unwrap(), h);
        }
    }
}
