//! `skylark`: the command users type.

mod bench;
mod broker_admin;
mod broker_cmd;
mod client_args;
mod cluster_cmd;
mod completions;
mod consume_cmd;
mod errors;
mod group_cmd;
mod message_cmd;
mod message_view;
mod offset_cmd;
mod output;
mod produce_cmd;
mod runtime;
mod time_arg;
mod topic_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use skylark_nameserver::{DEFAULT_LISTEN_ADDR, NameServer, NameServerConfig};

use crate::broker_cmd::{BrokerCommand, StandaloneCommand};
use crate::runtime::{announce, block_on, home_dir, init_logging, shutdown_signal};

/// Skylark: an Apache RocketMQ-compatible message broker.
///
/// Runs the servers (`standalone`, `nameserver`, `broker`) and talks to
/// running ones as any RocketMQ client would: topics, groups, the cluster,
/// producing, consuming, finding messages, resetting offsets, and
/// benchmarking. Client commands find the brokers through a nameserver:
/// `--namesrv HOST:PORT[;HOST:PORT]`, or NAMESRV_ADDR, default
/// 127.0.0.1:9876 (what `skylark standalone` listens on).
#[derive(Debug, Parser)]
#[command(
    name = "skylark",
    version,
    about,
    long_about,
    after_long_help = AFTER_HELP,
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 refused, 4 not found, 5 unreachable, \
                  6 incomplete (--help tells more)."
)]
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
    /// Run a broker that registers with the nameservers of its config
    /// (prints `skylark broker ready: broker=…` once serving), or change a
    /// running one's role: `skylark broker promote|follow|status`.
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
    /// Create, change, list, describe and delete topics.
    #[command(
        subcommand,
        after_help = "Examples:
  skylark topic create --topic Orders --queues 8
  skylark topic describe --topic Orders --output json"
    )]
    Topic(topic_cmd::TopicCommand),
    /// Create, list, describe (offsets and lag) and delete consumer groups.
    #[command(
        subcommand,
        after_help = "Examples:
  skylark group create --group Audit
  skylark group describe --group Audit"
    )]
    Group(group_cmd::GroupCommand),
    /// Show the clusters and brokers a nameserver knows.
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCommand),
    /// Send messages: generated ones, or one per line of stdin or a file.
    Produce(produce_cmd::ProduceCommand),
    /// Receive a topic's messages as a consumer group and print them.
    Consume(consume_cmd::ConsumeCommand),
    /// Find messages by key or by id.
    #[command(subcommand)]
    Message(message_cmd::MessageCommand),
    /// Move a consumer group's offsets.
    #[command(subcommand)]
    Offset(offset_cmd::OffsetCommand),
    /// Measure produce, consume and end-to-end throughput and latency.
    #[command(
        subcommand,
        after_help = "Examples:
  skylark bench produce --topic Bench --threads 16 --size 1024 --duration 20s
  skylark bench produce --topic Bench --threads 4 --inflight 64 --json
  skylark bench consume --topic Bench --count 100000
  skylark bench e2e --topic Bench --threads 4 --inflight 8 --duration 20s"
    )]
    Bench(bench::BenchCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsCommand),
}

/// The tail of `skylark --help`: environment, examples, exit codes.
const AFTER_HELP: &str = concat!(
    "Environment:
  NAMESRV_ADDR  nameservers of client commands (like --namesrv), host:port separated by `;`
  RUST_LOG      log filter of the servers and of client commands (stderr), e.g. info, debug

Examples:
  skylark standalone --data-dir /tmp/sky
  skylark topic create --topic Orders --queues 8
  seq 10 | skylark produce --topic Orders --tag new
  skylark consume --topic Orders --group Audit --from first --count 10 --output json
  skylark group describe --group Audit
  skylark bench produce --topic Bench --threads 16 --size 1024 --duration 30s

",
    errors::exit_codes_help!()
);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Server commands name themselves in their error; client commands print
    // one `error: …` line and exit with a documented code.
    let (server, result) = match cli.command {
        Command::Standalone(command) => (Some("standalone"), command.run()),
        Command::Broker(mut command) => match command.admin.take() {
            Some(admin) => (None, admin.run()),
            None => (Some("broker"), command.run()),
        },
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
            (Some("nameserver"), run_nameserver(config))
        }
        Command::Topic(command) => (None, command.run()),
        Command::Group(command) => (None, command.run()),
        Command::Cluster(command) => (None, command.run()),
        Command::Produce(command) => (None, command.run()),
        Command::Consume(command) => (None, command.run()),
        Command::Message(command) => (None, command.run()),
        Command::Offset(command) => (None, command.run()),
        Command::Bench(command) => (None, command.run()),
        Command::Completions(command) => (None, command.run(Cli::command())),
    };
    match (server, result) {
        (_, Ok(())) => ExitCode::SUCCESS,
        (Some(what), Err(error)) => {
            eprintln!("skylark {what}: {error:#}");
            ExitCode::FAILURE
        }
        (None, Err(error)) if output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        (None, Err(error)) => {
            let failure = errors::describe(&error);
            eprintln!("{}", failure.line);
            failure.exit_code()
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
