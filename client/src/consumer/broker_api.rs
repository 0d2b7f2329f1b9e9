//! The broker calls consumers make: pull, offsets, group membership, queue
//! locks and sending messages back, each finding the queue's broker through
//! the instance's route cache.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use skylark_protocol::body::{
    Body, GetConsumerListByGroupResponseBody, KeyStyle, LockBatchRequestBody,
    LockBatchResponseBody, MessageQueue, UnlockBatchRequestBody,
};
use skylark_protocol::headers::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, PullMessageRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use skylark_protocol::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};

use crate::error::ClientError;
use crate::instance::ClientInstance;

/// How a pull ended (`PullStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStatus {
    /// Messages found (SUCCESS).
    Found,
    /// Nothing new before the long poll ended (PULL_NOT_FOUND).
    NoNewMsg,
    /// Messages there, none matching (PULL_RETRY_IMMEDIATELY).
    NoMatchedMsg,
    /// The requested offset is out of range (PULL_OFFSET_MOVED).
    OffsetIllegal,
}

/// A pull's answer: status, offsets, and the raw records (`PullResult`).
#[derive(Debug, Clone)]
pub struct PullResult {
    /// How it ended.
    pub status: PullStatus,
    /// Offset to pull next.
    pub next_begin_offset: i64,
    /// The queue's lowest offset.
    pub min_offset: i64,
    /// The queue's offset after its last message.
    pub max_offset: i64,
    /// The stored records, concatenated (empty unless found).
    pub body: Bytes,
}

/// The address to talk to about `broker_name`'s queues of `topic`: its
/// master, else any replica; the route is refreshed once when unknown.
pub(crate) async fn broker_addr(
    instance: &ClientInstance,
    topic: &str,
    broker_name: &str,
) -> Result<String, ClientError> {
    let known = instance
        .master_addr(broker_name)
        .or_else(|| instance.any_addr(broker_name));
    if let Some(addr) = known {
        return Ok(addr);
    }
    instance.refresh_topic_route(topic).await?;
    instance
        .master_addr(broker_name)
        .or_else(|| instance.any_addr(broker_name))
        .ok_or_else(|| ClientError::BrokerNotFound(broker_name.to_owned()))
}

/// PULL_MESSAGE (or LITE_PULL_MESSAGE) for `header`, waiting up to `timeout`.
pub(crate) async fn pull(
    instance: &ClientInstance,
    code: RequestCode,
    mq: &MessageQueue,
    header: &PullMessageRequestHeader,
    timeout: Duration,
) -> Result<PullResult, ClientError> {
    let addr = broker_addr(instance, &mq.topic, &mq.broker_name).await?;
    let response = instance
        .invoke(&addr, RemotingCommand::request(code, header), timeout)
        .await?;
    let status = match response.response_code() {
        ResponseCode::SUCCESS => PullStatus::Found,
        ResponseCode::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        ResponseCode::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        ResponseCode::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => return Err(ClientError::from_response(&response, &addr)),
    };
    let h: PullMessageResponseHeader = response.read_header()?;
    Ok(PullResult {
        status,
        next_begin_offset: h.next_begin_offset,
        min_offset: h.min_offset,
        max_offset: h.max_offset,
        body: if status == PullStatus::Found {
            response.body
        } else {
            Bytes::new()
        },
    })
}

/// Sends `header` with `code` to the queue's broker; a non-success answer
/// is an error.
async fn call(
    instance: &ClientInstance,
    mq: &MessageQueue,
    code: RequestCode,
    header: &impl CommandHeader,
) -> Result<RemotingCommand, ClientError> {
    let addr = broker_addr(instance, &mq.topic, &mq.broker_name).await?;
    instance
        .invoke_ok(&addr, RemotingCommand::request(code, header))
        .await
}

/// The group's committed offset of `mq`, `None` when the broker has none
/// (QUERY_NOT_FOUND).
pub(crate) async fn query_consumer_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>, ClientError> {
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        set_zero_if_not_found: None,
        broker_name: Some(mq.broker_name.clone()),
    };
    match call(instance, mq, RequestCode::QUERY_CONSUMER_OFFSET, &header).await {
        Ok(r) => Ok(Some(
            r.read_header::<QueryConsumerOffsetResponseHeader>()?.offset,
        )),
        Err(e) if e.response_code() == Some(ResponseCode::QUERY_NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Commits the group's offset of `mq` (UPDATE_CONSUMER_OFFSET), waiting
/// for the broker's answer.
pub(crate) async fn update_consumer_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
) -> Result<(), ClientError> {
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
        broker_name: Some(mq.broker_name.clone()),
    };
    call(instance, mq, RequestCode::UPDATE_CONSUMER_OFFSET, &header).await?;
    Ok(())
}

