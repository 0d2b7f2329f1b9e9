//! [`BrokerMetrics`]: the broker's Prometheus metrics — traffic counters
//! bumped on the send/pull paths, the send latency histogram, and gauges
//! read from the store, the long-poll service and the servers at scrape time.
//!
//! Per-topic and per-(topic, group) counters are our own children, each
//! registered with its labels as const labels, rather than children of a
//! `prometheus` `*Vec`: the vec keys children by an FNV hash of the label
//! values written back to back with no separator, so `("ab", "c")` and
//! `("a", "bc")` would share one counter. The cache is looked up by `&str`,
//! so a send or pull of a known topic/group allocates nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use skylark_remoting::ServerStats;
use skylark_store::retention::{DiskUsage, StatvfsUsage};

use crate::broker::Broker;

/// Content type of [`BrokerMetrics::render`]'s output.
pub(crate) const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Upper bounds of the send latency buckets, in seconds: 50 µs to 5 s.
const SEND_LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// The broker's metrics and the registry they are exported from.
pub(crate) struct BrokerMetrics {
    registry: Registry,
    /// Per-topic traffic, created on a topic's first send or pull.
    topics: RwLock<HashMap<String, TopicTraffic>>,
    send_store_latency: Histogram,
    send_responses: IntCounterVec,
    pulls_suspended: IntGauge,
    long_poll_wakeups: IntCounter,
    connections: IntGauge,
    disk_used_ratio: Gauge,
    disk_full: IntGauge,
    commit_log_max_offset: IntGauge,
    dispatch_behind_bytes: IntGauge,
    /// Messages sent back for a later retry, by consumer group.
    retry_messages: IntCounterVec,
    /// Messages put into a dead-letter topic, by consumer group.
    dlq_messages: IntCounterVec,
    /// Delayed messages not yet delivered, by delay level (set at scrape time).
    schedule_pending: prometheus::IntGaugeVec,
    /// Timer messages not yet delivered (set at scrape time).
    timer_pending: IntGauge,
    /// Transactional half messages not yet resolved.
    transaction_halves_pending: IntGauge,
    /// CHECK_TRANSACTION_STATE requests sent.
    transaction_checks: IntCounter,
    /// Half messages discarded after too many checks.
    transaction_discards: IntCounter,
    /// Serialises scrapes: the scrape-time values are set, then gathered.
    render_lock: Mutex<()>,
}

impl std::fmt::Debug for BrokerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("BrokerMetrics")
            .field("topics", &topics.len())
            .finish_non_exhaustive()
    }
}

/// One topic's counters.
struct TopicTraffic {
    messages_in: IntCounter,
    bytes_in: IntCounter,
    /// By consumer group.
    groups: RwLock<HashMap<String, GroupTraffic>>,
}

/// One (topic, group)'s pull counters.
struct GroupTraffic {
    messages_out: IntCounter,
    bytes_out: IntCounter,
}

/// Values read at scrape time from the parts of the broker that keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ScrapeValues {
    /// Pulls suspended by long polling right now.
    pub(crate) pulls_suspended: u64,
    /// Suspended pulls woken by an arrival since start.
    pub(crate) long_poll_wakeups: u64,
    /// Open client connections over all remoting ports.
    pub(crate) connections: u64,
    /// Used fraction of the CommitLog's partition; `None` when it cannot be measured.
    pub(crate) disk_used_ratio: Option<f64>,
    /// Whether the store refuses puts for lack of disk space.
    pub(crate) disk_full: bool,
    /// Next CommitLog offset to be written.
    pub(crate) commit_log_max_offset: i64,
    /// CommitLog bytes not yet dispatched to the ConsumeQueues and index.
    pub(crate) dispatch_behind_bytes: i64,
}

