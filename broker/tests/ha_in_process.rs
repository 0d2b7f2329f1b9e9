//! HA behaviour of in-process brokers on loopback: a SYNC_MASTER answers a
//! send-back and a committed transaction only once its replica holds the
//! bytes (the replica reaches it through a proxy the test holds), and the
//! timer delivers only while its broker is a master.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::assert_success;

use std::time::Duration;

use skylark_protocol::headers::ConsumerSendMsgBackRequestHeader;
use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_protocol::headers::transaction::TRANSACTION_COMMIT_TYPE;
use skylark_protocol::message::OffsetMsgId;
use skylark_protocol::message::property::TIMER_DELAY_MS;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_store::config::BrokerRole;
use support::proxy::CutProxy;
use support::transaction::{end_after_send, send_half};
use support::{HANG_GUARD, TestBroker};
use tokio::task::JoinHandle;

/// How long a held request is watched for an early answer. An answer that
/// comes later than this is not caught, but never fails the test.
const WATCH: Duration = Duration::from_millis(1500);

/// A SYNC_MASTER (waiting a minute for its replica) and a replica that
/// reaches its HA port through a proxy, in sync.
async fn sync_group() -> (TestBroker, CutProxy, TestBroker) {
    group(BrokerRole::SyncMaster, false).await
}

/// A master with `role` and a replica that reaches its HA port through a
/// proxy, in sync; with `timer`, both run the timer and the replica copies
/// the master's config (over its remoting port, directly).
async fn group(role: BrokerRole, timer: bool) -> (TestBroker, CutProxy, TestBroker) {
    let master = TestBroker::start(|c| {
        c.store.broker_role = role;
        c.store.slave_timeout = 60_000;
        c.timer_wheel_enable = timer;
    })
    .await;
    let ha = master.handle.broker().ha().ha_addr().unwrap().to_string();
    let proxy = CutProxy::start(&ha).await;
    let replica = TestBroker::start(|c| {
        c.store.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
        c.ha_master_address = Some(proxy.addr().to_owned());
        c.timer_wheel_enable = timer;
    })
    .await;
    if timer {
        // No nameserver tells it the master's remoting address (for the
        // config copy): given here, which reconnects it.
        replica.handle.broker().ha().become_replica(
            1,
            Some(proxy.addr().to_owned()),
            Some(master.addr.clone()),
        );
    }
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while !master
        .handle
        .broker()
        .ha()
        .replicas()
        .iter()
        .any(|r| r.in_sync)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica never in sync"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (master, proxy, replica)
}

/// Sends `request` to `broker` in the background.
fn invoke_later(broker: &TestBroker, request: RemotingCommand) -> JoinHandle<RemotingCommand> {
    let client = broker.client.clone();
    let addr = broker.addr.clone();
    tokio::spawn(async move { client.invoke(&addr, request, HANG_GUARD).await.unwrap() })
}

