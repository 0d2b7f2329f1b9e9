use std::sync::Arc;

use skylark_protocol::body::{DataVersion, TopicConfig, TopicConfigAndMappingSerializeWrapper};

use super::*;
use crate::clock::ManualClock;

fn manager() -> (RouteInfoManager, ManualClock) {
    let clock = ManualClock::new(1_000_000);
    (
        RouteInfoManager::new(Arc::new(clock.clone()), RouteOptions::default()),
        clock,
    )
}

fn topics(counter: i64, names: &[(&str, i32)]) -> TopicConfigAndMappingSerializeWrapper {
    let mut w = TopicConfigAndMappingSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: 0,
            timestamp: 7,
        },
        ..Default::default()
    };
    for (name, queues) in names {
        let mut t = TopicConfig::new(*name);
        t.read_queue_nums = *queues;
        t.write_queue_nums = *queues;
        w.topic_config_table.insert((*name).to_owned(), t);
    }
    w
}

fn reg(
    name: &str,
    id: i64,
    addr: &str,
    w: TopicConfigAndMappingSerializeWrapper,
) -> BrokerRegistration {
    BrokerRegistration {
        cluster_name: "C".into(),
        broker_addr: addr.into(),
        broker_name: name.into(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        enable_acting_master: Some(false),
        topic_config: w,
        channel_id: Some(id as u64 + 100),
        ..Default::default()
    }
}

#[test]
fn slave_learns_master_and_does_not_write_topics() {
    let (m, _) = manager();
    let r = m
        .register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("U", 2)])))
        .unwrap();
    assert_eq!(r, RegisterBrokerResult::default());
    let r = m
        .register_broker(reg("a", 1, "s:1", topics(1, &[("T", 8), ("X", 1)])))
        .unwrap();
    assert_eq!(r.master_addr.as_deref(), Some("m:1"));
    assert_eq!(r.ha_server_addr.as_deref(), Some("m:1-ha"));
    let route = m.pickup_topic_route_data("T").unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
    assert!(m.pickup_topic_route_data("X").is_none());
    assert!(m.pickup_topic_route_data("nope").is_none());
}

#[test]
fn topic_changes_apply_only_with_a_new_data_version() {
    let (m, _) = manager();
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    // Same version: Java keeps the queue data it has (except new topics).
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 8), ("N", 1)])))
        .unwrap();
    assert_eq!(
        m.pickup_topic_route_data("T").unwrap().queue_datas[0].read_queue_nums,
        4
    );
    assert!(m.pickup_topic_route_data("N").is_some());
    m.register_broker(reg("a", 0, "m:1", topics(2, &[("T", 8), ("A", 1)])))
        .unwrap();
    assert_eq!(
        m.pickup_topic_route_data("T").unwrap().queue_datas[0].read_queue_nums,
        8
    );
    assert!(!m.is_broker_topic_config_changed("C", "m:1", &topics(2, &[]).data_version));
    assert!(m.is_broker_topic_config_changed("C", "m:1", &topics(3, &[]).data_version));
}

#[test]
fn promoted_slave_keeps_one_entry_per_address() {
    let (m, _) = manager();
    m.register_broker(reg("a", 1, "s:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    m.register_broker(reg("a", 0, "s:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    let info = m.cluster_info();
    let addrs = &info.broker_addr_table["a"].broker_addrs;
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs.get(&0).map(String::as_str), Some("s:1"));
}

#[test]
fn single_topic_registration_needs_a_full_one_first() {
    let (m, _) = manager();
    assert!(
        m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4)])))
            .is_none()
    );
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("U", 4)])))
        .unwrap();
    assert!(
        m.register_broker(reg("a", 0, "m:1", topics(2, &[("V", 4)])))
            .is_some()
    );
    assert!(m.pickup_topic_route_data("V").is_some());
}

#[test]
fn expiry_and_unregister_clean_every_table() {
    let (m, clock) = manager();
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    let mut b = reg("b", 0, "b:1", topics(1, &[("T", 4), ("B", 1)]));
    b.heartbeat_timeout_millis = Some(10_000);
    m.register_broker(b).unwrap();
    clock.advance(10_001);
    let gone = m.scan_not_active_broker();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].addr.broker_addr, "b:1");
    assert_eq!(gone[0].channel_id, Some(100));
    assert!(m.pickup_topic_route_data("B").is_none());
    assert_eq!(m.pickup_topic_route_data("T").unwrap().queue_datas.len(), 1);
    m.update_broker_info_update_timestamp("C", "m:1");
    clock.advance(119_000);
    assert!(m.scan_not_active_broker().is_empty());
    m.unregister_broker(&UnregisterRequest {
        cluster_name: "C".into(),
        broker_addr: "m:1".into(),
        broker_name: "a".into(),
        broker_id: 0,
    });
    assert!(m.cluster_info().cluster_addr_table.is_empty());
    assert!(m.all_topic_list().topic_list.is_empty());
    assert_eq!(m.live_broker_count(), 0);
}

