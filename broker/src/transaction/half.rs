//! Half messages as records: the half a transactional send stores
//! (`TransactionalMessageBridge.parseHalfMessageInner`), the message a
//! COMMIT restores from it (`EndTransactionProcessor.endMessageTransaction`),
//! the copy a check stores again (`renewHalfMessageInner`), the record a
//! discarded half becomes (`DefaultTransactionalMessageCheckListener`), and
//! the CHECK_TRANSACTION_STATE request sent to its producer.
//!
//! Every function moves the body (`Bytes`), never copies it.

use bytes::Bytes;
use skylark_protocol::headers::transaction::CheckTransactionStateRequestHeader;
use skylark_protocol::message::property::{
    CHECK_IMMUNITY_TIME_IN_SECONDS, REAL_QUEUE_ID, REAL_TOPIC, TRANSACTION_CHECK_TIMES,
    TRANSACTION_ID, TRANSACTION_PREPARED_QUEUE_OFFSET,
};
use skylark_protocol::message::record::MessageVersion;
use skylark_protocol::message::topic::{
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, RMQ_SYS_TRANS_HALF_TOPIC,
};
use skylark_protocol::message::{MessageSysFlag, Properties, StoredMessage};
use skylark_protocol::{RemotingCommand, RequestCode};

/// Whether a send stores a half message: `TRAN_MSG` is "true" or the
/// sysflag says PREPARED — except a message a pre-4.6.1 client re-sends to
/// its retry topic (reconsumed, with a delay level), which still carries
/// the `TRAN_MSG` of the committed message it was consumed as.
pub(crate) fn is_half_send(properties: &Properties, sys_flag: i32, reconsume_times: i32) -> bool {
    let prepared = properties.is_transaction_prepared()
        || MessageSysFlag::transaction_value(sys_flag) == MessageSysFlag::TRANSACTION_PREPARED_TYPE;
    let resent_for_retry =
        reconsume_times > 0 && properties.delay_time_level().is_some_and(|level| level > 0);
    prepared && !resent_for_retry
}

/// Turns the record a send built into its half: the real topic and queue
/// kept as `REAL_TOPIC`/`REAL_QID`, `UNIQ_KEY` as `__transactionId__`, the
/// transaction bits cleared, stored in queue 0 of `RMQ_SYS_TRANS_HALF_TOPIC`.
pub(crate) fn into_half(record: &mut StoredMessage) {
    if let Some(uniq) = record.uniq_key().filter(|id| !id.is_empty()) {
        let uniq = uniq.to_owned();
        record.properties.insert(TRANSACTION_ID, uniq);
    }
    let real_topic = std::mem::replace(&mut record.topic, RMQ_SYS_TRANS_HALF_TOPIC.to_owned());
    record.properties.insert(REAL_TOPIC, real_topic);
    record
        .properties
        .insert(REAL_QUEUE_ID, itoa::Buffer::new().format(record.queue_id));
    record.queue_id = 0;
    record.sys_flag = reset_transaction(record.sys_flag, MessageSysFlag::TRANSACTION_NOT_TYPE);
    record.version = MessageVersion::for_topic_len(record.topic.len());
}

/// Why a stored record cannot be committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HalfError {
    /// `REAL_TOPIC` is absent.
    #[error("the half message has no REAL_TOPIC")]
    NoRealTopic,
    /// `REAL_QID` is absent or not a number.
    #[error("the half message has no valid REAL_QID")]
    NoRealQueue,
}

