//! Latency fault tolerance (Java's `MQFaultStrategy` and
//! `LatencyFaultToleranceImpl`): after a send to a broker failed or was
//! slow, that broker is avoided for a back-off period that grows with the
//! latency, and queue selection round-robins over the others.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::body::MessageQueue;

use crate::route::TopicRoute;

/// Java's `latencyMax`, ms: a send at least this slow…
pub const DEFAULT_LATENCY_MAX: [u64; 7] = [50, 100, 550, 1000, 2000, 3000, 15000];
/// …makes its broker unavailable this long, ms (`notAvailableDuration`).
pub const DEFAULT_NOT_AVAILABLE: [u64; 7] = [0, 0, 30000, 60000, 120000, 180000, 600000];
/// The latency a failed send counts as (Java's isolation value), ms.
pub const ISOLATION_LATENCY_MS: u64 = 30_000;

/// Settings of the fault strategy.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Whether brokers are avoided after failures (`sendLatencyFaultEnable`).
    /// On by default here; Java's default is off, where only the broker of
    /// the previous failed attempt is avoided on a retry.
    pub enabled: bool,
    /// Latency thresholds, ms, ascending.
    pub latency_max: Vec<u64>,
    /// Back-off of each threshold, ms.
    pub not_available_duration: Vec<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            latency_max: DEFAULT_LATENCY_MAX.to_vec(),
            not_available_duration: DEFAULT_NOT_AVAILABLE.to_vec(),
        }
    }
}

/// One broker's last latency and when it may be used again.
#[derive(Debug, Clone, Copy)]
struct FaultItem {
    latency_ms: u64,
    available_at: Instant,
}

/// Per-broker back-off state and the queue selection that honours it.
#[derive(Debug)]
pub struct LatencyFaultTolerance {
    config: FaultConfig,
    items: Mutex<HashMap<String, FaultItem>>,
}

impl LatencyFaultTolerance {
    /// A strategy with `config`.
    pub fn new(config: FaultConfig) -> Self {
        Self {
            config,
            items: Mutex::default(),
        }
    }

    /// Whether brokers are avoided after failures.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The back-off for a send that took `latency_ms`
    /// (`computeNotAvailableDuration`): the duration of the highest
    /// threshold reached.
    pub fn not_available_duration(&self, latency_ms: u64) -> Duration {
        let max = &self.config.latency_max;
        let dur = &self.config.not_available_duration;
        (0..max.len().min(dur.len()))
            .rev()
            .find(|&i| latency_ms >= max[i])
            .map_or(Duration::ZERO, |i| Duration::from_millis(dur[i]))
    }

    /// Records a send to `broker` that took `latency_ms`; `isolation`
    /// (the send failed) counts as [`ISOLATION_LATENCY_MS`].
    pub fn update(&self, broker: &str, latency_ms: u64, isolation: bool) {
        self.update_at(broker, latency_ms, isolation, Instant::now());
    }

    fn update_at(&self, broker: &str, latency_ms: u64, isolation: bool, now: Instant) {
        if !self.config.enabled {
            return;
        }
        let latency = if isolation {
            ISOLATION_LATENCY_MS
        } else {
            latency_ms
        };
        let item = FaultItem {
            latency_ms: latency,
            available_at: now + self.not_available_duration(latency),
        };
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        // Lookup by &str: the key is allocated once per broker, not per send.
        match items.get_mut(broker) {
            Some(slot) => *slot = item,
            None => {
                items.insert(broker.to_owned(), item);
            }
        }
    }

    /// Whether `broker` may be used now.
    pub fn is_available(&self, broker: &str) -> bool {
        self.is_available_at(broker, Instant::now())
    }

    fn is_available_at(&self, broker: &str, now: Instant) -> bool {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(broker)
            .is_none_or(|i| now >= i.available_at)
    }

    /// Forgets `broker`'s state.
    pub fn remove(&self, broker: &str) {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(broker);
    }

    /// The queue for the next send to `route`, `last_broker` being the
    /// broker of the previous failed attempt of the same send.
    pub fn select<'r>(
        &self,
        route: &'r TopicRoute,
        last_broker: Option<&str>,
    ) -> Option<&'r MessageQueue> {
        self.select_at(route, last_broker, Instant::now())
    }

    fn select_at<'r>(
        &self,
        route: &'r TopicRoute,
        last_broker: Option<&str>,
        now: Instant,
    ) -> Option<&'r MessageQueue> {
        let queues = &route.write_queues;
        let n = queues.len();
        if n == 0 {
            return None;
        }
        let index = route.next_index() as usize;
        let at = |i: usize| &queues[index.wrapping_add(i) % n];
        if self.config.enabled {
            // A queue of an available broker other than the last one tried,
            // then of any available broker.
            if let Some(q) = (0..n).map(at).find(|q| {
                Some(q.broker_name.as_str()) != last_broker
                    && self.is_available_at(&q.broker_name, now)
            }) {
                return Some(q);
            }
            if let Some(q) = (0..n)
                .map(at)
                .find(|q| self.is_available_at(&q.broker_name, now))
            {
                return Some(q);
            }
            // Every broker is backing off: the one that recovers first.
            if let Some(best) = self.least_bad(queues) {
                return (0..n).map(at).find(|q| q.broker_name == best);
            }
            return Some(at(0));
        }
        match last_broker {
            None => Some(at(0)),
            Some(last) => Some(
                (0..n)
                    .map(at)
                    .find(|q| q.broker_name != last)
                    .unwrap_or_else(|| at(0)),
            ),
        }
    }

    /// Of the brokers of `queues`, the one whose back-off ends first.
    fn least_bad(&self, queues: &[MessageQueue]) -> Option<String> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        queues
            .iter()
            .filter_map(|q| items.get(&q.broker_name).map(|i| (i, &q.broker_name)))
            .min_by_key(|(i, _)| (i.available_at, i.latency_ms))
            .map(|(_, b)| b.clone())
    }
}

