//! `skylark cluster list`.

use anyhow::Context as _;
use serde::Serialize;

use crate::client_args::{ClientArgs, OutputArgs, run_client};
use crate::output::{Align, print_listing};

/// `skylark cluster`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ClusterCommand {
    /// Every cluster, broker group and broker (master id 0, slaves > 0) the nameserver knows.
    #[command(after_help = "Example:
  skylark cluster list --namesrv 127.0.0.1:9876")]
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// One broker as listed.
#[derive(Debug, Serialize)]
struct Broker {
    cluster: String,
    broker_name: String,
    broker_id: i64,
    role: &'static str,
    addr: String,
    version: Option<String>,
    put_tps: Option<String>,
}

impl ClusterCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let Self::List { client, output } = self;
        run_client(async move {
            let admin = client.admin()?;
            let info = admin.cluster_info().await.context("reading cluster info")?;
            let mut brokers = Vec::new();
            for (cluster, names) in &info.cluster_addr_table {
                for name in names {
                    let Some(data) = info.broker_addr_table.get(name) else {
                        continue;
                    };
                    for (id, addr) in &data.broker_addrs {
                        // Runtime figures are a nicety: a broker that does not
                        // answer is still listed.
                        let runtime = admin.broker_runtime_info(addr).await.ok();
                        let field = |key: &str| runtime.as_ref().and_then(|r| r.get(key).cloned());
                        brokers.push(Broker {
                            cluster: cluster.clone(),
                            broker_name: name.clone(),
                            broker_id: *id,
                            role: if *id == 0 { "master" } else { "slave" },
                            addr: addr.clone(),
                            version: field("brokerVersionDesc"),
                            put_tps: field("putTps")
                                .map(|t| t.split_whitespace().next().unwrap_or("").to_owned()),
                        });
                    }
                }
            }
            let columns = [
                ("CLUSTER", Align::Left),
                ("BROKER", Align::Left),
                ("ID", Align::Right),
                ("ROLE", Align::Left),
                ("ADDR", Align::Left),
                ("VERSION", Align::Left),
                ("PUT_TPS", Align::Right),
            ];
            print_listing(output.output, &brokers, &columns, |b| {
                vec![
                    b.cluster.clone(),
                    b.broker_name.clone(),
                    b.broker_id.to_string(),
                    b.role.to_owned(),
                    b.addr.clone(),
                    b.version.clone().unwrap_or_else(|| "-".into()),
                    b.put_tps.clone().unwrap_or_else(|| "-".into()),
                ]
            })?;
            Ok(())
        })
    }
}
