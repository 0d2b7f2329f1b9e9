//! `skylark produce`: generated messages, or one per line of stdin or a file.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context as _;
use bytes::Bytes;
use serde::Serialize;
use skylark_client::producer::{Producer, ProducerConfig};
use skylark_client::{Message, SendResult, SendStatus};

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::output::{Format, Out};

/// `skylark produce`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Send messages to --topic. With --count N, sends N generated messages of \
                  --size bytes; otherwise sends one message per line of --file, or of stdin \
                  (the line without its newline is the body; empty lines are skipped, as \
                  RocketMQ refuses empty bodies). Prints one line per message \
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

/// RocketMQ's name of a send status.
pub(crate) fn status_name(status: SendStatus) -> &'static str {
    match status {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

/// One send as printed.
#[derive(Debug, Serialize)]
struct Sent<'a> {
    status: &'static str,
    msg_id: &'a str,
    offset_msg_id: &'a str,
    topic: &'a str,
    broker: &'a str,
    queue_id: i32,
    queue_offset: i64,
}

impl ProduceCommand {
    /// Runs the command.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        run_client(async move {
            let mut config = ProducerConfig::with_client(&self.group, self.client.config());
            config.send_timeout = self.client.timeout;
            let producer = Producer::start(config).context("starting the producer")?;
            let result = self.send_all(&producer).await;
            producer.shutdown().await;
            result
        })
    }

    /// Sends every message, printing each result; stops at the first failure.
    async fn send_all(&self, producer: &Producer) -> anyhow::Result<()> {
        let mut out = Out::new();
        if let Some(count) = self.count {
            let body = crate::bench::body(self.size);
            for i in 0..count {
                let result = self.send(producer, body.clone(), i).await?;
                self.print(&mut out, &result)?;
            }
            return Ok(out.flush()?);
        }
        let reader: Box<dyn BufRead> = match &self.file {
            Some(path) => Box::new(std::io::BufReader::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            )),
            None => Box::new(std::io::stdin().lock()),
        };
        let source = self
            .file
            .as_ref()
            .map_or_else(|| "stdin".to_owned(), |p| p.display().to_string());
        for (i, line) in (0u64..).zip(reader.split(b'\n')) {
            let mut line = line.with_context(|| format!("reading {source}"))?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                continue;
            }
            let result = self.send(producer, Bytes::from(line), i).await?;
            self.print(&mut out, &result)?;
            // A person typing lines sees each result at once.
            out.flush()?;
        }
        Ok(out.flush()?)
    }

    /// Sends message number `i` with `body`.
    async fn send(&self, producer: &Producer, body: Bytes, i: u64) -> anyhow::Result<SendResult> {
        let mut message = Message::new(self.topic.as_str(), body);
        if let Some(tag) = &self.tag {
            message = message.with_tags(tag);
        }
        if !self.keys.is_empty() {
            message = message.with_keys(self.keys.iter().map(String::as_str));
        }
        for (name, value) in &self.properties {
            message = message.with_property(name.as_str(), value.as_str());
        }
        producer
            .send(message)
            .await
            .with_context(|| format!("sending message {} to {}", i + 1, self.topic))
    }

    fn print(&self, out: &mut Out, result: &SendResult) -> anyhow::Result<()> {
        let sent = Sent {
            status: status_name(result.status),
            msg_id: &result.msg_id,
            offset_msg_id: &result.offset_msg_id,
            topic: &result.queue.topic,
            broker: &result.queue.broker_name,
            queue_id: result.queue.queue_id,
            queue_offset: result.queue_offset,
        };
        match self.output.output {
            Format::Json => out.json_line(&sent)?,
            Format::Table => out.line(&format!(
                "sent {} msgId={} queue={}/{} offset={}",
                sent.status, sent.msg_id, sent.broker, sent.queue_id, sent.queue_offset
            ))?,
        }
        Ok(())
    }
}
