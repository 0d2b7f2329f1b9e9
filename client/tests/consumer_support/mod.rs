//! What the consumer tests share: a `skylark standalone` on free loopback
//! ports with its own data directory, topics created through the admin
//! client, client settings with distinct instance names, and waiting.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use skylark_client::ClientConfig;
use skylark_client::admin::Admin;
use skylark_client::producer::{Producer, ProducerConfig};
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
