//! [`BrokerAdmin`] over skylark-client's admin calls.

use super::{AdminError, BrokerAdmin, GroupSettings, TopicLagOnBroker, TopicSettings};

/// The brokers as reached through skylark-client.
#[derive(Debug, Clone, Default)]
pub struct ClientAdmin {}

impl ClientAdmin {
    /// An admin client with default timeouts.
    pub fn new() -> Self {
        Self {}
    }
}

impl BrokerAdmin for ClientAdmin {
    async fn topic(&self, _addr: &str, _topic: &str) -> Result<Option<TopicSettings>, AdminError> {
        Err(AdminError::Unsupported("reading a topic's config"))
    }

    async fn put_topic(&self, _addr: &str, _topic: &TopicSettings) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("creating a topic"))
    }

    async fn delete_topic(&self, _addr: &str, _topic: &str) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("deleting a topic"))
    }

    async fn put_group(&self, _addr: &str, _group: &GroupSettings) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("creating a subscription group"))
    }

    async fn delete_group(&self, _addr: &str, _group: &str) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("deleting a subscription group"))
    }

    async fn group_lag(
        &self,
        _addr: &str,
        _group: &str,
    ) -> Result<Vec<TopicLagOnBroker>, AdminError> {
        Err(AdminError::Unsupported("consume stats"))
    }

    async fn group_members(&self, _addr: &str, _group: &str) -> Result<usize, AdminError> {
        Err(AdminError::Unsupported("the consumer connection list"))
    }

    async fn commit_log_max_offset(&self, _addr: &str) -> Result<i64, AdminError> {
        Err(AdminError::Unsupported("broker runtime info"))
    }
}
