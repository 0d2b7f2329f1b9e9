//! Failover with real `skylark` processes and SIGKILL: a SYNC_MASTER with
//! SYNC_FLUSH takes sends without pause while it is killed; its replica is
//! promoted with HA_PROMOTE at epoch 2 and serves every acknowledged
//! message; the old master, restarted as a replica and pointed at the new
//! one with HA_FOLLOW, cuts what it never replicated and catches up, so no
//! queue offset ends up naming two different messages.
//!
//! The second test crashes the replica first, so the master stores sends
//! it cannot get acknowledged (SLAVE_NOT_AVAILABLE): an unreplicated tail
//! for certain, which the old master must cut when it follows.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::assert_success;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use skylark_protocol::ResponseCode;
use skylark_protocol::message::Properties;
use skylark_remoting::RemotingClient;
use support::ha::{GROUP, HaCluster, commit_log_bytes, eventually, invoke, route};
use support::ha_role::{create_topic_in_sync, follow, promote, queue_bodies, status, try_send};
use support::send_request;

const TOPIC: &str = "FailoverTopic";
const QUEUES: i32 = 4;
/// CommitLog bytes the replica holds before the master is killed (a few
/// hundred sends; the producer keeps sending while it dies).
const REPLICATED_BEFORE_KILL: i64 = 100_000;
/// Hang guard of the producer.
const MAX_SENDS: usize = 100_000;

/// Acknowledged sends: (queue, queue offset) → body.
type Acked = BTreeMap<(i32, i64), Vec<u8>>;

