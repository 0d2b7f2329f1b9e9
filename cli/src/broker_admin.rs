//! `skylark broker promote|follow|status`: role changes inside a broker
//! group, sent straight to one broker's remoting address (Skylark's
//! HA_PROMOTE, HA_FOLLOW and HA_STATUS requests; see broker/README.md).

use std::time::Duration;

use anyhow::Context as _;
use skylark_client::ClientConfig;
use skylark_client::admin::Admin;
use skylark_protocol::body::HaStatus;

use crate::output::{Align, Format, Out, Table};
use crate::runtime::block_on;
use crate::time_arg::parse_duration;

/// Where the broker is, how long to wait, what to print.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BrokerTarget {
    /// The broker's remoting address (`brokerIP1:listenPort`).
    #[arg(short = 'b', long, value_name = "HOST:PORT")]
    broker: String,
    /// How long to wait for the answer (a FOLLOW may truncate the store first).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// `table` for people, `json` for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// `skylark broker <action>`: role changes of a running broker.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BrokerAdmin {
    /// Make a replica the master of its group at a new epoch (HA_PROMOTE).
    ///
    /// The broker stops replicating, records the new epoch at its CommitLog's
    /// end in its epoch file, accepts writes and registers as brokerId 0. A
    /// request whose epoch is not newer than every epoch the broker knows is
    /// refused (CONTROLLER_FENCED_MASTER_EPOCH, exit code 3).
    #[command(after_help = "Example:
  skylark broker promote --broker 10.0.0.2:10911 --epoch 3")]
    Promote {
        #[command(flatten)]
        target: BrokerTarget,
        /// The new epoch; default: one above the broker's.
        #[arg(long, value_name = "N")]
        epoch: Option<i32>,
    },
    /// Point a broker at a new master (HA_FOLLOW).
    ///
    /// The broker stops accepting writes, cuts its CommitLog, ConsumeQueues
    /// and index back to the last offset its epoch history shares with the
    /// master's, and replicates from there with a replica's brokerId.
    #[command(after_help = "Example:
  skylark broker follow --broker 10.0.0.1:10911 --master 10.0.0.2:10911")]
    Follow {
        #[command(flatten)]
        target: BrokerTarget,
        /// The new master's remoting address.
        #[arg(long, value_name = "HOST:PORT")]
        master: String,
        /// The master's epoch; default: what the master reports.
        #[arg(long, value_name = "N")]
        epoch: Option<i32>,
        /// The brokerId to register with; default: the broker's own if not 0, else 1.
        #[arg(long, value_name = "ID")]
        broker_id: Option<i64>,
    },
    /// Show a broker's role, epoch, offsets and replicas' lag (HA_STATUS).
    #[command(after_help = "Example:
  skylark broker status --broker 127.0.0.1:10911 --output json")]
    Status {
        #[command(flatten)]
        target: BrokerTarget,
    },
}

impl BrokerAdmin {
    /// Runs the action.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        block_on("skylark-admin", async move {
            let target = match &self {
                Self::Promote { target, .. }
                | Self::Follow { target, .. }
                | Self::Status { target } => target.clone(),
            };
            let admin = Admin::start(ClientConfig {
                request_timeout: target.timeout,
                ..ClientConfig::default()
            })
            .context("cannot start the admin client")?;
            let result = self.call(&admin, &target.broker).await;
            admin.shutdown();
            print(&result?, target.output)
        })
    }

    async fn call(&self, admin: &Admin, broker: &str) -> anyhow::Result<HaStatus> {
        Ok(match self {
            Self::Status { .. } => admin
                .ha_status(broker, None)
                .await
                .with_context(|| format!("status of {broker}"))?,
            Self::Promote { epoch, .. } => {
                let epoch = match epoch {
                    Some(epoch) => *epoch,
                    None => {
                        admin
                            .ha_status(broker, None)
                            .await
                            .with_context(|| format!("status of {broker}"))?
                            .epoch
                            + 1
                    }
                };
                admin
                    .ha_promote(broker, epoch)
                    .await
                    .with_context(|| format!("promoting {broker} at epoch {epoch}"))?
            }
            Self::Follow {
                master,
                epoch,
                broker_id,
                ..
            } => {
                let epoch = match epoch {
                    Some(epoch) => *epoch,
                    None => {
                        admin
                            .ha_status(master, None)
                            .await
                            .with_context(|| format!("status of the master {master}"))?
                            .epoch
                    }
                };
                admin
                    .ha_follow(broker, master, epoch, *broker_id)
                    .await
                    .with_context(|| format!("{broker} following {master} at epoch {epoch}"))?
            }
        })
    }
}

