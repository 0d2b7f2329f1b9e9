//! Fencing with real `skylark` processes: a master cut off from its group
//! (SIGSTOP freezes it, so neither side notices a broken connection) while
//! its replica is promoted at epoch 2 learns of the new epoch as soon as it
//! runs again and refuses writes — also after a restart with its old
//! config — so there is never more than one writable master; requests
//! carrying an older epoch are refused. And a SYNC_MASTER whose HA
//! connection alone is cut (both brokers run, clients reach both)
//! acknowledges nothing from the cut on, and refuses writes once it learns
//! of the new master's epoch.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::assert_success;

use skylark_protocol::ResponseCode;
use skylark_remoting::RemotingClient;
use support::ha::{HaCluster, HaNode, commit_log_bytes, create_topic, eventually, has_topic};
use support::ha_role::{create_topic_in_sync, follow, promote, queue_bodies, status, try_send};
use support::proxy::CutProxy;

const TOPIC: &str = "PartitionTopic";

/// Whether `node` accepts a send now (and says so in its status).
async fn writable(client: &RemotingClient, node: &HaNode) -> bool {
    let (code, _, remark) = try_send(client, &node.addr, TOPIC, 0, b"probe")
        .await
        .unwrap();
    let status = status(client, &node.addr, None).await;
    assert_eq!(
        code == ResponseCode::SUCCESS,
        status.writable,
        "{} answers {code} ({remark}) but its status says writable={}",
        node.addr,
        status.writable
    );
    code == ResponseCode::SUCCESS
}

/// Waits until the old master `a` has learnt epoch 2, then checks that it
/// says FENCED and refuses a send; the refusal's remark.
async fn fenced_at_epoch_2(client: &RemotingClient, a: &HaNode) -> String {
    eventually("the old master learnt epoch 2", || async {
        status(client, &a.addr, None).await.epoch == 2
    })
    .await;
    let a_status = status(client, &a.addr, None).await;
    assert_eq!(
        (a_status.role.as_str(), a_status.writable),
        ("FENCED", false)
    );
    let (code, _, remark) = try_send(client, &a.addr, TOPIC, 0, b"to the old master")
        .await
        .unwrap();
    assert_eq!(code, ResponseCode::SERVICE_NOT_AVAILABLE, "{remark}");
    remark
}

