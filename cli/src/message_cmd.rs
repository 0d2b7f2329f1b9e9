//! `skylark message query --key K | --id ID`.

use anyhow::Context as _;

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::errors::NotFound;
use crate::message_view::MessageView;
use crate::output::{Format, Out};
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
        #[arg(
            short = 'k',
            long,
            required_unless_present = "id",
            conflicts_with = "id"
        )]
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
        let Self::Query {
            client,
            output,
            topic,
            key,
            id,
            max,
            begin,
            end,
        } = self;
        run_client(async move {
            let admin = client.admin()?;
            let (found, what) = match (&key, &id, &topic) {
                (Some(key), _, Some(topic)) => (
                    admin
                        .query_message_by_key(
                            topic,
                            key,
                            max,
                            begin.map_or(0, |t| t.0),
                            end.map_or(i64::MAX, |t| t.0),
                        )
                        .await
                        .with_context(|| format!("querying topic {topic} by key {key}"))?,
                    format!("no message of topic {topic} has key {key}"),
                ),
                (Some(_), _, None) => {
                    anyhow::bail!("--key needs --topic: keys are indexed per topic")
                }
                (None, Some(id), Some(topic)) => (
                    admin
                        .message_by_id(topic, id)
                        .await
                        .with_context(|| format!("looking up message {id} of topic {topic}"))?,
                    format!("no message of topic {topic} has id {id}"),
                ),
                (None, Some(id), None) => (
                    vec![admin.view_message(id).await.with_context(|| {
                        format!("viewing message {id} (an offset id; pass --topic for a unique id)")
                    })?],
                    String::new(),
                ),
                (None, None, _) => anyhow::bail!("pass --key or --id"),
            };
            if found.is_empty() {
                return Err(NotFound {
                    what,
                    hint: "keys are found through the brokers' IndexFile (messageIndexEnable) \
                           between --begin and --end; ids are the msg_id or offset_msg_id \
                           `skylark produce` printed"
                        .into(),
                }
                .into());
            }
            let mut out = Out::new();
            for message in found.iter().take(usize::try_from(max.max(1)).unwrap_or(1)) {
                let view = MessageView::of(message, None);
                match output.output {
                    Format::Json => out.json_line(&view)?,
                    Format::Table => out.line(&view.text())?,
                }
            }
            out.flush()?;
            Ok(())
        })
    }
}
