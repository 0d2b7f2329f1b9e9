//! What the consumer tests share on top of `support`: client settings with
//! chosen instance names (distinct group members in one process), a
//! consumer that records what it receives, numbered sends, and topics.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test binary uses part of it

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, PushConsumer, PushConsumerConfig, concurrently_fn,
};
use skylark_client::producer::Producer;
use skylark_client::{ClientConfig, Message};

use crate::support::{self, Standalone};

/// Client settings for `s` under the instance name `instance`, so the
/// client id is `127.0.0.1@instance`.
pub fn client(s: &Standalone, instance: &str) -> ClientConfig {
    let mut c = s.client_config();
    c.instance_name = instance.to_owned();
    c.client_ip = "127.0.0.1".parse().unwrap();
    c
}

/// A started producer of an instance of its own.
pub fn producer(s: &Standalone, instance: &str) -> Producer {
    let mut config = s.producer_config(&format!("PG_{instance}"));
    config.client = client(s, instance);
    Producer::start(config).unwrap()
}

/// Creates `topic` with `queues` queues and waits until it is routed.
pub async fn create_topic(s: &Standalone, topic: &str, queues: i32) {
    let admin = s.admin();
    support::create_topic(&admin, topic, queues).await;
    admin.shutdown();
}

/// (consumer name, body) of every delivery.
pub type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A consumer of `topic` (from the first offset unless `tune` says
/// otherwise) whose listener records each delivery in `seen`.
pub fn recording_consumer(
    s: &Standalone,
    group: &str,
    name: &str,
    topic: &str,
    seen: &Seen,
    tune: impl FnOnce(&mut PushConsumerConfig),
) -> PushConsumer {
    let mut config = PushConsumerConfig::new(group, client(s, name));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    tune(&mut config);
    let mut c = PushConsumer::new(config);
    c.subscribe(topic, "*").unwrap();
    let (seen, name) = (seen.clone(), name.to_owned());
    c.register_concurrently(concurrently_fn(move |msgs, _ctx| {
        let mut seen = seen.lock().unwrap();
        for m in msgs {
            seen.push((name.clone(), String::from_utf8_lossy(m.body()).into_owned()));
        }
        ConsumeConcurrentlyStatus::ConsumeSuccess
    }));
    c
}

/// The bodies `who` (everyone when `None`) received.
pub fn bodies_of(seen: &Seen, who: Option<&str>) -> HashSet<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| who.is_none_or(|w| w == n))
        .map(|(_, b)| b.clone())
        .collect()
}

/// Sends `n` messages with bodies `prefix-i`; returns the bodies.
pub async fn send_numbered(s: &Standalone, topic: &str, prefix: &str, n: usize) -> HashSet<String> {
    let producer = producer(s, &format!("producer-{prefix}"));
    let mut sent = HashSet::new();
    for i in 0..n {
        let body = format!("{prefix}-{i}");
        producer
            .send(Message::new(topic, body.clone().into_bytes()))
            .await
            .unwrap();
        sent.insert(body);
    }
    producer.shutdown().await;
    sent
}
