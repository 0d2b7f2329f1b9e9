//! The flags every client command shares: where the nameserver is, how
//! long to wait, what to print.

use std::time::Duration;

use crate::output::Format;
use crate::time_arg::parse_duration;

/// Where to find the cluster and how long to wait for an answer.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// Nameserver addresses, `host:port` separated by `;`.
    #[arg(
        short = 'n',
        long,
        env = "NAMESRV_ADDR",
        value_name = "ADDRS",
        default_value = "127.0.0.1:9876"
    )]
    pub(crate) namesrv: String,
    /// How long to wait for each answer (30s, 500ms, …).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

/// `--output`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct OutputArgs {
    /// `table` for people, `json` for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub(crate) output: Format,
}

impl ClientArgs {
    /// The client settings these flags give.
    pub(crate) fn config(&self) -> skylark_client::ClientConfig {
        let mut config = skylark_client::ClientConfig::with_namesrv(&self.namesrv);
        config.request_timeout = self.timeout;
        config
    }

    /// An admin client (call inside the runtime).
    pub(crate) fn admin(&self) -> anyhow::Result<skylark_client::admin::Admin> {
        Ok(skylark_client::admin::Admin::start(self.config())?)
    }
}

/// Runs a client command's `main` on a runtime of its own.
pub(crate) fn run_client<F: std::future::Future<Output = anyhow::Result<()>>>(
    main: F,
) -> anyhow::Result<()> {
    crate::runtime::init_client_logging();
    crate::runtime::block_on("skylark-cli", main)
}
