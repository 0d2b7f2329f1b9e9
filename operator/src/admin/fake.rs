//! An in-memory set of brokers for the reconcilers' unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::{AdminError, BrokerAdmin, BrokerState, GroupSettings, TopicLagOnBroker, TopicSettings};

/// Topics and groups per broker address, and addresses that do not answer.
#[derive(Debug, Default, Clone)]
pub(crate) struct FakeBrokers {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    topics: BTreeMap<String, BTreeMap<String, TopicSettings>>,
    groups: BTreeMap<String, BTreeMap<String, GroupSettings>>,
    lag: BTreeMap<String, Vec<TopicLagOnBroker>>,
    members: BTreeMap<String, usize>,
    states: BTreeMap<String, BrokerState>,
    down: BTreeSet<String>,
    refusing: BTreeMap<String, (i32, String)>,
    calls: Vec<String>,
}

impl FakeBrokers {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake brokers lock")
    }

    fn check(&self, addr: &str, call: String) -> Result<(), AdminError> {
        let mut state = self.state();
        state.calls.push(call);
        if state.down.contains(addr) {
            return Err(AdminError::Unreachable {
                addr: addr.to_owned(),
                reason: "connection refused".to_owned(),
            });
        }
        if let Some((code, remark)) = state.refusing.get(addr) {
            return Err(AdminError::Refused {
                addr: addr.to_owned(),
                code: *code,
                remark: remark.clone(),
            });
        }
        Ok(())
    }

    /// Makes `addr` answer every call with error `code`.
    pub(crate) fn refuse(&self, addr: &str, code: i32, remark: &str) {
        self.state()
            .refusing
            .insert(addr.to_owned(), (code, remark.to_owned()));
    }

    /// Makes `addr` refuse connections.
    pub(crate) fn take_down(&self, addr: &str) {
        self.state().down.insert(addr.to_owned());
    }

    /// The topics on `addr`.
    pub(crate) fn topics(&self, addr: &str) -> BTreeMap<String, TopicSettings> {
        self.state().topics.get(addr).cloned().unwrap_or_default()
    }

    /// Puts a topic on `addr` directly (drift made behind the operator's back).
    pub(crate) fn set_topic(&self, addr: &str, topic: TopicSettings) {
        self.state()
            .topics
            .entry(addr.to_owned())
            .or_default()
            .insert(topic.name.clone(), topic);
    }

    /// The groups on `addr`.
    pub(crate) fn groups(&self, addr: &str) -> BTreeMap<String, GroupSettings> {
        self.state().groups.get(addr).cloned().unwrap_or_default()
    }

    /// Sets what `group_lag` and `group_members` answer for `addr`.
    pub(crate) fn set_consumption(&self, addr: &str, lag: Vec<TopicLagOnBroker>, members: usize) {
        let mut state = self.state();
        state.lag.insert(addr.to_owned(), lag);
        state.members.insert(addr.to_owned(), members);
    }

    /// Sets what `broker_state` answers for `addr` (default: a replica at
    /// epoch 1 with 1024 bytes of CommitLog).
    pub(crate) fn set_state(&self, addr: &str, state: BrokerState) {
        self.state().states.insert(addr.to_owned(), state);
    }

    /// Every call made, as `name addr arg`.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }
}

impl BrokerAdmin for FakeBrokers {
    async fn topic(&self, addr: &str, topic: &str) -> Result<Option<TopicSettings>, AdminError> {
        self.check(addr, format!("topic {addr} {topic}"))?;
        Ok(self.topics(addr).get(topic).cloned())
    }

    async fn put_topic(&self, addr: &str, topic: &TopicSettings) -> Result<(), AdminError> {
        self.check(addr, format!("put_topic {addr} {}", topic.name))?;
        self.set_topic(addr, topic.clone());
        Ok(())
    }

    async fn delete_topic(&self, addr: &str, topic: &str) -> Result<(), AdminError> {
        self.check(addr, format!("delete_topic {addr} {topic}"))?;
        if let Some(topics) = self.state().topics.get_mut(addr) {
            topics.remove(topic);
        }
        Ok(())
    }

    async fn delete_topic_route(
        &self,
        namesrv: &str,
        topic: &str,
        cluster: &str,
    ) -> Result<(), AdminError> {
        self.check(
            namesrv,
            format!("delete_topic_route {namesrv} {topic} {cluster}"),
        )
    }

    async fn put_group(&self, addr: &str, group: &GroupSettings) -> Result<(), AdminError> {
        self.check(addr, format!("put_group {addr} {}", group.name))?;
        self.state()
            .groups
            .entry(addr.to_owned())
            .or_default()
            .insert(group.name.clone(), group.clone());
        Ok(())
    }

    async fn delete_group(&self, addr: &str, group: &str) -> Result<(), AdminError> {
        self.check(addr, format!("delete_group {addr} {group}"))?;
        if let Some(groups) = self.state().groups.get_mut(addr) {
            groups.remove(group);
        }
        Ok(())
    }

    async fn group_lag(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<Vec<TopicLagOnBroker>, AdminError> {
        self.check(addr, format!("group_lag {addr} {group}"))?;
        Ok(self.state().lag.get(addr).cloned().unwrap_or_default())
    }

    async fn group_members(&self, addr: &str, group: &str) -> Result<usize, AdminError> {
        self.check(addr, format!("group_members {addr} {group}"))?;
        Ok(self.state().members.get(addr).copied().unwrap_or(0))
    }

    async fn broker_state(&self, addr: &str) -> Result<BrokerState, AdminError> {
        self.check(addr, format!("broker_state {addr}"))?;
        Ok(self
            .state()
            .states
            .get(addr)
            .cloned()
            .unwrap_or(BrokerState {
                role: "SLAVE".to_owned(),
                epoch: 1,
                commit_log_max_offset: 1024,
                in_sync_replicas: 0,
            }))
    }
}
