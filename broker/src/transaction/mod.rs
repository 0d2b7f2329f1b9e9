//! Transactional messages, as RocketMQ's broker keeps them
//! (`TransactionalMessageServiceImpl`, `TransactionalMessageBridge`,
//! `TransactionalMessageCheckService`, `DefaultTransactionalMessageCheckListener`):
//!
//! - a send with `TRAN_MSG=true` stores a **half** message in queue 0 of
//!   `RMQ_SYS_TRANS_HALF_TOPIC`, invisible to consumers ([`half`]);
//! - END_TRANSACTION (`processor/end_transaction.rs`) commits it — the
//!   message is stored again in its real topic and queue — or rolls it
//!   back, and either way writes an **op** record naming the half's queue
//!   offset to `RMQ_SYS_TRANS_OP_HALF_TOPIC` ([`op`]);
//! - the **check** ([`check`]) asks producers about halves that stay
//!   unresolved past `transactionTimeOut`, and discards those asked
//!   `transactionCheckMax` times.

mod check;
pub(crate) mod half;
pub(crate) mod op;
mod resolved;
mod verdict;

use skylark_protocol::message::Properties;
use skylark_protocol::{RemotingCommand, ResponseCode};

use crate::broker::Broker;
use crate::processor::reply;

/// The group whose consumer offsets on the half and op queues say where
/// the check stopped (`MixAll.CID_SYS_RMQ_TRANS`).
pub(crate) const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";

impl Broker {
    /// For the send path: `Ok(true)` when the send stores a half message,
    /// `Ok(false)` for an ordinary one, or the refusal to answer with
    /// (`rejectTransactionMessage`; a batch, which cannot hold halves).
    pub(crate) fn admit_half(
        &self,
        request: &RemotingCommand,
        properties: &Properties,
        sys_flag: i32,
        reconsume_times: i32,
        batch: bool,
    ) -> Result<bool, RemotingCommand> {
        if !half::is_half_send(properties, sys_flag, reconsume_times) {
            return Ok(false);
        }
        if self.config.reject_transaction_message {
            return Err(reply(
                request,
                ResponseCode::NO_PERMISSION,
                format!(
                    "the broker[{}] sending transaction message is forbidden",
                    self.config.broker_ip1
                ),
            ));
        }
        if batch {
            // Java's CommitLog refuses a batch with transaction bits alike.
            return Err(reply(
                request,
                ResponseCode::MESSAGE_ILLEGAL,
                "a batch cannot hold transactional messages",
            ));
        }
        Ok(true)
    }
}
