//! `skylark produce`: generated messages, or one per line of stdin or a file.

use std::path::PathBuf;

use crate::client_args::{ClientArgs, OutputArgs};

/// `skylark produce`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Send messages to --topic. With --count N, sends N generated messages of \
                  --size bytes; otherwise sends one message per line of --file, or of stdin \
                  (the line without its newline is the body). Prints one line per message \
                  sent: its id, queue and offset (a JSON object per line with --output json), \
                  and stops at the first failure.",
    after_help = "Examples:
  skylark produce --topic Orders --count 100 --size 256 --tag gen
  printf 'a\\nb\\n' | skylark produce --topic Orders --key batch-1
  skylark produce --topic Orders --file orders.txt --property source=import --output json"
)]
pub(crate) struct ProduceCommand {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The topic.
    #[arg(short = 't', long)]
    pub(crate) topic: String,
    /// The tag of every message.
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// A key of every message (repeat for several).
    #[arg(short = 'k', long = "key")]
    pub(crate) keys: Vec<String>,
    /// A user property `NAME=VALUE` of every message (repeat for several).
    #[arg(long = "property", value_name = "NAME=VALUE", value_parser = parse_property)]
    pub(crate) properties: Vec<(String, String)>,
    /// Send this many generated messages instead of reading lines.
    #[arg(short = 'c', long, conflicts_with = "file")]
    pub(crate) count: Option<u64>,
    /// Body size of generated messages in bytes.
    #[arg(short = 's', long, default_value_t = 128, requires = "count")]
    pub(crate) size: usize,
    /// Read the bodies from this file, one per line (default: stdin).
    #[arg(short = 'f', long)]
    pub(crate) file: Option<PathBuf>,
    /// Producer group (producerGroup).
    #[arg(long, default_value = "skylark-cli-producer")]
    pub(crate) group: String,
}

/// `NAME=VALUE`.
pub(crate) fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

impl ProduceCommand {
    /// Runs the command.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
