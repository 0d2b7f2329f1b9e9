//! Tests of the administration headers.

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
