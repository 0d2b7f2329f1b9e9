//! Subscription groups and committed offsets: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG, GET_SUBSCRIPTIONGROUP_CONFIG,
//! DELETE_SUBSCRIPTIONGROUP, GET_ALL_CONSUMER_OFFSET,
//! QUERY_TOPIC_CONSUME_BY_WHO and QUERY_TOPICS_BY_CONSUMER.

use std::net::SocketAddr;

use skylark_protocol::body::{Body, GroupList, KeyStyle, SubscriptionGroupConfig, TopicList};
use skylark_protocol::headers::{
    DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    QueryTopicConsumeByWhoRequestHeader, QueryTopicsByConsumerRequestHeader,
};
use skylark_protocol::message::topic::validate_group;
use skylark_protocol::{RemotingCommand, ResponseCode};

use crate::attributes::{self, GROUP_ATTRIBUTES};
use crate::broker::Broker;
use crate::error::RequestError;
use crate::processor::{Outcome, header, reply, success};

impl Broker {
    /// Creates or replaces a group from its config body. Unlike Java, which
    /// stores any name, an invalid group name is INVALID_PARAMETER.
    pub(super) fn update_and_create_subscription_group(
        &self,
        remote: SocketAddr,
        request: &RemotingCommand,
    ) -> Outcome {
        const WHAT: &str = "SubscriptionGroupConfig";
        if request.body.is_empty() {
            return Err(RequestError::MissingBody(WHAT));
        }
        let mut config = SubscriptionGroupConfig::decode(&request.body)
            .map_err(|source| RequestError::Body { what: WHAT, source })?;
        let group = config.group_name.clone();
        tracing::info!(%group, %remote, "update or create subscription group");
        if let Err(error) = validate_group(&group) {
            return Ok(reply(
                request,
                ResponseCode::INVALID_PARAMETER,
                format!("group {group:?}: {error}"),
            ));
        }
        let existing = self.groups.get(&group);
        let current = existing
            .as_ref()
            .map(|g| g.attributes.clone())
            .unwrap_or_default();
        config.attributes = match attributes::alter(
            existing.is_none(),
            GROUP_ATTRIBUTES,
            &current,
            &config.attributes,
        ) {
            Ok(attributes) => attributes,
            Err(error) => {
                return Ok(reply(
                    request,
                    ResponseCode::SYSTEM_ERROR,
                    error.to_string(),
                ));
            }
        };
        self.groups.update(config)?;
        Ok(success(request))
    }

    /// Every group, the forbidden table and the version (`subscriptionGroup.json`'s shape).
    pub(super) fn get_all_subscription_group(&self, request: &RemotingCommand) -> RemotingCommand {
        success(request).with_body(self.groups.snapshot().encode(KeyStyle::Unquoted))
    }

    /// One group, auto-created if the broker allows it (Java calls
    /// `findSubscriptionGroupConfig` here too).
    pub(super) fn get_subscription_group(&self, request: &RemotingCommand) -> Outcome {
        let h: GetSubscriptionGroupConfigRequestHeader = header(request)?;
        Ok(match self.groups.find_or_create(&h.group) {
            Some(group) => success(request).with_body(group.encode(KeyStyle::Unquoted)),
            None => reply(
                request,
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                "No group in this broker",
            ),
        })
    }

    /// Deletes a group, and its offsets when `cleanOffset` is true.
    pub(super) fn delete_subscription_group(
        &self,
        remote: SocketAddr,
        request: &RemotingCommand,
    ) -> Outcome {
        let h: DeleteSubscriptionGroupRequestHeader = header(request)?;
        let clean_offset = h.clean_offset.unwrap_or(false);
        tracing::info!(group = %h.group_name, clean_offset, %remote, "delete subscription group");
        self.groups.delete(&h.group_name)?;
        if clean_offset {
            self.offsets.remove_group(&h.group_name);
        }
        Ok(success(request))
    }

    /// Every committed offset (`consumerOffset.json`'s shape).
    pub(super) fn get_all_consumer_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        success(request).with_body(self.offsets.snapshot().encode(KeyStyle::Unquoted))
    }

    /// The online groups subscribed to the topic and the groups with
    /// offsets on it, as Java answers.
    pub(super) fn query_topic_consume_by_who(&self, request: &RemotingCommand) -> Outcome {
        let h: QueryTopicConsumeByWhoRequestHeader = header(request)?;
        let mut group_list = self.consumers.groups_of_topic(&h.topic);
        group_list.extend(self.offsets.groups_of_topic(&h.topic));
        let body = GroupList { group_list };
        Ok(success(request).with_body(body.encode(KeyStyle::Unquoted)))
    }

    /// Topics the group has offsets on, with this broker's address.
    pub(super) fn query_topics_by_consumer(&self, request: &RemotingCommand) -> Outcome {
        let h: QueryTopicsByConsumerRequestHeader = header(request)?;
        let body = TopicList {
            broker_addr: Some(self.config.broker_addr()),
            topic_list: self.offsets.topics_of_group(&h.group),
        };
        Ok(success(request).with_body(body.encode(KeyStyle::Unquoted)))
    }
}
