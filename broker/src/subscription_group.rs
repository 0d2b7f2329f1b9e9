//! Consumer groups' settings (`SubscriptionGroupManager`) and
//! `subscriptionGroup.json`.

use crate::config::BrokerConfig;

/// Every subscription group this broker knows.
#[derive(Debug)]
pub struct SubscriptionGroupManager {}

impl SubscriptionGroupManager {
    /// The groups of a fresh broker with `config`.
    pub fn new(_config: &BrokerConfig) -> Self {
        Self {}
    }
}
