//! What a bench measures while it runs (counters for the progress line, a
//! latency histogram per task) and the report it prints at the end.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Latencies above this (µs) are recorded as this.
const MAX_LATENCY_US: u64 = 600_000_000;

/// A latency histogram in microseconds with fixed bounds, so that
/// recording never allocates.
pub(crate) fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 min with 3 significant digits: a fixed ~200 KiB table.
    #[allow(clippy::unwrap_used)] // constant, valid bounds
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap()
}

/// Records `elapsed` in microseconds (saturating at the histogram's top).
pub(crate) fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(MAX_LATENCY_US);
    histogram.saturating_record(micros.clamp(1, MAX_LATENCY_US));
}

/// Counters every task bumps, read by the progress line and the report.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages sent or received.
    pub(crate) messages: AtomicU64,
    /// Their body bytes.
    pub(crate) bytes: AtomicU64,
    /// Failed sends.
    pub(crate) failed: AtomicU64,
    /// Set when the run should stop (duration over, count reached, Ctrl-C).
    pub(crate) stop: AtomicBool,
}

impl Counters {
    /// Counts one message of `bytes` body bytes.
    pub(crate) fn add(&self, bytes: u64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Whether the run should stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The live line on stderr (hidden when stderr is not a terminal).
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    last: (Instant, u64, u64),
}

impl Progress {
    /// Starts the line for `what` ("produce", …).
    pub(crate) fn start(what: &str, hidden: bool) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_owned());
        Self {
            bar,
            last: (Instant::now(), 0, 0),
        }
    }

    /// Refreshes the line with the rates since the previous call.
    pub(crate) fn tick(&mut self, counters: &Counters) {
        let now = Instant::now();
        let messages = counters.messages.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let seconds = now.duration_since(self.last.0).as_secs_f64().max(1e-9);
        let rate = (messages - self.last.1.min(messages)) as f64 / seconds;
        let mb = (bytes - self.last.2.min(bytes)) as f64 / seconds / 1e6;
        self.bar.set_message(format!(
            "{messages} msgs  {rate:.0} msg/s  {mb:.1} MB/s  {} failed",
            counters.failed.load(Ordering::Relaxed)
        ));
        self.bar.tick();
        self.last = (now, messages, bytes);
    }

    /// Removes the line.
    pub(crate) fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Latency {
    /// What was timed, e.g. "send round trip".
    pub(crate) measures: &'static str,
    /// Samples.
    pub(crate) count: u64,
    /// Minimum.
    pub(crate) min_us: u64,
    /// Mean.
    pub(crate) mean_us: f64,
    /// Median.
    pub(crate) p50_us: u64,
    /// 90th percentile.
    pub(crate) p90_us: u64,
    /// 99th percentile.
    pub(crate) p99_us: u64,
    /// 99.9th percentile.
    pub(crate) p999_us: u64,
    /// Maximum.
    pub(crate) max_us: u64,
}

impl Latency {
    /// The percentiles of `histogram`.
    pub(crate) fn of(measures: &'static str, histogram: &Histogram<u64>) -> Self {
        let empty = histogram.is_empty();
        let at = |q: f64| {
            if empty {
                0
            } else {
                histogram.value_at_quantile(q)
            }
        };
        Self {
            measures,
            count: histogram.len(),
            min_us: if empty { 0 } else { histogram.min() },
            mean_us: if empty { 0.0 } else { histogram.mean() },
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: if empty { 0 } else { histogram.max() },
        }
    }
}

