//! Queue allocation strategies: which of a topic's queues one member of a
//! consumer group takes, computed by every member from the same sorted
//! lists so that together they cover every queue once (RocketMQ's
//! `AllocateMessageQueueStrategy` family, same results for the same input).

use std::collections::BTreeMap;
use std::fmt;

use skylark_protocol::body::MessageQueue;

/// Why a strategy refused to allocate (Java throws `IllegalArgumentException`
/// for these; a rebalance keeps its current queues then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    /// The current consumer id is empty.
    #[error("the current consumer id is empty")]
    EmptyConsumerId,
    /// The topic has no queues.
    #[error("the topic has no message queues to allocate")]
    NoQueues,
    /// The group has no consumers.
    #[error("the consumer group has no consumer ids")]
    NoConsumers,
}

/// A way to divide a topic's queues among the members of a group.
///
/// Implementations expect `queues` and `consumer_ids` sorted (as RocketMQ's
/// rebalance sorts them before calling); [`allocate_sorted`] sorts first.
pub trait AllocateStrategy: fmt::Debug + Send + Sync {
    /// The strategy's RocketMQ name (`AVG`, `AVG_BY_CIRCLE`, …).
    fn name(&self) -> &'static str;

    /// The queues `current_id` takes out of `queues`, given every member id.
    fn allocate(
        &self,
        consumer_group: &str,
        current_id: &str,
        queues: &[MessageQueue],
        consumer_ids: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError>;
}

/// Sorts copies of `queues` and `consumer_ids` the way RocketMQ's rebalance
/// does (queues by topic, broker, id; ids as strings) and allocates.
pub fn allocate_sorted(
    strategy: &dyn AllocateStrategy,
    consumer_group: &str,
    current_id: &str,
    queues: &[MessageQueue],
    consumer_ids: &[String],
) -> Result<Vec<MessageQueue>, AllocateError> {
    let mut queues = queues.to_vec();
    queues.sort();
    let mut ids = consumer_ids.to_vec();
    ids.sort();
    strategy.allocate(consumer_group, current_id, &queues, &ids)
}

/// The checks every built-in strategy but ByConfig makes: `Ok(Some(index))`
/// of the current id, `Ok(None)` when it is not a member (nothing is
/// allocated then, as in Java, which logs it as a bug).
fn check(
    consumer_group: &str,
    current_id: &str,
    queues: &[MessageQueue],
    consumer_ids: &[String],
) -> Result<Option<usize>, AllocateError> {
    if current_id.is_empty() {
        return Err(AllocateError::EmptyConsumerId);
    }
    if queues.is_empty() {
        return Err(AllocateError::NoQueues);
    }
    if consumer_ids.is_empty() {
        return Err(AllocateError::NoConsumers);
    }
    let index = consumer_ids.iter().position(|id| id == current_id);
    if index.is_none() {
        tracing::info!(
            group = consumer_group,
            consumer = current_id,
            members = ?consumer_ids,
            "consumer id is not among the group's members; it gets no queues"
        );
    }
    Ok(index)
}

/// `AllocateMessageQueueAveragely` (`AVG`), the default: contiguous ranges;
/// the first `queues % consumers` members take one queue more.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocateMessageQueueAveragely;

impl AllocateStrategy for AllocateMessageQueueAveragely {
    fn name(&self) -> &'static str {
        "AVG"
    }

    fn allocate(
        &self,
        consumer_group: &str,
        current_id: &str,
        queues: &[MessageQueue],
        consumer_ids: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        let Some(index) = check(consumer_group, current_id, queues, consumer_ids)? else {
            return Ok(Vec::new());
        };
        let (size, n) = (queues.len(), consumer_ids.len());
        let rem = size % n;
        let average = if size <= n {
            1
        } else if rem > 0 && index < rem {
            size / n + 1
        } else {
            size / n
        };
        let start = if rem > 0 && index < rem {
            index * average
        } else {
            index * average + rem
        };
        // With fewer queues than members, the members past the queues start
        // beyond the end and take nothing.
        let range = average.min(size.saturating_sub(start));
        Ok(queues[start.min(size)..start.min(size) + range].to_vec())
    }
}

