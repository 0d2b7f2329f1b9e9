//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE (`SendMessageProcessor`):
//! check the topic and queue, build the record around the request's body
//! (the store encodes it straight into the CommitLog: the body's only copy),
//! wait for the flush the store's config asks for, and answer with RocketMQ's
//! codes.
//!
//! A steady-state single send allocates only what `broker/tests/allocations.rs`
//! (a test binary of its own) pins and explains: the header is read as a view of the
//! frame, properties are views of the frame's property string, and the
//! response's fields are literals or inline texts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use skylark_protocol::body::TopicConfig;
use skylark_protocol::headers::send::{
    DEFAULT_REGION, MSG_REGION, SendMessageRequestView, TRACE_ON,
};
use skylark_protocol::message::Message;
use skylark_protocol::message::msg_id::OffsetMsgId;
use skylark_protocol::message::topic::{
    RMQ_SYS_TRANS_HALF_TOPIC, is_not_allowed_send_topic, is_retry_topic, validate_topic,
};
use skylark_protocol::message::{PermName, Properties, StoredMessage, decode_batch};
use skylark_protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode, Text};
use skylark_remoting::ConnectionHandle;
use skylark_store::config::BrokerRole;
use skylark_store::error::PutMessageStatus;
use skylark_store::message_store::PutMessageResult;

use super::{Outcome, reply};
use crate::broker::Broker;
use crate::error::RequestError;
use crate::transaction;

/// The property naming the cluster of the storing broker (`CLUSTER`).
const PROPERTY_CLUSTER: &str = "CLUSTER";

/// Spreads sends that leave the queue to the broker (`queueId < 0`).
static NEXT_QUEUE: AtomicU32 = AtomicU32::new(0);

impl Broker {
    pub(super) async fn send_message(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        let empty = ExtFields::default();
        let fields = request.ext_fields.as_ref().unwrap_or(&empty);
        let header = SendMessageRequestView::read(request.code, fields)?;
        if !self.ha.is_master() {
            // Java's store refuses puts on a slave with SERVICE_NOT_AVAILABLE.
            return Ok(reply(
                request,
                ResponseCode::SERVICE_NOT_AVAILABLE,
                "service not available now: the broker is a slave, messages are put to its master",
            ));
        }
        if let Some(refused) = self.refuse_fenced_write(request) {
            return Ok(refused);
        }
        let topic_config = match self.check_send(conn, request, &header)? {
            Ok(config) => config,
            Err(refused) => return Ok(refused),
        };
        let queue_id = if header.queue_id < 0 {
            let writable = topic_config.write_queue_nums.max(1).unsigned_abs();
            i32::try_from(NEXT_QUEUE.fetch_add(1, Ordering::Relaxed) % writable).unwrap_or(0)
        } else {
            header.queue_id
        };
        // Views of the frame's property string: no copy.
        let mut properties = header
            .properties
            .map(|raw| Properties::decode(raw.to_bytes()))
            .unwrap_or_default();
        let batch = request.request_code() == RequestCode::SEND_BATCH_MESSAGE;
        let half = match self.admit_half(
            request,
            &properties,
            header.sys_flag,
            header.reconsume_times.unwrap_or(0),
            batch,
        ) {
            Ok(half) => half,
            Err(refused) => return Ok(refused),
        };
        if batch && properties.delay_time_level().is_some_and(|level| level > 0) {
            // Java's store refuses a delayed batch.
            return Ok(reply(
                request,
                ResponseCode::MESSAGE_ILLEGAL,
                "a batch of messages cannot have a delay level",
            ));
        }
        properties.insert_text(
            Text::from_static(PROPERTY_CLUSTER),
            Text::copy_of(&self.config.broker_cluster_name),
        );

        // A single send's record stays out of a Vec: one allocation less.
        let batch_records: Vec<StoredMessage>;
        let single: StoredMessage;
        let messages: &[StoredMessage] = if batch {
            if is_retry_topic(header.topic) {
                return Ok(reply(
                    request,
                    ResponseCode::MESSAGE_ILLEGAL,
                    "batch request does not support retry group",
                ));
            }
            let entries = match decode_batch(&request.body) {
                Ok(entries) => entries,
                Err(error) => {
                    return Ok(reply(
                        request,
                        ResponseCode::MESSAGE_ILLEGAL,
                        format!("malformed batch body: {error}"),
                    ));
                }
            };
            let mut messages = Vec::with_capacity(entries.len());
            for entry in entries {
                let mut message = entry.into_message(header.topic);
                for (name, value) in properties.iter() {
                    if !message.properties.contains(name) {
                        message.properties.insert(name, value);
                    }
                }
                messages.push(self.record(conn, &header, queue_id, message));
            }
            batch_records = messages;
            &batch_records
        } else {
            let diverted = if is_retry_topic(header.topic) {
                match self.divert_exhausted_retry(request, &header.to_header(), &mut properties)? {
                    Ok(dlq) => dlq,
                    Err(refused) => return Ok(refused),
                }
            } else {
                None
            };
            let (topic, queue_id) = diverted.unwrap_or_else(|| (header.topic.to_owned(), queue_id));
            let message = Message {
                topic,
                flag: header.flag,
                properties,
                body: request.body.clone(),
            };
            let mut record = self.record(conn, &header, queue_id, message);
            if !half {
                // A timer due later goes to the timer topic; a DELAY level
                // > 0 (which wins) to its level's schedule queue.
                if let Err(refused) = self.timer.schedule(&mut record) {
                    let (code, remark) = refused.response(&self.config);
                    return Ok(reply(request, code, remark));
                }
                self.schedule.schedule(&mut record);
            }
            if half {
                transaction::half::into_half(&mut record);
            }
            single = record;
            std::slice::from_ref(&single)
        };
        if messages.is_empty() {
            return Ok(reply(
                request,
                ResponseCode::MESSAGE_ILLEGAL,
                "the batch holds no message",
            ));
        }

        let started = Instant::now();
        let mut result = if batch {
            self.store.put_messages(messages).await
        } else {
            self.store.put_message(&messages[0]).await
        };
        self.ha.notify_appended();
        // SYNC_MASTER: acknowledged once a replica holds the bytes.
        if let Some(append) = result.append.filter(|_| {
            result.status == PutMessageStatus::PutOk
                && self.ha.role() == BrokerRole::SyncMaster
                && messages[0].properties.wait_store_msg_ok()
        }) {
            result.status = self.ha.wait_replicated(append.end_offset()).await;
        }
        self.metrics.observe_put(started.elapsed());
        if let Some(append) = result.append.filter(|_| result.is_stored()) {
            if half {
                self.metrics.transaction_half_stored();
            }
            self.metrics.record_put(
                &messages[0].topic,
                append.msg_num as u64,
                append.wrote_bytes as u64,
            );
        }
        let response = self.send_response(request, queue_id, messages, &result);
        self.metrics.record_send_response(response.code);
        Ok(response)
    }

