use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::*;
use crate::client::test_support::Peer;

#[tokio::test]
async fn register_list_and_unregister() {
    let (a, b) = (Peer::connect().await, Peer::connect().await);
    let producers = ProducerManager::default();
    producers.register("PG", &a.channel("a"));
    producers.register("PG", &b.channel("b"));
    producers.register("PG", &a.channel("a"));
    producers.register("OTHER", &b.channel("b"));

    assert!(producers.is_online("PG"));
    assert_eq!(
        producers.groups(),
        BTreeSet::from(["OTHER".to_owned(), "PG".to_owned()])
    );
    let ids: Vec<_> = producers
        .producer_connection("PG")
        .unwrap()
        .connection_set
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(producers.channels("PG").len(), 2);
    assert_eq!(producers.find_channel("a").unwrap().id(), a.conn.id());
    assert!(producers.producer_connection("NONE").is_none());

    assert!(producers.unregister("PG", &a.conn));
    assert!(!producers.unregister("PG", &a.conn));
    assert!(producers.find_channel("a").is_none());
    assert_eq!(producers.any_channel("PG").unwrap().id(), b.conn.id());
    assert!(producers.unregister("PG", &b.conn));
    assert!(!producers.is_online("PG"));
    // b is still a member of OTHER, so its client entry stays.
    assert_eq!(producers.find_channel("b").unwrap().id(), b.conn.id());
}

#[tokio::test]
async fn any_channel_rotates_and_skips_closed_connections() {
    let (a, b) = (Peer::connect().await, Peer::connect().await);
    let producers = ProducerManager::default();
    assert!(producers.any_channel("PG").is_none());
    producers.register("PG", &a.channel("a"));
    producers.register("PG", &b.channel("b"));
    let picked: BTreeSet<u64> = (0..4)
        .map(|_| producers.any_channel("PG").unwrap().id())
        .collect();
    assert_eq!(picked, BTreeSet::from([a.conn.id(), b.conn.id()]));

    a.conn.close();
    for _ in 0..4 {
        assert_eq!(producers.any_channel("PG").unwrap().id(), b.conn.id());
    }
    b.conn.close();
    assert!(producers.any_channel("PG").is_none());
}

#[tokio::test]
async fn closing_a_channel_removes_it_everywhere() {
    let (a, b) = (Peer::connect().await, Peer::connect().await);
    let producers = ProducerManager::default();
    producers.register("PG", &a.channel("a"));
    producers.register("PG", &b.channel("b"));
    producers.register("SOLO", &a.channel("a"));
    assert!(producers.on_channel_closed(&a.conn));
    assert!(!producers.on_channel_closed(&a.conn));
    assert!(!producers.is_online("SOLO"));
    assert_eq!(producers.channels("PG").len(), 1);
    assert!(producers.find_channel("a").is_none());
}

#[tokio::test]
async fn silent_producers_expire() {
    let (a, b) = (Peer::connect().await, Peer::connect().await);
    let producers = ProducerManager::new(Duration::from_secs(120));
    let t0 = Instant::now();
    producers.register("PG", &a.channel("a").seen_at(t0));
    producers.register("PG", &b.channel("b").seen_at(t0));
    // b heartbeats again later; a stays silent.
    producers.register("PG", &b.channel("b").seen_at(t0 + Duration::from_secs(60)));

    assert!(
        producers
            .scan_not_active_channels_at(t0 + Duration::from_secs(120))
            .is_empty()
    );
    let closed = producers.scan_not_active_channels_at(t0 + Duration::from_secs(121));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].id(), a.conn.id());
    assert!(a.conn.is_closed());
    assert!(producers.find_channel("a").is_none());
    assert_eq!(producers.channels("PG").len(), 1);

    producers.scan_not_active_channels_at(t0 + Duration::from_secs(181));
    assert!(!producers.is_online("PG"));
    assert!(b.conn.is_closed());
}

#[tokio::test]
async fn closed_connections_are_not_registered() {
    let a = Peer::connect().await;
    let producers = ProducerManager::default();
    a.conn.close();
    producers.register("PG", &a.channel("a"));
    assert!(!producers.is_online("PG"));
}
