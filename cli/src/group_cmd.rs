//! `skylark group create|list|describe|delete`.

use anyhow::Context as _;
use serde::Serialize;
use skylark_client::admin::Admin;
use skylark_protocol::body::SubscriptionGroupConfig;

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::output::{Align, Format, Out, Table, print_listing};
use crate::time_arg::format_millis_or_dash;

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
    #[command(after_help = "Examples:
  skylark group list
  skylark group list --all --output json")]
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
    /// Delete a consumer group (and its committed offsets) from every master.
    #[command(after_help = "Example:
  skylark group delete --group Audit")]
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
        run_client(async move {
            match self {
                Self::Create {
                    client,
                    group,
                    retry_max_times,
                    broadcast,
                    cluster,
                } => {
                    let admin = client.admin()?;
                    let mut config = SubscriptionGroupConfig::new(group.as_str());
                    config.retry_max_times = retry_max_times;
                    config.consume_broadcast_enable = broadcast;
                    let masters = admin
                        .create_group_in_cluster(cluster.as_deref(), &config)
                        .await
                        .with_context(|| format!("creating group {group}"))?;
                    let mut out = Out::new();
                    for m in masters {
                        out.line(&format!(
                            "created group {group} on {} ({}, cluster {})",
                            m.broker_name, m.addr, m.cluster
                        ))?;
                    }
                    out.flush()?;
                    Ok(())
                }
                Self::List {
                    client,
                    output,
                    all,
                } => list(&client.admin()?, output.output, all).await,
                Self::Describe {
                    client,
                    output,
                    group,
                    topic,
                } => describe(&client.admin()?, output.output, &group, topic.as_deref()).await,
                Self::Delete {
                    client,
                    group,
                    cluster,
                } => {
                    let admin = client.admin()?;
                    admin
                        .delete_group_in_cluster(cluster.as_deref(), &group, true)
                        .await
                        .with_context(|| format!("deleting group {group}"))?;
                    let mut out = Out::new();
                    out.line(&format!("deleted group {group} and its offsets"))?;
                    out.flush()?;
                    Ok(())
                }
            }
        })
    }
}

/// RocketMQ's own groups, hidden from `group list` without `--all`.
fn is_system_group(group: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "CID_RMQ_SYS_",
        "CID_ONSAPI_",
        "CID_SYS_RMQ_",
        "CID_ONS-HTTP-PROXY",
    ];
    const NAMES: &[&str] = &[
        "TOOLS_CONSUMER",
        "FILTERSRV_CONSUMER",
        "SELF_TEST_C_GROUP",
        "__MONITOR_CONSUMER",
        "CLIENT_INNER_PRODUCER",
        "DEFAULT_CONSUMER",
    ];
    PREFIXES.iter().any(|p| group.starts_with(p)) || NAMES.contains(&group)
}

/// `group list`.
async fn list(admin: &Admin, format: Format, all: bool) -> anyhow::Result<()> {
    let groups = admin.list_groups(None).await.context("listing groups")?;
    #[derive(Serialize)]
    struct Entry<'a> {
        group: &'a str,
        retry_max_times: i32,
        consume_enable: bool,
        consume_broadcast_enable: bool,
        consume_message_orderly: bool,
    }
    let entries: Vec<Entry<'_>> = groups
        .iter()
        .filter(|(name, _)| all || !is_system_group(name))
        .map(|(name, c)| Entry {
            group: name,
            retry_max_times: c.retry_max_times,
            consume_enable: c.consume_enable,
            consume_broadcast_enable: c.consume_broadcast_enable,
            consume_message_orderly: c.consume_message_orderly,
        })
        .collect();
    let columns = [
        ("GROUP", Align::Left),
        ("RETRY_MAX", Align::Right),
        ("CONSUME", Align::Left),
        ("BROADCAST", Align::Left),
        ("ORDERLY", Align::Left),
    ];
    print_listing(format, &entries, &columns, |e| {
        vec![
            e.group.to_owned(),
            e.retry_max_times.to_string(),
            e.consume_enable.to_string(),
            e.consume_broadcast_enable.to_string(),
            e.consume_message_orderly.to_string(),
        ]
    })?;
    Ok(())
}

/// `group describe`.
async fn describe(
    admin: &Admin,
    format: Format,
    group: &str,
    topic: Option<&str>,
) -> anyhow::Result<()> {
    let progress = admin
        .consume_progress(group, topic)
        .await
        .with_context(|| format!("reading the progress of group {group}"))?;
    // No consumer online is normal for a group read by `skylark consume` now and then.
    let consumers: Vec<String> = admin
        .consumer_connections(group)
        .await
        .map(|c| {
            c.connection_set
                .iter()
                .map(|c| c.client_id.clone())
                .collect()
        })
        .unwrap_or_default();
    #[derive(Serialize)]
    struct Queue<'a> {
        topic: &'a str,
        broker: &'a str,
        queue_id: i32,
        broker_offset: i64,
        consumer_offset: i64,
        lag: i64,
        last_timestamp: i64,
    }
    #[derive(Serialize)]
    struct Description<'a> {
        group: &'a str,
        consume_tps: f64,
        total_lag: i64,
        consumers: &'a [String],
        queues: Vec<Queue<'a>>,
    }
    let description = Description {
        group,
        consume_tps: progress.consume_tps,
        total_lag: progress.total_lag(),
        consumers: &consumers,
        queues: progress
            .queues
            .iter()
            .map(|q| Queue {
                topic: &q.queue.topic,
                broker: &q.queue.broker_name,
                queue_id: q.queue.queue_id,
                broker_offset: q.broker_offset,
                consumer_offset: q.consumer_offset,
                lag: q.lag,
                last_timestamp: q.last_timestamp,
            })
            .collect(),
    };
    let mut out = Out::new();
    match format {
        Format::Json => out.json_pretty(&description)?,
        Format::Table => {
            out.line(&format!(
                "group {group}: {} consumer(s) online, {:.1} msg/s, total lag {}",
                consumers.len(),
                description.consume_tps,
                description.total_lag
            ))?;
            let mut table = Table::new(&[
                ("TOPIC", Align::Left),
                ("BROKER", Align::Left),
                ("QUEUE", Align::Right),
                ("BROKER_OFFSET", Align::Right),
                ("CONSUMER_OFFSET", Align::Right),
                ("LAG", Align::Right),
                ("LAST_CONSUMED", Align::Left),
            ]);
            for q in &description.queues {
                table.row(vec![
                    q.topic.to_owned(),
                    q.broker.to_owned(),
                    q.queue_id.to_string(),
                    q.broker_offset.to_string(),
                    q.consumer_offset.to_string(),
                    q.lag.to_string(),
                    format_millis_or_dash(q.last_timestamp),
                ]);
            }
            out.table(&table)?;
            for consumer in &consumers {
                out.line(&format!("consumer {consumer}"))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
