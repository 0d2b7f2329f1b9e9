//! The operator's Prometheus metrics: reconciles, their durations and errors,
//! per controller.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Counters and histograms of every controller.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    failures: IntCounterVec,
    duration: HistogramVec,
}

impl Metrics {
    /// Metrics registered in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "skylark_operator_reconciliations_total",
                "Reconciliations run, per controller",
            ),
            &["controller"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "skylark_operator_reconciliation_errors_total",
                "Reconciliations that failed, per controller and error kind",
            ),
            &["controller", "error"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "skylark_operator_reconcile_duration_seconds",
                "Time one reconciliation took, per controller",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["controller"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            reconciles,
            failures,
            duration,
        })
    }

    /// Counts one reconcile of `controller` that took `took`.
    pub fn reconciled(&self, controller: &str, took: Duration) {
        self.reconciles.with_label_values(&[controller]).inc();
        self.duration
            .with_label_values(&[controller])
            .observe(took.as_secs_f64());
    }

    /// Counts one failed reconcile of `controller`.
    pub fn failed(&self, controller: &str, error: &str) {
        self.failures.with_label_values(&[controller, error]).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) =
            prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)
        {
            tracing::warn!(%error, "cannot encode metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_controller() {
        let metrics = Metrics::new().expect("metrics");
        metrics.reconciled("topic", Duration::from_millis(20));
        metrics.failed("topic", "kube");
        let text = metrics.render();
        assert!(text.contains("skylark_operator_reconciliations_total{controller=\"topic\"} 1"));
        assert!(text.contains(
            "skylark_operator_reconciliation_errors_total{controller=\"topic\",error=\"kube\"} 1"
        ));
        assert!(
            text.contains(
                "skylark_operator_reconcile_duration_seconds_count{controller=\"topic\"} 1"
            )
        );
    }
}
