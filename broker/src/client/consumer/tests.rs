use std::time::{Duration, Instant};

use skylark_protocol::body::{ConsumerData, MessageModel, SubscriptionData};

use super::*;
use crate::client::test_support::{Peer, push_consumer};

fn reg(data: &ConsumerData) -> ConsumerRegistration<'_> {
    ConsumerRegistration {
        data,
        fingerprint: 0,
        without_sub: false,
        notify: true,
    }
}

#[tokio::test]
async fn heartbeat_registers_group_and_subscription() {
    let peer = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T1", "T2"]);

    let first = consumers.register(&peer.channel("c1"), reg(&data));
    assert!(first.changed);
    assert!(!first.sub_change);
    // The same heartbeat again changes nothing.
    assert!(!consumers.register(&peer.channel("c1"), reg(&data)).changed);

    let sub = consumers.subscription("G", "T1").unwrap();
    assert_eq!(sub.topic, "T1");
    assert_eq!(sub.sub_string, "*");
    assert!(consumers.subscription("G", "T3").is_none());
    assert!(consumers.subscription("H", "T1").is_none());

    let info = consumers.group_info("G").unwrap();
    assert_eq!(info.group, "G");
    assert_eq!(info.client_ids, ["c1"]);
    assert_eq!(info.message_model, Some(MessageModel::Clustering));
    assert_eq!(info.consume_type, data.consume_type);
    assert_eq!(info.consume_from_where, data.consume_from_where);
    assert_eq!(info.subscriptions.keys().collect::<Vec<_>>(), ["T1", "T2"]);
    assert!(consumers.is_online("G"));
    assert_eq!(
        consumers.message_model("G"),
        Some(Some(MessageModel::Clustering))
    );
    assert_eq!(consumers.message_model("H"), None);
    assert_eq!(consumers.groups_of_topic("T2"), ["G".to_owned()].into());
    assert!(consumers.groups_of_topic("T3").is_empty());
    assert_eq!(
        consumers.find_channel("G", "c1").unwrap().conn().id(),
        peer.conn.id()
    );
    assert!(consumers.find_channel("G", "c2").is_none());

    let cc = consumers.consumer_connection("G").unwrap();
    assert_eq!(cc.connection_set.len(), 1);
    assert_eq!(cc.connection_set[0].client_id, "c1");
    assert_eq!(cc.connection_set[0].version, 479);
    assert_eq!(cc.subscription_table["T2"].topic, "T2");
    assert!(consumers.consumer_connection("H").is_none());
}

// A newer notification round of a group supersedes one still sending, so
// each test waits for a change's notifications before making the next.

