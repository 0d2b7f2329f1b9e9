//! `skylark broker` and `skylark standalone`: building the broker's config
//! from a broker.conf and flags, and running it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use skylark_broker::{Broker, BrokerConfig};
use skylark_nameserver::{NameServer, NameServerConfig};

use crate::runtime::{announce, block_on, home_dir, init_logging, shutdown_signal};

/// How long a started broker may take to register before we say so.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Flags shared by `broker` and `standalone` that override broker.conf.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct BrokerFlags {
    /// A broker.conf (Java properties with RocketMQ's key names).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where the store and config files live (storePathRootDir).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The fast (VIP) port; default: the broker port minus 2.
    #[arg(long, value_name = "PORT")]
    pub(crate) fast_port: Option<u16>,
    /// Port of /metrics, /healthz and /readyz (0: off).
    #[arg(long, value_name = "PORT")]
    pub(crate) http_port: Option<u16>,
}

/// Reads broker.conf (if any) and applies the flags given as `(key, value)`.
fn broker_config(
    flags: &BrokerFlags,
    overrides: &[(&str, Option<String>)],
) -> anyhow::Result<BrokerConfig> {
    let mut config = match &flags.config {
        Some(path) => BrokerConfig::load(path)
            .with_context(|| format!("cannot load broker config {}", path.display()))?,
        None => BrokerConfig::default(),
    };
    let fast = flags.fast_port.map(|p| p.to_string());
    let http = flags.http_port.map(|p| p.to_string());
    let data = flags.data_dir.as_deref().map(|d| d.display().to_string());
    for (key, value) in overrides.iter().map(|(k, v)| (*k, v.as_deref())).chain([
        ("fastListenPort", fast.as_deref()),
        ("httpListenPort", http.as_deref()),
        ("storePathRootDir", data.as_deref()),
    ]) {
        if let Some(value) = value {
            config
                .set(key, value)
                .with_context(|| format!("bad value {value:?} for {key}"))?;
        }
    }
    Ok(config)
}

/// Creates the store's root directory (storePathRootDir; Java's default `~/store`).
fn ensure_store_dir(config: &BrokerConfig) -> anyhow::Result<()> {
    let root = &config.store.store_path_root_dir;
    std::fs::create_dir_all(root)
        .with_context(|| format!("cannot create data directory {}", root.display()))
}

/// `skylark broker`: runs a broker, or with an action changes a running
/// one's role (`broker_admin`).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BrokerCommand {
    /// promote, follow or status a running broker instead of running one.
    #[command(subcommand)]
    pub(crate) admin: Option<crate::broker_admin::BrokerAdmin>,
    #[command(flatten)]
    pub(crate) flags: BrokerFlags,
    /// Nameservers, `host:port` separated by `;` (namesrvAddr).
    #[arg(long, value_name = "ADDRS")]
    pub(crate) namesrv_addr: Option<String>,
    /// Remoting port (listenPort).
    #[arg(long, value_name = "PORT")]
    pub(crate) listen_port: Option<u16>,
    /// Broker group name (brokerName).
    #[arg(long, value_name = "NAME")]
    pub(crate) broker_name: Option<String>,
    /// Cluster name (brokerClusterName).
    #[arg(long, value_name = "NAME")]
    pub(crate) cluster: Option<String>,
}

impl BrokerCommand {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let config = broker_config(
            &self.flags,
            &[
                ("namesrvAddr", self.namesrv_addr),
                ("listenPort", self.listen_port.map(|p| p.to_string())),
                ("brokerName", self.broker_name),
                ("brokerClusterName", self.cluster),
            ],
        )?;
        ensure_store_dir(&config)?;
        init_logging();
        block_on("skylark-broker", async move {
            let shutdown = shutdown_signal().context("cannot install signal handlers")?;
            let handle = Broker::start(config)
                .await
                .context("broker failed to start")?;
            if !handle.wait_ready(READY_TIMEOUT).await {
                tracing::warn!("not registered with any nameserver yet; still trying");
            }
            announce(&format!(
                "skylark broker ready: broker={}",
                handle.local_addr()
            ));
            shutdown.await;
            handle
                .shutdown()
                .await
                .context("broker did not stop cleanly")
        })
    }
}

/// `skylark standalone`.
#[derive(Debug, clap::Args)]
pub(crate) struct StandaloneCommand {
    #[command(flatten)]
    pub(crate) flags: BrokerFlags,
    /// Address both servers listen on and announce.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Nameserver port.
    #[arg(long, value_name = "PORT", default_value_t = 9876)]
    pub(crate) namesrv_port: u16,
    /// Broker port.
    #[arg(long, value_name = "PORT", default_value_t = skylark_broker::DEFAULT_LISTEN_PORT)]
    pub(crate) broker_port: u16,
}

impl StandaloneCommand {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let data_dir = self
            .flags
            .data_dir
            .clone()
            .unwrap_or_else(|| home_dir().join(".skylark"));
        let namesrv_addr = format!("{}:{}", self.host, self.namesrv_port);
        let mut flags = self.flags;
        flags.data_dir = Some(data_dir.join("store"));
        let config = broker_config(
            &flags,
            &[
                ("namesrvAddr", Some(namesrv_addr.clone())),
                ("brokerIP1", Some(self.host.clone())),
                ("listenPort", Some(self.broker_port.to_string())),
            ],
        )?;
        ensure_store_dir(&config)?;
        let namesrv = NameServerConfig {
            listen_addr: namesrv_addr,
            kv_config_path: Some(data_dir.join("namesrv").join("kvConfig.json")),
            ..NameServerConfig::default()
        };
        init_logging();
        block_on("skylark", async move {
            let shutdown = shutdown_signal().context("cannot install signal handlers")?;
            let nameserver = NameServer::start(namesrv)
                .await
                .context("nameserver failed to start")?;
            let broker = match Broker::start(config).await {
                Ok(broker) => broker,
                Err(error) => {
                    let _ = nameserver.shutdown().await;
                    return Err(error).context("broker failed to start");
                }
            };
            if !broker.wait_ready(READY_TIMEOUT).await {
                tracing::warn!("broker not registered with the nameserver yet; still trying");
            }
            announce(&format!(
                "skylark standalone ready: namesrvAddr={} broker={}",
                nameserver.local_addr(),
                broker.local_addr()
            ));
            tracing::info!(
                data_dir = %data_dir.display(),
                "point RocketMQ clients at namesrvAddr={}",
                nameserver.local_addr()
            );
            shutdown.await;
            let stopped = broker
                .shutdown()
                .await
                .context("broker did not stop cleanly");
            nameserver
                .shutdown()
                .await
                .context("nameserver did not stop cleanly")?;
            stopped
        })
    }
}
