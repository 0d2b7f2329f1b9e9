//! Transactional sends (Java's `TransactionMQProducer`): a half message
//! the broker keeps from consumers, a local transaction run after it is
//! stored, END_TRANSACTION with its outcome, and answers to the broker's
//! CHECK_TRANSACTION_STATE for outcomes it never got.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};

use skylark_protocol::headers::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use skylark_protocol::message::{MessageSysFlag, OffsetMsgId, property, record};
use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::{ConnectionHandle, RequestHandler};

use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{Message, SendResult, SendStatus, StoredMessage, uncompress_stored};
use crate::producer::{Producer, ProducerConfig};

/// The outcome of a local transaction (`LocalTransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTransactionState {
    /// Make the half message visible to consumers.
    CommitMessage,
    /// Drop the half message.
    RollbackMessage,
    /// Not known yet: the broker asks again later (CHECK_TRANSACTION_STATE).
    Unknown,
}

impl LocalTransactionState {
    /// The `commitOrRollback` value of END_TRANSACTION (a sysflag type).
    pub fn end_transaction_value(self) -> i32 {
        match self {
            Self::CommitMessage => MessageSysFlag::TRANSACTION_COMMIT_TYPE,
            Self::RollbackMessage => MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
            Self::Unknown => MessageSysFlag::TRANSACTION_NOT_TYPE,
        }
    }
}

/// The application's side of a transaction (`TransactionListener`). Both
/// calls run on a blocking thread, so they may do blocking I/O; a panic
/// counts as [`LocalTransactionState::Unknown`].
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction of the stored half message `msg`
    /// (`transaction_id` is its UNIQ_KEY).
    fn execute_local_transaction(
        &self,
        msg: &Message,
        transaction_id: &str,
    ) -> LocalTransactionState;

    /// Tells the broker the outcome of the half message `msg` it asks about.
    fn check_local_transaction(&self, msg: &StoredMessage) -> LocalTransactionState;
}

/// What [`TransactionProducer::send_in_transaction`] did.
#[derive(Debug, Clone)]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send: SendResult,
    /// The local transaction's outcome, as sent in END_TRANSACTION.
    pub local_state: LocalTransactionState,
}

/// A producer of transactional messages.
#[derive(Debug, Clone)]
pub struct TransactionProducer {
    producer: Producer,
    checks: Arc<CheckHandler>,
}

impl TransactionProducer {
    /// Starts a producer of `config.group` whose transactions `listener`
    /// runs and checks.
    pub fn start(
        config: ProducerConfig,
        listener: Arc<dyn TransactionListener>,
    ) -> Result<Self, ClientError> {
        let instance = ClientInstance::get_or_create(config.client.clone())?;
        let producer = Producer::start_on(instance.clone(), config)?;
        let checks = check_handler(&instance);
        checks.add(&producer.config().group, listener);
        Ok(Self { producer, checks })
    }

    /// The producer underneath, for plain sends.
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs the local transaction when it was
    /// stored, and sends its outcome (END_TRANSACTION, oneway). A half
    /// message that failed to store is rolled back without running it.
    pub async fn send_in_transaction(
        &self,
        mut msg: Message,
    ) -> Result<TransactionSendResult, ClientError> {
        let group = self.producer.config().group.clone();
        let Some(listener) = self.checks.get(&group) else {
            return Err(ClientError::Shutdown);
        };
        msg.properties.remove(property::DELAY_TIME_LEVEL);
        msg.properties
            .insert(property::TRANSACTION_PREPARED, "true");
        msg.properties
            .insert(property::PRODUCER_GROUP, group.clone());
        if msg.properties.uniq_key().is_none() {
            let id = self.producer.instance().next_uniq_id();
            msg.properties.set_uniq_key(&id);
        }
        let send = self.producer.send(msg.clone()).await?;
        let local_state = if send.status == SendStatus::SendOk {
            let transaction_id = send
                .transaction_id
                .clone()
                .unwrap_or_else(|| send.msg_id.clone());
            msg.properties
                .insert(property::TRANSACTION_ID, transaction_id.clone());
            tokio::task::spawn_blocking(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    listener.execute_local_transaction(&msg, &transaction_id)
                }))
                .unwrap_or(LocalTransactionState::Unknown)
            })
            .await
            .unwrap_or(LocalTransactionState::Unknown)
        } else {
            LocalTransactionState::RollbackMessage
        };
        if let Err(error) = self.end_transaction(&send, local_state).await {
            // The broker's check will ask again; the send itself stands.
            tracing::warn!(msg_id = %send.msg_id, %error, "END_TRANSACTION failed; the broker will check the transaction");
        }
        Ok(TransactionSendResult { send, local_state })
    }

    /// END_TRANSACTION for a stored half message (Java's `endTransaction`).
    async fn end_transaction(
        &self,
        send: &SendResult,
        state: LocalTransactionState,
    ) -> Result<(), ClientError> {
        let offset = OffsetMsgId::parse(&send.offset_msg_id)?;
        let instance = self.producer.instance();
        let addr = instance
            .master_addr(&send.queue.broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound(send.queue.broker_name.clone()))?;
        let header = EndTransactionRequestHeader {
            topic: Some(send.queue.topic.clone()),
            producer_group: self.producer.config().group.clone(),
            tran_state_table_offset: send.queue_offset,
            commit_log_offset: offset.commit_log_offset,
            commit_or_rollback: state.end_transaction_value(),
            from_transaction_check: Some(false),
            msg_id: send.msg_id.clone(),
            transaction_id: send
                .transaction_id
                .clone()
                .or_else(|| Some(send.msg_id.clone())),
            broker_name: Some(send.queue.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION, &header).into_oneway();
        instance.invoke_oneway(&addr, cmd).await
    }

    /// Stops answering checks for this group and shuts the producer down.
    pub async fn shutdown(&self) {
        self.checks.remove(&self.producer.config().group);
        self.producer.shutdown().await;
    }
}

