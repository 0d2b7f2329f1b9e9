//! `skylark`: the command users type.

mod broker_cmd;
mod runtime;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use skylark_nameserver::{DEFAULT_LISTEN_ADDR, NameServer, NameServerConfig};

use crate::broker_cmd::{BrokerCommand, StandaloneCommand};
use crate::runtime::{announce, block_on, home_dir, init_logging, shutdown_signal};

/// Skylark: an Apache RocketMQ-compatible message broker.
///
/// Exit codes: 0 success, 1 error, 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "skylark", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a nameserver and a broker in one process, ready for any RocketMQ
    /// client. Data lives in ~/.skylark unless --data-dir says otherwise.
    /// Prints `skylark standalone ready: namesrvAddr=… broker=…` once serving.
    Standalone(StandaloneCommand),
    /// Run a broker that registers with the nameservers of its config.
    /// Prints `skylark broker ready: broker=…` once serving.
    Broker(BrokerCommand),
    /// Run a name server: brokers register with it, clients ask it for
    /// topic routes. Runs until SIGTERM or Ctrl-C, then stops gracefully.
    Nameserver {
        /// Address to listen on; loopback by default, use 0.0.0.0:9876 to serve other hosts.
        #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN_ADDR)]
        listen: String,
        /// Where KV config (e.g. ORDER_TOPIC_CONFIG) is persisted
        /// (default: ~/.skylark/namesrv/kvConfig.json).
        #[arg(long, value_name = "FILE", conflicts_with = "no_persist")]
        kv_config_path: Option<PathBuf>,
        /// Keep KV config in memory only.
        #[arg(long)]
        no_persist: bool,
        /// Add `orderTopicConf` from KV namespace ORDER_TOPIC_CONFIG to routes.
        #[arg(long)]
        order_message_enable: bool,
        /// Drop brokers silent for this many seconds (when they send no timeout of their own).
        #[arg(long, value_name = "SECS", default_value_t = 120)]
        broker_timeout_secs: u64,
        /// How often to look for silent brokers, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 5000)]
        scan_interval_ms: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (what, result) = match cli.command {
        Command::Standalone(command) => ("standalone", command.run()),
        Command::Broker(command) => ("broker", command.run()),
        Command::Nameserver {
            listen,
            kv_config_path,
            no_persist,
            order_message_enable,
            broker_timeout_secs,
            scan_interval_ms,
        } => {
            let kv_config_path = if no_persist {
                None
            } else {
                Some(kv_config_path.unwrap_or_else(|| {
                    home_dir()
                        .join(".skylark")
                        .join("namesrv")
                        .join("kvConfig.json")
                }))
            };
            let config = NameServerConfig {
                listen_addr: listen,
                kv_config_path,
                order_message_enable,
                broker_timeout: Duration::from_secs(broker_timeout_secs),
                scan_interval: Duration::from_millis(scan_interval_ms.max(1)),
                ..NameServerConfig::default()
            };
            ("nameserver", run_nameserver(config))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("skylark {what}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_nameserver(config: NameServerConfig) -> anyhow::Result<()> {
    init_logging();
    block_on("skylark-namesrv", async {
        let listen = config.listen_addr.clone();
        let shutdown = shutdown_signal().context("cannot install signal handlers")?;
        let handle = NameServer::start(config)
            .await
            .with_context(|| format!("name server on {listen} failed to start"))?;
        announce(&format!(
            "skylark nameserver ready: listen={}",
            handle.local_addr()
        ));
        shutdown.await;
        handle
            .shutdown()
            .await
            .with_context(|| format!("name server on {listen} failed"))
    })
}
