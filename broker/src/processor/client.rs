//! Heartbeats, client registration and queue locks (`ClientManageProcessor`,
//! GET_CONSUMER_LIST_BY_GROUP of `ConsumerManageProcessor`, and the lock
//! and connection-list codes of `AdminBrokerProcessor`).

use serde::Deserialize;
use skylark_protocol::body::{
    Body, GetConsumerListByGroupResponseBody, HeartbeatData, KeyStyle, LockBatchRequestBody,
    LockBatchResponseBody, SubscriptionData, UnlockBatchRequestBody, fastjson,
};
use skylark_protocol::headers::{
    GetConsumerConnectionListRequestHeader, GetConsumerListByGroupRequestHeader,
    GetProducerConnectionListRequestHeader, HeartbeatResponseHeader, UnregisterClientRequestHeader,
};
use skylark_protocol::message::{PermName, TopicSysFlag, topic};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{Outcome, header, reply, success};
use crate::broker::Broker;
use crate::client::{ClientChannelInfo, ConsumerRegistration};
use crate::error::RequestError;
use crate::filter::sql92::Selector;

/// A consumer group's settings a heartbeat needs.
struct GroupSettings {
    retry_queue_nums: i32,
    notify: bool,
}

impl Broker {
    /// Answers the client codes; `None` for any other.
    pub(super) fn try_handle_client(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Option<Outcome> {
        Some(match request.request_code() {
            RequestCode::HEART_BEAT => self.heart_beat(conn, request),
            RequestCode::UNREGISTER_CLIENT => self.unregister_client(conn, request),
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => self.consumer_list_by_group(request),
            RequestCode::LOCK_BATCH_MQ => self.lock_batch_mq(request),
            RequestCode::UNLOCK_BATCH_MQ => self.unlock_batch_mq(request),
            RequestCode::CHECK_CLIENT_CONFIG => Ok(self.check_client_config(request)),
            RequestCode::GET_CONSUMER_CONNECTION_LIST => self.consumer_connection_list(request),
            RequestCode::GET_PRODUCER_CONNECTION_LIST => self.producer_connection_list(request),
            _ => return None,
        })
    }

    /// Forgets a closed connection's producers and consumers, notifying
    /// the groups it left. Its queue locks stay until they expire, as in
    /// Java: a consumer that reconnects keeps its queues.
    pub(crate) fn on_channel_closed(&self, conn: &ConnectionHandle) {
        self.producers.on_channel_closed(conn);
        self.consumers.on_channel_closed(conn);
    }

    /// Expires producers and consumers silent for 120 s and closes their
    /// connections (`ClientHousekeepingService`, every 10 s).
    pub fn scan_not_active_channels(&self) {
        self.producers.scan_not_active_channels();
        self.consumers.scan_not_active_channels();
        self.filters
            .retain_groups(|group| self.consumers.is_online(group));
    }

    /// HEART_BEAT: registers the client's consumer and producer groups.
    fn heart_beat(&self, conn: &ConnectionHandle, request: &RemotingCommand) -> Outcome {
        let data = HeartbeatData::decode(&request.body).map_err(|source| RequestError::Body {
            what: "HeartbeatData",
            source,
        })?;
        let channel = ClientChannelInfo::new(
            conn.clone(),
            data.client_id.as_str(),
            request.language,
            request.version,
        );
        // A fingerprint marks heartbeat v2, which may leave subscriptions out.
        let v2 = data.heartbeat_fingerprint != 0;
        let without_sub = v2 && data.without_sub;
        let mut sub_change = false;
        for consumer in &data.consumer_data_set {
            let group = consumer.group_name.as_str();
            let Some(settings) = self.heartbeat_group(group) else {
                continue;
            };
            let sys_flag = if consumer.unit_mode {
                TopicSysFlag::build(false, true)
            } else {
                0
            };
            self.create_retry_topic(group, settings.retry_queue_nums, sys_flag);
            let registered = self.consumers.register(
                &channel,
                ConsumerRegistration {
                    data: consumer,
                    fingerprint: data.heartbeat_fingerprint,
                    without_sub,
                    notify: settings.notify,
                },
            );
            if registered.changed {
                tracing::info!(
                    group, client = %data.client_id, remote = %conn.remote_addr(),
                    "consumer registration changed"
                );
            }
            sub_change |= registered.sub_change;
            // Java registers the filters on every heartbeat and answers
            // success even when an expression does not compile: the
            // client learns of it from CHECK_CLIENT_CONFIG and its pulls.
            if self.config.enable_property_filter && !without_sub {
                self.filters
                    .register(group, &consumer.subscription_data_set);
            }
        }
        for producer in &data.producer_data_set {
            self.producers.register(&producer.group_name, &channel);
        }
        // A v1 client ignores both keys; Java answers IS_SUB_CHANGE=true to
        // it, so that a client switching to v2 sends subscriptions first.
        Ok(success(request).with_header(&HeartbeatResponseHeader {
            is_support_heart_beat_v2: Some(true),
            is_sub_change: Some(!v2 || sub_change),
        }))
    }

    /// The settings of `group` for a heartbeat; `None` skips the group, as
    /// Java skips one whose subscription group does not exist and cannot be
    /// auto-created.
    fn heartbeat_group(&self, group: &str) -> Option<GroupSettings> {
        let config = self.groups.find_or_create(group)?;
        Some(GroupSettings {
            retry_queue_nums: config.retry_queue_nums,
            notify: config.notify_consumer_ids_changed_enable,
        })
    }

    /// Creates `%RETRY%group` if absent (`createTopicInSendMessageBackMethod`).
    /// Failing to persist it is logged, as Java's config manager does: the
    /// topic exists in memory and the heartbeat succeeds.
    fn create_retry_topic(&self, group: &str, queue_nums: i32, topic_sys_flag: i32) {
        let retry_topic = topic::retry_topic(group);
        if self.topics.contains(&retry_topic) {
            return;
        }
        if let Err(error) = self.topics.create_in_send_back(
            &retry_topic,
            queue_nums,
            PermName::READ | PermName::WRITE,
            topic_sys_flag,
        ) {
            tracing::error!(topic = %retry_topic, %error, "cannot persist the new retry topic");
        }
    }

    /// UNREGISTER_CLIENT: a producer or consumer shutting down.
    fn unregister_client(&self, conn: &ConnectionHandle, request: &RemotingCommand) -> Outcome {
        let h: UnregisterClientRequestHeader = header(request)?;
        if let Some(group) = &h.producer_group {
            self.producers.unregister(group, conn);
        }
        if let Some(group) = &h.consumer_group {
            // Looked up, not created: Java would auto-create the group here.
            let notify = self
                .groups
                .get(group)
                .is_none_or(|config| config.notify_consumer_ids_changed_enable);
            self.consumers.unregister(group, conn, notify);
        }
        tracing::info!(
            client = %h.client_id, producer_group = ?h.producer_group,
            consumer_group = ?h.consumer_group, "client unregistered"
        );
        Ok(success(request))
    }

    /// GET_CONSUMER_LIST_BY_GROUP: the group's live client ids.
    fn consumer_list_by_group(&self, request: &RemotingCommand) -> Outcome {
        let h: GetConsumerListByGroupRequestHeader = header(request)?;
        let ids = self.consumers.client_ids(&h.consumer_group);
        if ids.is_empty() {
            tracing::warn!(group = %h.consumer_group, "getConsumerListByGroup: no consumer");
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!("no consumer for this group, {}", h.consumer_group),
            ));
        }
        let body = GetConsumerListByGroupResponseBody {
            consumer_id_list: ids,
        };
        Ok(success(request).with_body(body.encode(KeyStyle::Unquoted)))
    }

    /// LOCK_BATCH_MQ: locks queues for an orderly consumer on this broker
    /// (Java's strict mode across replicas is off by default and not built).
    fn lock_batch_mq(&self, request: &RemotingCommand) -> Outcome {
        let body: LockBatchRequestBody = decode_body(request, "LockBatchRequestBody")?;
        let locked = self
            .locks
            .try_lock_batch(&body.consumer_group, body.mq_set, &body.client_id);
        let response = LockBatchResponseBody {
            lock_ok_mq_set: locked,
        };
        Ok(success(request).with_body(response.encode(KeyStyle::Unquoted)))
    }

    /// UNLOCK_BATCH_MQ: releases the requester's locks.
    fn unlock_batch_mq(&self, request: &RemotingCommand) -> Outcome {
        let body: UnlockBatchRequestBody = decode_body(request, "UnlockBatchRequestBody")?;
        self.locks
            .unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
        Ok(success(request))
    }

    /// CHECK_CLIENT_CONFIG: whether this broker can filter by the
    /// subscription's expression type, and whether an SQL92 expression
    /// compiles (the Java consumer's `start()` fails with this remark).
    fn check_client_config(&self, request: &RemotingCommand) -> RemotingCommand {
        if request.body.is_empty() {
            return success(request);
        }
        let body: CheckClientRequestBody = match fastjson::from_slice(&request.body) {
            Ok(body) => body,
            Err(error) => {
                return reply(
                    request,
                    ResponseCode::SYSTEM_ERROR,
                    format!("cannot decode CheckClientRequestBody: {error}"),
                );
            }
        };
        let Some(sub) = body.subscription_data else {
            return success(request);
        };
        // ExpressionType.isTagType: absent and empty mean TAG.
        let kind = sub.expression_type.as_str();
        if kind.is_empty() || kind == SubscriptionData::EXPRESSION_TAG {
            return success(request);
        }
        if !self.config.enable_property_filter {
            return reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!("The broker does not support consumer to filter message by {kind}"),
            );
        }
        if kind == SubscriptionData::EXPRESSION_SQL92 {
            return match Selector::compile(&sub.sub_string) {
                Ok(_) => success(request),
                Err(error) => {
                    tracing::warn!(
                        client = ?body.client_id, group = ?body.group, topic = %sub.topic, %error,
                        "checkClientConfig: the SQL92 expression does not compile"
                    );
                    reply(
                        request,
                        ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                        error.to_string(),
                    )
                }
            };
        }
        tracing::warn!(
            client = ?body.client_id, group = ?body.group, kind,
            "checkClientConfig: unknown expression type"
        );
        reply(
            request,
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            format!("unknown expression type {kind}"),
        )
    }

    /// GET_CONSUMER_CONNECTION_LIST: the group's members and subscriptions.
    fn consumer_connection_list(&self, request: &RemotingCommand) -> Outcome {
        let h: GetConsumerConnectionListRequestHeader = header(request)?;
        Ok(
            match self.consumers.consumer_connection(&h.consumer_group) {
                Some(body) => success(request).with_body(body.encode(KeyStyle::Unquoted)),
                None => reply(
                    request,
                    ResponseCode::CONSUMER_NOT_ONLINE,
                    format!("the consumer group[{}] not online", h.consumer_group),
                ),
            },
        )
    }

    /// GET_PRODUCER_CONNECTION_LIST: the group's members.
    fn producer_connection_list(&self, request: &RemotingCommand) -> Outcome {
        let h: GetProducerConnectionListRequestHeader = header(request)?;
        Ok(
            match self.producers.producer_connection(&h.producer_group) {
                Some(body) => success(request).with_body(body.encode(KeyStyle::Unquoted)),
                None => reply(
                    request,
                    ResponseCode::SYSTEM_ERROR,
                    format!("the producer group[{}] not exist", h.producer_group),
                ),
            },
        )
    }
}

/// CHECK_CLIENT_CONFIG's body (`CheckClientRequestBody`); only read here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CheckClientRequestBody {
    client_id: Option<String>,
    group: Option<String>,
    subscription_data: Option<SubscriptionData>,
}

/// Decodes a required JSON body.
fn decode_body<B: Body>(request: &RemotingCommand, what: &'static str) -> Result<B, RequestError> {
    if request.body.is_empty() {
        return Err(RequestError::MissingBody(what));
    }
    B::decode(&request.body).map_err(|source| RequestError::Body { what, source })
}

#[cfg(test)]
mod tests;
