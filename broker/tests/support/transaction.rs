//! Transactional sends, END_TRANSACTION, and a fake transaction producer
//! that answers the broker's CHECK_TRANSACTION_STATE as a RocketMQ client does.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use skylark_protocol::body::{Body, HeartbeatData, KeyStyle, ProducerData};
use skylark_protocol::headers::send::SendMessageRequestHeaderV2;
use skylark_protocol::headers::transaction::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use skylark_protocol::message::{MessageSysFlag, Properties, StoredMessage, record};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ConnectionHandle, RemotingClient, RequestHandler};

use super::{HANG_GUARD, TestBroker, now_ms};

/// The producer group of these tests' transactional messages.
pub(crate) const GROUP: &str = "TxPG";

/// SEND_MESSAGE_V2 of one half message (`TRAN_MSG=true`, `PGROUP`,
/// `UNIQ_KEY`=`uniq`) for `topic`/`queue_id`, as a transaction producer sends it.
pub(crate) async fn send_half(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    uniq: &str,
    body: &[u8],
) -> RemotingCommand {
    let mut properties = Properties::new();
    properties.insert("TRAN_MSG", "true");
    properties.insert("PGROUP", GROUP);
    properties.insert("UNIQ_KEY", uniq);
    properties.insert("WAIT", "true");
    properties.set_tags("TagT");
    let header = SendMessageRequestHeaderV2 {
        producer_group: GROUP.into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: MessageSysFlag::TRANSACTION_PREPARED_TYPE,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(properties.to_property_string()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: None,
    };
    client
        .invoke(
            addr,
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2, &header)
                .with_body(Bytes::copy_from_slice(body)),
            HANG_GUARD,
        )
        .await
        .unwrap()
}

/// The END_TRANSACTION a producer sends after its local transaction for
/// the half a send answered with `send_response`.
pub(crate) fn end_after_send(
    send_response: &RemotingCommand,
    commit_or_rollback: i32,
) -> RemotingCommand {
    let sent = send_response
        .read_header::<skylark_protocol::headers::send::SendMessageResponseHeader>()
        .unwrap();
    let id = skylark_protocol::message::OffsetMsgId::parse(&sent.msg_id).unwrap();
    RemotingCommand::request(
        RequestCode::END_TRANSACTION,
        &EndTransactionRequestHeader {
            topic: None,
            producer_group: GROUP.into(),
            tran_state_table_offset: sent.queue_offset,
            commit_log_offset: id.commit_log_offset,
            commit_or_rollback,
            from_transaction_check: Some(false),
            msg_id: sent.msg_id.clone(),
            transaction_id: sent.transaction_id.clone(),
            broker_name: None,
        },
    )
}

/// The END_TRANSACTION a producer sends in answer to `check`.
pub(crate) fn end_after_check(
    check: &CheckTransactionStateRequestHeader,
    commit_or_rollback: i32,
) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::END_TRANSACTION,
        &EndTransactionRequestHeader {
            topic: check.topic.clone(),
            producer_group: GROUP.into(),
            tran_state_table_offset: check.tran_state_table_offset,
            commit_log_offset: check.commit_log_offset,
            commit_or_rollback,
            from_transaction_check: Some(true),
            msg_id: check.msg_id.clone().unwrap_or_default(),
            transaction_id: check.transaction_id.clone(),
            broker_name: check.broker_name.clone(),
        },
    )
}

/// One CHECK_TRANSACTION_STATE the fake producer received.
#[derive(Debug, Clone)]
pub(crate) struct ReceivedCheck {
    /// Its header.
    pub(crate) header: CheckTransactionStateRequestHeader,
    /// Its body: the half message with its real topic and queue.
    pub(crate) message: StoredMessage,
}

/// A transaction producer of [`GROUP`] that records every check and
/// answers it with END_TRANSACTION `answer` (oneway, on the connection
/// the check came on), as `TransactionMQProducer` does.
pub(crate) struct FakeProducer {
    pub(crate) client: RemotingClient,
    checks: Arc<Mutex<Vec<ReceivedCheck>>>,
}

struct Answerer {
    answer: i32,
    checks: Arc<Mutex<Vec<ReceivedCheck>>>,
}

impl RequestHandler for Answerer {
    fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + Send {
        let conn = conn.clone();
        let answer = self.answer;
        let checks = self.checks.clone();
        async move {
            if request.request_code() != RequestCode::CHECK_TRANSACTION_STATE {
                return None;
            }
            let header = request
                .read_header::<CheckTransactionStateRequestHeader>()
                .unwrap();
            let (message, _) = record::decode(&request.body).unwrap();
            checks.lock().unwrap().push(ReceivedCheck {
                header: header.clone(),
                message,
            });
            conn.send_oneway(end_after_check(&header, answer))
                .await
                .unwrap();
            None
        }
    }
}

impl FakeProducer {
    /// A producer answering checks with `answer`, registered with `broker`
    /// by a heartbeat.
    pub(crate) async fn start(broker: &TestBroker, answer: i32) -> Self {
        let client = RemotingClient::default();
        let checks = Arc::new(Mutex::new(Vec::new()));
        client.set_request_handler(Arc::new(Answerer {
            answer,
            checks: checks.clone(),
        }));
        let producer = Self { client, checks };
        producer.heartbeat(broker).await;
        producer
    }

    /// Registers as a producer of [`GROUP`] with `broker`.
    pub(crate) async fn heartbeat(&self, broker: &TestBroker) {
        let data = HeartbeatData {
            client_id: "127.0.0.1@fake-tx-producer".into(),
            producer_data_set: vec![ProducerData {
                group_name: GROUP.into(),
            }],
            ..HeartbeatData::default()
        };
        let request = RemotingCommand::bare_request(RequestCode::HEART_BEAT)
            .with_body(data.encode(KeyStyle::Unquoted));
        let response = self
            .client
            .invoke(&broker.addr, request, HANG_GUARD)
            .await
            .unwrap();
        assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    }

    /// The checks received so far.
    pub(crate) fn checks(&self) -> Vec<ReceivedCheck> {
        self.checks.lock().unwrap().clone()
    }
}

/// Polls `condition` every 20 ms until it holds; panics after [`HANG_GUARD`].
pub(crate) async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "hang guard: still waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
