//! `skylark bench e2e`.

use super::report::Report;

/// Runs the bench.
pub(crate) async fn run(_args: super::BenchArgs) -> anyhow::Result<Report> {
    anyhow::bail!("not implemented yet")
}
