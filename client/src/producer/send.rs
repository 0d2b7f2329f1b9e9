//! One send attempt: the SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request for a
//! prepared message and the reading of its response.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use skylark_protocol::body::MessageQueue;
use skylark_protocol::headers::SendMessageResponseHeader;
use skylark_protocol::message::topic::RETRY_GROUP_TOPIC_PREFIX;
use skylark_protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

use crate::error::ClientError;
use crate::message::{SendResult, SendStatus};

/// A message (or batch) ready to go out: everything of the request that
/// does not depend on the queue, computed once per send, not per attempt.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The topic.
    pub(crate) topic: String,
    /// The body as sent (compressed, or a batch encoding).
    pub(crate) body: Bytes,
    /// The property string.
    pub(crate) properties: String,
    /// The application flag.
    pub(crate) flag: i32,
    /// `MessageSysFlag` bits (compression, transaction).
    pub(crate) sys_flag: i32,
    /// Whether this is a SEND_BATCH_MESSAGE.
    pub(crate) batch: bool,
    /// The UNIQ_KEY (joined by `,` for a batch): the result's `msg_id`.
    pub(crate) uniq_ids: String,
    /// `reconsumeTimes` and `maxReconsumeTimes` of a retry-topic send.
    pub(crate) reconsume: Option<(i32, Option<i32>)>,
}

impl Prepared {
    /// The request for `mq` from `group`.
    pub(crate) fn request(
        &self,
        group: &str,
        default_topic: &str,
        default_topic_queue_nums: i32,
        mq: &MessageQueue,
    ) -> RemotingCommand {
        let (reconsume_times, max_reconsume_times) = match self.reconsume {
            Some((times, max)) => (times, max),
            None => (0, None),
        };
        // Written straight into extFields, in SendMessageRequestHeaderV2's
        // order: building the typed header first would copy every string twice.
        let mut f = ExtFields::with_capacity(14);
        f.insert("a", group);
        f.insert("b", self.topic.as_str());
        f.insert("c", default_topic);
        f.insert("d", default_topic_queue_nums.to_string());
        f.insert("e", mq.queue_id.to_string());
        f.insert("f", self.sys_flag.to_string());
        f.insert("g", now_ms().to_string());
        f.insert("h", self.flag.to_string());
        f.insert("i", self.properties.as_str());
        f.insert("j", reconsume_times.to_string());
        f.insert("k", "false");
        if let Some(max) = max_reconsume_times {
            f.insert("l", max.to_string());
        }
        f.insert("m", if self.batch { "true" } else { "false" });
        f.insert("n", mq.broker_name.as_str());
        let code = if self.batch {
            RequestCode::SEND_BATCH_MESSAGE
        } else {
            RequestCode::SEND_MESSAGE_V2
        };
        let mut cmd = RemotingCommand::bare_request(code).with_body(self.body.clone());
        cmd.ext_fields = Some(f);
        cmd
    }
}

/// `reconsumeTimes`/`maxReconsumeTimes` of a send to a retry topic, read
/// from the message's properties as Java does.
pub(crate) fn retry_fields(
    topic: &str,
    props: &skylark_protocol::message::Properties,
) -> Option<(i32, Option<i32>)> {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX).then(|| {
        (
            props.reconsume_time().unwrap_or(0),
            props.max_reconsume_times(),
        )
    })
}

/// Reads a send response: success and the three stored-but codes give a
/// result, anything else a [`ClientError::Server`].
pub(crate) fn read_response(
    response: &RemotingCommand,
    addr: &str,
    mq: &MessageQueue,
    uniq_ids: &str,
) -> Result<SendResult, ClientError> {
    let status = match response.response_code() {
        ResponseCode::SUCCESS => SendStatus::SendOk,
        ResponseCode::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
        ResponseCode::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
        ResponseCode::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
        _ => return Err(ClientError::from_response(response, addr)),
    };
    let header: SendMessageResponseHeader = response.read_header()?;
    Ok(SendResult {
        status,
        msg_id: uniq_ids.to_owned(),
        offset_msg_id: header.msg_id,
        queue: MessageQueue::new(mq.topic.clone(), mq.broker_name.clone(), header.queue_id),
        queue_offset: header.queue_offset,
        transaction_id: header.transaction_id,
        region_id: response
            .ext(skylark_protocol::headers::send::MSG_REGION)
            .map(str::to_owned),
    })
}

