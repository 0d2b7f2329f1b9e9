//! PULL_MESSAGE and LITE_PULL_MESSAGE with long polling (`PullMessageProcessor`).
//!
//! A pull is checked (broker and topic permissions, queue id, group,
//! subscription), commits the offset it carries, then reads the store. When
//! nothing is there yet and the client allows suspension, it waits on its
//! queue's signal (see [`crate::long_poll`]) until a message arrives, the
//! client's suspend time runs out or the broker stops, re-reading the store
//! after each wake-up. Found records go to the socket as slices of the
//! mapped CommitLog, never copied.

use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::body::{MessageModel, SubscriptionData, SubscriptionGroupConfig};
use skylark_protocol::headers::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use skylark_protocol::message::{PermName, PullSysFlag};
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_remoting::ConnectionHandle;
use skylark_store::message_store::{GetMessageResult, GetMessageStatus};
use tokio::time::Instant;

use super::{header, reply};
use crate::broker::Broker;
use crate::error::RequestError;
use crate::filter::sql92::Selector;
use crate::filter::{self, FilterError};

/// What a pull filters with: the subscription (tags codes) and, for SQL92,
/// its compiled selector (record properties).
type PullFilter = (
    Arc<SubscriptionData>,
    Arc<SubscriptionGroupConfig>,
    Option<Arc<Selector>>,
);

/// The master's broker id, suggested unless pulling from a replica is better.
const MASTER_ID: i64 = 0;

impl Broker {
    pub(super) async fn pull_message(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        let header: PullMessageRequestHeader = header(request)?;
        let (subscription, group_config, selector) = match self.check_pull(request, &header) {
            Ok(checked) => checked,
            Err(refused) => return Ok(Some(refused)),
        };
        let is_master = self.ha.is_master();
        if PullSysFlag::has_commit_offset(header.sys_flag) && is_master {
            self.offsets.commit(
                &header.consumer_group,
                &header.topic,
                header.queue_id,
                header.commit_offset,
            );
        }

        let suspend = PullSysFlag::has_suspend(header.sys_flag) && !self.pull_holds.is_stopped();
        let hold = if !suspend {
            Duration::ZERO
        } else if self.live.long_polling_enable() {
            Duration::from_millis(u64::try_from(header.suspend_timeout_millis).unwrap_or(0))
        } else {
            self.live.short_polling_time()
        };
        let deadline = Instant::now() + hold;
        let signal =
            (!hold.is_zero()).then(|| self.pull_holds.queue(&header.topic, header.queue_id));
        let max_count = usize::try_from(header.max_msg_nums).unwrap_or(0);
        let max_bytes = header
            .max_msg_bytes
            .and_then(|bytes| usize::try_from(bytes).ok())
            .unwrap_or(usize::MAX);
        let matches = |tags_code: i64| filter::matches(&subscription, tags_code);
        let by_properties = selector
            .as_deref()
            .map(|selector| move |properties: &[u8]| selector.matches(properties));

        let mut suspended = None;
        loop {
            // Registered before reading, so an arrival between the read and
            // the wait is not missed.
            let arrival = signal.as_ref().map(|signal| signal.notified());
            tokio::pin!(arrival);
            if let Some(arrival) = arrival.as_mut().as_pin_mut() {
                arrival.enable();
            }
            let result = self.store.get_messages_with(
                &header.topic,
                header.queue_id,
                header.queue_offset,
                max_count,
                max_bytes,
                &matches,
                // Made here, so no non-Send `&dyn Fn` lives across an await.
                by_properties.as_ref().map(|f| f as &dyn Fn(&[u8]) -> bool),
            );
            let code = response_code(&result, header.queue_offset, is_master);
            let waiting = code == ResponseCode::PULL_NOT_FOUND
                && signal.is_some()
                && Instant::now() < deadline
                && !self.pull_holds.is_stopped();
            if !waiting {
                return Ok(self
                    .answer_pull(conn, request, &header, &group_config, code, result)
                    .await);
            }
            suspended.get_or_insert_with(|| self.pull_holds.suspend());
            let Some(arrival) = arrival.as_pin_mut() else {
                return Ok(self
                    .answer_pull(conn, request, &header, &group_config, code, result)
                    .await);
            };
            tokio::select! {
                () = arrival => self.pull_holds.count_wakeup(),
                () = tokio::time::sleep_until(deadline) => {}
                () = self.pull_holds.stopped() => {}
            }
        }
    }

