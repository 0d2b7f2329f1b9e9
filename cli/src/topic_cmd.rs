//! `skylark topic create|update|list|describe|delete`.

use crate::client_args::{ClientArgs, OutputArgs};

/// `skylark topic`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TopicCommand {
    /// Create a topic on every master of a cluster (or one broker).
    #[command(
        long_about = "Create a topic on every master broker of --cluster (default: every \
                      cluster the nameserver knows) or on --broker only, with --queues read and \
                      write queues and permission --perm. Creating a topic that exists changes \
                      it to these settings, as RocketMQ's updateTopic does.",
        after_help = "Examples:
  skylark topic create --topic Orders --queues 8
  skylark topic create --topic Audit --read-queues 4 --write-queues 4 --perm r --cluster DefaultCluster"
    )]
    Create(TopicWriteArgs),
    /// Change a topic's queues, permission or order flag (unspecified ones are kept).
    #[command(after_help = "Example:
  skylark topic update --topic Orders --queues 16")]
    Update(TopicWriteArgs),
    /// List the topics the nameserver knows.
    #[command(after_help = "Examples:
  skylark topic list
  skylark topic list --output json | jq -r '.[].topic'")]
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// Include system topics (RMQ_SYS_*, %RETRY%…, %DLQ%…, TBW102, cluster and broker names).
        #[arg(long)]
        all: bool,
    },
    /// Show a topic's route and each queue's min and max offset.
    #[command(after_help = "Example:
  skylark topic describe --topic Orders")]
    Describe {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// The topic.
        #[arg(short = 't', long)]
        topic: String,
    },
    /// Delete a topic from its brokers and the nameserver.
    #[command(after_help = "Example:
  skylark topic delete --topic Orders")]
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        /// The topic.
        #[arg(short = 't', long)]
        topic: String,
        /// Only from this cluster's brokers (default: wherever its route points).
        #[arg(short = 'c', long)]
        cluster: Option<String>,
    },
}

/// What `create` and `update` take.
#[derive(Debug, clap::Args)]
pub(crate) struct TopicWriteArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The topic.
    #[arg(short = 't', long)]
    pub(crate) topic: String,
    /// Read and write queues (create: default 8).
    #[arg(short = 'q', long, value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub(crate) queues: Option<i32>,
    /// Read queues (overrides --queues).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub(crate) read_queues: Option<i32>,
    /// Write queues (overrides --queues).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub(crate) write_queues: Option<i32>,
    /// Permission: rw (6), r (4), w (2), or the number (create: default rw).
    #[arg(short = 'p', long, value_parser = parse_perm)]
    pub(crate) perm: Option<i32>,
    /// Mark the topic ordered (orderly consumers lock its queues).
    #[arg(long)]
    pub(crate) order: Option<bool>,
    /// Create on every master of this cluster (default: of every cluster).
    #[arg(short = 'c', long, conflicts_with = "broker")]
    pub(crate) cluster: Option<String>,
    /// Create on this broker only (`host:port`).
    #[arg(short = 'b', long)]
    pub(crate) broker: Option<String>,
}

/// `rw`/`r`/`w`/`-` or RocketMQ's number.
pub(crate) fn parse_perm(text: &str) -> Result<i32, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "rw" | "wr" => Ok(6),
        "r" => Ok(4),
        "w" => Ok(2),
        "-" | "none" => Ok(0),
        number => match number.parse::<i32>() {
            Ok(n) if (0..=7).contains(&n) => Ok(n),
            _ => Err(format!("{text:?} is not a permission: rw, r, w, or 0-7")),
        },
    }
}

/// How a permission number reads.
pub(crate) fn perm_text(perm: i32) -> String {
    let mut text = String::new();
    if perm & 4 != 0 {
        text.push('r');
    }
    if perm & 2 != 0 {
        text.push('w');
    }
    if perm & 1 != 0 {
        text.push('i');
    }
    if text.is_empty() {
        text.push('-');
    }
    text
}

impl TopicCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_both_ways() {
        assert_eq!(parse_perm("rw"), Ok(6));
        assert_eq!(parse_perm("R"), Ok(4));
        assert_eq!(parse_perm("2"), Ok(2));
        assert!(parse_perm("9").is_err());
        assert!(parse_perm("x").is_err());
        assert_eq!(perm_text(6), "rw");
        assert_eq!(perm_text(4), "r");
        assert_eq!(perm_text(0), "-");
    }
}
