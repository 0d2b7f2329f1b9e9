//! END_TRANSACTION (`EndTransactionProcessor`): a producer's verdict on a
//! half message, sent oneway after its local transaction or in answer to a
//! check. COMMIT stores the message in its real topic and queue, ROLLBACK
//! stores nothing; both then write the op record that resolves the half.
//! An unknown verdict (`TRANSACTION_NOT_TYPE`) is left to the next check.
//!
//! Clients send it oneway, so the response is dropped by the remoting
//! layer; failures are logged here.

use skylark_protocol::headers::transaction::{
    EndTransactionRequestHeader, TRANSACTION_COMMIT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use skylark_protocol::message::topic::RMQ_SYS_TRANS_HALF_TOPIC;
use skylark_protocol::message::{StoredMessage, record};
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_remoting::ConnectionHandle;
use skylark_store::error::PutMessageStatus;
use skylark_store::message_store::PutMessageResult;

use super::{header, reply, success};
use crate::broker::Broker;
use crate::error::RequestError;
use crate::topic_config::now_ms;
use crate::transaction::half::{committed, end_immunity_ms};

impl Broker {
    pub(super) async fn end_transaction(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        let header: EndTransactionRequestHeader = header(request)?;
        header.validate()?;
        let remote = conn.remote_addr();
        if !self.ha.is_master() {
            tracing::warn!(%remote, "END_TRANSACTION refused: this broker is a slave");
            return Ok(Some(reply(
                request,
                ResponseCode::SLAVE_NOT_AVAILABLE,
                "the broker is a slave; end transaction is forbidden",
            )));
        }
        let from_check = header.from_transaction_check.unwrap_or(false);
        let commit = match header.commit_or_rollback {
            TRANSACTION_COMMIT_TYPE => true,
            TRANSACTION_ROLLBACK_TYPE => false,
            // TRANSACTION_NOT_TYPE (validated: nothing else is left): the
            // half stays for the next check; no answer, as Java.
            _ => {
                tracing::info!(
                    %remote, from_check, group = %header.producer_group, msg_id = %header.msg_id,
                    "transaction state unknown; left for the next check"
                );
                return Ok(None);
            }
        };
        tracing::debug!(
            %remote, from_check, commit, group = %header.producer_group, msg_id = %header.msg_id,
            commit_log_offset = header.commit_log_offset, "end transaction"
        );
        let half = match self.find_half(request, &header, from_check) {
            Ok(half) => half,
            Err(refused) => {
                tracing::warn!(
                    %remote, from_check, commit, group = %header.producer_group, msg_id = %header.msg_id,
                    commit_log_offset = header.commit_log_offset, remark = ?refused.remark,
                    "end transaction refused"
                );
                return Ok(Some(refused));
            }
        };
        let (half_queue, half_offset) = (half.queue_id, half.queue_offset);
        let real_topic = half.properties.real_topic().unwrap_or_default().to_owned();
        if commit {
            let record = match committed(half, header.commit_log_offset) {
                Ok(record) => record,
                Err(error) => {
                    return Ok(Some(reply(
                        request,
                        ResponseCode::SYSTEM_ERROR,
                        error.to_string(),
                    )));
                }
            };
            let mut result = self.store.put_message(&record).await;
            // SYNC_MASTER: the commit is answered (and its half resolved)
            // once a replica holds it, as Java's put of the final message
            // waits when the producer's WAIT (kept from the half) asks.
            if record.properties.wait_store_msg_ok() {
                self.ha.replicate(&mut result).await;
            } else {
                self.ha.notify_appended();
            }
            let response = final_response(request, &result);
            if response.response_code() != ResponseCode::SUCCESS {
                tracing::error!(
                    %remote, topic = %record.topic, msg_id = %header.msg_id, status = %result.status,
                    error = ?result.error, "cannot store a committed transactional message"
                );
                return Ok(Some(response));
            }
            if let Some(append) = result.append {
                self.metrics.record_put(
                    &record.topic,
                    append.msg_num as u64,
                    append.wrote_bytes as u64,
                );
            }
            self.resolve_half(half_queue, half_offset).await;
            tracing::debug!(topic = %real_topic, msg_id = %header.msg_id, "transaction committed");
            Ok(Some(response))
        } else {
            self.resolve_half(half_queue, half_offset).await;
            tracing::debug!(topic = %real_topic, msg_id = %header.msg_id, "transaction rolled back");
            Ok(Some(success(request)))
        }
    }

    /// The half message the request names, checked as Java's
    /// `checkPrepareMessage` does, or the response refusing it.
    fn find_half(
        &self,
        request: &RemotingCommand,
        header: &EndTransactionRequestHeader,
        from_check: bool,
    ) -> Result<StoredMessage, RemotingCommand> {
        let not_found = || {
            reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "Find prepared transaction message failed",
            )
        };
        let bytes = self
            .store
            .message_by_phys_offset(header.commit_log_offset)
            .ok_or_else(not_found)?;
        let (half, _) = record::decode(&bytes).map_err(|_| not_found())?;
        // Only a half may be committed: any other record would be copied
        // into the topic its properties name.
        if half.topic != RMQ_SYS_TRANS_HALF_TOPIC {
            return Err(not_found());
        }
        if !from_check {
            let timeout = i64::try_from(self.config.transaction_time_out).unwrap_or(i64::MAX);
            if let Some(immunity) = end_immunity_ms(&half, timeout) {
                if now_ms().saturating_sub(half.born_timestamp) > immunity {
                    return Err(reply(
                        request,
                        ResponseCode::ILLEGAL_OPERATION,
                        "the check immunity time has passed; the state is taken from the check",
                    ));
                }
            }
        }
        if half.properties.producer_group() != Some(header.producer_group.as_str()) {
            return Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "The producer group wrong",
            ));
        }
        if half.queue_offset != header.tran_state_table_offset {
            return Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "The transaction state table offset wrong",
            ));
        }
        if half.physical_offset != header.commit_log_offset {
            return Err(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "The commit log offset wrong",
            ));
        }
        Ok(half)
    }

    /// Writes the op record for the half at `half_offset` of half queue
    /// `queue_id` and counts it as no longer pending.
    async fn resolve_half(&self, queue_id: i32, half_offset: i64) {
        if self.write_op(queue_id, half_offset).await {
            self.metrics.transaction_half_resolved();
        }
    }
}

/// Java's `sendFinalMessage`: the answer for the put of a committed message.
fn final_response(request: &RemotingCommand, result: &PutMessageResult) -> RemotingCommand {
    let (code, remark) = match result.status {
        PutMessageStatus::PutOk
        | PutMessageStatus::FlushDiskTimeout
        | PutMessageStatus::FlushSlaveTimeout
        | PutMessageStatus::SlaveNotAvailable => return success(request),
        PutMessageStatus::CreateMappedFileFailed => {
            (ResponseCode::SYSTEM_ERROR, "Create mapped file failed.")
        }
        PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => (
            ResponseCode::MESSAGE_ILLEGAL,
            "The message is illegal, maybe msg body or properties length not matched.",
        ),
        PutMessageStatus::ServiceNotAvailable => (
            ResponseCode::SERVICE_NOT_AVAILABLE,
            "Service not available now.",
        ),
        PutMessageStatus::OsPageCacheBusy => (
            ResponseCode::SYSTEM_ERROR,
            "OS page cache busy, please try another machine",
        ),
        _ => (ResponseCode::SYSTEM_ERROR, "UNKNOWN_ERROR"),
    };
    reply(request, code, remark)
}