/// A master and its replica, the topic on both, the replica caught up.
async fn group(cluster: &HaCluster, client: &RemotingClient) -> (HaNode, HaNode) {
    let a = cluster.broker("a", 0, "ASYNC_MASTER", &[]);
    let b = cluster.broker("b", 1, "SLAVE", &[("haMasterAddress", a.ha_addr.clone())]);
    create_topic(client, &a.addr, TOPIC, 2).await;
    eventually("the replica copied the topic", || {
        has_topic(client, &b.addr, TOPIC)
    })
    .await;
    for i in 0..20 {
        let (code, _, remark) = try_send(client, &a.addr, TOPIC, i % 2, b"before")
            .await
            .unwrap();
        assert_eq!(code, ResponseCode::SUCCESS, "{remark}");
    }
    let end = status(client, &a.addr, None).await.commit_log_max_offset;
    eventually("the replica caught up", || async {
        status(client, &b.addr, None).await.commit_log_max_offset == end
    })
    .await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_master_is_fenced_by_the_new_epoch_and_stays_fenced() {
    let cluster = HaCluster::start();
    let client = RemotingClient::default();
    let (mut a, b) = group(&cluster, &client).await;
    assert!(writable(&client, &a).await);
    assert!(!writable(&client, &b).await);

    // The partition: the master is frozen; the replica is promoted.
    a.signal(libc::SIGSTOP);
    let promoted = promote(&client, &b.addr, 2).await;
    assert_success(&promoted);
    assert!(writable(&client, &b).await);

    // The old master runs again: the new master's notice of epoch 2 (sent
    // while it was frozen) fences it before anyone asks it anything.
    a.signal(libc::SIGCONT);
    let remark = fenced_at_epoch_2(&client, &a).await;
    assert!(
        remark.contains("fenced") && remark.contains("epoch 2"),
        "{remark}"
    );
    assert!(!writable(&client, &a).await);
    assert!(
        writable(&client, &b).await,
        "the new master still takes writes"
    );

    // Restarted with its old config (brokerId 0, ASYNC_MASTER) it is still fenced.
    a.kill();
    a.restart();
    let a_status = status(&client, &a.addr, None).await;
    assert_eq!(
        (a_status.role.as_str(), a_status.epoch),
        ("FENCED", 2),
        "{a_status:?}"
    );
    assert!(!writable(&client, &a).await);
    assert!(writable(&client, &b).await);

    // Pointed at the new master it becomes its replica; still one writable master.
    let followed = follow(&client, &a.addr, &b.addr, 2).await;
    assert_success(&followed);
    let b_end = status(&client, &b.addr, None).await.commit_log_max_offset;
    eventually("the old master caught up as a replica", || async {
        status(&client, &a.addr, None).await.commit_log_max_offset >= b_end
    })
    .await;
    assert_eq!(status(&client, &a.addr, None).await.role, "SLAVE");
    assert!(!writable(&client, &a).await);
    assert!(writable(&client, &b).await);
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_an_older_epoch_are_refused() {
    let cluster = HaCluster::start();
    let client = RemotingClient::default();
    let (a, b) = group(&cluster, &client).await;
    let promoted = promote(&client, &b.addr, 3).await;
    assert_eq!(promoted.response_code(), ResponseCode::SUCCESS);
    eventually("the old master learnt epoch 3", || async {
        status(&client, &a.addr, None).await.epoch == 3
    })
    .await;

    let fenced = ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH;
    // Promotions need an epoch newer than any the broker knows.
    for (node, epoch) in [(&b, 3), (&b, 2), (&a, 3), (&a, 1)] {
        let answer = promote(&client, &node.addr, epoch).await;
        assert_eq!(answer.response_code(), fenced, "promote at {epoch}");
        assert!(
            answer.remark.as_deref().unwrap_or("").contains("stale"),
            "{:?}",
            answer.remark
        );
    }
    // FOLLOW with an older epoch than the broker's, or than the master's.
    assert_eq!(
        follow(&client, &a.addr, &b.addr, 2).await.response_code(),
        fenced
    );
    assert_eq!(
        follow(&client, &b.addr, &a.addr, 1).await.response_code(),
        fenced
    );
    // A master of an older epoch cannot be followed either.
    let answer = follow(&client, &b.addr, &a.addr, 3).await;
    assert_eq!(
        answer.response_code(),
        ResponseCode::CONTROLLER_MASTER_NOT_AVAILABLE,
        "{:?}",
        answer.remark
    );
    // Nothing changed: b is the one writable master of epoch 3.
    let b_status = status(&client, &b.addr, None).await;
    assert_eq!(
        (b_status.role.as_str(), b_status.epoch, b_status.writable),
        ("MASTER", 3, true)
    );
    assert!(!status(&client, &a.addr, None).await.writable);
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_master_cut_from_its_replica_never_acknowledges_beside_the_new_master() {
    let cluster = HaCluster::start();
    let client = RemotingClient::default();
    let a = cluster.broker(
        "a",
        0,
        "SYNC_MASTER",
        &[("slaveTimeout", "1000".to_owned())],
    );
    // The replica reaches a's HA port only through the proxy; everything
    // else (registration, the epoch handshake, clients) goes direct.
    let proxy = CutProxy::start(&a.ha_addr).await;
    let b = cluster.broker(
        "b",
        1,
        "SLAVE",
        &[("haMasterAddress", proxy.addr().to_owned())],
    );
    create_topic_in_sync(&client, &a.addr, &b.addr, TOPIC, 1).await;
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        let body = format!("acked-{i}").into_bytes();
        let (code, _, remark) = try_send(&client, &a.addr, TOPIC, 0, &body).await.unwrap();
        assert_eq!(code, ResponseCode::SUCCESS, "{remark}");
        acknowledged.push(body);
    }

    // The partition: the HA connection carries nothing more (nothing is
    // closed either); both brokers run and answer clients.
    proxy.cut();
    for i in 0..3 {
        let body = format!("unacked-{i}").into_bytes();
        let (code, _, remark) = try_send(&client, &a.addr, TOPIC, 0, &body).await.unwrap();
        assert!(
            code == ResponseCode::FLUSH_SLAVE_TIMEOUT || code == ResponseCode::SLAVE_NOT_AVAILABLE,
            "a SYNC_MASTER without its replica acknowledged a write: {code} ({remark})"
        );
    }
    assert!(
        !writable(&client, &b).await,
        "the replica is not a master yet"
    );

    // The replica is promoted at epoch 2; it tells a, which the cut spares.
    let promoted = promote(&client, &b.addr, 2).await;
    assert_success(&promoted);
    fenced_at_epoch_2(&client, &a).await;
    assert!(writable(&client, &b).await, "the new master takes writes");

    // Every acknowledged write is on the new master; none of the old
    // master's unacknowledged ones is.
    let on_b: Vec<Vec<u8>> = queue_bodies(&client, &b.addr, TOPIC, 0)
        .await
        .into_values()
        .collect();
    assert_eq!(&on_b[..acknowledged.len()], &acknowledged[..]);
    assert!(
        !on_b.iter().any(|body| body.starts_with(b"unacked-")),
        "bytes crossed the cut"
    );

    // Told to follow the new master, a cuts its unacknowledged tail and
    // holds exactly what b holds.
    let followed = follow(&client, &a.addr, &b.addr, 2).await;
    assert_success(&followed);
    let b_end = status(&client, &b.addr, None).await.commit_log_max_offset;
    eventually("the old master caught up as a replica", || async {
        status(&client, &a.addr, None).await.commit_log_max_offset == b_end
    })
    .await;
    assert!(
        commit_log_bytes(&a.data_dir.join("commitlog"), 0, b_end)
            == commit_log_bytes(&b.data_dir.join("commitlog"), 0, b_end),
        "the CommitLogs differ below {b_end}"
    );
    assert!(!writable(&client, &a).await);
    client.shutdown();
}