    /// The record the store will write for `message`.
    fn record(
        &self,
        conn: &ConnectionHandle,
        header: &SendMessageRequestView<'_>,
        queue_id: i32,
        message: Message,
    ) -> StoredMessage {
        let mut record = StoredMessage::new(message, conn.remote_addr(), self.store_host);
        record.queue_id = queue_id;
        record.sys_flag = header.sys_flag;
        record.sys_flag = record.normalized_sys_flag();
        record.born_timestamp = header.born_timestamp;
        record.reconsume_times = header.reconsume_times.unwrap_or(0);
        record
    }

    /// Java's `msgCheck`: the topic's name, existence (creating it when
    /// allowed), permission and queue id. `Ok(Err(response))` refuses.
    fn check_send(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
        header: &SendMessageRequestView<'_>,
    ) -> Result<Result<Arc<TopicConfig>, RemotingCommand>, RequestError> {
        let topic = header.topic;
        if !PermName::is_writeable(self.live.broker_permission()) {
            return Ok(Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!(
                    "the broker[{}] sending message is forbidden",
                    self.config.broker_ip1
                ),
            )));
        }
        if let Err(error) = validate_topic(topic) {
            return Ok(Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                error.to_string(),
            )));
        }
        if is_not_allowed_send_topic(topic) {
            return Ok(Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("Sending message to topic[{topic}] is forbidden."),
            )));
        }
        let config = match self.topics.get(topic) {
            Some(config) => Some(config),
            None if is_retry_topic(topic) => {
                self.topics
                    .create_in_send_back(topic, 1, PermName::READ | PermName::WRITE, 0)?
            }
            None => self.topics.create_in_send(
                topic,
                header.default_topic,
                conn.remote_addr(),
                header.default_topic_queue_nums,
                0,
            )?,
        };
        let Some(config) = config else {
            return Ok(Err(reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            )));
        };
        if !PermName::is_writeable(config.perm) {
            return Ok(Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!("the topic[{topic}] sending message is forbidden"),
            )));
        }
        let queues = config.write_queue_nums.max(config.read_queue_nums);
        if header.queue_id >= queues {
            return Ok(Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!(
                    "request queueId[{}] is illegal, topic[{topic}] has {queues} queues, producer: {}",
                    header.queue_id,
                    conn.remote_addr()
                ),
            )));
        }
        Ok(Ok(config))
    }

    /// Java's `handlePutMessageResult`.
    fn send_response(
        &self,
        request: &RemotingCommand,
        queue_id: i32,
        messages: &[StoredMessage],
        result: &PutMessageResult,
    ) -> RemotingCommand {
        let (code, remark) = match result.status {
            PutMessageStatus::PutOk => (ResponseCode::SUCCESS, None),
            PutMessageStatus::FlushDiskTimeout => (ResponseCode::FLUSH_DISK_TIMEOUT, None),
            PutMessageStatus::FlushSlaveTimeout => (ResponseCode::FLUSH_SLAVE_TIMEOUT, None),
            PutMessageStatus::SlaveNotAvailable => (ResponseCode::SLAVE_NOT_AVAILABLE, None),
            PutMessageStatus::CreateMappedFileFailed => (
                ResponseCode::SYSTEM_ERROR,
                Some("create mapped file failed, server is busy or broken.".to_owned()),
            ),
            PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => (
                ResponseCode::MESSAGE_ILLEGAL,
                Some(match &result.error {
                    Some(error) => format!("the message is illegal: {error}"),
                    None => {
                        "the message is illegal, maybe msg body or properties length not matched"
                            .to_owned()
                    }
                }),
            ),
            PutMessageStatus::ServiceNotAvailable => (
                ResponseCode::SERVICE_NOT_AVAILABLE,
                Some(format!(
                    "service not available now: {}",
                    result.error.as_ref().map_or_else(
                        || "the broker's disk is full, the broker is a slave or is shutting down"
                            .to_owned(),
                        ToString::to_string
                    )
                )),
            ),
            PutMessageStatus::OsPageCacheBusy => (
                ResponseCode::SYSTEM_ERROR,
                Some("[PC_SYNCHRONIZED]broker busy, start flow control for a while".to_owned()),
            ),
            other => (
                ResponseCode::SYSTEM_ERROR,
                Some(match &result.error {
                    Some(error) => format!("{other}: {error}"),
                    None => other.to_string(),
                }),
            ),
        };
        let mut response = RemotingCommand::response_to(request, code);
        if let Some(remark) = remark {
            tracing::warn!(status = %result.status, error = ?result.error, "put refused");
            response = response.with_remark(remark);
        }
        // Built in place in SendMessageResponseHeader's order, then Java's two
        // extras: literals and inline texts, no allocation per field.
        let mut fields = ExtFields::with_capacity(6);
        if let Some(append) = result.append.filter(|_| result.is_stored()) {
            let msg_id = if messages.len() == 1 {
                OffsetMsgId::new(self.store_host, append.wrote_offset).to_text()
            } else {
                // Each record's offset id, comma-separated, as Java answers a batch.
                let mut ids = String::with_capacity(messages.len() * 33);
                let mut offset = append.wrote_offset;
                for (i, message) in messages.iter().enumerate() {
                    if i > 0 {
                        ids.push(',');
                    }
                    OffsetMsgId::new(self.store_host, offset).write_to(&mut ids);
                    offset += i64::try_from(message.encoded_len()).unwrap_or(0);
                }
                Text::from(ids)
            };
            fields.insert_text(Text::from_static("msgId"), msg_id);
            fields.insert_text(Text::from_static("queueId"), Text::int(queue_id.into()));
            fields.insert_text(
                Text::from_static("queueOffset"),
                Text::int(append.queue_offset),
            );
            // Java answers every send with its UNIQ_KEY; only a transaction producer reads it.
            if let Some(transaction_id) = messages
                .first()
                .filter(|m| m.topic == RMQ_SYS_TRANS_HALF_TOPIC)
                .and_then(StoredMessage::uniq_key)
            {
                fields.insert_text(
                    Text::from_static("transactionId"),
                    Text::copy_of(transaction_id),
                );
            }
        }
        // Java clients read these from every send response, without a null check.
        let region = if self.config.region_id.is_empty() {
            DEFAULT_REGION
        } else {
            self.config.region_id.as_str()
        };
        fields.insert_text(Text::from_static(MSG_REGION), Text::copy_of(region));
        fields.insert_text(
            Text::from_static(TRACE_ON),
            Text::from_static(if self.config.trace_on {
                "true"
            } else {
                "false"
            }),
        );
        response.ext_fields = Some(fields);
        response
    }
}