/// The message a COMMIT of `half` (stored at `commit_log_offset`) stores in
/// the real topic and queue: COMMIT transaction bits and the half's offset
/// as prepared transaction offset.
///
/// The properties are the half's, as stored: Java removes `REAL_TOPIC`,
/// `REAL_QID` and `TRAN_MSG` from its property map but writes the
/// property string it took before, so committed messages reach consumers
/// with all three (and the 4.6.1 retry exception in [`is_half_send`] exists
/// because of it).
pub(crate) fn committed(
    half: StoredMessage,
    commit_log_offset: i64,
) -> Result<StoredMessage, HalfError> {
    let topic = half
        .properties
        .real_topic()
        .ok_or(HalfError::NoRealTopic)?
        .to_owned();
    let queue_id = half
        .properties
        .real_queue_id()
        .ok_or(HalfError::NoRealQueue)?;
    let mut record = half;
    record.version = MessageVersion::for_topic_len(topic.len());
    record.topic = topic;
    record.queue_id = queue_id;
    record.queue_offset = 0;
    record.physical_offset = 0;
    record.store_timestamp = 0;
    record.sys_flag = reset_transaction(record.sys_flag, MessageSysFlag::TRANSACTION_COMMIT_TYPE);
    record.prepared_transaction_offset = commit_log_offset;
    Ok(record)
}

/// The copy of `half` stored again when it is checked, carrying
/// `check_times` as `TRANSACTION_CHECK_TIMES` (`renewHalfMessageInner`);
/// with `prepared_offset`, also the offset of the half it stands for as
/// `TRAN_PREPARED_QUEUE_OFFSET` (`renewImmunityHalfMessageInner`).
pub(crate) fn renewed(
    half: &StoredMessage,
    check_times: i32,
    prepared_offset: Option<i64>,
) -> StoredMessage {
    let mut copy = half.clone();
    copy.properties.insert(
        TRANSACTION_CHECK_TIMES,
        itoa::Buffer::new().format(check_times),
    );
    if let Some(offset) = prepared_offset {
        if !copy.properties.contains(TRANSACTION_PREPARED_QUEUE_OFFSET) {
            copy.properties.insert(
                TRANSACTION_PREPARED_QUEUE_OFFSET,
                itoa::Buffer::new().format(offset),
            );
        }
    }
    copy.queue_offset = 0;
    copy.physical_offset = 0;
    copy.store_timestamp = 0;
    copy
}

/// The record a half checked too often becomes, in queue 0 of
/// `TRANS_CHECK_MAX_TIME_TOPIC`.
pub(crate) fn discarded(half: StoredMessage) -> StoredMessage {
    let mut record = half;
    record.topic = RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC.to_owned();
    record.version = MessageVersion::for_topic_len(record.topic.len());
    record.queue_id = 0;
    record.queue_offset = 0;
    record.physical_offset = 0;
    record.store_timestamp = 0;
    record
}

/// CHECK_TRANSACTION_STATE for `copy`, the half as just stored again at
/// `queue_offset`/`commit_log_offset` (`sendCheckMessage`): the header names
/// that copy, the body is the copy encoded with its real topic and queue.
/// `None` when the copy has no real topic or queue, or does not encode.
pub(crate) fn check_request(
    copy: StoredMessage,
    queue_offset: i64,
    commit_log_offset: i64,
    broker_name: &str,
) -> Option<RemotingCommand> {
    let mut message = copy;
    message.queue_offset = queue_offset;
    message.physical_offset = commit_log_offset;
    let uniq = message.uniq_key().map(str::to_owned);
    let header = CheckTransactionStateRequestHeader {
        topic: Some(message.topic.clone()),
        tran_state_table_offset: queue_offset,
        commit_log_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(message.offset_msg_id()),
        broker_name: Some(broker_name.to_owned()),
    };
    message.topic = message.properties.real_topic()?.to_owned();
    message.queue_id = message.properties.real_queue_id()?;
    message.version = MessageVersion::for_topic_len(message.topic.len());
    let body: Bytes = match message.to_bytes() {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, commit_log_offset, "cannot encode a half message for its check");
            return None;
        }
    };
    Some(RemotingCommand::request(RequestCode::CHECK_TRANSACTION_STATE, &header).with_body(body))
}

/// The age in ms before which `half` is not checked, from
/// `CHECK_IMMUNITY_TIME_IN_SECONDS` (`TransactionalMessageServiceImpl.getImmunityTime`:
/// seconds, or `timeout_ms` when it is not a number); `None` without it.
pub(crate) fn check_immunity_ms(half: &StoredMessage, timeout_ms: i64) -> Option<i64> {
    let text = half.properties.get(CHECK_IMMUNITY_TIME_IN_SECONDS)?;
    Some(match text.parse::<i64>() {
        Ok(-1) | Err(_) => timeout_ms,
        Ok(seconds) => seconds.saturating_mul(1000),
    })
}

