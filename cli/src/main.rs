//! `skylark`: the command users type.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use skylark_nameserver::{DEFAULT_LISTEN_ADDR, NameServerConfig};

/// Skylark: an Apache RocketMQ-compatible message broker.
///
/// Exit codes: 0 success, 1 error, 2 usage error, 3 feature not yet available.
#[derive(Debug, Parser)]
#[command(name = "skylark", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a nameserver and a broker in one process, ready for any RocketMQ client.
    Standalone {
        /// Where the broker keeps its store and config (default: ~/.skylark).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
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
    match cli.command {
        Command::Standalone { data_dir } => {
            let dir = data_dir.unwrap_or_else(|| home_dir().join(".skylark"));
            eprintln!(
                "skylark standalone is not yet available: the nameserver and broker are still \
                 being built (data dir would be {})",
                dir.display()
            );
            ExitCode::from(3)
        }
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
            match run_nameserver(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("skylark nameserver: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `$HOME`, or the current directory when it is not set.
fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run_nameserver(config: NameServerConfig) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("skylark-namesrv")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listen = config.listen_addr.clone();
        let shutdown = shutdown_signal().context("cannot install signal handlers")?;
        skylark_nameserver::run(config, shutdown)
            .await
            .with_context(|| format!("name server on {listen} failed"))
    })
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = term.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
            _ = terminated => tracing::info!(signal = "SIGTERM", "shutting down"),
        }
    })
}
