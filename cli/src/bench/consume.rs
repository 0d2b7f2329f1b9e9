//! `skylark bench consume`.

use super::report::Report;

/// Runs the bench.
pub(crate) async fn run(_args: super::BenchConsumeArgs) -> anyhow::Result<Report> {
    anyhow::bail!("not implemented yet")
}
