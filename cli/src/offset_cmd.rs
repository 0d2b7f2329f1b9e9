//! `skylark offset reset`.

use crate::client_args::{ClientArgs, OutputArgs};
use crate::time_arg::{EpochMillis, parse_time};

/// `skylark offset`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum OffsetCommand {
    /// Move a group's offsets of a topic to a time or an offset.
    #[command(
        long_about = "Move consumer group --group's offsets of --topic: --to-time moves every \
                      queue to its first message stored at or after TIME (RocketMQ's \
                      resetOffsetByTime); --to-offset sets every queue to N, clamped to the \
                      queue's range. With the group's consumers online the broker tells them \
                      to start over from the new offsets; offline, the committed offsets are \
                      rewritten and the next consumer starts there.",
        after_help = "Examples:
  skylark offset reset --group Audit --topic Orders --to-time 1h
  skylark offset reset --group Audit --topic Orders --to-time 2026-11-27T15:00:00Z
  skylark offset reset --group Audit --topic Orders --to-offset 0"
    )]
    Reset {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// The consumer group.
        #[arg(short = 'g', long)]
        group: String,
        /// The topic.
        #[arg(short = 't', long)]
        topic: String,
        /// To the first message at or after TIME.
        #[arg(long, value_name = "TIME", value_parser = parse_time,
              required_unless_present = "to_offset", conflicts_with = "to_offset")]
        to_time: Option<EpochMillis>,
        /// To offset N in every queue (clamped to each queue's min and max).
        #[arg(long, value_name = "N")]
        to_offset: Option<i64>,
    },
}

impl OffsetCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