/// The queue's offset after its last message (GET_MAX_OFFSET).
pub(crate) async fn max_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    let header = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        committed: None,
        broker_name: Some(mq.broker_name.clone()),
    };
    let r = call(instance, mq, RequestCode::GET_MAX_OFFSET, &header).await?;
    Ok(r.read_header::<GetMaxOffsetResponseHeader>()?.offset)
}

/// The queue's lowest offset (GET_MIN_OFFSET).
pub(crate) async fn min_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    let header = GetMinOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        broker_name: Some(mq.broker_name.clone()),
    };
    let r = call(instance, mq, RequestCode::GET_MIN_OFFSET, &header).await?;
    Ok(r.read_header::<GetMinOffsetResponseHeader>()?.offset)
}

/// The first offset stored at or after `timestamp_ms`
/// (SEARCH_OFFSET_BY_TIMESTAMP).
pub(crate) async fn search_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64, ClientError> {
    let header = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        boundary_type: None,
        broker_name: Some(mq.broker_name.clone()),
    };
    let r = call(
        instance,
        mq,
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
        &header,
    )
    .await?;
    Ok(r.read_header::<SearchOffsetResponseHeader>()?.offset)
}

/// The ids of `group`'s members, asked of one broker of `topic`
/// (GET_CONSUMER_LIST_BY_GROUP), as Java's `findConsumerIdList`.
pub(crate) async fn consumer_ids(
    instance: &ClientInstance,
    topic: &str,
    group: &str,
) -> Result<Vec<String>, ClientError> {
    let route = instance.topic_route(topic).await?;
    let mut last = None;
    for broker in &route.data.broker_datas {
        let Some(addr) = broker
            .master_addr()
            .map(str::to_owned)
            .or_else(|| broker.broker_addrs.values().next().cloned())
        else {
            continue;
        };
        let header = GetConsumerListByGroupRequestHeader {
            consumer_group: group.to_owned(),
            broker_name: None,
        };
        let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP, &header);
        match instance.invoke_ok(&addr, cmd).await {
            Ok(r) => {
                return Ok(GetConsumerListByGroupResponseBody::decode(&r.body)?.consumer_id_list);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ClientError::NoRoute {
        topic: topic.to_owned(),
        reason: "no broker to ask for the group's members".into(),
    }))
}

/// Locks `mqs` (all on `broker_name`) for this client (LOCK_BATCH_MQ);
/// returns the queues now locked by it.
pub(crate) async fn lock_batch(
    instance: &ClientInstance,
    group: &str,
    topic: &str,
    broker_name: &str,
    mqs: BTreeSet<MessageQueue>,
) -> Result<BTreeSet<MessageQueue>, ClientError> {
    let addr = broker_addr(instance, topic, broker_name).await?;
    let body = LockBatchRequestBody {
        client_id: instance.client_id().to_owned(),
        consumer_group: group.to_owned(),
        mq_set: mqs,
        only_this_broker: false,
    };
    let cmd = RemotingCommand::bare_request(RequestCode::LOCK_BATCH_MQ)
        .with_body(body.encode(KeyStyle::Unquoted));
    let r = instance.invoke_ok(&addr, cmd).await?;
    Ok(LockBatchResponseBody::decode(&r.body)?.lock_ok_mq_set)
}

/// Releases this client's locks of `mqs` on `broker_name` (UNLOCK_BATCH_MQ).
pub(crate) async fn unlock_batch(
    instance: &ClientInstance,
    group: &str,
    topic: &str,
    broker_name: &str,
    mqs: BTreeSet<MessageQueue>,
) -> Result<(), ClientError> {
    let addr = broker_addr(instance, topic, broker_name).await?;
    let body = UnlockBatchRequestBody {
        client_id: instance.client_id().to_owned(),
        consumer_group: group.to_owned(),
        mq_set: mqs,
        only_this_broker: false,
    };
    let cmd = RemotingCommand::bare_request(RequestCode::UNLOCK_BATCH_MQ)
        .with_body(body.encode(KeyStyle::Unquoted));
    instance.invoke_ok(&addr, cmd).await?;
    Ok(())
}

/// CONSUMER_SEND_MSG_BACK of one message to the broker that stored it.
pub(crate) async fn send_back(
    instance: &ClientInstance,
    addr: &str,
    header: &ConsumerSendMsgBackRequestHeader,
) -> Result<(), ClientError> {
    let cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK, header);
    let r = instance.invoke(addr, cmd, Duration::from_secs(5)).await?;
    if r.response_code() == ResponseCode::SUCCESS {
        Ok(())
    } else {
        Err(ClientError::from_response(&r, addr))
    }
}
