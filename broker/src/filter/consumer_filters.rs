//! Compiled SQL92 selectors of consumer groups by topic and group
//! (`ConsumerFilterManager`): an expression is compiled when a heartbeat or
//! a pull first brings it, kept while it stays the same, and dropped when
//! its group stops subscribing to the topic or goes offline.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use skylark_protocol::body::SubscriptionData;

use super::is_tag_type;
use super::sql92::{ParseError, Selector};

/// A compiled selector, or why its expression does not compile.
pub(crate) type Compiled = Result<Arc<Selector>, ParseError>;

/// The selectors, by topic, then group.
#[derive(Debug, Default)]
pub(crate) struct ConsumerFilters {
    by_topic: RwLock<HashMap<String, HashMap<String, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    expression: String,
    compiled: Compiled,
}

impl ConsumerFilters {
    /// The selector for `group`'s subscription to `topic` with
    /// `expression`: the cached one while the expression is unchanged,
    /// else compiled now and cached (failures too, so a bad expression is
    /// not parsed on every pull).
    pub(crate) fn selector(&self, topic: &str, group: &str, expression: &str) -> Compiled {
        if let Some(entry) = self.read().get(topic).and_then(|groups| groups.get(group))
            && entry.expression == expression
        {
            return entry.compiled.clone();
        }
        // Compiled outside the lock; a concurrent compile of the same
        // expression gives the same result.
        let compiled = Selector::compile(expression).map(Arc::new);
        if let Err(error) = &compiled {
            tracing::warn!(group, topic, %error, "consumer's SQL92 expression does not compile");
        }
        self.write().entry(topic.to_owned()).or_default().insert(
            group.to_owned(),
            Entry {
                expression: expression.to_owned(),
                compiled: compiled.clone(),
            },
        );
        compiled
    }

    /// A heartbeat's subscriptions of `group`: compiles its SQL92
    /// expressions ahead of its pulls and forgets the topics it left.
    pub(crate) fn register(&self, group: &str, subscriptions: &[SubscriptionData]) {
        for sub in subscriptions {
            if !is_tag_type(&sub.expression_type) && !sub.sub_string.is_empty() {
                // A failure is logged and cached; pulls answer it.
                let _ = self.selector(&sub.topic, group, &sub.sub_string);
            }
        }
        let mut by_topic = self.write();
        by_topic.retain(|topic, groups| {
            let kept = subscriptions
                .iter()
                .any(|sub| sub.topic == *topic && !is_tag_type(&sub.expression_type));
            if !kept {
                groups.remove(group);
            }
            !groups.is_empty()
        });
    }

    /// Forgets the selectors of groups `online` says are gone.
    pub(crate) fn retain_groups(&self, online: impl Fn(&str) -> bool) {
        self.write().retain(|_, groups| {
            groups.retain(|group, _| online(group));
            !groups.is_empty()
        });
    }

    /// How many selectors are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.read().values().map(HashMap::len).sum()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, HashMap<String, Entry>>> {
        self.by_topic.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, HashMap<String, Entry>>> {
        self.by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(topic: &str, expression: &str) -> SubscriptionData {
        SubscriptionData {
            topic: topic.into(),
            sub_string: expression.into(),
            expression_type: SubscriptionData::EXPRESSION_SQL92.into(),
            ..SubscriptionData::default()
        }
    }

    #[test]
    fn compiles_once_per_expression() {
        let filters = ConsumerFilters::default();
        let first = filters.selector("T", "G", "a > 1").unwrap();
        let again = filters.selector("T", "G", "a > 1").unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the cached selector");
        let changed = filters.selector("T", "G", "a > 2").unwrap();
        assert!(!Arc::ptr_eq(&first, &changed));
        assert!(changed.matches(b"a\x013") && !changed.matches(b"a\x012"));
        assert!(filters.selector("T", "G", "a >").is_err());
        assert!(
            filters.selector("T", "G", "a >").is_err(),
            "the failure is cached"
        );
        assert_eq!(filters.len(), 1);
    }

    #[test]
    fn heartbeats_compile_ahead_and_forget_left_topics() {
        let filters = ConsumerFilters::default();
        filters.register("G", &[sql("T1", "a = 1"), sql("T2", "b = 2")]);
        filters.register("H", &[sql("T1", "a = 1")]);
        assert_eq!(filters.len(), 3);
        let tag = SubscriptionData {
            topic: "T2".into(),
            sub_string: "*".into(),
            ..SubscriptionData::default()
        };
        filters.register("G", &[sql("T1", "a = 1"), tag]);
        assert_eq!(filters.len(), 2, "G's T2 is a TAG subscription now");
        filters.retain_groups(|group| group == "H");
        assert_eq!(filters.len(), 1);
        assert!(filters.selector("T1", "H", "a = 1").is_ok());
        filters.register("H", &[]);
        assert_eq!(filters.len(), 0);
    }
}