impl ScrapeValues {
    /// Reads them from `broker` and the remoting servers' `stats`; one
    /// `statvfs(2)` call, so run it off the async workers.
    pub(crate) fn read(broker: &Broker, stats: &[Arc<ServerStats>]) -> Self {
        let store = &broker.store;
        let commit_log_dir = store.config().commit_log_dir();
        let disk_used_ratio = match StatvfsUsage.used_ratio(&commit_log_dir) {
            Ok(ratio) => Some(ratio),
            Err(error) => {
                tracing::debug!(path = %commit_log_dir.display(), %error, "cannot measure disk usage");
                None
            }
        };
        Self {
            pulls_suspended: broker.pull_holds.suspended(),
            long_poll_wakeups: broker.pull_holds.wakeups(),
            connections: stats.iter().map(|s| s.live_connections()).sum(),
            disk_used_ratio,
            disk_full: store.disk_state().is_full(),
            commit_log_max_offset: store.commit_log_max_offset(),
            dispatch_behind_bytes: store.dispatch_behind_bytes(),
        }
    }
}

impl BrokerMetrics {
    /// Empty metrics in a fresh registry.
    pub(crate) fn new() -> Self {
        let registry = Registry::new();
        let send_store_latency = Histogram::with_opts(
            HistogramOpts::new(
                "skylark_send_store_latency_seconds",
                "Time from a send request's arrival to its store completion, including the \
                 flush wait under SYNC_FLUSH",
            )
            .buckets(SEND_LATENCY_BUCKETS.to_vec()),
        )
        .expect("static histogram options are valid");
        let send_responses = IntCounterVec::new(
            Opts::new(
                "skylark_send_responses_total",
                "Send responses by RocketMQ response code",
            ),
            &["code"],
        )
        .expect("static counter options are valid");
        let metrics = Self {
            topics: RwLock::default(),
            send_store_latency,
            send_responses,
            pulls_suspended: int_gauge(
                "skylark_pulls_suspended",
                "Pulls suspended by long polling right now",
            ),
            long_poll_wakeups: IntCounter::new(
                "skylark_long_poll_wakeups_total",
                "Suspended pulls woken by a message arrival",
            )
            .expect("static counter options are valid"),
            connections: int_gauge(
                "skylark_connections",
                "Open client connections over all remoting ports",
            ),
            disk_used_ratio: Gauge::new(
                "skylark_disk_used_ratio",
                "Used fraction of the CommitLog's partition, rounded up to a whole percent \
                 (NaN when it cannot be measured)",
            )
            .expect("static gauge options are valid"),
            disk_full: int_gauge(
                "skylark_disk_full",
                "1 while the store refuses sends for lack of disk space",
            ),
            commit_log_max_offset: int_gauge(
                "skylark_commitlog_max_offset",
                "Next CommitLog offset to be written",
            ),
            dispatch_behind_bytes: int_gauge(
                "skylark_dispatch_behind_bytes",
                "CommitLog bytes not yet dispatched to the ConsumeQueues and index",
            ),
            retry_messages: by_group(
                "skylark_retry_messages_total",
                "Messages sent back by consumers for a later retry (into %RETRY%<group>)",
            ),
            dlq_messages: by_group(
                "skylark_dlq_messages_total",
                "Messages put into a dead-letter topic (%DLQ%<group>)",
            ),
            schedule_pending: prometheus::IntGaugeVec::new(
                Opts::new(
                    "skylark_schedule_pending",
                    "Delayed messages waiting in a delay level's queue of SCHEDULE_TOPIC_XXXX",
                ),
                &["level"],
            )
            .expect("static gauge options are valid"),
            timer_pending: int_gauge(
                "skylark_timer_messages_pending",
                "Timer messages (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS) stored in \
                 rmq_sys_wheel_timer and not yet delivered to their topic",
            ),
            transaction_halves_pending: int_gauge(
                "skylark_transaction_halves_pending",
                "Transactional half messages neither committed, rolled back nor discarded \
                 (recounted at every transaction check)",
            ),
            transaction_checks: IntCounter::new(
                "skylark_transaction_checks_total",
                "CHECK_TRANSACTION_STATE requests sent to producers",
            )
            .expect("static counter options are valid"),
            transaction_discards: IntCounter::new(
                "skylark_transaction_discards_total",
                "Half messages discarded into TRANS_CHECK_MAX_TIME_TOPIC after transactionCheckMax checks",
            )
            .expect("static counter options are valid"),
            render_lock: Mutex::new(()),
            registry,
        };
        let fixed: [Box<dyn Collector>; 9] = [
            Box::new(metrics.send_store_latency.clone()),
            Box::new(metrics.send_responses.clone()),
            Box::new(metrics.pulls_suspended.clone()),
            Box::new(metrics.long_poll_wakeups.clone()),
            Box::new(metrics.connections.clone()),
            Box::new(metrics.disk_used_ratio.clone()),
            Box::new(metrics.disk_full.clone()),
            Box::new(metrics.commit_log_max_offset.clone()),
            Box::new(metrics.dispatch_behind_bytes.clone()),
        ];
        for collector in fixed {
            metrics.register(collector);
        }
        let retries: [Box<dyn Collector>; 4] = [
            Box::new(metrics.retry_messages.clone()),
            Box::new(metrics.dlq_messages.clone()),
            Box::new(metrics.schedule_pending.clone()),
            Box::new(metrics.timer_pending.clone()),
        ];
        for collector in retries {
            metrics.register(collector);
        }
        let transactions: [Box<dyn Collector>; 3] = [
            Box::new(metrics.transaction_halves_pending.clone()),
            Box::new(metrics.transaction_checks.clone()),
            Box::new(metrics.transaction_discards.clone()),
        ];
        for collector in transactions {
            metrics.register(collector);
        }
        metrics
    }