/// `AllocateMessageQueueAveragelyByCircle` (`AVG_BY_CIRCLE`): queue `i`
/// goes to member `i % consumers`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocateMessageQueueAveragelyByCircle;

impl AllocateStrategy for AllocateMessageQueueAveragelyByCircle {
    fn name(&self) -> &'static str {
        "AVG_BY_CIRCLE"
    }

    fn allocate(
        &self,
        consumer_group: &str,
        current_id: &str,
        queues: &[MessageQueue],
        consumer_ids: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        let Some(index) = check(consumer_group, current_id, queues, consumer_ids)? else {
            return Ok(Vec::new());
        };
        Ok(queues
            .iter()
            .skip(index)
            .step_by(consumer_ids.len())
            .cloned()
            .collect())
    }
}

/// `AllocateMessageQueueConsistentHash` (`CONSISTENT_HASH`): members are
/// placed on a hash ring with `virtual_nodes` points each (keys `id-0`,
/// `id-1`, …), and a queue goes to the first point at or after the hash of
/// its `MessageQueue [topic=…, brokerName=…, queueId=…]` text, wrapping
/// around. The hash is the first four bytes of the MD5 digest, big-endian,
/// as RocketMQ's `ConsistentHashRouter` computes it, so Java and Rust
/// members of one group agree.
#[derive(Debug, Clone, Copy)]
pub struct AllocateMessageQueueConsistentHash {
    virtual_nodes: usize,
}

impl AllocateMessageQueueConsistentHash {
    /// Java's default number of virtual nodes per member.
    pub const DEFAULT_VIRTUAL_NODES: usize = 10;

    /// A ring with `virtual_nodes` points per member.
    pub fn new(virtual_nodes: usize) -> Self {
        Self { virtual_nodes }
    }

    /// The ring position of `key` (RocketMQ's `MD5Hash`).
    pub fn ring_hash(key: &str) -> u32 {
        let digest = md5::compute(key.as_bytes());
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl Default for AllocateMessageQueueConsistentHash {
    fn default() -> Self {
        Self::new(Self::DEFAULT_VIRTUAL_NODES)
    }
}

impl AllocateStrategy for AllocateMessageQueueConsistentHash {
    fn name(&self) -> &'static str {
        "CONSISTENT_HASH"
    }

    fn allocate(
        &self,
        consumer_group: &str,
        current_id: &str,
        queues: &[MessageQueue],
        consumer_ids: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        if check(consumer_group, current_id, queues, consumer_ids)?.is_none() {
            return Ok(Vec::new());
        }
        // A later point on a taken position replaces the earlier one, as
        // Java's TreeMap.put does; a member listed twice continues its
        // replica numbering from the points it still holds.
        let mut ring: BTreeMap<u32, &str> = BTreeMap::new();
        for id in consumer_ids {
            let existing = ring.values().filter(|owner| **owner == id.as_str()).count();
            for replica in existing..existing + self.virtual_nodes {
                ring.insert(Self::ring_hash(&format!("{id}-{replica}")), id.as_str());
            }
        }
        let Some((_, first)) = ring.first_key_value() else {
            return Ok(Vec::new());
        };
        let first = *first;
        Ok(queues
            .iter()
            .filter(|mq| {
                let hash = Self::ring_hash(&mq.to_string());
                let owner = ring.range(hash..).next().map_or(first, |(_, owner)| *owner);
                owner == current_id
            })
            .cloned()
            .collect())
    }
}

/// `AllocateMessageQueueByConfig` (`CONFIG`): a fixed list of queues,
/// whatever the group looks like.
#[derive(Debug, Clone, Default)]
pub struct AllocateMessageQueueByConfig {
    queues: Vec<MessageQueue>,
}

impl AllocateMessageQueueByConfig {
    /// Always allocates `queues`.
    pub fn new(queues: Vec<MessageQueue>) -> Self {
        Self { queues }
    }
}

impl AllocateStrategy for AllocateMessageQueueByConfig {
    fn name(&self) -> &'static str {
        "CONFIG"
    }

    fn allocate(
        &self,
        _consumer_group: &str,
        _current_id: &str,
        _queues: &[MessageQueue],
        _consumer_ids: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        Ok(self.queues.clone())
    }
}

#[cfg(test)]
mod tests;
