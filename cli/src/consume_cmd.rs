//! `skylark consume`: a consumer group's messages of a topic, printed.

use std::time::Duration;

use crate::client_args::{ClientArgs, OutputArgs};
use crate::time_arg::{EpochMillis, TIME_HELP, parse_duration, parse_time};

/// `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// The first message still stored.
    First,
    /// Only messages sent from now on.
    Last,
    /// The first message stored at or after a time.
    Time(EpochMillis),
}

fn parse_from(text: &str) -> Result<From, String> {
    match text {
        "first" => Ok(From::First),
        "last" => Ok(From::Last),
        other => parse_time(other).map(From::Time),
    }
}

/// `skylark consume`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Consume --topic as clustering consumer group --group and print each message \
                  (a text line, or a JSON object per line with --output json), committing \
                  offsets as it goes. --from says where a group without a committed offset \
                  starts. Runs until Ctrl-C, or until --count messages (then exits 0) or \
                  --timeout passes without them (exit 6).",
    after_help = "Examples:
  skylark consume --topic Orders --group Audit --from first --count 10
  skylark consume --topic Orders --group Audit --tag 'TagA || TagB' --output json
  skylark consume --topic Orders --group Audit --sql \"a BETWEEN 3 AND 6\" --from 10m"
)]
pub(crate) struct ConsumeCommand {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The topic.
    #[arg(short = 't', long)]
    pub(crate) topic: String,
    /// The consumer group.
    #[arg(short = 'g', long)]
    pub(crate) group: String,
    /// Tag expression: `*`, `TagA`, `TagA || TagB`.
    #[arg(long, default_value = "*", conflicts_with = "sql")]
    pub(crate) tag: String,
    /// SQL92 expression on user properties (the broker needs enablePropertyFilter=true).
    #[arg(long)]
    pub(crate) sql: Option<String>,
    /// Where a group with no committed offset starts: first, last, or a TIME.
    #[arg(long, default_value = "last", value_parser = parse_from, long_help = format!(
        "Where a group with no committed offset starts: `first`, `last`, or a TIME. {TIME_HELP}."
    ))]
    pub(crate) from: From,
    /// Stop after this many messages.
    #[arg(short = 'c', long)]
    pub(crate) count: Option<u64>,
    /// With --count: give up (exit 6) when they have not all come within this long.
    #[arg(long = "wait", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) wait: Duration,
}

impl ConsumeCommand {
    /// Runs the command.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
