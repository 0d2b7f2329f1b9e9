//! [`TopicRoute`]: a topic's route as the nameserver gave it, with the
//! queue lists producers and consumers derive from it (Java's
//! `topicRouteData2TopicPublishInfo` and `topicRouteData2TopicSubscribeInfo`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use skylark_protocol::body::{BrokerData, MessageQueue, TopicRouteData};
use skylark_protocol::message::PermName;

/// One topic's route and its queues. Shared behind an `Arc`; replaced whole
/// when the nameserver's answer changes, kept (with its send index) when not.
#[derive(Debug)]
pub struct TopicRoute {
    /// The topic.
    pub topic: String,
    /// The nameserver's route data.
    pub data: TopicRouteData,
    /// Queues a producer may write, in route order (broker by broker).
    pub write_queues: Vec<MessageQueue>,
    /// Queues a consumer may read.
    pub read_queues: Vec<MessageQueue>,
    /// Whether this route is the default topic's (`TBW102`) stand-in for a
    /// topic the nameserver does not know yet (the broker creates it on send).
    pub from_default_topic: bool,
    /// The round-robin position of sends (`sendWhichQueue`).
    send_index: AtomicU32,
}

impl TopicRoute {
    /// The route of `topic` from `data`.
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let write_queues = publish_queues(topic, &data);
        let read_queues = subscribe_queues(topic, &data);
        Self {
            topic: topic.to_owned(),
            data,
            write_queues,
            read_queues,
            from_default_topic: false,
            send_index: AtomicU32::new(initial_index()),
        }
    }

    /// A stand-in route for `topic` made from the default topic's route:
    /// the default topic's inheritable queues, at most `queue_nums` per
    /// broker, as Java's producer does before the topic exists.
    pub fn from_default(topic: &str, mut default: TopicRouteData, queue_nums: i32) -> Self {
        default
            .queue_datas
            .retain(|q| PermName::is_inherited(q.perm));
        for q in &mut default.queue_datas {
            let n = queue_nums.min(q.read_queue_nums).min(q.write_queue_nums);
            q.read_queue_nums = n;
            q.write_queue_nums = n;
        }
        let mut route = Self::new(topic, default);
        route.from_default_topic = true;
        route
    }

    /// The next round-robin position: `++index`, as Java's `ThreadLocalIndex`.
    pub fn next_index(&self) -> u32 {
        self.send_index
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// The master address of `broker_name` in this route.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.broker(broker_name).and_then(BrokerData::master_addr)
    }

    /// The broker data of `broker_name`.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData> {
        self.data
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
    }

    /// Whether the nameserver data of two routes is the same.
    pub fn same_data(&self, other: &TopicRouteData) -> bool {
        route_key(&self.data) == route_key(other)
    }
}

/// A route with its lists sorted, so two answers compare equal when they
/// mean the same (the nameserver does not promise an order).
fn route_key(data: &TopicRouteData) -> TopicRouteData {
    let mut d = data.clone();
    d.broker_datas
        .sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    d.queue_datas
        .sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    d
}

/// A random-ish start so that many producers do not all begin on queue 0.
fn initial_index() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos % 1024
}

/// The writable queues of a route: for each queue data (sorted by broker
/// name) with write permission whose broker has a master, queue ids
/// `0..writeQueueNums`. An `orderTopicConf` (`broker:n;…`) overrides.
pub fn publish_queues(topic: &str, data: &TopicRouteData) -> Vec<MessageQueue> {
    if let Some(conf) = data.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
        let mut queues = Vec::new();
        for item in conf.split(';') {
            if let Some((broker, n)) = item.split_once(':')
                && let Ok(n) = n.trim().parse::<i32>()
            {
                queues.extend((0..n).map(|id| MessageQueue::new(topic, broker.trim(), id)));
            }
        }
        return queues;
    }
    let mut qds: Vec<_> = data.queue_datas.iter().collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut queues = Vec::new();
    for qd in qds {
        if !PermName::is_writeable(qd.perm) {
            continue;
        }
        let has_master = data
            .broker_datas
            .iter()
            .any(|b| b.broker_name == qd.broker_name && b.master_addr().is_some());
        if !has_master {
            continue;
        }
        queues.extend(
            (0..qd.write_queue_nums.max(0))
                .map(|id| MessageQueue::new(topic, qd.broker_name.clone(), id)),
        );
    }
    queues
}

