//! Topic, group and broker administration (`AdminBrokerProcessor`): the
//! topic codes here, groups and offsets in [`groups`], offset resets in
//! [`reset_offset`], the broker's config in [`broker_config`], statistics in
//! [`stats`] and ConsumeQueue dumps in [`consume_queue`].

mod broker_config;
mod consume_queue;
mod groups;
mod ha_role;
mod reset_offset;
mod stats;

use std::net::SocketAddr;

use skylark_protocol::body::{
    Body, DataVersion, KeyStyle, TopicConfig, TopicConfigAndMappingSerializeWrapper,
    TopicFilterType,
};
use skylark_protocol::headers::admin::TOPIC_FILTER_MULTI_TAG;
use skylark_protocol::headers::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetTopicConfigRequestHeader,
};
use skylark_protocol::message::topic::validate_topic;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{Outcome, header, reply, success};
use crate::attributes::{self, MESSAGE_TYPE, TOPIC_ATTRIBUTES};
use crate::broker::Broker;
use crate::error::BrokerError;

impl Broker {
    /// Answers the admin codes; `None` for any other.
    pub(super) fn try_handle_admin(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Option<Outcome> {
        self.handle_admin(conn.remote_addr(), request)
    }

    /// [`Broker::try_handle_admin`] without the connection, which only names
    /// the caller in logs.
    pub(super) fn handle_admin(
        &self,
        remote: SocketAddr,
        request: &RemotingCommand,
    ) -> Option<Outcome> {
        Some(match request.request_code() {
            RequestCode::UPDATE_AND_CREATE_TOPIC => self.update_and_create_topic(remote, request),
            RequestCode::GET_ALL_TOPIC_CONFIG => Ok(self.get_all_topic_config(request)),
            RequestCode::GET_TOPIC_CONFIG => self.get_topic_config(request),
            RequestCode::DELETE_TOPIC_IN_BROKER => self.delete_topic(remote, request),
            RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
                self.update_and_create_subscription_group(remote, request)
            }
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => {
                Ok(self.get_all_subscription_group(request))
            }
            RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG => self.get_subscription_group(request),
            RequestCode::DELETE_SUBSCRIPTIONGROUP => {
                self.delete_subscription_group(remote, request)
            }
            RequestCode::GET_ALL_CONSUMER_OFFSET => Ok(self.get_all_consumer_offset(request)),
            RequestCode::GET_ALL_DELAY_OFFSET => Ok(self.get_all_delay_offset(request)),
            RequestCode::GET_TIMER_CHECK_POINT => Ok(self.get_timer_check_point(request)),
            RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => self.query_topic_consume_by_who(request),
            RequestCode::QUERY_TOPICS_BY_CONSUMER => self.query_topics_by_consumer(request),
            RequestCode::GET_BROKER_CONFIG => self.get_broker_config(request),
            RequestCode::GET_BROKER_RUNTIME_INFO => Ok(self.get_broker_runtime_info(request)),
            RequestCode::GET_TOPIC_STATS_INFO => self.get_topic_stats_info(request),
            RequestCode::GET_CONSUME_STATS => self.get_consume_stats(request),
            RequestCode::UPDATE_BROKER_CONFIG => self.update_broker_config(remote, request),
            RequestCode::INVOKE_BROKER_TO_RESET_OFFSET => self.reset_offset(remote, request),
            RequestCode::QUERY_CONSUME_QUEUE => self.query_consume_queue(request),
            _ => return None,
        })
    }

