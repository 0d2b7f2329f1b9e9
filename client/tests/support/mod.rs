//! Shared plumbing of the client's integration tests: a real `skylark
//! standalone` (and extra brokers) on free loopback ports, unique names,
//! and polling with generous hang guards.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test binary uses part of it

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use skylark_client::admin::{Admin, TopicDescription};
use skylark_client::producer::ProducerConfig;
use skylark_client::{ClientConfig, ClientError};
use skylark_protocol::body::TopicConfig;
use skylark_testkit::binary::skylark_binary;
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_broker_ports, free_ports, free_standalone_ports, start_retrying,
};
use tempfile::TempDir;

/// Hang guard of anything a test waits for; no passing test comes near it.
pub const GUARD: Duration = Duration::from_secs(60);

/// Broker keys of every test standalone: quick transaction checks.
const CONF: &str = "transactionTimeOut=1000\ntransactionCheckInterval=1000\n";

/// A running `skylark standalone` and its files.
pub struct Standalone {
    /// Nameserver address.
    pub namesrv: String,
    /// Broker address.
    pub broker: String,
    /// Directory of data, config and logs.
    pub dir: TempDir,
    /// The process (killed when dropped).
    pub process: Skylark,
    bin: PathBuf,
}

/// Starts a standalone (broker `broker-a` of `DefaultCluster`).
pub fn standalone() -> Standalone {
    standalone_with_conf("")
}

/// Starts a standalone whose broker.conf also holds `extra` (Java
/// properties, e.g. `enablePropertyFilter=true`).
pub fn standalone_with_conf(extra: &str) -> Standalone {
    let bin = skylark_binary();
    // SKYLARK_TEST_KEEP=1 keeps data and logs for a post-mortem.
    let keep = std::env::var_os("SKYLARK_TEST_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .prefix("skylark-client-")
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("standalone files in {}", dir.path().display());
    }
    let log = dir.path().join("standalone.log");
    let data = dir.path().join("data");
    let (_, process) = start_retrying(|| {
        // The HA port too: its default (10912) would collide between tests.
        let [ha] = free_ports::<1>();
        SkylarkCommand::standalone(&bin, &data, free_standalone_ports(), &log)
            .conf([format!("haListenPort={ha}")])
            .conf(CONF.lines().chain(extra.lines()))
    });
    Standalone {
        namesrv: process.addr("namesrvAddr"),
        broker: process.addr("broker"),
        dir,
        process,
        bin,
    }
}

impl Standalone {
    /// Starts another broker, `name`, of `DefaultCluster`, registered with
    /// this standalone's nameserver.
    pub fn add_broker(&self, name: &str) -> (String, Skylark) {
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        let (_, process) = start_retrying(|| {
            let [ha] = free_ports::<1>();
            SkylarkCommand::broker(&self.bin, &self.namesrv, free_broker_ports(), &data, &log)
                .conf([
                    "brokerClusterName=DefaultCluster".to_owned(),
                    format!("brokerName={name}"),
                    "brokerIP1=127.0.0.1".to_owned(),
                    format!("haListenPort={ha}"),
                ])
                .conf(CONF.lines())
        });
        (process.addr("broker"), process)
    }

    /// Client settings for this standalone, under an instance name of their
    /// own so that tests in one process never share an instance by accident.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::with_namesrv(&self.namesrv);
        c.instance_name = unique("inst");
        // Hang guards, not expectations: a busy machine must not fail a test.
        c.request_timeout = Duration::from_secs(30);
        c
    }

    /// Producer settings for `group`.
    pub fn producer_config(&self, group: &str) -> ProducerConfig {
        let mut c = ProducerConfig::with_client(group, self.client_config());
        c.send_timeout = Duration::from_secs(30);
        c
    }

    /// An admin client.
    pub fn admin(&self) -> Admin {
        Admin::start(self.client_config()).unwrap()
    }
}

/// `prefix` plus a number unique in this process and the pid.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.unwrap().as_millis()).unwrap()
}

/// A topic config with `queues` read and write queues.
pub fn topic_config(topic: &str, queues: i32) -> TopicConfig {
    TopicConfig {
        topic_name: topic.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        ..TopicConfig::default()
    }
}

/// Creates `topic` with `queues` queues on every master and waits until
/// the nameserver routes it with that many write queues.
pub async fn create_topic(admin: &Admin, topic: &str, queues: i32) {
    admin
        .create_topic_in_cluster(None, &topic_config(topic, queues))
        .await
        .unwrap();
    eventually(&format!("route of {topic}"), || async {
        match admin.topic_route(topic).await {
            Ok(route) => {
                route
                    .queue_datas
                    .iter()
                    .map(|q| q.write_queue_nums)
                    .sum::<i32>()
                    >= queues
            }
            Err(_) => false,
        }
    })
    .await;
}

/// Waits until `topic`'s queues hold `count` messages in all (sends are
/// answered before the ConsumeQueue entries are dispatched) and returns the
/// description of that moment.
pub async fn wait_stored(admin: &Admin, topic: &str, count: i64) -> TopicDescription {
    eventually_some(
        &format!("{count} messages dispatched in {topic}"),
        || async {
            let d = admin.describe_topic(topic).await?;
            let stored: i64 = d.queues.iter().map(|q| q.max_offset).sum();
            assert!(
                stored <= count,
                "{stored} messages in {topic}, expected {count}"
            );
            Ok((stored == count).then_some(d))
        },
    )
    .await
}

/// Polls `check` every 50 ms until it holds; panics with `what` after [`GUARD`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + GUARD;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `get` until it returns `Some`; panics with `what` after [`GUARD`].
pub async fn eventually_some<T, F, Fut>(what: &str, mut get: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ClientError>>,
{
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match get().await {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(e) => tracing_or_print(what, &e),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tracing_or_print(what: &str, e: &ClientError) {
    eprintln!("still waiting for {what}: {e}");
}
