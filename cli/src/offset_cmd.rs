//! `skylark offset reset`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Serialize;
use skylark_client::ClientError;
use skylark_client::admin::Admin;
use skylark_protocol::ResponseCode;
use skylark_protocol::body::MessageQueue;

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::output::{Align, Format, print_listing};
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
        let Self::Reset {
            client,
            output,
            group,
            topic,
            to_time,
            to_offset,
        } = self;
        run_client(async move {
            let admin = client.admin()?;
            let offsets = match (to_time, to_offset) {
                (Some(time), _) => reset_to_time(&admin, &group, &topic, time.0).await,
                (None, Some(offset)) => reset_to_offset(&admin, &group, &topic, offset).await,
                (None, None) => anyhow::bail!("pass --to-time or --to-offset"),
            }
            .with_context(|| format!("resetting the offsets of group {group} on topic {topic}"))?;
            print(&offsets, output.output)
        })
    }
}

/// Whether the broker refused because no consumer of the group is online.
fn offline(error: &ClientError) -> bool {
    error.response_code() == Some(ResponseCode::CONSUMER_NOT_ONLINE)
}

/// RocketMQ's resetOffsetByTime: the broker moves the offsets and tells
/// online consumers; with none online, each queue's committed offset is
/// rewritten (as mqadmin's fallback, resetOffsetByTimeOld, does).
async fn reset_to_time(
    admin: &Admin,
    group: &str,
    topic: &str,
    millis: i64,
) -> anyhow::Result<BTreeMap<MessageQueue, i64>> {
    match admin.reset_offset_by_time(group, topic, millis, true).await {
        Ok(offsets) if !offsets.is_empty() => Ok(offsets),
        Ok(_) => {
            per_queue(admin, group, topic, |admin, queue| async move {
                Ok(admin.search_offset(&queue, millis).await?)
            })
            .await
        }
        Err(e) if offline(&e) => {
            per_queue(admin, group, topic, |admin, queue| async move {
                Ok(admin.search_offset(&queue, millis).await?)
            })
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Every queue to `offset`, clamped to the queue's range.
async fn reset_to_offset(
    admin: &Admin,
    group: &str,
    topic: &str,
    offset: i64,
) -> anyhow::Result<BTreeMap<MessageQueue, i64>> {
    per_queue(admin, group, topic, |admin, queue| async move {
        let min = admin.min_offset(&queue).await?;
        let max = admin.max_offset(&queue).await?;
        Ok(offset.clamp(min, max.max(min)))
    })
    .await
}

/// Sets each queue of `topic` to the offset `target` picks: through the
/// broker (which tells online consumers), or by committing it when the
/// group has no consumer online.
async fn per_queue<F, Fut>(
    admin: &Admin,
    group: &str,
    topic: &str,
    target: F,
) -> anyhow::Result<BTreeMap<MessageQueue, i64>>
where
    F: Fn(Admin, MessageQueue) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<i64>>,
{
    let queues = admin.describe_topic(topic).await?.queues;
    let mut offsets = BTreeMap::new();
    for status in queues {
        let queue = status.queue;
        let offset = target(admin.clone(), queue.clone()).await?;
        match admin.reset_offset_to(group, &queue, offset).await {
            Ok(_) => {}
            Err(e)
                if offline(&e)
                    || e.response_code() == Some(ResponseCode::REQUEST_CODE_NOT_SUPPORTED) =>
            {
                admin.update_consumer_offset(group, &queue, offset).await?;
            }
            Err(e) => return Err(e.into()),
        }
        offsets.insert(queue, offset);
    }
    Ok(offsets)
}

/// The new offsets, as a table or JSON.
fn print(offsets: &BTreeMap<MessageQueue, i64>, format: Format) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Entry<'a> {
        topic: &'a str,
        broker: &'a str,
        queue_id: i32,
        offset: i64,
    }
    let entries: Vec<Entry<'_>> = offsets
        .iter()
        .map(|(q, o)| Entry {
            topic: &q.topic,
            broker: &q.broker_name,
            queue_id: q.queue_id,
            offset: *o,
        })
        .collect();
    let columns = [
        ("TOPIC", Align::Left),
        ("BROKER", Align::Left),
        ("QUEUE", Align::Right),
        ("OFFSET", Align::Right),
    ];
    print_listing(format, &entries, &columns, |e| {
        vec![
            e.topic.to_owned(),
            e.broker.to_owned(),
            e.queue_id.to_string(),
            e.offset.to_string(),
        ]
    })?;
    Ok(())
}
