//! Producing and consuming through a real Skylark cluster with the Rust client,
//! checking order per queue and exactly-once delivery.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use skylark_client::consumer::{ConsumeFromWhere, LitePullConsumer, LitePullConsumerConfig};
use skylark_client::producer::{Producer, ProducerConfig};
use skylark_client::{ClientConfig, Message};

/// Where a sent message landed: queue id and queue offset.
pub(crate) type Placement = (i32, i64);

/// A client config for the nameservers `namesrv`, with its own instance name.
pub(crate) fn client(namesrv: &str, instance: &str) -> ClientConfig {
    let mut c = ClientConfig::with_namesrv(namesrv);
    c.instance_name = instance.to_owned();
    c
}

/// Sends `count` messages (key `k-<i>`, body `body-<i>`) from `tasks`
/// concurrent sequential senders; returns each key's placement.
pub(crate) async fn produce(
    namesrv: &str,
    topic: &str,
    count: usize,
    tasks: usize,
) -> anyhow::Result<HashMap<String, Placement>> {
    let producer = Producer::start(ProducerConfig::with_client(
        "e2e-producer",
        client(namesrv, "e2e-producer"),
    ))?;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let producer = producer.clone();
        let topic = topic.to_owned();
        handles.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            for i in (t..count).step_by(tasks) {
                let key = format!("k-{i}");
                let msg = Message::new(topic.as_str(), format!("body-{i}").into_bytes())
                    .with_keys([key.as_str()]);
                let r = producer
                    .send(msg)
                    .await
                    .with_context(|| format!("sending {key}"))?;
                ensure!(
                    r.status == skylark_client::SendStatus::SendOk,
                    "{key}: {:?}",
                    r.status
                );
                placed.push((key, (r.queue.queue_id, r.queue_offset)));
            }
            anyhow::Ok(placed)
        }));
    }
    let mut out = HashMap::with_capacity(count);
    for h in handles {
        for (key, at) in h.await?? {
            ensure!(out.insert(key.clone(), at).is_none(), "{key} sent twice");
        }
    }
    producer.shutdown().await;
    Ok(out)
}

/// Consumes `topic` from its first offset as `group` with the lite pull
/// consumer until every key of `sent` came; fails on a duplicate, an unknown
/// key, a body not matching its key, a placement not matching the send, or a
/// queue whose offsets do not strictly increase. Returns how many came.
pub(crate) async fn consume_all(
    namesrv: &str,
    group: &str,
    topic: &str,
    sent: &HashMap<String, Placement>,
    guard: Duration,
) -> anyhow::Result<usize> {
    let mut config = LitePullConsumerConfig::new(group, client(namesrv, group));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let mut consumer = LitePullConsumer::new(config);
    consumer.start().await?;
    consumer.subscribe(topic, "*").await?;
    let result = drain(&consumer, sent, guard).await;
    consumer.shutdown().await;
    result
}

async fn drain(
    consumer: &LitePullConsumer,
    sent: &HashMap<String, Placement>,
    guard: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + guard;
    let mut seen: HashMap<String, Placement> = HashMap::with_capacity(sent.len());
    let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
    while seen.len() < sent.len() {
        if Instant::now() > deadline {
            bail!(
                "consumed {} of {} messages in {guard:?}",
                seen.len(),
                sent.len()
            );
        }
        for m in consumer.poll_timeout(Duration::from_millis(500)).await? {
            let key = m.keys().context("a message without a key")?.to_owned();
            let at = (m.queue_id(), m.queue_offset());
            let expected = sent
                .get(&key)
                .with_context(|| format!("unknown key {key}"))?;
            ensure!(
                *expected == at,
                "{key} came from queue/offset {at:?}, was sent to {expected:?}"
            );
            let body = format!("body-{}", &key[2..]);
            ensure!(m.body()[..] == *body.as_bytes(), "{key}: wrong body");
            if let Some(prev) = last_offset.insert(at.0, at.1) {
                ensure!(
                    at.1 > prev,
                    "queue {}: offset {} came after {prev}",
                    at.0,
                    at.1
                );
            }
            ensure!(seen.insert(key.clone(), at).is_none(), "{key} came twice");
        }
    }
    // Nothing more (no duplicate) arrives after the last one.
    let extra = consumer.poll_timeout(Duration::from_secs(1)).await?;
    ensure!(
        extra.is_empty(),
        "{} messages beyond those sent",
        extra.len()
    );
    Ok(seen.len())
}