/// Holds the replica's HA connection, sends `request`, checks it is not
/// answered while the replica cannot acknowledge (though the master stored
/// its bytes), releases, and returns the answer.
async fn answered_after_the_replica(
    master: &TestBroker,
    proxy: &CutProxy,
    request: RemotingCommand,
) -> RemotingCommand {
    let store = master.handle.broker().store().clone();
    let before = store.commit_log_max_offset();
    proxy.hold();
    let answer = invoke_later(master, request);
    tokio::time::sleep(WATCH).await;
    assert!(
        !answer.is_finished(),
        "answered before the replica held the bytes"
    );
    assert!(store.commit_log_max_offset() > before, "nothing was stored");
    proxy.release();
    tokio::time::timeout(HANG_GUARD, answer)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_master_answers_a_send_back_once_its_replica_holds_the_copy() {
    let (master, proxy, replica) = sync_group().await;
    let sent = master.send("SyncBack", 0, "TagA", b"failed once").await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    let header = sent.read_header::<SendMessageResponseHeader>().unwrap();
    let offset = OffsetMsgId::parse(&header.msg_id)
        .unwrap()
        .commit_log_offset;
    let back = ConsumerSendMsgBackRequestHeader {
        offset,
        group: "SyncBackGroup".into(),
        delay_level: 0,
        origin_msg_id: Some(header.msg_id.clone()),
        origin_topic: Some("SyncBack".into()),
        unit_mode: Some(false),
        max_reconsume_times: None,
        broker_name: None,
    };
    let request = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK, &back);
    let answer = answered_after_the_replica(&master, &proxy, request).await;
    assert_success(&answer);
    // The replica holds everything the master acknowledged.
    let end = master.handle.broker().store().commit_log_max_offset();
    assert!(replica.handle.broker().store().commit_log_max_offset() >= end);
    replica.stop().await;
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_master_answers_a_commit_once_its_replica_holds_the_message() {
    let (master, proxy, replica) = sync_group().await;
    let half = send_half(
        &master.client,
        &master.addr,
        "SyncTx",
        0,
        "uniq-sync-1",
        b"tx",
    )
    .await;
    assert_eq!(half.response_code(), ResponseCode::SUCCESS);
    let request = end_after_send(&half, TRANSACTION_COMMIT_TYPE);
    let answer = answered_after_the_replica(&master, &proxy, request).await;
    assert_success(&answer);
    master.wait_dispatched();
    let store = master.handle.broker().store();
    assert_eq!(store.max_offset("SyncTx", 0), 1, "the commit is stored");
    let end = store.commit_log_max_offset();
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    // The op record after the commit may still be on its way.
    while replica.handle.broker().store().commit_log_max_offset() < end {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    replica.stop().await;
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_delivers_only_while_its_broker_is_a_master() {
    let broker = TestBroker::start(|c| c.timer_wheel_enable = true).await;
    let sent = broker
        .send_timer("TimerRole", 0, TIMER_DELAY_MS, 1000, "due-in-1s")
        .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    let ha = broker.handle.broker().ha();
    // Demoted at run time (its store would still take the put: the timer
    // itself must look at the role). The master it follows does not exist.
    ha.become_replica(1, Some("127.0.0.1:9".into()), None);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    broker.wait_dispatched();
    let store = broker.handle.broker().store();
    assert_eq!(
        store.max_offset("TimerRole", 0),
        0,
        "a replica delivered a timer message"
    );
    // Promoted, it delivers what came due meanwhile.
    ha.become_master(BrokerRole::AsyncMaster, 0);
    let got = broker.drain("TimerRoleGroup", "TimerRole", 0, 1, 1).await;
    assert_eq!(&got[0].body[..], b"due-in-1s");
    broker.stop().await;
}

/// The read time in `broker`'s answer to GET_TIMER_CHECK_POINT (Java's bytes).
async fn timer_read_time(broker: &TestBroker) -> i64 {
    let answer = broker
        .invoke(RemotingCommand::bare_request(
            RequestCode::GET_TIMER_CHECK_POINT,
        ))
        .await;
    assert_success(&answer);
    assert_eq!(
        answer.body.len(),
        56,
        "Java's TimerCheckpoint is seven longs"
    );
    i64::from_be_bytes(answer.body[..8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_its_masters_timer_only_once_it_holds_the_deliveries() {
    let (master, proxy, replica) = group(BrokerRole::AsyncMaster, true).await;
    // The replica copies nothing ahead of its CommitLog: the deliveries
    // wait behind the held HA connection.
    proxy.hold();
    let due = support::now_ms() + 1000;
    let sent = master
        .send_timer("TimerFollow", 0, TIMER_DELAY_MS, 1000, "follow-me")
        .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    master
        .drain("TimerFollowGroup", "TimerFollow", 0, 1, 1)
        .await;
    assert!(timer_read_time(&master).await > due - 1000);
    // A config copy runs every 10 s and waits up to 5 s for the bytes:
    // within 16 s at least one round gave up.
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert!(
        timer_read_time(&replica).await < due - 1000,
        "the replica took its master's timer progress without its deliveries"
    );
    proxy.release();
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while timer_read_time(&replica).await <= due - 1000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica's timer never followed its master's"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // By then it holds the delivered message.
    replica.wait_dispatched();
    assert_eq!(
        replica.handle.broker().store().max_offset("TimerFollow", 0),
        1
    );
    replica.stop().await;
    master.stop().await;
}
