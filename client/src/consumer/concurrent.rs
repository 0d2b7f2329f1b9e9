//! Concurrent consumption (Java's `ConsumeMessageConcurrentlyService`):
//! batches of pulled messages run on up to `consume_thread_max` listener
//! calls at once; "reconsume later" sends messages back to the broker
//! (CONSUMER_SEND_MSG_BACK, falling back to a send to `%RETRY%group`) and
//! the queue's offset moves to its lowest message still in flight.

use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::body::{MessageModel, MessageQueue};
use skylark_protocol::headers::ConsumerSendMsgBackRequestHeader;
use skylark_protocol::message::{Message, property};

use super::broker_api;
use super::listener::{ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, run_guarded};
use super::message_ext::MessageExt;
use super::process_queue::ProcessQueue;
use super::push::{Listener, Shared};
use crate::error::ClientError;

/// Delay before messages that could not be sent back are consumed again
/// locally (Java's 5 s).
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Consumes one pull's messages in a task of their own: listener calls of
/// up to `consume_message_batch_max_size` messages each, given slices of
/// the pulled batch (no per-message task or copy).
pub(crate) fn submit(
    shared: &Arc<Shared>,
    mq: &MessageQueue,
    pq: &Arc<ProcessQueue>,
    msgs: Vec<MessageExt>,
) {
    tokio::spawn(consume(shared.clone(), mq.clone(), pq.clone(), msgs));
}

/// Resubmits `msgs` after a pause (messages whose send-back failed).
fn submit_later(
    shared: &Arc<Shared>,
    mq: &MessageQueue,
    pq: &Arc<ProcessQueue>,
    msgs: Vec<MessageExt>,
) {
    let (shared, mq, pq) = (shared.clone(), mq.clone(), pq.clone());
    tokio::spawn(async move {
        if shared.sleep(LOCAL_RETRY_DELAY).await && !pq.is_dropped() {
            submit(&shared, &mq, &pq, msgs);
        }
    });
}

async fn consume(
    shared: Arc<Shared>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    msgs: Vec<MessageExt>,
) {
    let Listener::Concurrently(listener) = &shared.listener else {
        return;
    };
    // One permit per pulled batch bounds the listener calls running at once.
    let Ok(_permit) = shared.permits.clone().acquire_owned().await else {
        return;
    };
    let mut local_retry = Vec::new();
    for chunk in msgs.chunks(shared.config.consume_message_batch_max_size) {
        if pq.is_dropped() {
            return;
        }
        pq.touch_consume();
        let mut ctx = ConsumeConcurrentlyContext {
            message_queue: mq.clone(),
            delay_level_when_next_consume: 0,
            ack_index: i32::MAX,
        };
        let status = run_guarded(|| listener.consume_message(chunk, &mut ctx))
            .await
            .unwrap_or_else(|| {
                tracing::warn!(%mq, "listener panicked; messages will be redelivered");
                ConsumeConcurrentlyStatus::ReconsumeLater
            });
        if pq.is_dropped() {
            // The queue moved to another member, which consumes these again.
            tracing::debug!(%mq, "queue dropped during consumption; result not processed");
            return;
        }
        let acked = match status {
            ConsumeConcurrentlyStatus::ConsumeSuccess => usize::try_from(ctx.ack_index)
                .map_or(0, |i| i.saturating_add(1))
                .min(chunk.len()),
            ConsumeConcurrentlyStatus::ReconsumeLater => 0,
        };
        // Offsets of messages retried locally stay in the process queue.
        let mut kept: Vec<i64> = Vec::new();
        for m in &chunk[acked..] {
            match shared.config.message_model {
                MessageModel::Broadcasting => {
                    tracing::warn!(%mq, msg_id = %m.msg_id(), "broadcast message not consumed; dropped");
                }
                MessageModel::Clustering => {
                    if let Err(error) =
                        send_message_back(&shared, m, ctx.delay_level_when_next_consume).await
                    {
                        tracing::warn!(%mq, msg_id = %m.msg_id(), %error, "send back failed; consuming again locally");
                        let mut again = m.clone();
                        again.stored.reconsume_times += 1;
                        kept.push(again.queue_offset());
                        local_retry.push(again);
                    }
                }
            }
        }
        let offset = pq.remove(
            chunk
                .iter()
                .map(MessageExt::queue_offset)
                .filter(|o| !kept.contains(o)),
        );
        if offset >= 0 && !pq.is_dropped() {
            shared.offsets.update(&mq, offset, true);
        }
    }
    if !local_retry.is_empty() {
        submit_later(&shared, &mq, &pq, local_retry);
    }
}

/// Sends a message back for redelivery: CONSUMER_SEND_MSG_BACK to the
/// broker that stored it, else a new message to `%RETRY%group` carrying the
/// original's properties, as Java's `sendMessageBack` does.
pub(crate) async fn send_message_back(
    shared: &Shared,
    msg: &MessageExt,
    delay_level: i32,
) -> Result<(), ClientError> {
    let header = ConsumerSendMsgBackRequestHeader {
        offset: msg.commit_log_offset(),
        group: shared.config.group.clone(),
        delay_level,
        origin_msg_id: Some(msg.msg_id()),
        origin_topic: Some(msg.topic().to_owned()),
        unit_mode: Some(false),
        max_reconsume_times: Some(shared.max_reconsume_times()),
        broker_name: Some(msg.broker_name.to_string()),
    };
    let direct =
        match broker_api::broker_addr(&shared.instance, msg.topic(), &msg.broker_name).await {
            Ok(addr) => broker_api::send_back(&shared.instance, &addr, &header).await,
            Err(e) => Err(e),
        };
    let Err(error) = direct else {
        return Ok(());
    };
    tracing::debug!(msg_id = %msg.msg_id(), %error, "CONSUMER_SEND_MSG_BACK failed; resending to the retry topic");
    let producer = shared.inner_producer()?;
    let mut retry = Message::new(shared.retry_topic(), msg.body().clone());
    retry.flag = msg.stored.flag;
    for (k, v) in msg.stored.properties.iter() {
        retry.properties.insert(k, v);
    }
    let origin = msg
        .property(property::ORIGIN_MESSAGE_ID)
        .map_or_else(|| msg.msg_id(), str::to_owned);
    retry.properties.insert(property::ORIGIN_MESSAGE_ID, origin);
    retry.properties.insert(property::RETRY_TOPIC, msg.topic());
    retry.properties.insert(
        property::RECONSUME_TIME,
        (msg.reconsume_times() + 1).to_string(),
    );
    retry.properties.insert(
        property::MAX_RECONSUME_TIMES,
        shared.max_reconsume_times().to_string(),
    );
    retry.properties.remove(property::TRANSACTION_PREPARED);
    retry.properties.insert(
        property::DELAY_TIME_LEVEL,
        (3 + msg.reconsume_times()).to_string(),
    );
    producer.send(retry).await.map(|_| ())
}
