//! `skylark topic create|update|list|describe|delete`.

use anyhow::Context as _;
use serde::Serialize;
use skylark_client::admin::{Admin, BrokerMaster};
use skylark_protocol::body::TopicConfig;

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::errors::NotFound;
use crate::output::{Align, Format, Out, Table, print_listing};
use crate::time_arg::format_millis_or_dash;

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
        run_client(async move {
            match self {
                Self::Create(args) => write(args, false).await,
                Self::Update(args) => write(args, true).await,
                Self::List {
                    client,
                    output,
                    all,
                } => list(&client.admin()?, output.output, all).await,
                Self::Describe {
                    client,
                    output,
                    topic,
                } => describe(&client.admin()?, output.output, &topic).await,
                Self::Delete {
                    client,
                    topic,
                    cluster,
                } => {
                    let admin = client.admin()?;
                    admin
                        .delete_topic(&topic, cluster.as_deref())
                        .await
                        .with_context(|| format!("deleting topic {topic}"))?;
                    let mut out = Out::new();
                    out.line(&format!("deleted topic {topic}"))?;
                    out.flush()?;
                    Ok(())
                }
            }
        })
    }
}

/// What `create` and `update` print per broker.
#[derive(Debug, Serialize)]
struct Written {
    topic: String,
    cluster: String,
    broker_name: String,
    addr: String,
    read_queues: i32,
    write_queues: i32,
    perm: String,
    order: bool,
}

/// `create` (a new config from the flags) or `update` (each broker's
/// current config with the flags applied).
async fn write(args: TopicWriteArgs, update: bool) -> anyhow::Result<()> {
    let admin = args.client.admin()?;
    let topic = &args.topic;
    let verb = if update { "updating" } else { "creating" };
    let mut targets: Vec<BrokerMaster> = admin
        .masters(args.cluster.as_deref())
        .await
        .with_context(|| format!("{verb} topic {topic}: finding the master brokers"))?;
    if let Some(addr) = &args.broker {
        targets.retain(|m| &m.addr == addr);
        if targets.is_empty() {
            return Err(NotFound {
                what: format!("no master broker at {addr}"),
                hint: "see `skylark cluster list` for the brokers' addresses".into(),
            }
            .into());
        }
    }
    if update {
        // Only where the topic is; its route says where.
        let route = admin
            .topic_route(topic)
            .await
            .with_context(|| format!("updating topic {topic}"))?;
        targets.retain(|m| {
            route
                .queue_datas
                .iter()
                .any(|q| q.broker_name == m.broker_name)
        });
    }
    if targets.is_empty() {
        return Err(NotFound {
            what: "no master broker is registered with the nameserver".into(),
            hint: "start a broker (skylark standalone or skylark broker) that registers with it"
                .into(),
        }
        .into());
    }
    let mut written = Vec::new();
    for master in &targets {
        let mut config = if update {
            admin
                .all_topic_configs(&master.addr)
                .await
                .with_context(|| format!("reading topic {topic} on {}", master.addr))?
                .topic_config_table
                .remove(topic)
                .unwrap_or_else(|| TopicConfig::new(topic.as_str()))
        } else {
            let mut config = TopicConfig::new(topic.as_str());
            config.read_queue_nums = 8;
            config.write_queue_nums = 8;
            config.perm = 6;
            config
        };
        if let Some(queues) = args.queues {
            config.read_queue_nums = queues;
            config.write_queue_nums = queues;
        }
        if let Some(read) = args.read_queues {
            config.read_queue_nums = read;
        }
        if let Some(write) = args.write_queues {
            config.write_queue_nums = write;
        }
        if let Some(perm) = args.perm {
            config.perm = perm;
        }
        if let Some(order) = args.order {
            config.order = order;
        }
        admin
            .create_topic(&master.addr, &config)
            .await
            .with_context(|| format!("{verb} topic {topic} on {}", master.addr))?;
        written.push(Written {
            topic: topic.clone(),
            cluster: master.cluster.clone(),
            broker_name: master.broker_name.clone(),
            addr: master.addr.clone(),
            read_queues: config.read_queue_nums,
            write_queues: config.write_queue_nums,
            perm: perm_text(config.perm),
            order: config.order,
        });
    }
    admin.instance().forget_route(topic);
    let columns = [
        ("TOPIC", Align::Left),
        ("CLUSTER", Align::Left),
        ("BROKER", Align::Left),
        ("ADDR", Align::Left),
        ("READ", Align::Right),
        ("WRITE", Align::Right),
        ("PERM", Align::Left),
        ("ORDER", Align::Left),
    ];
    print_listing(args.output.output, &written, &columns, |w| {
        vec![
            w.topic.clone(),
            w.cluster.clone(),
            w.broker_name.clone(),
            w.addr.clone(),
            w.read_queues.to_string(),
            w.write_queues.to_string(),
            w.perm.clone(),
            w.order.to_string(),
        ]
    })?;
    Ok(())
}