#[tokio::test]
async fn joining_notifies_every_member() {
    let mut a = Peer::connect().await;
    let mut b = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T"]);

    consumers.register(&a.channel("a"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    consumers.register(&b.channel("b"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    assert_eq!(b.received.next_notified_group().await, "G");
    assert_eq!(consumers.client_ids("G"), ["a", "b"]);
}

#[tokio::test]
async fn topic_changes_notify_but_newer_versions_alone_do_not() {
    let mut peer = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T1"]);
    consumers.register(&peer.channel("c"), reg(&data));
    assert_eq!(peer.received.next_notified_group().await, "G");

    // A newer version of the same topic replaces it without a change.
    let mut newer = data.clone();
    newer.subscription_data_set[0].sub_version = 5;
    newer.subscription_data_set[0].sub_string = "TagA".into();
    assert!(!consumers.register(&peer.channel("c"), reg(&newer)).changed);
    let sub = consumers.subscription("G", "T1").unwrap();
    assert_eq!((sub.sub_version, sub.sub_string.as_str()), (5, "TagA"));
    // An older one is ignored.
    assert!(!consumers.register(&peer.channel("c"), reg(&data)).changed);
    assert_eq!(consumers.subscription("G", "T1").unwrap().sub_version, 5);

    // Adding a topic is a change, and so is dropping one.
    let two = push_consumer("G", &["T1", "T2"]);
    assert!(consumers.register(&peer.channel("c"), reg(&two)).changed);
    assert_eq!(peer.received.next_notified_group().await, "G");
    let only_t2 = push_consumer("G", &["T2"]);
    assert!(
        consumers
            .register(&peer.channel("c"), reg(&only_t2))
            .changed
    );
    assert_eq!(peer.received.next_notified_group().await, "G");
    assert!(consumers.subscription("G", "T1").is_none());
    assert!(consumers.subscription("G", "T2").is_some());
}

#[tokio::test]
async fn closing_a_channel_removes_the_member_and_notifies_the_rest() {
    let mut a = Peer::connect().await;
    let mut b = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T"]);
    consumers.register(&a.channel("a"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    consumers.register(&b.channel("b"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    assert_eq!(b.received.next_notified_group().await, "G");
    consumers.register(&b.channel("b"), reg(&push_consumer("H", &["T"])));
    assert_eq!(b.received.next_notified_group().await, "H");

    assert!(consumers.on_channel_closed(&b.conn));
    assert_eq!(consumers.client_ids("G"), ["a"]);
    assert_eq!(a.received.next_notified_group().await, "G");
    // H lost its only member: gone.
    assert!(!consumers.is_online("H"));
    assert!(consumers.subscription("H", "T").is_none());
    // A second close is a no-op.
    assert!(!consumers.on_channel_closed(&b.conn));

    assert!(consumers.on_channel_closed(&a.conn));
    assert!(consumers.groups().is_empty());
}

#[tokio::test]
async fn unregister_notifies_only_when_enabled() {
    let mut a = Peer::connect().await;
    let mut b = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T"]);
    consumers.register(&a.channel("a"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    consumers.register(&b.channel("b"), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");
    assert_eq!(b.received.next_notified_group().await, "G");

    assert!(consumers.unregister("G", &a.conn, true));
    assert_eq!(consumers.client_ids("G"), ["b"]);
    assert_eq!(b.received.next_notified_group().await, "G");
    assert!(!consumers.unregister("G", &a.conn, true));
    assert!(!consumers.unregister("nope", &b.conn, true));

    // With notification off the rest hear nothing: the next thing b
    // receives is another group's notification.
    let mut c = Peer::connect().await;
    consumers.register(&c.channel("c"), reg(&data));
    assert_eq!(b.received.next_notified_group().await, "G");
    assert_eq!(c.received.next_notified_group().await, "G");
    assert!(consumers.unregister("G", &c.conn, false));
    consumers.register(&b.channel("b"), reg(&push_consumer("H", &["T"])));
    assert_eq!(b.received.next_notified_group().await, "H");
    assert_eq!(consumers.client_ids("G"), ["b"]);
}

#[tokio::test]
async fn broadcasting_groups_are_not_notified() {
    let mut a = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let mut data = push_consumer("B", &["T"]);
    data.message_model = Some(MessageModel::Broadcasting);
    assert!(consumers.register(&a.channel("a"), reg(&data)).changed);
    // The next notification to arrive is the clustering group's.
    consumers.register(&a.channel("a"), reg(&push_consumer("C", &["T"])));
    assert_eq!(a.received.next_notified_group().await, "C");
    assert!(a.received.is_empty());
}

#[tokio::test]
async fn silent_members_expire_and_the_rest_are_notified() {
    let mut a = Peer::connect().await;
    let b = Peer::connect().await;
    let consumers = ConsumerManager::new(Duration::from_secs(120));
    let data = push_consumer("G", &["T"]);
    let t0 = Instant::now();
    consumers.register(
        &a.channel("a").seen_at(t0 + Duration::from_secs(100)),
        reg(&data),
    );
    assert_eq!(a.received.next_notified_group().await, "G");
    consumers.register(&b.channel("b").seen_at(t0), reg(&data));
    assert_eq!(a.received.next_notified_group().await, "G");

    // 120 s is not yet expired (Java: expired when silent > 120 s).
    assert!(
        consumers
            .scan_not_active_channels_at(t0 + Duration::from_secs(120))
            .is_empty()
    );
    let closed = consumers.scan_not_active_channels_at(t0 + Duration::from_secs(121));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].id(), b.conn.id());
    assert!(b.conn.is_closed());
    assert_eq!(consumers.client_ids("G"), ["a"]);
    assert_eq!(a.received.next_notified_group().await, "G");

    // A heartbeat refreshes: a at 100 s renewed at 200 s survives 300 s.
    consumers.register(
        &a.channel("a").seen_at(t0 + Duration::from_secs(200)),
        reg(&data),
    );
    assert!(
        consumers
            .scan_not_active_channels_at(t0 + Duration::from_secs(300))
            .is_empty()
    );
    let closed = consumers.scan_not_active_channels_at(t0 + Duration::from_secs(321));
    assert_eq!(closed.len(), 1);
    assert!(!consumers.is_online("G"));
}

#[tokio::test]
async fn closed_connections_are_not_registered() {
    let peer = Peer::connect().await;
    let consumers = ConsumerManager::default();
    peer.conn.close();
    let data = push_consumer("G", &["T"]);
    assert_eq!(
        consumers.register(&peer.channel("c"), reg(&data)),
        Registered::default()
    );
    assert!(!consumers.is_online("G"));
}

#[tokio::test]
async fn heartbeat_v2_fingerprints() {
    let peer = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T"]);
    let v2 = |fingerprint, without_sub| ConsumerRegistration {
        data: &data,
        fingerprint,
        without_sub,
        notify: true,
    };
    let bare = ConsumerData {
        subscription_data_set: Vec::new(),
        ..data.clone()
    };
    let v2_bare = |fingerprint| ConsumerRegistration {
        data: &bare,
        fingerprint,
        without_sub: true,
        notify: true,
    };

    // Without subscriptions for a group the broker has not seen: ask for them.
    let r = consumers.register(&peer.channel("c"), v2_bare(7));
    assert!(r.sub_change);
    assert!(consumers.subscription("G", "T").is_none());
    // The full heartbeat that follows is accepted as is.
    let r = consumers.register(&peer.channel("c"), v2(7, false));
    assert!(!r.sub_change);
    assert!(consumers.subscription("G", "T").is_some());
    // Then light heartbeats keep the subscriptions.
    let r = consumers.register(&peer.channel("c"), v2_bare(7));
    assert!(!r.sub_change && !r.changed);
    assert!(consumers.subscription("G", "T").is_some());
    // A new fingerprint is a change either way.
    assert!(
        consumers
            .register(&peer.channel("c"), v2_bare(8))
            .sub_change
    );
    assert!(
        consumers
            .register(&peer.channel("c"), v2(9, false))
            .sub_change
    );
}

#[tokio::test]
async fn client_id_change_on_a_channel_replaces_the_member() {
    let peer = Peer::connect().await;
    let consumers = ConsumerManager::default();
    let data = push_consumer("G", &["T"]);
    consumers.register(&peer.channel("old"), reg(&data));
    assert!(!consumers.register(&peer.channel("new"), reg(&data)).changed);
    assert_eq!(consumers.client_ids("G"), ["new"]);
    let sub = SubscriptionData::clone(&consumers.subscription("G", "T").unwrap());
    assert_eq!(sub.topic, "T");
}