#[cfg(test)]
mod tests {
    use skylark_protocol::body::{BrokerData, QueueData, TopicRouteData};

    use super::*;

    fn route(brokers: &[(&str, i32)]) -> TopicRoute {
        let data = TopicRouteData {
            broker_datas: brokers
                .iter()
                .map(|(b, _)| BrokerData {
                    broker_addrs: [(0, format!("{b}:1"))].into(),
                    broker_name: (*b).into(),
                    ..Default::default()
                })
                .collect(),
            queue_datas: brokers
                .iter()
                .map(|(b, n)| QueueData {
                    broker_name: (*b).into(),
                    perm: 6,
                    read_queue_nums: *n,
                    write_queue_nums: *n,
                    topic_sys_flag: 0,
                })
                .collect(),
            ..Default::default()
        };
        TopicRoute::new("T", data)
    }

    fn name(q: &MessageQueue) -> String {
        format!("{}{}", q.broker_name, q.queue_id)
    }

    #[test]
    fn round_robin_over_all_queues() {
        let r = route(&[("a", 2), ("b", 2)]);
        let f = LatencyFaultTolerance::new(FaultConfig::default());
        let picks: Vec<_> = (0..8).map(|_| name(f.select(&r, None).unwrap())).collect();
        // Consecutive sends walk the list one step at a time, wrapping.
        let all = ["a0", "a1", "b0", "b1"];
        let start = all.iter().position(|q| *q == picks[0]).unwrap();
        for (i, p) in picks.iter().enumerate() {
            assert_eq!(p, all[(start + i) % 4]);
        }
    }

    #[test]
    fn durations_follow_the_tables() {
        let f = LatencyFaultTolerance::new(FaultConfig::default());
        assert_eq!(f.not_available_duration(10), Duration::ZERO);
        assert_eq!(f.not_available_duration(100), Duration::ZERO);
        assert_eq!(f.not_available_duration(550), Duration::from_secs(30));
        assert_eq!(f.not_available_duration(2500), Duration::from_secs(120));
        assert_eq!(
            f.not_available_duration(ISOLATION_LATENCY_MS),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn failed_broker_is_avoided_until_its_back_off_ends() {
        let r = route(&[("a", 2), ("b", 2)]);
        let f = LatencyFaultTolerance::new(FaultConfig::default());
        let now = Instant::now();
        f.update_at("a", 0, true, now);
        for _ in 0..10 {
            assert_eq!(f.select_at(&r, None, now).unwrap().broker_name, "b");
        }
        // A slow (600 ms) but successful send of b: 30 s back-off for b too.
        f.update_at("b", 600, false, now);
        // Both backing off: b recovers first (30 s against a's 600 s).
        assert_eq!(f.select_at(&r, None, now).unwrap().broker_name, "b");
        let later = now + Duration::from_secs(31);
        assert!(f.is_available_at("b", later));
        assert!(!f.is_available_at("a", later));
        assert_eq!(f.select_at(&r, None, later).unwrap().broker_name, "b");
        let much_later = now + Duration::from_secs(601);
        let mut seen: Vec<_> = (0..4)
            .map(|_| {
                f.select_at(&r, None, much_later)
                    .unwrap()
                    .broker_name
                    .clone()
            })
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ["a", "b"]);
    }

    #[test]
    fn retry_prefers_another_broker() {
        let r = route(&[("a", 1), ("b", 1)]);
        for enabled in [true, false] {
            let f = LatencyFaultTolerance::new(FaultConfig {
                enabled,
                ..Default::default()
            });
            for _ in 0..5 {
                assert_eq!(f.select(&r, Some("a")).unwrap().broker_name, "b");
                assert_eq!(f.select(&r, Some("b")).unwrap().broker_name, "a");
            }
            // One broker only: the same broker again.
            let single = route(&[("a", 2)]);
            assert_eq!(f.select(&single, Some("a")).unwrap().broker_name, "a");
        }
    }

    #[test]
    fn disabled_records_nothing() {
        let f = LatencyFaultTolerance::new(FaultConfig {
            enabled: false,
            ..Default::default()
        });
        f.update("a", 0, true);
        assert!(f.is_available("a"));
        assert!(f.select(&route(&[]), None).is_none());
    }
}