/// Whether `topic` is one of RocketMQ's own (or a cluster or broker name,
/// which nameservers list as topics).
fn is_system_topic(topic: &str, names: &std::collections::BTreeSet<String>) -> bool {
    const PREFIXES: &[&str] = &["%RETRY%", "%DLQ%", "rmq_sys_", "RMQ_SYS_", "%SYS%"];
    const NAMES: &[&str] = &[
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "OFFSET_MOVED_EVENT",
        "SELF_TEST_TOPIC",
        "BenchmarkTest",
        "TRANS_CHECK_MAX_TIME_TOPIC",
    ];
    PREFIXES.iter().any(|p| topic.starts_with(p))
        || topic.ends_with("_REPLY_TOPIC")
        || NAMES.contains(&topic)
        || names.contains(topic)
}

/// `topic list`.
async fn list(admin: &Admin, format: Format, all: bool) -> anyhow::Result<()> {
    let topics = admin.topic_list().await.context("listing topics")?;
    let mut names = std::collections::BTreeSet::new();
    if !all {
        let info = admin.cluster_info().await.context("reading cluster info")?;
        names.extend(info.cluster_addr_table.into_keys());
        names.extend(info.broker_addr_table.into_keys());
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        topic: &'a str,
    }
    let entries: Vec<Entry<'_>> = topics
        .iter()
        .filter(|t| all || !is_system_topic(t, &names))
        .map(|t| Entry { topic: t })
        .collect();
    print_listing(format, &entries, &[("TOPIC", Align::Left)], |e| {
        vec![e.topic.to_owned()]
    })?;
    Ok(())
}

/// `topic describe`.
async fn describe(admin: &Admin, format: Format, topic: &str) -> anyhow::Result<()> {
    let described = admin
        .describe_topic(topic)
        .await
        .with_context(|| format!("describing topic {topic}"))?;
    #[derive(Serialize)]
    struct Route<'a> {
        broker_name: &'a str,
        cluster: &'a str,
        master_addr: Option<&'a str>,
        read_queues: i32,
        write_queues: i32,
        perm: String,
    }
    #[derive(Serialize)]
    struct Queue<'a> {
        broker: &'a str,
        queue_id: i32,
        min_offset: i64,
        max_offset: i64,
        last_update_timestamp: i64,
    }
    #[derive(Serialize)]
    struct Description<'a> {
        topic: &'a str,
        routes: Vec<Route<'a>>,
        queues: Vec<Queue<'a>>,
    }
    let routes: Vec<Route<'_>> = described
        .route
        .queue_datas
        .iter()
        .map(|q| {
            let broker = described
                .route
                .broker_datas
                .iter()
                .find(|b| b.broker_name == q.broker_name);
            Route {
                broker_name: &q.broker_name,
                cluster: broker.map_or("", |b| b.cluster.as_str()),
                master_addr: broker.and_then(|b| b.master_addr()),
                read_queues: q.read_queue_nums,
                write_queues: q.write_queue_nums,
                perm: perm_text(q.perm),
            }
        })
        .collect();
    let queues: Vec<Queue<'_>> = described
        .queues
        .iter()
        .map(|q| Queue {
            broker: &q.queue.broker_name,
            queue_id: q.queue.queue_id,
            min_offset: q.min_offset,
            max_offset: q.max_offset,
            last_update_timestamp: q.last_update_timestamp,
        })
        .collect();
    let mut out = Out::new();
    match format {
        Format::Json => out.json_pretty(&Description {
            topic,
            routes,
            queues,
        })?,
        Format::Table => {
            let mut table = Table::new(&[
                ("BROKER", Align::Left),
                ("CLUSTER", Align::Left),
                ("MASTER", Align::Left),
                ("READ", Align::Right),
                ("WRITE", Align::Right),
                ("PERM", Align::Left),
            ]);
            for r in &routes {
                table.row(vec![
                    r.broker_name.to_owned(),
                    r.cluster.to_owned(),
                    r.master_addr.unwrap_or("-").to_owned(),
                    r.read_queues.to_string(),
                    r.write_queues.to_string(),
                    r.perm.clone(),
                ]);
            }
            out.line(&format!("topic {topic}"))?;
            out.table(&table)?;
            out.line("")?;
            let mut table = Table::new(&[
                ("BROKER", Align::Left),
                ("QUEUE", Align::Right),
                ("MIN_OFFSET", Align::Right),
                ("MAX_OFFSET", Align::Right),
                ("LAST_UPDATE", Align::Left),
            ]);
            for q in &queues {
                table.row(vec![
                    q.broker.to_owned(),
                    q.queue_id.to_string(),
                    q.min_offset.to_string(),
                    q.max_offset.to_string(),
                    format_millis_or_dash(q.last_update_timestamp),
                ]);
            }
            out.table(&table)?;
        }
    }
    out.flush()?;
    Ok(())
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