    /// Creates or updates a topic from an admin's header, as Java 5 does:
    /// a valid name that is not a system topic, attributes changed with
    /// `+key=value,-key`, and no change at all when nothing differs.
    fn update_and_create_topic(&self, remote: SocketAddr, request: &RemotingCommand) -> Outcome {
        let h: CreateTopicRequestHeader = header(request)?;
        h.validate()?;
        let topic = h.topic.as_str();
        tracing::info!(topic, %remote, "update or create topic");
        if let Err(error) = validate_topic(topic) {
            return Ok(reply(
                request,
                ResponseCode::INVALID_PARAMETER,
                error.to_string(),
            ));
        }
        if let Some(refused) = self.refuse_system_topic(request, topic) {
            return Ok(refused);
        }
        let requested = match attributes::parse_modification(h.attributes.as_deref().unwrap_or(""))
        {
            Ok(requested) => requested,
            Err(error) => {
                return Ok(reply(
                    request,
                    ResponseCode::SYSTEM_ERROR,
                    error.to_string(),
                ));
            }
        };
        if requested
            .get(&format!("+{MESSAGE_TYPE}"))
            .map(String::as_str)
            == Some("MIXED")
        {
            return Ok(reply(
                request,
                ResponseCode::INVALID_PARAMETER,
                "MIXED message type is not supported.",
            ));
        }
        let existing = self.topics.get(topic);
        let current = existing
            .as_ref()
            .map(|t| t.attributes.clone())
            .unwrap_or_default();
        let attributes =
            match attributes::alter(existing.is_none(), TOPIC_ATTRIBUTES, &current, &requested) {
                Ok(attributes) => attributes,
                Err(error) => {
                    return Ok(reply(
                        request,
                        ResponseCode::SYSTEM_ERROR,
                        error.to_string(),
                    ));
                }
            };
        let config = TopicConfig {
            attributes,
            order: h.order,
            perm: h.perm,
            read_queue_nums: h.read_queue_nums,
            topic_filter_type: if h.topic_filter_type == TOPIC_FILTER_MULTI_TAG {
                TopicFilterType::MultiTag
            } else {
                TopicFilterType::SingleTag
            },
            topic_name: topic.to_owned(),
            topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
            write_queue_nums: h.write_queue_nums,
        };
        if existing.as_deref() == Some(&config) {
            tracing::info!(topic, %remote, "topic unchanged");
            return Ok(success(request));
        }
        self.topics.update(config)?;
        Ok(success(request))
    }

    /// INVALID_PARAMETER for a system topic, when
    /// `validateSystemTopicWhenUpdateTopic` is on.
    fn refuse_system_topic(
        &self,
        request: &RemotingCommand,
        topic: &str,
    ) -> Option<RemotingCommand> {
        (self.live.validate_system_topic_when_update_topic() && self.topics.is_system_topic(topic))
            .then(|| {
                reply(
                    request,
                    ResponseCode::INVALID_PARAMETER,
                    format!("The topic[{topic}] is conflict with system topic."),
                )
            })
    }

    /// Every topic, in the wrapper Java 5 answers with (no static-topic mappings).
    fn get_all_topic_config(&self, request: &RemotingCommand) -> RemotingCommand {
        let topics = self.topics.snapshot();
        let body = TopicConfigAndMappingSerializeWrapper {
            data_version: topics.data_version,
            mapping_data_version: DataVersion::default(),
            topic_config_table: topics.topic_config_table,
            topic_queue_mapping_detail_map: Default::default(),
            topic_queue_mapping_info_map: Default::default(),
        };
        success(request).with_body(body.encode(KeyStyle::Unquoted))
    }

    fn get_topic_config(&self, request: &RemotingCommand) -> Outcome {
        let h: GetTopicConfigRequestHeader = header(request)?;
        Ok(match self.topics.get(&h.topic) {
            Some(topic) => success(request).with_body(topic.encode(KeyStyle::Unquoted)),
            None => reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("No topic in this broker. topic: {}", h.topic),
            ),
        })
    }

    /// Deletes a topic: its config (so sends stop), every group's offsets
    /// on it, its ConsumeQueues and its long-poll signals. Unknown topics
    /// are cleaned all the same.
    fn delete_topic(&self, remote: SocketAddr, request: &RemotingCommand) -> Outcome {
        let h: DeleteTopicRequestHeader = header(request)?;
        let topic = h.topic.as_str();
        tracing::info!(topic, %remote, "delete topic");
        if topic.trim().is_empty() {
            return Ok(reply(
                request,
                ResponseCode::INVALID_PARAMETER,
                "The specified topic is blank.",
            ));
        }
        if let Some(refused) = self.refuse_system_topic(request, topic) {
            return Ok(refused);
        }
        self.topics.delete(topic)?;
        self.offsets.remove_topic(topic);
        self.store.delete_topic(topic).map_err(BrokerError::from)?;
        self.pull_holds.remove_topic(topic);
        Ok(success(request))
    }
}

#[cfg(test)]
mod tests;