/// The readable queues of a route: `0..readQueueNums` of every readable
/// queue data.
pub fn subscribe_queues(topic: &str, data: &TopicRouteData) -> Vec<MessageQueue> {
    let mut queues = Vec::new();
    for qd in &data.queue_datas {
        if PermName::is_readable(qd.perm) {
            queues.extend(
                (0..qd.read_queue_nums.max(0))
                    .map(|id| MessageQueue::new(topic, qd.broker_name.clone(), id)),
            );
        }
    }
    queues
}

/// Broker name → broker id → address, merged from every route seen.
pub type BrokerAddrTable = BTreeMap<String, BTreeMap<i64, String>>;

#[cfg(test)]
mod tests {
    use skylark_protocol::body::QueueData;

    use super::*;

    fn broker(name: &str, addrs: &[(i64, &str)]) -> BrokerData {
        BrokerData {
            broker_addrs: addrs.iter().map(|(i, a)| (*i, (*a).to_owned())).collect(),
            broker_name: name.into(),
            cluster: "c".into(),
            ..Default::default()
        }
    }

    fn queue(name: &str, perm: i32, r: i32, w: i32) -> QueueData {
        QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: r,
            write_queue_nums: w,
            topic_sys_flag: 0,
        }
    }

    #[test]
    fn route_to_queue_lists() {
        let data = TopicRouteData {
            broker_datas: vec![
                broker("b", &[(0, "h:2")]),
                broker("a", &[(0, "h:1")]),
                broker("c", &[(1, "h:3")]),
            ],
            queue_datas: vec![
                queue("b", 6, 2, 3),
                queue("a", 6, 2, 2),
                // no master: not writable by a producer
                queue("c", 6, 1, 1),
                // read-only broker
                queue("d", 4, 1, 1),
            ],
            ..Default::default()
        };
        let route = TopicRoute::new("T", data);
        let w: Vec<_> = route
            .write_queues
            .iter()
            .map(|q| format!("{}{}", q.broker_name, q.queue_id))
            .collect();
        assert_eq!(w, ["a0", "a1", "b0", "b1", "b2"]);
        let r: Vec<_> = route
            .read_queues
            .iter()
            .map(|q| format!("{}{}", q.broker_name, q.queue_id))
            .collect();
        assert_eq!(r, ["b0", "b1", "a0", "a1", "c0", "d0"]);
        assert_eq!(route.master_addr("a"), Some("h:1"));
        assert_eq!(route.master_addr("c"), None);
    }

    #[test]
    fn order_topic_conf_overrides() {
        let data = TopicRouteData {
            order_topic_conf: Some("a:2;b:1".into()),
            ..Default::default()
        };
        let q = publish_queues("T", &data);
        assert_eq!(q.len(), 3);
        assert_eq!(q[2], MessageQueue::new("T", "b", 0));
    }

    #[test]
    fn default_topic_stand_in_caps_queues() {
        let data = TopicRouteData {
            broker_datas: vec![broker("a", &[(0, "h:1")])],
            queue_datas: vec![queue("a", 7, 8, 8)],
            ..Default::default()
        };
        let route = TopicRoute::from_default("New", data.clone(), 4);
        assert!(route.from_default_topic);
        assert_eq!(route.write_queues.len(), 4);
        assert!(route.write_queues.iter().all(|q| q.topic == "New"));
        // Without the inherit bit the default topic gives nothing.
        let mut no_inherit = data;
        no_inherit.queue_datas[0].perm = 6;
        assert!(
            TopicRoute::from_default("New", no_inherit, 4)
                .write_queues
                .is_empty()
        );
    }

    #[test]
    fn index_counts_up_by_one() {
        let route = TopicRoute::new("T", TopicRouteData::default());
        let a = route.next_index();
        assert_eq!(route.next_index(), a.wrapping_add(1));
    }

    #[test]
    fn same_data_ignores_order() {
        let mut d = TopicRouteData {
            broker_datas: vec![broker("a", &[(0, "h:1")]), broker("b", &[(0, "h:2")])],
            ..Default::default()
        };
        let route = TopicRoute::new("T", d.clone());
        d.broker_datas.reverse();
        assert!(route.same_data(&d));
        d.broker_datas.pop();
        assert!(!route.same_data(&d));
    }
}