/// Sends to `addr` without pause until `stop` or a send fails for good
/// (the broker is gone); returns what was acknowledged with SUCCESS.
async fn produce(client: RemotingClient, addr: String, stop: Arc<AtomicBool>) -> Acked {
    let mut acked = Acked::new();
    for i in 0..MAX_SENDS {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let queue = i32::try_from(i).unwrap() % QUEUES;
        let body = format!("before failover {i} {}", "p".repeat(200 + i % 50)).into_bytes();
        match try_send(&client, &addr, TOPIC, queue, &body).await {
            Ok((ResponseCode::SUCCESS, Some(offset), _)) => {
                let previous = acked.insert((queue, offset), body);
                assert!(
                    previous.is_none(),
                    "queue {queue} offset {offset} acknowledged twice"
                );
            }
            // Stored but not confirmed by the replica (or refused): not acknowledged.
            Ok(_) => {}
            Err(_) => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_killed_replica_promoted_old_master_truncates_and_follows() {
    failover(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_master_cuts_the_tail_it_stored_while_its_replica_was_down() {
    failover(true).await;
}

/// The scenario; with `replica_crashes_first` the replica is SIGKILLed
/// (and restarted after the master's death) while the producer runs.
async fn failover(replica_crashes_first: bool) {
    let cluster = HaCluster::start();
    let sync_flush = ("flushDiskType", "SYNC_FLUSH".to_owned());
    let mut a = cluster.broker("a", 0, "SYNC_MASTER", std::slice::from_ref(&sync_flush));
    let mut b = cluster.broker(
        "b",
        1,
        "SLAVE",
        &[("haMasterAddress", a.ha_addr.clone()), sync_flush.clone()],
    );
    let client = RemotingClient::default();
    create_topic_in_sync(&client, &a.addr, &b.addr, TOPIC, QUEUES).await;
    let before = status(&client, &a.addr, None).await;
    assert_eq!(
        (before.role.as_str(), before.epoch, before.writable),
        ("MASTER", 1, true)
    );
    assert_eq!(status(&client, &b.addr, None).await.role, "SLAVE");

    // A producer without pause; the master dies under it.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce(
        RemotingClient::default(),
        a.addr.clone(),
        stop.clone(),
    ));
    eventually("enough sends acknowledged", || async {
        status(&client, &a.addr, None).await.confirm_offset > 0
            && status(&client, &b.addr, None).await.commit_log_max_offset > REPLICATED_BEFORE_KILL
    })
    .await;
    let mut unreplicated_end = 0;
    if replica_crashes_first {
        b.kill();
        // The master keeps storing sends it cannot get acknowledged.
        let replicated = status(&client, &a.addr, None).await.commit_log_max_offset;
        eventually("the master stored sends its replica never got", || async {
            status(&client, &a.addr, None).await.commit_log_max_offset > replicated + 2_000
        })
        .await;
        unreplicated_end = status(&client, &a.addr, None).await.commit_log_max_offset;
    }
    a.kill();
    stop.store(true, Ordering::Release);
    let acked = producer.await.unwrap();
    assert!(
        !acked.is_empty(),
        "no send was acknowledged before the kill"
    );
    if replica_crashes_first {
        b.restart();
    }

    // Promote the replica at epoch 2.
    let b_status = status(&client, &b.addr, None).await;
    assert_eq!(
        b_status.epoch, 1,
        "the replica learnt epoch 1 in its handshake"
    );
    let refused = promote(&client, &b.addr, 1).await;
    assert_eq!(
        refused.response_code(),
        ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH,
        "{:?}",
        refused.remark
    );
    let promoted = promote(&client, &b.addr, 2).await;
    assert_success(&promoted);
    let b_status = status(&client, &b.addr, None).await;
    assert_eq!(
        (b_status.role.as_str(), b_status.epoch, b_status.writable),
        ("MASTER", 2, true)
    );
    assert_eq!(b_status.broker_id, 0);
    let epochs: Vec<(i32, i64)> = b_status
        .epochs
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect();
    assert_eq!(epochs, [(1, 0), (2, b_status.commit_log_max_offset)]);
    assert!(
        unreplicated_end == 0 || unreplicated_end > b_status.commit_log_max_offset,
        "the old master holds bytes past the new epoch's start"
    );

    // Every acknowledged message is on the new master, at its queue offset.
    let mut on_b: BTreeMap<i32, BTreeMap<i64, Vec<u8>>> = BTreeMap::new();
    for q in 0..QUEUES {
        on_b.insert(q, queue_bodies(&client, &b.addr, TOPIC, q).await);
    }
    for ((q, offset), body) in &acked {
        assert_eq!(
            on_b[q].get(offset),
            Some(body),
            "acknowledged message at {q}/{offset} missing or different on the new master"
        );
    }

    // The new master takes sends, into the offsets the old one's unreplicated tail used.
    let mut after = BTreeMap::new();
    for i in 0..40 {
        let q = i % QUEUES;
        let body = format!("after failover {i}").into_bytes();
        let (code, offset, remark) = try_send(&client, &b.addr, TOPIC, q, &body).await.unwrap();
        // A SYNC_MASTER without a replica stores and answers SLAVE_NOT_AVAILABLE.
        assert!(
            matches!(
                code,
                ResponseCode::SUCCESS | ResponseCode::SLAVE_NOT_AVAILABLE
            ),
            "{code}: {remark}"
        );
        if let Some(offset) = offset {
            after.insert((q, offset), body);
        }
    }
    // Its config says SLAVE, yet as master it delivers delay levels.
    let mut delayed = Properties::new();
    delayed.insert("DELAY", "1");
    let response = invoke(
        &client,
        &b.addr,
        send_request(TOPIC, 0, delayed, b"delayed after failover"),
    )
    .await;
    assert_success(&response);
    eventually("the new master delivered the delayed message", || async {
        queue_bodies(&client, &b.addr, TOPIC, 0)
            .await
            .values()
            .any(|body| body == b"delayed after failover")
    })
    .await;
    eventually(
        "the nameserver lists the new master as broker 0",
        || async {
            route(&client, &cluster.namesrv_addr, TOPIC)
                .await
                .get(GROUP)
                .is_some_and(|ids| ids.get(&0) == Some(&b.addr))
        },
    )
    .await;

    // The old master comes back as a replica and follows the new master at epoch 2.
    let a = cluster.broker(
        "a",
        1,
        "SLAVE",
        &[sync_flush, ("slaveReadEnable", "true".to_owned())],
    );
    let followed = follow(&client, &a.addr, &b.addr, 2).await;
    assert_success(&followed);
    let stale = follow(&client, &a.addr, &b.addr, 1).await;
    assert_eq!(
        stale.response_code(),
        ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH
    );
    let b_end = status(&client, &b.addr, None).await.commit_log_max_offset;
    eventually("the old master caught up with the new one", || async {
        status(&client, &a.addr, None).await.commit_log_max_offset == b_end
    })
    .await;
    let a_status = status(&client, &a.addr, None).await;
    assert_eq!(
        (a_status.role.as_str(), a_status.epoch, a_status.writable),
        ("SLAVE", 2, false)
    );
    assert_eq!(
        a_status.epochs, b_status.epochs,
        "it took the new master's epoch history"
    );
    eventually("the route lists the old master as replica 1", || async {
        route(&client, &cluster.namesrv_addr, TOPIC)
            .await
            .get(GROUP)
            .is_some_and(|ids| ids.get(&0) == Some(&b.addr) && ids.get(&1) == Some(&a.addr))
    })
    .await;

    if replica_crashes_first {
        let log = std::fs::read_to_string(cluster.dir.path().join("a.log")).unwrap();
        assert!(
            log.contains("truncating what the master of the newer epoch does not have"),
            "the old master did not truncate its unreplicated tail"
        );
    }
    // Byte for byte the same CommitLog: its unacknowledged tail is gone.
    assert!(
        commit_log_bytes(&a.data_dir.join("commitlog"), 0, b_end)
            == commit_log_bytes(&b.data_dir.join("commitlog"), 0, b_end),
        "the CommitLogs differ below {b_end}"
    );
    // And the same message at every queue offset, on both.
    for q in 0..QUEUES {
        let on_a = queue_bodies(&client, &a.addr, TOPIC, q).await;
        let on_b = queue_bodies(&client, &b.addr, TOPIC, q).await;
        assert_eq!(on_a.len(), on_b.len(), "queue {q}: different lengths");
        assert!(
            on_a == on_b,
            "queue {q}: a queue offset names different messages"
        );
        let offsets: Vec<i64> = on_b.keys().copied().collect();
        assert_eq!(
            offsets,
            (0..on_b.len() as i64).collect::<Vec<_>>(),
            "queue {q} has holes"
        );
        for ((_, offset), body) in acked.iter().chain(&after).filter(|((aq, _), _)| *aq == q) {
            assert_eq!(
                on_b.get(offset),
                Some(body),
                "queue {q} offset {offset} changed"
            );
        }
    }
    client.shutdown();
}
