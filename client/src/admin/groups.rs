//! Subscription group administration and connected clients.

use std::collections::BTreeMap;

pub use skylark_protocol::body::ConsumerConnection;
use skylark_protocol::body::{
    Body, KeyStyle, ProducerConnection, SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use skylark_protocol::headers::{
    DeleteSubscriptionGroupRequestHeader, GetAllSubscriptionGroupRequestHeader,
    GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
    GetSubscriptionGroupConfigRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode};

use super::{Admin, BrokerMaster};
use crate::error::ClientError;

impl Admin {
    /// Creates or updates a subscription group on the broker at `addr`
    /// (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    pub async fn create_group(
        &self,
        addr: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<(), ClientError> {
        let cmd = RemotingCommand::bare_request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(config.encode(KeyStyle::Unquoted));
        self.call(addr, cmd).await.map(drop)
    }

    /// Creates or updates the group on every master of `cluster` (every
    /// cluster when `None`); returns the masters.
    pub async fn create_group_in_cluster(
        &self,
        cluster: Option<&str>,
        config: &SubscriptionGroupConfig,
    ) -> Result<Vec<BrokerMaster>, ClientError> {
        let masters = self.some_masters(cluster).await?;
        for m in &masters {
            self.create_group(&m.addr, config).await?;
        }
        Ok(masters)
    }

    /// Every subscription group of the broker at `addr` (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub async fn group_configs(&self, addr: &str) -> Result<SubscriptionGroupWrapper, ClientError> {
        let cmd = RemotingCommand::request(
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
            &GetAllSubscriptionGroupRequestHeader::default(),
        );
        self.call_body(addr, cmd).await
    }

    /// One group's config on the broker at `addr` (GET_SUBSCRIPTIONGROUP_CONFIG).
    pub async fn group_config(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<SubscriptionGroupConfig, ClientError> {
        let header = GetSubscriptionGroupConfigRequestHeader {
            group: group.to_owned(),
            broker_name: None,
        };
        let response = self
            .call(
                addr,
                RemotingCommand::request(RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG, &header),
            )
            .await?;
        if response.body.is_empty() {
            return Err(ClientError::NotFound(format!("group {group} on {addr}")));
        }
        Ok(SubscriptionGroupConfig::decode(&response.body)?)
    }

    /// The groups of every master of `cluster` (every cluster when `None`),
    /// merged by name (the first master's config wins).
    pub async fn list_groups(
        &self,
        cluster: Option<&str>,
    ) -> Result<BTreeMap<String, SubscriptionGroupConfig>, ClientError> {
        let mut groups = BTreeMap::new();
        for m in self.masters(cluster).await? {
            for (name, config) in self.group_configs(&m.addr).await?.subscription_group_table {
                groups.entry(name).or_insert(config);
            }
        }
        Ok(groups)
    }

    /// Deletes a group on the broker at `addr`, and its committed offsets
    /// when `clean_offset` (DELETE_SUBSCRIPTIONGROUP).
    pub async fn delete_group(
        &self,
        addr: &str,
        group: &str,
        clean_offset: bool,
    ) -> Result<(), ClientError> {
        let header = DeleteSubscriptionGroupRequestHeader {
            group_name: group.to_owned(),
            clean_offset: Some(clean_offset),
            broker_name: None,
        };
        self.call(
            addr,
            RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP, &header),
        )
        .await
        .map(drop)
    }

    /// Deletes the group on every master of `cluster` (every cluster when `None`).
    pub async fn delete_group_in_cluster(
        &self,
        cluster: Option<&str>,
        group: &str,
        clean_offset: bool,
    ) -> Result<(), ClientError> {
        for m in self.masters(cluster).await? {
            self.delete_group(&m.addr, group, clean_offset).await?;
        }
        Ok(())
    }

    /// The group's connected consumers and their subscriptions
    /// (GET_CONSUMER_CONNECTION_LIST), from the first master that knows
    /// them; CONSUMER_NOT_ONLINE when none does.
    pub async fn consumer_connections(
        &self,
        group: &str,
    ) -> Result<ConsumerConnection, ClientError> {
        let header = GetConsumerConnectionListRequestHeader {
            consumer_group: group.to_owned(),
            broker_name: None,
        };
        let mut last = None;
        for m in self.masters(None).await? {
            let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST, &header);
            match self.call_body::<ConsumerConnection>(&m.addr, cmd).await {
                Ok(c) if !c.connection_set.is_empty() => return Ok(c),
                Ok(_) => {}
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            ClientError::NotFound(format!("no consumer of group {group} is online"))
        }))
    }

    /// The group's connected producers on the broker at `addr`
    /// (GET_PRODUCER_CONNECTION_LIST).
    pub async fn producer_connections(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<ProducerConnection, ClientError> {
        let header = GetProducerConnectionListRequestHeader {
            producer_group: group.to_owned(),
            broker_name: None,
        };
        self.call_body(
            addr,
            RemotingCommand::request(RequestCode::GET_PRODUCER_CONNECTION_LIST, &header),
        )
        .await
    }
}
