//! `skylark group create|list|describe|delete`.

use crate::client_args::{ClientArgs, OutputArgs};

/// `skylark group`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum GroupCommand {
    /// Create (or change) a consumer group on every master of a cluster.
    #[command(after_help = "Example:
  skylark group create --group Audit --retry-max-times 3")]
    Create {
        #[command(flatten)]
        client: ClientArgs,
        /// The group.
        #[arg(short = 'g', long)]
        group: String,
        /// Redeliveries before a message goes to %DLQ%group (retryMaxTimes).
        #[arg(long, default_value_t = 16)]
        retry_max_times: i32,
        /// Allow broadcasting consumption (consumeBroadcastEnable).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        broadcast: bool,
        /// Only on this cluster's masters (default: every cluster's).
        #[arg(short = 'c', long)]
        cluster: Option<String>,
    },
    /// List the consumer groups of every master.
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// Include system groups (CID_RMQ_SYS_*, TOOLS_CONSUMER, …).
        #[arg(long)]
        all: bool,
    },
    /// Per queue: the broker's offset, the group's offset and the lag.
    #[command(
        long_about = "Show a consumer group's progress: for each queue of each topic it \
                      consumes (or only --topic), the broker's max offset, the group's \
                      committed offset and the lag between them, with the total lag; and the \
                      consumers connected now.",
        after_help = "Example:
  skylark group describe --group Audit --output json"
    )]
    Describe {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// The group.
        #[arg(short = 'g', long)]
        group: String,
        /// Only this topic.
        #[arg(short = 't', long)]
        topic: Option<String>,
    },
    /// Delete a consumer group from every master.
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        /// The group.
        #[arg(short = 'g', long)]
        group: String,
        /// Only from this cluster's masters.
        #[arg(short = 'c', long)]
        cluster: Option<String>,
    },
}

impl GroupCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
