//! `skylark message query --key K | --id ID`.

use crate::client_args::{ClientArgs, OutputArgs};
use crate::time_arg::{EpochMillis, parse_time};

/// `skylark message`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MessageCommand {
    /// Find messages of a topic by key (the brokers' IndexFile), or one by id.
    #[command(
        long_about = "Find messages by key (--key, with --topic: every broker's IndexFile, \
                      between --begin and --end) or by id (--id: the producer's unique id \
                      (UNIQ_KEY) with --topic, or the broker's offset id, which names its broker \
                      and needs no topic), and print each as text or a JSON line.",
        after_help = "Examples:
  skylark message query --topic Orders --key order-42
  skylark message query --id 7F00000100002A9F0000000000000000
  skylark message query --topic Orders --id 7F0000011A2B18B4AAC2 --output json"
    )]
    Query {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// The topic (needed with --key and with a unique id).
        #[arg(short = 't', long)]
        topic: Option<String>,
        /// A message key.
        #[arg(short = 'k', long, required_unless_present = "id", conflicts_with = "id")]
        key: Option<String>,
        /// A message id (unique id or offset id).
        #[arg(short = 'i', long)]
        id: Option<String>,
        /// At most this many messages.
        #[arg(long, default_value_t = 32)]
        max: i32,
        /// Earliest store time (TIME; default: the beginning).
        #[arg(long, value_parser = parse_time)]
        begin: Option<EpochMillis>,
        /// Latest store time (TIME; default: now).
        #[arg(long, value_parser = parse_time)]
        end: Option<EpochMillis>,
    },
}

impl MessageCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