/// Prints a status as a summary and tables, or as JSON.
fn print(status: &HaStatus, format: Format) -> anyhow::Result<()> {
    let mut out = Out::new();
    if format == Format::Json {
        out.json_pretty(status)?;
        return Ok(out.flush()?);
    }
    for line in summary(status) {
        out.line(&line)?;
    }
    out.line("")?;
    let mut epochs = Table::new(&[("EPOCH", Align::Right), ("START OFFSET", Align::Right)]);
    for e in &status.epochs {
        epochs.row(vec![e.epoch.to_string(), e.start_offset.to_string()]);
    }
    out.table(&epochs)?;
    if !status.replicas.is_empty() {
        out.line("")?;
        let mut replicas = Table::new(&[
            ("REPLICA", Align::Left),
            ("ACKED OFFSET", Align::Right),
            ("LAG BYTES", Align::Right),
            ("IN SYNC", Align::Left),
        ]);
        for r in &status.replicas {
            replicas.row(vec![
                r.addr.clone(),
                r.ack_offset.to_string(),
                r.lag_bytes.to_string(),
                if r.in_sync { "yes" } else { "no" }.to_owned(),
            ]);
        }
        out.table(&replicas)?;
    }
    Ok(out.flush()?)
}

/// The `key: value` lines above the tables.
fn summary(s: &HaStatus) -> Vec<String> {
    let mut lines = vec![
        format!(
            "broker:           {} (id {}) at {}, HA {}",
            s.broker_name, s.broker_id, s.broker_addr, s.ha_addr
        ),
        format!(
            "role:             {}{}",
            s.role,
            if s.writable {
                ", writable"
            } else {
                ", refusing writes"
            }
        ),
        format!("epoch:            {}", s.epoch),
    ];
    if let Some(master) = &s.master_addr {
        lines.push(format!("master:           {master}"));
    }
    lines.push(format!(
        "commitlog:        {} .. {}",
        s.commit_log_min_offset, s.commit_log_max_offset
    ));
    lines.push(format!(
        "{}{}",
        if s.role == "SLAVE" {
            "reported offset:  "
        } else {
            "confirmed offset: "
        },
        s.confirm_offset
    ));
    lines.push(format!("dispatched:       {}", s.dispatched_offset));
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser as _;
    use skylark_protocol::body::HaEpochEntry;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        admin: BrokerAdmin,
    }

    #[test]
    fn parses_each_action() {
        let cli =
            Cli::try_parse_from(["x", "promote", "-b", "127.0.0.1:1", "--epoch", "3"]).unwrap();
        assert!(matches!(
            cli.admin,
            BrokerAdmin::Promote { epoch: Some(3), .. }
        ));
        let cli = Cli::try_parse_from([
            "x",
            "follow",
            "-b",
            "127.0.0.1:1",
            "--master",
            "127.0.0.1:2",
            "--broker-id",
            "2",
        ])
        .unwrap();
        assert!(matches!(
            cli.admin,
            BrokerAdmin::Follow {
                epoch: None,
                broker_id: Some(2),
                ..
            }
        ));
        assert!(Cli::try_parse_from(["x", "follow", "-b", "127.0.0.1:1"]).is_err());
        assert!(Cli::try_parse_from(["x", "status"]).is_err());
    }

    #[test]
    fn summary_names_role_epoch_and_offsets() {
        let status = HaStatus {
            broker_name: "broker-a".into(),
            role: "SLAVE".into(),
            epoch: 2,
            master_addr: Some("127.0.0.1:10911".into()),
            commit_log_max_offset: 4096,
            confirm_offset: 4000,
            epochs: vec![HaEpochEntry {
                epoch: 2,
                start_offset: 0,
            }],
            ..HaStatus::default()
        };
        let text = summary(&status).join("\n");
        for part in [
            "SLAVE, refusing writes",
            "epoch:            2",
            "127.0.0.1:10911",
            ".. 4096",
            "reported offset:  4000",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
    }
}
