//! Retries and dead letters: CONSUMER_SEND_MSG_BACK (Java's
//! `consumerSendMsgBack`) and, for plain sends to a `%RETRY%` topic, the
//! diversion of exhausted retries to the DLQ (`handleRetryAndDLQ`).
//!
//! A consumer that failed a message sends back its commit-log offset. The
//! broker stores a copy in `%RETRY%<group>` with delay level
//! `3 + reconsumeTimes` (or the level the client asks for), so the schedule
//! service hands it back after 10 s, 30 s, 1 min …; once the message was
//! reconsumed `maxReconsumeTimes` times, or the client asks with a level
//! below 0, the copy goes to `%DLQ%<group>` instead, undelayed.

use std::sync::atomic::{AtomicU32, Ordering};

use skylark_protocol::body::SubscriptionGroupConfig;
use skylark_protocol::headers::ConsumerSendMsgBackRequestHeader;
use skylark_protocol::headers::send::SendMessageRequestHeader;
use skylark_protocol::message::property::{ORIGIN_MESSAGE_ID, RETRY_TOPIC};
use skylark_protocol::message::topic::{RETRY_GROUP_TOPIC_PREFIX, dlq_topic, retry_topic};
use skylark_protocol::message::{
    MessageVersion, PermName, Properties, StoredMessage, TopicSysFlag, record,
};
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_store::error::PutMessageStatus;

use super::{Outcome, header, reply, success};
use crate::broker::Broker;
use crate::error::RequestError;

/// Queues of a group's dead-letter topic (`DLQ_NUMS_PER_GROUP`).
const DLQ_QUEUE_NUMS: i32 = 1;
/// `MQVersion.Version.V3_4_9.ordinal()`: clients from this version on send
/// their own `maxReconsumeTimes`, which then wins over the group's.
const V3_4_9: i32 = 121;
/// Delay level of a first retry; each retry waits one level longer.
const FIRST_RETRY_LEVEL: i32 = 3;
/// Delay level of a message dead-lettered by a plain send (Java 5 marks it
/// so the store does not delay it).
const NO_DELAY: i32 = -1;

/// Spreads sent-back messages over a group's retry queues.
static NEXT_RETRY_QUEUE: AtomicU32 = AtomicU32::new(0);