    /// Java's checks before reading: the refusal response, or the
    /// subscription to filter with, the group's settings and the compiled
    /// SQL92 selector if the subscription is one.
    fn check_pull(
        &self,
        request: &RemotingCommand,
        header: &PullMessageRequestHeader,
    ) -> Result<PullFilter, RemotingCommand> {
        let topic = header.topic.as_str();
        let group = header.consumer_group.as_str();
        if !PermName::is_readable(self.live.broker_permission()) {
            return Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!(
                    "the broker[{}] pulling message is forbidden",
                    self.config.broker_ip1
                ),
            ));
        }
        let Some(group_config) = self.groups.find_or_create(group) else {
            return Err(reply(
                request,
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{group}] does not exist"),
            ));
        };
        if !group_config.consume_enable {
            return Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("subscription group no permission, {group}"),
            ));
        }
        let Some(topic_config) = self.topics.get(topic) else {
            return Err(reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            ));
        };
        if !PermName::is_readable(topic_config.perm) {
            return Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("the topic[{topic}] pulling message is forbidden"),
            ));
        }
        if header.queue_id < 0 || header.queue_id >= topic_config.read_queue_nums {
            return Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!(
                    "queueId[{}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                    header.queue_id, topic_config.read_queue_nums
                ),
            ));
        }
        if PullSysFlag::has_subscription(header.sys_flag) {
            return self
                .subscription_of_pull(request, header)
                .map(|(subscription, selector)| (subscription, group_config, selector));
        }
        if !group_config.consume_broadcast_enable
            && self.consumers.message_model(group) == Some(Some(MessageModel::Broadcasting))
        {
            return Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("the consumer group[{group}] can not consume by broadcast way"),
            ));
        }
        let Some(subscription) = self.consumers.subscription(group, topic) else {
            return Err(reply(
                request,
                ResponseCode::SUBSCRIPTION_NOT_EXIST,
                "the consumer's subscription not exist",
            ));
        };
        if subscription.sub_version < header.sub_version {
            return Err(reply(
                request,
                ResponseCode::SUBSCRIPTION_NOT_LATEST,
                "the consumer's subscription not latest",
            ));
        }
        if filter::is_tag_type(&subscription.expression_type) {
            return Ok((subscription, group_config, None));
        }
        if !self.config.enable_property_filter {
            let error = FilterError::Unsupported(subscription.expression_type.clone());
            return Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                error.to_string(),
            ));
        }
        match self
            .filters
            .selector(topic, group, &subscription.sub_string)
        {
            Ok(selector) => Ok((subscription, group_config, Some(selector))),
            Err(error) => Err(reply(
                request,
                ResponseCode::FILTER_DATA_NOT_EXIST,
                format!(
                    "The broker's consumer filter data is not exist!Your expression may be wrong! {error}"
                ),
            )),
        }
    }

    /// The subscription a pull carries (`hasSubscriptionFlag`), built and,
    /// for SQL92, compiled (once per expression, not per pull).
    fn subscription_of_pull(
        &self,
        request: &RemotingCommand,
        header: &PullMessageRequestHeader,
    ) -> Result<(Arc<SubscriptionData>, Option<Arc<Selector>>), RemotingCommand> {
        let parse_failed = |error: &dyn std::fmt::Display| {
            reply(
                request,
                ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                format!("parse the consumer's subscription failed: {error}"),
            )
        };
        let subscription = filter::build_subscription(
            &header.topic,
            header.subscription.as_deref().unwrap_or_default(),
            header.expression_type.as_deref(),
            self.config.enable_property_filter,
        )
        .map_err(|error| match error {
            FilterError::Unsupported(_) => {
                reply(request, ResponseCode::SYSTEM_ERROR, error.to_string())
            }
            FilterError::UnknownType(_) | FilterError::EmptyExpression(_) => parse_failed(&error),
        })?;
        if filter::is_tag_type(&subscription.expression_type) {
            return Ok((Arc::new(subscription), None));
        }
        let selector = self
            .filters
            .selector(
                &header.topic,
                &header.consumer_group,
                &subscription.sub_string,
            )
            .map_err(|error| parse_failed(&error))?;
        Ok((Arc::new(subscription), Some(selector)))
    }

    /// Sends the pull's answer: found records as the body, without copying
    /// them; anything else as a bare response.
    async fn answer_pull(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
        header: &PullMessageRequestHeader,
        group: &SubscriptionGroupConfig,
        code: ResponseCode,
        result: GetMessageResult,
    ) -> Option<RemotingCommand> {
        // Java: a slave that may not serve reads sends the consumer back to its master.
        let code = if !self.ha.is_master() && !self.live.slave_read_enable() {
            ResponseCode::PULL_RETRY_IMMEDIATELY
        } else {
            code
        };
        let suggest = if !self.live.slave_read_enable() {
            MASTER_ID
        } else if result.suggest_pulling_from_slave {
            group.which_broker_when_consume_slowly
        } else {
            group.broker_id
        };
        let response =
            RemotingCommand::response_to(request, code).with_header(&PullMessageResponseHeader {
                suggest_which_broker_id: suggest,
                next_begin_offset: result.next_begin_offset,
                min_offset: result.min_offset,
                max_offset: result.max_offset,
                offset_delta: None,
                topic_sys_flag: None,
                group_sys_flag: None,
                forbidden_type: None,
            });
        if code != ResponseCode::SUCCESS {
            return Some(response);
        }
        self.metrics.record_pull(
            &header.topic,
            &header.consumer_group,
            result.messages.len() as u64,
            result.buffer_total_size as u64,
        );
        if let Err(error) = conn.send_response_parts(response, result.messages).await {
            tracing::debug!(remote = %conn.remote_addr(), %error, "pull response not sent");
        }
        None
    }
}

/// Java's mapping of a read's status to the pull's response code.
fn response_code(result: &GetMessageResult, requested: i64, is_master: bool) -> ResponseCode {
    use GetMessageStatus as S;
    // Out-of-range offsets move the consumer on a master; a replica asks it
    // to retry (it may just be behind).
    let moved = if is_master {
        ResponseCode::PULL_OFFSET_MOVED
    } else {
        ResponseCode::PULL_RETRY_IMMEDIATELY
    };
    match result.status {
        S::Found => ResponseCode::SUCCESS,
        S::MessageWasRemoving | S::NoMatchedMessage => ResponseCode::PULL_RETRY_IMMEDIATELY,
        S::NoMatchedLogicQueue | S::NoMessageInQueue if requested != 0 => moved,
        S::NoMatchedLogicQueue | S::NoMessageInQueue => ResponseCode::PULL_NOT_FOUND,
        S::OffsetFoundNull | S::OffsetOverflowOne => ResponseCode::PULL_NOT_FOUND,
        S::OffsetOverflowBadly | S::OffsetTooSmall => moved,
    }
}