#[test]
fn channel_close_removes_only_that_channels_brokers() {
    let (m, _) = manager();
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    m.register_broker(reg("a", 1, "s:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    assert_eq!(m.on_channel_destroy(101).len(), 1);
    assert!(m.on_channel_destroy(101).is_empty());
    let route = m.pickup_topic_route_data("T").unwrap();
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 1);
}

#[test]
fn acting_master_wipes_write_and_presents_slave_as_master() {
    let clock = ManualClock::new(0);
    let m = RouteInfoManager::new(
        Arc::new(clock),
        RouteOptions {
            support_acting_master: true,
            ..RouteOptions::default()
        },
    );
    let mut master = reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)]));
    master.enable_acting_master = Some(true);
    let mut slave = reg("a", 1, "s:1", topics(1, &[("T", 4), ("A", 1)]));
    slave.enable_acting_master = Some(true);
    m.register_broker(master).unwrap();
    m.register_broker(slave).unwrap();
    m.on_channel_destroy(100);
    let route = m.pickup_topic_route_data("T").unwrap();
    assert!(!PermName::is_writeable(route.queue_datas[0].perm));
    assert_eq!(route.broker_datas[0].master_addr(), Some("s:1"));
}

#[test]
fn perms_topics_and_lists() {
    let (m, _) = manager();
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    let mut other = reg("b", 0, "b:1", topics(1, &[("T", 4), ("B", 1)]));
    other.cluster_name = "D".into();
    m.register_broker(other).unwrap();
    assert_eq!(m.wipe_write_perm_of_broker("a"), 2);
    assert_eq!(m.wipe_write_perm_of_broker("zzz"), 0);
    let t = m.pickup_topic_route_data("A").unwrap();
    assert_eq!(t.queue_datas[0].perm, PermName::READ);
    assert_eq!(m.add_write_perm_of_broker("a"), 2);
    assert_eq!(
        m.pickup_topic_route_data("A").unwrap().queue_datas[0].perm,
        6
    );

    let by_c: Vec<_> = m.topics_by_cluster("C").topic_list.into_iter().collect();
    assert_eq!(by_c, ["A", "T"]);
    m.delete_topic("T", Some("C"));
    assert_eq!(
        m.pickup_topic_route_data("T").unwrap().queue_datas[0].broker_name,
        "b"
    );
    m.delete_topic("T", None);
    assert!(m.pickup_topic_route_data("T").is_none());

    let sys = m.system_topic_list();
    assert!(sys.topic_list.contains("C") && sys.topic_list.contains("a"));
    assert!(sys.broker_addr.is_some());

    assert!(!m.register_topic(
        "R",
        &[QueueData {
            broker_name: "nope".into(),
            ..Default::default()
        }]
    ));
    assert!(m.register_topic(
        "R",
        &[QueueData {
            broker_name: "a".into(),
            perm: 6,
            read_queue_nums: 1,
            write_queue_nums: 1,
            topic_sys_flag: 1
        }]
    ));
    assert_eq!(m.unit_topics().topic_list.len(), 1);
}

#[test]
fn same_id_new_address_loses_to_a_newer_state_version() {
    let (m, _) = manager();
    let mut old = topics(1, &[("T", 4), ("A", 1)]);
    old.data_version.state_version = 5;
    m.register_broker(reg("a", 0, "m:1", old)).unwrap();
    let mut stale = topics(1, &[("T", 4), ("A", 1)]);
    stale.data_version.state_version = 3;
    assert_eq!(
        m.register_broker(reg("a", 0, "m:2", stale)),
        Some(RegisterBrokerResult::default())
    );
    assert!(m.broker_live_info("C", "m:2").is_none());
    let route = m.pickup_topic_route_data("T").unwrap();
    assert_eq!(route.broker_datas[0].master_addr(), Some("m:1"));

    let mut newer = topics(1, &[("T", 4), ("A", 1)]);
    newer.data_version.state_version = 6;
    m.register_broker(reg("a", 0, "m:2", newer)).unwrap();
    let route = m.pickup_topic_route_data("T").unwrap();
    assert_eq!(route.broker_datas[0].master_addr(), Some("m:2"));
}

#[test]
fn delete_topic_with_broker_registration_and_filter_servers() {
    let (m, _) = manager();
    m.set_delete_topic_with_broker_registration(true);
    m.register_broker(reg("a", 0, "m:1", topics(1, &[("T", 4), ("A", 1)])))
        .unwrap();
    let mut again = reg("a", 0, "m:1", topics(2, &[("T", 4), ("B", 1)]));
    again.filter_server_list = Some(vec!["f:1".into()]);
    m.register_broker(again).unwrap();
    assert!(m.pickup_topic_route_data("A").is_none());
    let route = m.pickup_topic_route_data("B").unwrap();
    assert_eq!(route.filter_server_table["m:1"], ["f:1"]);
}
