#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! The Rust client (skylark-client) and the official Java clients (4.9.8
//! and 5.3.3, through interop/java) exchange messages through
//! `skylark standalone`: a Rust producer's messages reach a Java push
//! consumer, and a Java producer's reach a Rust push consumer, each once,
//! with body (compressed ones included), tag, keys and user properties as
//! sent (see interop_rust_java/messages.rs).
//!
//! Needs a JDK 17+ and Maven, like interop_java.rs (same variables:
//! `SKYLARK_SKIP_JAVA=1`, `SKYLARK_INTEROP_CLIENTS`, `SKYLARK_INTEROP_LOG_DIR`).

#[path = "interop_java/suite.rs"]
#[allow(dead_code)] // the parts these tests do not use serve interop_java.rs
mod suite;

#[path = "interop_rust_java/messages.rs"]
mod messages;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skylark_client::admin::Admin;
use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, MessageExt, PushConsumer, PushConsumerConfig,
    concurrently_fn,
};
use skylark_client::producer::{Producer, ProducerConfig};
use skylark_client::{ClientConfig, SendStatus};
use skylark_protocol::body::TopicConfig;
use suite::Suite;

/// Messages per client and direction.
const COUNT: usize = 40;
/// Hang guard for deliveries.
const DELIVERY: Duration = Duration::from_secs(90);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Creates `topic` with 4 queues on the standalone's broker.
async fn create_topic(namesrv: &str, topic: &str) -> Result<(), String> {
    let admin = Admin::with_namesrv(namesrv).map_err(|e| e.to_string())?;
    let mut config = TopicConfig::new(topic);
    config.read_queue_nums = 4;
    config.write_queue_nums = 4;
    config.perm = 6;
    admin
        .create_topic_in_cluster(None, &config)
        .await
        .map_err(|e| format!("creating {topic}: {e}"))?;
    // Wait for the route, so that neither client falls back to auto-creation.
    let deadline = Instant::now() + DELIVERY;
    while admin.topic_route(topic).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{topic} never got a route"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Sends messages 0..COUNT from "rust"; the failures, if any.
async fn rust_produce(namesrv: &str, topic: &str) -> Vec<String> {
    let producer = match Producer::start(ProducerConfig::new("RustInteropProducer", namesrv)) {
        Ok(p) => p,
        Err(e) => return vec![format!("producer start: {e}")],
    };
    let mut failures = Vec::new();
    for i in 0..COUNT {
        match producer.send(messages::make(topic, "rust", i)).await {
            Ok(r) if r.status == SendStatus::SendOk => {}
            Ok(r) => failures.push(format!("message {i}: {:?}", r.status)),
            Err(e) => failures.push(format!("message {i}: {e}")),
        }
    }
    producer.shutdown().await;
    failures
}

/// Consumes `topic` as `group` from the first offset until COUNT distinct
/// messages came (or the hang guard), then 2 s more for duplicates to show.
async fn rust_consume(namesrv: &str, topic: &str, group: &str) -> Result<Vec<MessageExt>, String> {
    let mut config = PushConsumerConfig::new(group, ClientConfig::with_namesrv(namesrv));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let mut consumer = PushConsumer::new(config);
    consumer.subscribe(topic, "*").map_err(|e| e.to_string())?;
    let got: Arc<Mutex<Vec<MessageExt>>> = Arc::default();
    let sink = Arc::clone(&got);
    consumer.register_concurrently(concurrently_fn(move |msgs: &[MessageExt], _| {
        sink.lock().unwrap().extend(msgs.iter().cloned());
        ConsumeConcurrentlyStatus::ConsumeSuccess
    }));
    consumer
        .start()
        .await
        .map_err(|e| format!("consumer start: {e}"))?;
    let deadline = Instant::now() + DELIVERY;
    loop {
        let distinct = {
            let got = got.lock().unwrap();
            got.iter()
                .filter_map(|m| m.property("seq"))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        if distinct >= COUNT || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    consumer.shutdown().await;
    let messages = got.lock().unwrap().clone();
    Ok(messages)
}

/// What is wrong with what the Rust consumer got, if anything.
fn check_received(received: &[MessageExt], origin: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut times: BTreeMap<usize, usize> = BTreeMap::new();
    for message in received {
        match message
            .property("seq")
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(i) if i < COUNT => {
                *times.entry(i).or_default() += 1;
                problems.extend(messages::mismatch(message, origin, i));
            }
            _ => problems.push(format!("unexpected message {:?}", message.msg_id())),
        }
    }
    let missing: Vec<usize> = (0..COUNT).filter(|i| !times.contains_key(i)).collect();
    if !missing.is_empty() {
        problems.push(format!("missing messages {missing:?}"));
    }
    let twice: Vec<usize> = times
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| *i)
        .collect();
    if !twice.is_empty() {
        problems.push(format!("delivered more than once: {twice:?}"));
    }
    problems
}

#[test]
fn rust_producer_to_java_consumer() {
    let Some(mut suite) = Suite::new("rust_producer_to_java_consumer") else {
        return;
    };
    let (_, mut standalone) = suite.standalone("standalone", &["haListenPort=0"]);
    let namesrv = standalone.addr("namesrvAddr");
    let rt = runtime();
    for client in suite.clients() {
        let topic = format!("RustToJava_{}", client.tag());
        let group = format!("RustToJavaGroup_{}", client.tag());
        let sent = rt.block_on(async {
            create_topic(&namesrv, &topic).await?;
            let failures = rust_produce(&namesrv, &topic).await;
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        });
        suite.expect(
            sent.is_ok(),
            &format!("the Rust producer sent {COUNT} messages to {topic}: {sent:?}"),
        );
        suite.run(
            client,
            "from-rust",
            &namesrv,
            &[&topic, &COUNT.to_string(), &group],
        );
    }
    suite.finish(&mut [&mut standalone]);
}

#[test]
fn java_producer_to_rust_consumer() {
    let Some(mut suite) = Suite::new("java_producer_to_rust_consumer") else {
        return;
    };
    let (_, mut standalone) = suite.standalone("standalone", &["haListenPort=0"]);
    let namesrv = standalone.addr("namesrvAddr");
    let rt = runtime();
    for client in suite.clients() {
        let topic = format!("JavaToRust_{}", client.tag());
        let group = format!("JavaToRustGroup_{}", client.tag());
        let created = rt.block_on(create_topic(&namesrv, &topic));
        suite.expect(
            created.is_ok(),
            &format!("topic {topic} created: {created:?}"),
        );
        suite.run(client, "to-rust", &namesrv, &[&topic, &COUNT.to_string()]);
        let problems = match rt.block_on(rust_consume(&namesrv, &topic, &group)) {
            Ok(received) => check_received(&received, "java"),
            Err(e) => vec![e],
        };
        suite.expect(
            problems.is_empty(),
            &format!(
                "the Rust consumer got each of the {} client's {COUNT} messages once, as sent: {problems:?}",
                client.tag()
            ),
        );
    }
    suite.finish(&mut [&mut standalone]);
}