    /// Counts `messages` stored messages of `bytes` bytes sent to `topic`.
    pub(crate) fn record_put(&self, topic: &str, messages: u64, bytes: u64) {
        self.with_topic(topic, |traffic| {
            traffic.messages_in.inc_by(messages);
            traffic.bytes_in.inc_by(bytes);
        });
    }

    /// Counts `messages` messages of `bytes` bytes pulled from `topic` by `group`.
    pub(crate) fn record_pull(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        self.with_topic(topic, |traffic| {
            let count = |g: &GroupTraffic| {
                g.messages_out.inc_by(messages);
                g.bytes_out.inc_by(bytes);
            };
            if let Some(g) = traffic
                .groups
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(group)
            {
                return count(g);
            }
            let mut groups = traffic
                .groups
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            count(
                groups
                    .entry(group.to_owned())
                    .or_insert_with(|| self.group_traffic(topic, group)),
            );
        });
    }

    /// Records how long a send took from arrival to store completion.
    pub(crate) fn observe_put(&self, elapsed: Duration) {
        self.send_store_latency.observe(elapsed.as_secs_f64());
    }

    /// Counts a send answered with response `code`.
    pub(crate) fn record_send_response(&self, code: i32) {
        let mut buf = itoa::Buffer::new();
        // One label, so the vec's separator-less hash cannot mix children up.
        if let Ok(counter) = self
            .send_responses
            .get_metric_with_label_values(&[buf.format(code)])
        {
            counter.inc();
        }
    }

    /// Counts a message sent back for a retry by `group`.
    pub(crate) fn record_retry(&self, group: &str) {
        if let Ok(counter) = self.retry_messages.get_metric_with_label_values(&[group]) {
            counter.inc();
        }
    }

    /// Counts a message of `group` put into its dead-letter topic.
    pub(crate) fn record_dlq(&self, group: &str) {
        if let Ok(counter) = self.dlq_messages.get_metric_with_label_values(&[group]) {
            counter.inc();
        }
    }

    /// Sets the delayed messages waiting per level: `(level, pending)`.
    pub(crate) fn set_schedule_pending(&self, pending: &[(i32, i64)]) {
        let mut buf = itoa::Buffer::new();
        for &(level, waiting) in pending {
            if let Ok(gauge) = self
                .schedule_pending
                .get_metric_with_label_values(&[buf.format(level)])
            {
                gauge.set(waiting);
            }
        }
    }

    /// Sets the timer messages not yet delivered.
    pub(crate) fn set_timer_pending(&self, pending: i64) {
        self.timer_pending.set(pending);
    }

    /// Counts a half message stored by a send.
    pub(crate) fn transaction_half_stored(&self) {
        self.transaction_halves_pending.inc();
    }

    /// Counts a half message committed, rolled back or discarded (never
    /// below 0: after a restart the gauge starts at 0 until the first check).
    pub(crate) fn transaction_half_resolved(&self) {
        if self.transaction_halves_pending.get() > 0 {
            self.transaction_halves_pending.dec();
        }
    }