/// The final report; `--json` prints it as one object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// `produce`, `consume` or `e2e`.
    pub(crate) mode: &'static str,
    /// The topic.
    pub(crate) topic: String,
    /// `--threads`.
    pub(crate) threads: usize,
    /// `--inflight` (requests in flight per thread; 0 for consume).
    pub(crate) inflight: usize,
    /// Body size in bytes.
    pub(crate) size: usize,
    /// The topic's write queues.
    pub(crate) queues: u32,
    /// Measured wall time.
    pub(crate) seconds: f64,
    /// Messages sent (produce) or received (consume, e2e).
    pub(crate) messages: u64,
    /// Their body bytes.
    pub(crate) bytes: u64,
    /// Sends that failed.
    pub(crate) failed: u64,
    /// Messages per second.
    pub(crate) msgs_per_sec: f64,
    /// Body megabytes (10^6 bytes) per second.
    pub(crate) mb_per_sec: f64,
    /// Latency percentiles.
    pub(crate) latency: Latency,
    /// For e2e: the producing side's send latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) send_latency: Option<Latency>,
}

impl Report {
    /// Fills rates from the counts and the elapsed time.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        mode: &'static str,
        settings: &super::Settings,
        seconds: f64,
        counters: &Counters,
        latency: Latency,
    ) -> Self {
        let messages = counters.messages.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let seconds = seconds.max(1e-9);
        Self {
            mode,
            topic: settings.topic.clone(),
            threads: settings.threads,
            inflight: settings.inflight,
            size: settings.size,
            queues: settings.queues,
            seconds,
            messages,
            bytes,
            failed: counters.failed.load(Ordering::Relaxed),
            msgs_per_sec: messages as f64 / seconds,
            mb_per_sec: bytes as f64 / seconds / 1e6,
            latency,
            send_latency: None,
        }
    }

    /// The report for people.
    pub(crate) fn text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "bench {}: topic {} ({} queues), {} threads x {} in flight, {} B bodies",
            self.mode, self.topic, self.queues, self.threads, self.inflight, self.size
        );
        let _ = writeln!(
            text,
            "  {} messages in {:.2} s ({} failed): {:.0} msg/s, {:.2} MB/s",
            self.messages, self.seconds, self.failed, self.msgs_per_sec, self.mb_per_sec
        );
        for latency in std::iter::once(&self.latency).chain(self.send_latency.as_ref()) {
            let ms = |us: u64| us as f64 / 1000.0;
            let _ = writeln!(
                text,
                "  {} latency (ms): min {:.3}  mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  \
                 p99.9 {:.3}  max {:.3}",
                latency.measures,
                ms(latency.min_us),
                latency.mean_us / 1000.0,
                ms(latency.p50_us),
                ms(latency.p90_us),
                ms(latency.p99_us),
                ms(latency.p999_us),
                ms(latency.max_us)
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut histogram = new_histogram();
        for us in 1..=1000u64 {
            record(&mut histogram, Duration::from_micros(us));
        }
        record(&mut histogram, Duration::from_secs(100_000));
        let latency = Latency::of("send round trip", &histogram);
        assert_eq!(latency.count, 1001);
        assert_eq!(latency.min_us, 1);
        assert!((499..=501).contains(&latency.p50_us), "{latency:?}");
        assert!((989..=991).contains(&latency.p99_us), "{latency:?}");
        assert!(latency.max_us >= MAX_LATENCY_US, "{latency:?}");
    }

    #[test]
    fn an_empty_histogram_reports_zeros() {
        let latency = Latency::of("x", &new_histogram());
        assert_eq!(latency.count, 0);
        assert_eq!(latency.p99_us, 0);
    }

    #[test]
    fn rates_and_text() {
        let counters = Counters::default();
        for _ in 0..10 {
            counters.add(1000);
        }
        let settings = super::super::Settings {
            topic: "T".into(),
            threads: 2,
            inflight: 4,
            size: 1000,
            queues: 8,
        };
        let report = Report::new(
            "produce",
            &settings,
            2.0,
            &counters,
            Latency::of("send round trip", &new_histogram()),
        );
        assert_eq!(report.msgs_per_sec, 5.0);
        assert_eq!(report.mb_per_sec, 0.005);
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["messages"], 10);
        assert_eq!(json["latency"]["p99_us"], 0);
        assert!(json.get("send_latency").is_none());
        assert!(report.text().contains("5 msg/s"), "{}", report.text());
    }
}
