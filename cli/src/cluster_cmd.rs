//! `skylark cluster list`.

use crate::client_args::{ClientArgs, OutputArgs};

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

impl ClusterCommand {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