    /// Sets the pending half messages to what a check pass counted.
    pub(crate) fn set_transaction_halves_pending(&self, pending: i64) {
        self.transaction_halves_pending.set(pending);
    }

    /// Counts a CHECK_TRANSACTION_STATE sent.
    pub(crate) fn record_transaction_check(&self) {
        self.transaction_checks.inc();
    }

    /// Counts a half message discarded after too many checks.
    pub(crate) fn record_transaction_discard(&self) {
        self.transaction_discards.inc();
    }

    /// Every metric in the Prometheus text format, with the scrape-time
    /// gauges set from `values`.
    pub(crate) fn render(&self, values: &ScrapeValues) -> String {
        let _scrape = self
            .render_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.pulls_suspended
            .set(saturating_i64(values.pulls_suspended));
        // A counter only goes up: add what the source counted since the last scrape.
        let seen = self.long_poll_wakeups.get();
        self.long_poll_wakeups
            .inc_by(values.long_poll_wakeups.saturating_sub(seen));
        self.connections.set(saturating_i64(values.connections));
        self.disk_used_ratio
            .set(values.disk_used_ratio.unwrap_or(f64::NAN));
        self.disk_full.set(i64::from(values.disk_full));
        self.commit_log_max_offset.set(values.commit_log_max_offset);
        self.dispatch_behind_bytes.set(values.dispatch_behind_bytes);
        let families = self.registry.gather();
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&families, &mut text) {
            // Only an inconsistent family fails; serve what was encoded.
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Runs `f` on `topic`'s counters, creating them on first use.
    fn with_topic(&self, topic: &str, f: impl FnOnce(&TopicTraffic)) {
        if let Some(traffic) = self
            .topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
        {
            return f(traffic);
        }
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        f(topics
            .entry(topic.to_owned())
            .or_insert_with(|| self.topic_traffic(topic)));
    }

    fn topic_traffic(&self, topic: &str) -> TopicTraffic {
        let labels = [("topic", topic)];
        TopicTraffic {
            messages_in: self.counter(
                "skylark_messages_in_total",
                "Messages stored from sends",
                &labels,
            ),
            bytes_in: self.counter(
                "skylark_bytes_in_total",
                "Body bytes of messages stored from sends",
                &labels,
            ),
            groups: RwLock::default(),
        }
    }

    fn group_traffic(&self, topic: &str, group: &str) -> GroupTraffic {
        let labels = [("topic", topic), ("group", group)];
        GroupTraffic {
            messages_out: self.counter(
                "skylark_messages_out_total",
                "Messages returned to pulls",
                &labels,
            ),
            bytes_out: self.counter(
                "skylark_bytes_out_total",
                "Body bytes of messages returned to pulls",
                &labels,
            ),
        }
    }

    /// A registered counter whose labels are `labels`.
    fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> IntCounter {
        let opts = labels
            .iter()
            .fold(Opts::new(name, help), |opts, &(label, value)| {
                opts.const_label(label, value)
            });
        // Only names are validated, and these are static: label values may be anything.
        let counter = IntCounter::with_opts(opts).expect("static counter options are valid");
        self.register(Box::new(counter.clone()));
        counter
    }

    fn register(&self, collector: Box<dyn Collector>) {
        if let Err(error) = self.registry.register(collector) {
            // Only a 64-bit hash collision of two label sets gets here: the
            // metric still counts, it is just not exported.
            tracing::warn!(%error, "metric not exported");
        }
    }
}

impl Broker {
    /// Every metric in the Prometheus text format, the scrape-time values
    /// read now from the broker and the remoting servers' `stats`.
    pub(crate) fn render_metrics(&self, stats: &[Arc<ServerStats>]) -> String {
        self.metrics
            .set_schedule_pending(&self.schedule.pending(&self.store));
        self.metrics
            .set_timer_pending(self.timer.pending(&self.store));
        let mut text = self.metrics.render(&ScrapeValues::read(self, stats));
        text.push_str(&self.ha.render_metrics());
        text
    }
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A counter by `group` (one label: the vec's hash cannot mix children up).
fn by_group(name: &str, help: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &["group"]).expect("static counter options are valid")
}

fn int_gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("static gauge options are valid")
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
