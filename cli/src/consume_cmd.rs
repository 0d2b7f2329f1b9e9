//! `skylark consume`: a consumer group's messages of a topic, printed.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use skylark_client::MessageQueue;
use skylark_client::consumer::{
    ConsumeFromWhere, LitePullConsumer, LitePullConsumerConfig, MessageSelector, build_subscription,
};
use skylark_protocol::{RemotingCommand, RequestCode};

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::errors::Incomplete;
use crate::message_view::MessageView;
use crate::output::{Format, Out};
use crate::time_arg::{EpochMillis, TIME_HELP, parse_duration, parse_time};

/// How long one poll waits before the loop checks Ctrl-C and the deadline.
const POLL: Duration = Duration::from_millis(500);

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
        run_client(async move {
            let mut config = LitePullConsumerConfig::new(self.group.as_str(), self.client.config());
            // Offsets are committed for exactly what was printed.
            config.auto_commit = false;
            config.poll_timeout = POLL;
            match self.from {
                From::First => config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset,
                From::Last => config.consume_from_where = ConsumeFromWhere::ConsumeFromLastOffset,
                From::Time(time) => {
                    config.consume_from_where = ConsumeFromWhere::ConsumeFromTimestamp;
                    config.consume_timestamp_ms = time.0;
                }
            }
            let mut consumer = LitePullConsumer::new(config);
            consumer.start().await.context("starting the consumer")?;
            let result = self.consume(&consumer).await;
            consumer.shutdown().await;
            result
        })
    }

    /// Asks each broker of the topic whether it can filter by `selector`
    /// (CHECK_CLIENT_CONFIG, as Java's consumer does at start), so that a
    /// broker without enablePropertyFilter or a malformed expression is an
    /// error now rather than a consumer that never gets anything.
    async fn check_with_brokers(&self, selector: &MessageSelector) -> anyhow::Result<()> {
        let admin = self.client.admin()?;
        let route = admin
            .topic_route(&self.topic)
            .await
            .with_context(|| format!("looking up topic {}", self.topic))?;
        let subscription = build_subscription(&self.topic, selector)?;
        let body = serde_json::to_vec(&serde_json::json!({
            "clientId": admin.instance().client_id(),
            "group": self.group,
            "subscriptionData": subscription,
        }))?;
        for broker in &route.broker_datas {
            let Some(addr) = broker.master_addr() else {
                continue;
            };
            let check = RemotingCommand::bare_request(RequestCode::CHECK_CLIENT_CONFIG)
                .with_body(body.clone());
            admin
                .instance()
                .invoke_ok(addr, check)
                .await
                .with_context(|| {
                    format!(
                        "checking the SQL92 expression with broker {}",
                        broker.broker_name
                    )
                })?;
        }
        Ok(())
    }

    /// Polls, prints and commits until the count, the deadline or Ctrl-C.
    async fn consume(&self, consumer: &LitePullConsumer) -> anyhow::Result<()> {
        let selector = match &self.sql {
            Some(sql) => MessageSelector::Sql92(sql.clone()),
            None => MessageSelector::Tag(self.tag.clone()),
        };
        if self.sql.is_some() {
            self.check_with_brokers(&selector).await?;
        }
        consumer
            .subscribe_with(&self.topic, selector)
            .await
            .with_context(|| format!("subscribing to topic {}", self.topic))?;
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut out = Out::new();
        let mut printed = 0u64;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            let batch = tokio::select! {
                batch = consumer.poll_timeout(POLL) => batch.context("polling")?,
                _ = &mut ctrl_c => break,
            };
            let mut next: BTreeMap<MessageQueue, i64> = BTreeMap::new();
            for message in &batch {
                if self.count.is_some_and(|n| printed >= n) {
                    break;
                }
                let view = MessageView::of(&message.stored, Some(&message.broker_name));
                match self.output.output {
                    Format::Json => out.json_line(&view)?,
                    Format::Table => out.line(&view.text())?,
                }
                printed += 1;
                let offset = next.entry(message.message_queue()).or_insert(0);
                *offset = (*offset).max(message.queue_offset() + 1);
            }
            out.flush()?;
            if !next.is_empty() {
                let offsets: Vec<(MessageQueue, i64)> = next.into_iter().collect();
                consumer
                    .commit(&offsets)
                    .await
                    .context("committing offsets")?;
            }
            match self.count {
                Some(n) if printed >= n => break,
                Some(n) if tokio::time::Instant::now() >= deadline => {
                    return Err(Incomplete {
                        what: format!(
                            "got {printed} of {n} messages of {} within {:?}",
                            self.topic, self.wait
                        ),
                    }
                    .into());
                }
                _ => {}
            }
        }
        Ok(())
    }
}