/// Whether a failed attempt is worth another (Java's `retryResponseCodes`
/// and every connection-level failure, timeouts included).
pub(crate) fn retryable(error: &ClientError) -> bool {
    match error {
        ClientError::Server { code, .. } => matches!(
            *code,
            ResponseCode::TOPIC_NOT_EXIST
                | ResponseCode::SERVICE_NOT_AVAILABLE
                | ResponseCode::SYSTEM_ERROR
                | ResponseCode::SYSTEM_BUSY
                | ResponseCode::NO_PERMISSION
                | ResponseCode::NO_BUYER_ID
                | ResponseCode::NOT_IN_CURRENT_UNIT
                | ResponseCode::GO_AWAY
        ),
        ClientError::Remoting(e) => !matches!(e, skylark_remoting::RemotingError::Shutdown),
        ClientError::BrokerNotFound(_) => true,
        _ => false,
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds in `d`, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use skylark_protocol::headers::{CommandHeader, SendMessageRequestHeaderV2};

    use super::*;

    fn prepared(batch: bool) -> Prepared {
        Prepared {
            topic: "T".into(),
            body: Bytes::from_static(b"hi"),
            properties: "UNIQ_KEY\u{1}X\u{2}".into(),
            flag: 7,
            sys_flag: 0,
            batch,
            uniq_ids: "X".into(),
            reconsume: None,
        }
    }

    #[test]
    fn request_carries_v2_header() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        let cmd = prepared(false).request("pg", "TBW102", 4, &mq);
        assert_eq!(cmd.code, RequestCode::SEND_MESSAGE_V2.value());
        let h = SendMessageRequestHeaderV2::read_from(cmd.ext_fields.as_ref().unwrap()).unwrap();
        assert_eq!(h.producer_group, "pg");
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.flag, 7);
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(h.batch, Some(false));
        assert_eq!(&cmd.body[..], b"hi");
        // The same fields, order and values as the typed header writes.
        let typed = SendMessageRequestHeaderV2 {
            born_timestamp: h.born_timestamp,
            reconsume_times: Some(0),
            unit_mode: Some(false),
            properties: Some("UNIQ_KEY\u{1}X\u{2}".into()),
            ..h.clone()
        };
        assert_eq!(cmd.ext_fields.as_ref().unwrap(), &typed.to_ext_fields());
        let mut retry = prepared(false);
        retry.reconsume = Some((3, Some(16)));
        let r = retry.request("pg", "TBW102", 4, &mq);
        let h = SendMessageRequestHeaderV2::read_from(r.ext_fields.as_ref().unwrap()).unwrap();
        assert_eq!(
            (h.reconsume_times, h.max_reconsume_times),
            (Some(3), Some(16))
        );
        let batch = prepared(true).request("pg", "TBW102", 4, &mq);
        assert_eq!(batch.code, RequestCode::SEND_BATCH_MESSAGE.value());
    }

    #[test]
    fn response_codes() {
        let mq = MessageQueue::new("T", "b", 0);
        let req = RemotingCommand::bare_request(RequestCode::SEND_MESSAGE_V2);
        let ok = RemotingCommand::response_to(&req, ResponseCode::FLUSH_DISK_TIMEOUT).with_header(
            &SendMessageResponseHeader {
                msg_id: "OFF".into(),
                queue_id: 2,
                queue_offset: 9,
                ..Default::default()
            },
        );
        let r = read_response(&ok, "a", &mq, "U").unwrap();
        assert_eq!(r.status, SendStatus::FlushDiskTimeout);
        assert_eq!((r.queue.queue_id, r.queue_offset), (2, 9));
        assert_eq!((r.msg_id.as_str(), r.offset_msg_id.as_str()), ("U", "OFF"));
        let busy =
            RemotingCommand::response_to(&req, ResponseCode::SYSTEM_BUSY).with_remark("busy");
        let e = read_response(&busy, "a", &mq, "U").unwrap_err();
        assert_eq!(e.response_code(), Some(ResponseCode::SYSTEM_BUSY));
        assert!(retryable(&e));
        let illegal = RemotingCommand::response_to(&req, ResponseCode::MESSAGE_ILLEGAL);
        assert!(!retryable(
            &read_response(&illegal, "a", &mq, "U").unwrap_err()
        ));
    }
}
