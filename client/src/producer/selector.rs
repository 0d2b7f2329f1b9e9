//! Queue selectors for ordered sends (Java's `MessageQueueSelector`):
//! messages that select the same queue are stored, and consumed, in order.

use skylark_protocol::body::MessageQueue;
use skylark_protocol::message::{Message, java_string_hash};

/// Picks the queue of a send among the topic's writable queues.
pub trait MessageQueueSelector: Send + Sync {
    /// The index into `queues` (never empty) for `msg`; an index out of
    /// range fails the send.
    fn select(&self, queues: &[MessageQueue], msg: &Message) -> usize;
}

impl<F> MessageQueueSelector for F
where
    F: Fn(&[MessageQueue], &Message) -> usize + Send + Sync,
{
    fn select(&self, queues: &[MessageQueue], msg: &Message) -> usize {
        self(queues, msg)
    }
}

/// Java's `SelectMessageQueueByHash` with a string argument: the queue at
/// `|hashCode(key) % n|`, so a Java and a Rust producer put one sharding key
/// on the same queue.
#[derive(Debug, Clone)]
pub struct SelectByHash<'k> {
    key: &'k str,
}

impl<'k> SelectByHash<'k> {
    /// Selects by the hash of `key`.
    pub fn new(key: &'k str) -> Self {
        Self { key }
    }
}

impl MessageQueueSelector for SelectByHash<'_> {
    fn select(&self, queues: &[MessageQueue], _msg: &Message) -> usize {
        hash_index(self.key, queues.len())
    }
}

/// `|java_hash(key) % n|`, Java's arithmetic (remainder first, then the
/// absolute value); 0 for `n == 0`.
pub fn hash_index(key: &str, n: usize) -> usize {
    let Ok(n) = i32::try_from(n) else { return 0 };
    if n == 0 {
        return 0;
    }
    (java_string_hash(key) % n).unsigned_abs() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    #[test]
    fn same_key_same_queue() {
        let qs = queues(8);
        let m = Message::new("T", &b"x"[..]);
        let a = SelectByHash::new("order-42").select(&qs, &m);
        for _ in 0..10 {
            assert_eq!(SelectByHash::new("order-42").select(&qs, &m), a);
        }
        assert!(a < 8);
    }

    #[test]
    fn matches_java_arithmetic() {
        // "Aa".hashCode() == 2112, "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(hash_index("Aa", 5), 2112 % 5);
        assert_eq!(
            hash_index("polygenelubricants", 7),
            (i32::MIN % 7).unsigned_abs() as usize
        );
        assert_eq!(hash_index("", 3), 0);
        assert_eq!(hash_index("x", 0), 0);
        // A negative hash: Java takes |h % n|.
        let h = java_string_hash("negative-hash-key?");
        assert_eq!(
            hash_index("negative-hash-key?", 6),
            (h % 6).unsigned_abs() as usize
        );
    }

    #[test]
    fn closures_are_selectors() {
        let pick_last = |qs: &[MessageQueue], _: &Message| qs.len() - 1;
        assert_eq!(pick_last.select(&queues(3), &Message::default()), 2);
    }
}