/// The immunity an END_TRANSACTION from the producer (not from a check) is
/// held to (`TransactionalMessageUtil.getImmunityTime`): never below
/// `timeout_ms`; `None` without (or with an empty) property.
pub(crate) fn end_immunity_ms(half: &StoredMessage, timeout_ms: i64) -> Option<i64> {
    let text = half
        .properties
        .get(CHECK_IMMUNITY_TIME_IN_SECONDS)
        .filter(|t| !t.is_empty())?;
    let immunity = text.parse::<i64>().unwrap_or(0).saturating_mul(1000);
    Some(immunity.max(timeout_ms))
}

/// `MessageSysFlag.resetTransactionValue`.
fn reset_transaction(sys_flag: i32, kind: i32) -> i32 {
    (sys_flag & !MessageSysFlag::TRANSACTION_ROLLBACK_TYPE) | kind
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use skylark_protocol::headers::CommandHeader;
    use skylark_protocol::message::property::{TRANSACTION_PREPARED, UNIQ_KEY};
    use skylark_protocol::message::record;
    use skylark_protocol::message::{Message, TransactionType};

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn sent() -> StoredMessage {
        let mut props = Properties::new();
        props.insert(TRANSACTION_PREPARED, "true");
        props.insert(UNIQ_KEY, "U1");
        props.insert("PGROUP", "PG");
        props.set_tags("TagA");
        let mut m = StoredMessage::new(
            Message {
                topic: "Orders".into(),
                flag: 3,
                properties: props,
                body: Bytes::from_static(b"payload"),
            },
            addr("10.0.0.2:5000"),
            addr("10.0.0.1:10911"),
        );
        m.queue_id = 5;
        m.sys_flag |= MessageSysFlag::TRANSACTION_PREPARED_TYPE;
        m
    }

    #[test]
    fn half_sends_are_told_by_tran_msg_or_the_sysflag_but_not_retry_resends() {
        let mut props = Properties::new();
        assert!(!is_half_send(&props, 0, 0));
        assert!(is_half_send(
            &props,
            MessageSysFlag::TRANSACTION_PREPARED_TYPE,
            0
        ));
        assert!(!is_half_send(
            &props,
            MessageSysFlag::TRANSACTION_COMMIT_TYPE,
            0
        ));
        props.insert(TRANSACTION_PREPARED, "TRUE");
        assert!(is_half_send(&props, 0, 0));
        props.set_delay_time_level(3);
        assert!(is_half_send(&props, 0, 0), "a delay alone does not exempt");
        assert!(
            !is_half_send(&props, 0, 1),
            "a reconsumed resend with a delay does"
        );
    }

    #[test]
    fn a_half_keeps_its_real_topic_and_queue() {
        let mut half = sent();
        into_half(&mut half);
        assert_eq!(half.topic, RMQ_SYS_TRANS_HALF_TOPIC);
        assert_eq!(half.queue_id, 0);
        assert_eq!(half.transaction_type(), TransactionType::Not);
        assert_eq!(half.properties.real_topic(), Some("Orders"));
        assert_eq!(half.properties.real_queue_id(), Some(5));
        assert_eq!(half.properties.transaction_id(), Some("U1"));
        assert_eq!(half.body, Bytes::from_static(b"payload"));
    }

    #[test]
    fn a_commit_restores_the_real_topic_with_the_commit_type() {
        let mut half = sent();
        into_half(&mut half);
        half.queue_offset = 7;
        half.physical_offset = 4096;
        let done = committed(half, 4096).unwrap();
        assert_eq!((done.topic.as_str(), done.queue_id), ("Orders", 5));
        assert_eq!(done.transaction_type(), TransactionType::Commit);
        assert_eq!(done.prepared_transaction_offset, 4096);
        assert_eq!(done.flag, 3);
        assert_eq!(done.tags(), Some("TagA"));
        // As Java stores it: the half's property string, TRAN_MSG included.
        assert!(done.properties.is_transaction_prepared());
        assert_eq!(done.properties.real_topic(), Some("Orders"));

        let mut broken = sent();
        broken.properties.remove(REAL_TOPIC);
        assert_eq!(committed(broken, 0).unwrap_err(), HalfError::NoRealTopic);
        let mut broken = sent();
        broken.properties.insert(REAL_TOPIC, "Orders");
        broken.properties.insert(REAL_QUEUE_ID, "x");
        assert_eq!(committed(broken, 0).unwrap_err(), HalfError::NoRealQueue);
    }

    #[test]
    fn a_renewed_copy_counts_its_checks_and_keeps_the_first_prepared_offset() {
        let mut half = sent();
        into_half(&mut half);
        let copy = renewed(&half, 1, None);
        assert_eq!(copy.properties.transaction_check_times(), Some(1));
        assert!(!copy.properties.contains(TRANSACTION_PREPARED_QUEUE_OFFSET));
        let immune = renewed(&copy, 2, Some(9));
        assert_eq!(
            immune.properties.get(TRANSACTION_PREPARED_QUEUE_OFFSET),
            Some("9")
        );
        let again = renewed(&immune, 3, Some(20));
        assert_eq!(
            again.properties.get(TRANSACTION_PREPARED_QUEUE_OFFSET),
            Some("9")
        );
        assert_eq!(discarded(again).topic, RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC);
    }

    #[test]
    fn the_check_request_names_the_copy_and_carries_it_with_its_real_topic() {
        let mut half = sent();
        into_half(&mut half);
        let request = check_request(renewed(&half, 1, None), 12, 8192, "broker-a").unwrap();
        assert_eq!(
            request.code,
            i32::from(RequestCode::CHECK_TRANSACTION_STATE)
        );
        let header = request
            .read_header::<CheckTransactionStateRequestHeader>()
            .unwrap();
        assert_eq!(header.topic.as_deref(), Some(RMQ_SYS_TRANS_HALF_TOPIC));
        assert_eq!(header.tran_state_table_offset, 12);
        assert_eq!(header.commit_log_offset, 8192);
        assert_eq!(header.msg_id.as_deref(), Some("U1"));
        assert_eq!(header.transaction_id.as_deref(), Some("U1"));
        assert_eq!(
            header.offset_msg_id.as_deref(),
            Some(
                skylark_protocol::message::msg_id::offset_msg_id(addr("10.0.0.1:10911"), 8192)
                    .as_str()
            )
        );
        assert_eq!(header.broker_name.as_deref(), Some("broker-a"));
        let (body, _) = record::decode(&request.body).unwrap();
        assert_eq!((body.topic.as_str(), body.queue_id), ("Orders", 5));
        assert_eq!((body.queue_offset, body.physical_offset), (12, 8192));
        assert_eq!(body.properties.transaction_check_times(), Some(1));
        assert_eq!(body.body, Bytes::from_static(b"payload"));
        let _ = header.to_ext_fields();
    }

    #[test]
    fn immunity_times() {
        let mut half = sent();
        assert_eq!(check_immunity_ms(&half, 6000), None);
        assert_eq!(end_immunity_ms(&half, 6000), None);
        half.properties.insert(CHECK_IMMUNITY_TIME_IN_SECONDS, "60");
        assert_eq!(check_immunity_ms(&half, 6000), Some(60_000));
        assert_eq!(end_immunity_ms(&half, 6000), Some(60_000));
        half.properties.insert(CHECK_IMMUNITY_TIME_IN_SECONDS, "2");
        assert_eq!(check_immunity_ms(&half, 6000), Some(2000));
        assert_eq!(end_immunity_ms(&half, 6000), Some(6000));
        half.properties
            .insert(CHECK_IMMUNITY_TIME_IN_SECONDS, "soon");
        assert_eq!(check_immunity_ms(&half, 6000), Some(6000));
        assert_eq!(end_immunity_ms(&half, 6000), Some(6000));
    }
}