impl Broker {
    /// CONSUMER_SEND_MSG_BACK: stores a copy of the record at the header's
    /// commit-log offset for a later retry, or in the DLQ.
    pub(super) async fn consumer_send_msg_back(&self, request: &RemotingCommand) -> Outcome {
        let h: ConsumerSendMsgBackRequestHeader = header(request)?;
        let Some(group) = self.groups.find_or_create(&h.group) else {
            return Ok(group_not_exist(request, &h.group));
        };
        if !PermName::is_writeable(self.live.broker_permission()) {
            return Ok(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!(
                    "the broker[{}] sending message is forbidden",
                    self.config.broker_ip1
                ),
            ));
        }
        // A group without retry queues drops what it fails.
        if group.retry_queue_nums <= 0 {
            return Ok(success(request));
        }
        let mut topic = retry_topic(&h.group);
        let topic_sys_flag = if h.unit_mode == Some(true) {
            TopicSysFlag::build(false, true)
        } else {
            0
        };
        let rw = PermName::READ | PermName::WRITE;
        let Some(config) =
            self.topics
                .create_in_send_back(&topic, group.retry_queue_nums, rw, topic_sys_flag)?
        else {
            return Ok(topic_not_exist(request, &topic));
        };
        if !PermName::is_writeable(config.perm) {
            return Ok(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("the topic[{topic}] sending message is forbidden"),
            ));
        }
        let original = self
            .store
            .message_by_phys_offset(h.offset)
            .and_then(|raw| record::decode(&raw).ok());
        let Some((original, _)) = original else {
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!("look message by offset failed, {}", h.offset),
            ));
        };

        let max_reconsume_times = max_reconsume_times(request, &group, h.max_reconsume_times);
        let dead = original.reconsume_times >= max_reconsume_times || h.delay_level < 0;
        let retry_queues = group.retry_queue_nums.unsigned_abs();
        let mut queue_id =
            i32::try_from(NEXT_RETRY_QUEUE.fetch_add(1, Ordering::Relaxed) % retry_queues)
                .unwrap_or(0);
        let origin_id = original.offset_msg_id();
        let mut properties = original.properties;
        if properties.retry_topic().is_none() {
            properties.insert(RETRY_TOPIC, original.topic.as_str());
        }
        properties.set_wait_store_msg_ok(false);
        if dead {
            topic = dlq_topic(&h.group);
            queue_id = 0;
            if self
                .topics
                .create_in_send_back(&topic, DLQ_QUEUE_NUMS, rw, 0)?
                .is_none()
            {
                return Ok(topic_not_exist(request, &topic));
            }
            properties.set_delay_time_level(0);
        } else {
            let level = match h.delay_level {
                0 => FIRST_RETRY_LEVEL.saturating_add(original.reconsume_times),
                asked => asked,
            };
            properties.set_delay_time_level(level);
        }
        if properties.origin_message_id().is_none_or(str::is_empty) {
            properties.insert(ORIGIN_MESSAGE_ID, origin_id);
        }

        let mut copy = StoredMessage {
            version: MessageVersion::for_topic_len(topic.len()),
            queue_id,
            flag: original.flag,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: original.sys_flag,
            born_timestamp: original.born_timestamp,
            born_host: original.born_host,
            store_timestamp: 0,
            store_host: self.store_host,
            reconsume_times: original.reconsume_times.saturating_add(1),
            prepared_transaction_offset: 0,
            body_crc: original.body_crc,
            body: original.body,
            topic,
            properties,
        };
        copy.sys_flag = copy.normalized_sys_flag();
        // Into the schedule queue of its level; a DLQ copy has level 0 and stays.
        self.schedule.schedule(&mut copy);
        let mut result = self.store.put_message(&copy).await;
        // SYNC_MASTER: answered once a replica holds the copy (Java does not
        // wait here, its copy is marked WAIT=false; a consumer would advance
        // past a message whose only retry copy died with its master).
        self.ha.replicate(&mut result).await;
        if matches!(
            result.status,
            PutMessageStatus::FlushSlaveTimeout | PutMessageStatus::SlaveNotAvailable
        ) {
            // Stored, as a send answered so: the client treats it as sent
            // (a failure would make it store a second copy on this broker).
            tracing::warn!(
                group = %h.group, offset = h.offset, status = %result.status,
                "send-back stored but no replica confirmed it"
            );
        } else if result.status != PutMessageStatus::PutOk {
            tracing::warn!(
                group = %h.group, offset = h.offset, status = %result.status, error = ?result.error,
                "send-back not stored"
            );
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                result.status.to_string(),
            ));
        }
        if dead {
            self.metrics.record_dlq(&h.group);
            tracing::info!(
                group = %h.group, origin_topic = ?h.origin_topic, uniq_key = ?copy.uniq_key(),
                reconsume_times = original.reconsume_times, max_reconsume_times,
                "message sent to the DLQ"
            );
        } else {
            self.metrics.record_retry(&h.group);
        }
        Ok(success(request))
    }

    /// Java's `handleRetryAndDLQ`, for a plain send to `%RETRY%<group>`
    /// (a consumer's fallback when CONSUMER_SEND_MSG_BACK failed): the
    /// group's DLQ topic and queue once the header's reconsume times exceed
    /// the maximum, or while the group holds orderly locks; `None` keeps the
    /// message where it was sent. Marks a diverted message undelayed.
    /// `Ok(Err(response))` refuses the send.
    pub(super) fn divert_exhausted_retry(
        &self,
        request: &RemotingCommand,
        header: &SendMessageRequestHeader,
        properties: &mut Properties,
    ) -> Result<Result<Option<(String, i32)>, RemotingCommand>, RequestError> {
        let Some(group) = group_of_retry_topic(&header.topic) else {
            return Ok(Ok(None));
        };
        let Some(config) = self.groups.find_or_create(group) else {
            return Ok(Err(group_not_exist(request, group)));
        };
        let max_reconsume_times = max_reconsume_times(request, &config, header.max_reconsume_times);
        let reconsume_times = header.reconsume_times.unwrap_or(0);
        let orderly = !self.locks.is_lock_all_expired(group);
        // Java 5 diverts after the maximum (`>`); 4.9 diverted at it (`>=`),
        // one retry sooner than CONSUMER_SEND_MSG_BACK does.
        if reconsume_times <= max_reconsume_times && !orderly {
            return Ok(Ok(None));
        }
        let dlq = dlq_topic(group);
        if self
            .topics
            .create_in_send_back(&dlq, DLQ_QUEUE_NUMS, PermName::READ | PermName::WRITE, 0)?
            .is_none()
        {
            return Ok(Err(topic_not_exist(request, &dlq)));
        }
        properties.set_delay_time_level(NO_DELAY);
        self.metrics.record_dlq(group);
        tracing::info!(
            group,
            reconsume_times,
            max_reconsume_times,
            orderly,
            "retry send diverted to the DLQ"
        );
        Ok(Ok(Some((dlq, 0))))
    }
}

/// The group of a retry topic, as Java's `KeyBuilder.parseGroup` reads it
/// (`%RETRY%group`, and POP's `%RETRY%group+topic`); `None` for other topics.
fn group_of_retry_topic(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX)?;
    Some(match rest.split_once('+') {
        Some((group, pop_topic)) if !pop_topic.contains('+') => group,
        _ => rest,
    })
}

/// The group's `retryMaxTimes`, unless a client of 3.4.9 or later sent its own.
fn max_reconsume_times(
    request: &RemotingCommand,
    group: &SubscriptionGroupConfig,
    from_client: Option<i32>,
) -> i32 {
    match from_client {
        Some(times) if request.version >= V3_4_9 => times,
        _ => group.retry_max_times,
    }
}

fn group_not_exist(request: &RemotingCommand, group: &str) -> RemotingCommand {
    reply(
        request,
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
        format!("subscription group not exist, {group}"),
    )
}

fn topic_not_exist(request: &RemotingCommand, topic: &str) -> RemotingCommand {
    reply(
        request,
        ResponseCode::SYSTEM_ERROR,
        format!("topic[{topic}] not exist"),
    )
}

#[cfg(test)]
mod tests;