/// The instance's CHECK_TRANSACTION_STATE handler, created and registered
/// on first use.
fn check_handler(instance: &ClientInstance) -> Arc<CheckHandler> {
    instance
        .inner
        .transaction_checks
        .get_or_init(|| {
            let handler = Arc::new(CheckHandler::default());
            instance
                .register_request_handler(RequestCode::CHECK_TRANSACTION_STATE, handler.clone());
            handler
        })
        .clone()
}

/// Answers CHECK_TRANSACTION_STATE with the listener of the half message's
/// producer group (`PGROUP`).
#[derive(Default)]
pub(crate) struct CheckHandler {
    listeners: RwLock<HashMap<String, Arc<dyn TransactionListener>>>,
}

impl std::fmt::Debug for CheckHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let groups: Vec<String> = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        f.debug_struct("CheckHandler")
            .field("groups", &groups)
            .finish()
    }
}

impl CheckHandler {
    fn add(&self, group: &str, listener: Arc<dyn TransactionListener>) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(group.to_owned(), listener);
    }

    fn remove(&self, group: &str) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(group);
    }

    fn get(&self, group: &str) -> Option<Arc<dyn TransactionListener>> {
        self.listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(group)
            .cloned()
    }
}

impl RequestHandler for CheckHandler {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let remote = conn.remote_addr();
        let header: CheckTransactionStateRequestHeader = match request.read_header() {
            Ok(h) => h,
            Err(error) => {
                tracing::warn!(%remote, %error, "bad CHECK_TRANSACTION_STATE header");
                return None;
            }
        };
        let mut msg = match record::decode(&request.body) {
            Ok((msg, _)) => msg,
            Err(error) => {
                tracing::warn!(%remote, %error, "bad CHECK_TRANSACTION_STATE body");
                return None;
            }
        };
        if let Err(error) = uncompress_stored(&mut msg) {
            tracing::warn!(%remote, %error, "CHECK_TRANSACTION_STATE body does not inflate");
            return None;
        }
        let Some(group) = msg.properties.producer_group().map(str::to_owned) else {
            tracing::warn!(%remote, "CHECK_TRANSACTION_STATE for a message without a producer group");
            return None;
        };
        let Some(listener) = self.get(&group) else {
            tracing::warn!(%remote, group, "CHECK_TRANSACTION_STATE for a group without a transaction listener here");
            return None;
        };
        // Answered from a task of its own: the listener may block.
        let conn = conn.clone();
        tokio::spawn(async move {
            let msg_id = msg
                .uniq_key()
                .map_or_else(|| msg.offset_msg_id(), str::to_owned);
            let topic = msg.topic.clone();
            let commit_log_offset = msg.physical_offset;
            let state = tokio::task::spawn_blocking(move || {
                catch_unwind(AssertUnwindSafe(|| listener.check_local_transaction(&msg)))
                    .unwrap_or(LocalTransactionState::Unknown)
            })
            .await
            .unwrap_or(LocalTransactionState::Unknown);
            let end = EndTransactionRequestHeader {
                topic: Some(topic),
                producer_group: group,
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset,
                commit_or_rollback: state.end_transaction_value(),
                from_transaction_check: Some(true),
                msg_id,
                transaction_id: header.transaction_id,
                broker_name: header.broker_name,
            };
            let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION, &end).into_oneway();
            if let Err(error) = conn.send_oneway(cmd).await {
                tracing::warn!(%remote, %error, "answering a transaction check failed");
            }
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_transaction_values_are_sysflag_types() {
        assert_eq!(
            LocalTransactionState::CommitMessage.end_transaction_value(),
            8
        );
        assert_eq!(
            LocalTransactionState::RollbackMessage.end_transaction_value(),
            12
        );
        assert_eq!(LocalTransactionState::Unknown.end_transaction_value(), 0);
    }
}
