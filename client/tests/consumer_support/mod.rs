//! What the consumer tests share: a `skylark standalone` on free loopback
//! ports with its own data directory, topics created through the admin
//! client, client settings with distinct instance names, and waiting.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skylark_client::admin::Admin;
use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, PushConsumer, PushConsumerConfig, concurrently_fn,
};
use skylark_client::producer::{Producer, ProducerConfig};
use skylark_client::{ClientConfig, Message};
use skylark_protocol::body::TopicConfig;
use skylark_testkit::binary::skylark_binary;
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_standalone_ports, log_excerpt, start_retrying,
};

/// Hang guard of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(120);

/// A running standalone, killed when dropped.
pub struct Standalone {
    pub server: Skylark,
    pub namesrv: String,
    pub dir: tempfile::TempDir,
}

impl Standalone {
    /// Starts one with Skylark's defaults.
    pub fn start() -> Self {
        Self::start_with_conf("")
    }

    /// Starts one with `conf` as its broker.conf (Java properties).
    pub fn start_with_conf(conf: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("skylark-client-consumer")
            .tempdir()
            .unwrap();
        let conf_path = dir.path().join("broker.conf");
        // The HA port defaults to a fixed 10912; 0 lets parallel tests coexist.
        std::fs::write(&conf_path, format!("haListenPort=0\n{conf}")).unwrap();
        let data = dir.path().join("data");
        let log = dir.path().join("standalone.log");
        let (_, server) = start_retrying(|| {
            SkylarkCommand::standalone(&skylark_binary(), &data, free_standalone_ports(), &log)
                .arg("-c")
                .arg(&conf_path)
        });
        let namesrv = server.addr("namesrvAddr");
        Self {
            server,
            namesrv,
            dir,
        }
    }

    /// Client settings with their own instance name (so that several
    /// consumers of one group in this process are distinct members).
    pub fn client(&self, instance: &str) -> ClientConfig {
        let mut c = ClientConfig::with_namesrv(&self.namesrv);
        c.instance_name = instance.to_owned();
        c.client_ip = "127.0.0.1".parse().unwrap();
        c
    }

    /// A started producer of its own instance.
    pub fn producer(&self, instance: &str) -> Producer {
        Producer::start(ProducerConfig::with_client(
            &format!("PG_{instance}"),
            self.client(instance),
        ))
        .unwrap()
    }

    /// Creates `topic` with `queues` read and write queues and waits until
    /// the nameserver routes all of them.
    pub async fn create_topic(&self, topic: &str, queues: i32) {
        let admin = Admin::start(self.client(&format!("admin-{topic}"))).unwrap();
        let config = TopicConfig {
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..TopicConfig::new(topic)
        };
        admin.create_topic_in_cluster(None, &config).await.unwrap();
        wait_until(&format!("route of {topic}"), || async {
            admin.topic_route(topic).await.ok().is_some_and(|r| {
                r.queue_datas.iter().map(|q| q.read_queue_nums).sum::<i32>() == queues
            })
        })
        .await;
        admin.shutdown();
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        log_excerpt(self.server.log(), 40)
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
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
    let mut config = PushConsumerConfig::new(group, s.client(name));
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
    let producer = s.producer(&format!("producer-{prefix}"));
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

/// Polls `check` every 100 ms until it is true; panics after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
