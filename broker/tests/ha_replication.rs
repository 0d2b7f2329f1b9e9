//! Master-to-replica replication with real `skylark` processes: an
//! ASYNC_MASTER's replica holds every message byte for byte and its
//! config; a SYNC_MASTER acknowledges only what a replica holds, answers
//! as RocketMQ does when the replica is SIGKILLed, and the restarted
//! replica catches up.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::assert_success;

use skylark_protocol::ResponseCode;
use skylark_protocol::headers::pull::PullMessageResponseHeader;
use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_remoting::RemotingClient;
use support::ha::{
    GROUP, HaCluster, commit_log_bytes, commit_offset, committed_offset, create_group,
    create_topic, delay_offsets, eventually, group_names, has_topic, pull, pull_all, route, send,
    send_delayed,
};

const TOPIC: &str = "HaTopic";
const QUEUES: i32 = 4;

/// `n` sends of ~3 KiB bodies (about 3 MiB: several 1 MiB files, so BLANK
/// padding is replicated too), spread over the queues; how many each got.
async fn send_many(client: &RemotingClient, addr: &str, n: usize) -> Vec<i64> {
    let mut counts = vec![0i64; QUEUES as usize];
    for i in 0..n {
        let queue = i32::try_from(i).unwrap() % QUEUES;
        let body = format!("message {i} {}", "x".repeat(3000 + i % 97));
        let response = send(client, addr, TOPIC, queue, body.as_bytes()).await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SUCCESS,
            "send {i}: {:?}",
            response.remark
        );
        let header: SendMessageResponseHeader = response.read_header().unwrap();
        assert_eq!(header.queue_offset, counts[queue as usize]);
        counts[queue as usize] += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_master_replica_has_every_message_byte_for_byte_and_the_config() {
    let cluster = HaCluster::start();
    // Everything counts as cold (not in memory) with a 0 % memory ratio, so
    // the master suggests the replica for reads.
    let mut master = cluster.broker(
        "master",
        0,
        "ASYNC_MASTER",
        &[
            ("slaveReadEnable", "true".into()),
            ("accessMessageInMemoryMaxRatio", "0".into()),
        ],
    );
    let replica = cluster.broker(
        "replica",
        1,
        "SLAVE",
        &[
            ("haMasterAddress", master.ha_addr.clone()),
            ("slaveReadEnable", "true".into()),
        ],
    );
    // An empty replica is streamed the master's newest file only (Java's
    // rule): it must be connected before the first file fills.
    eventually("the replica connects", || async {
        master.metric("skylark_ha_replicas_connected") == Some(1.0)
    })
    .await;
    let client = RemotingClient::default();
    create_topic(&client, &master.addr, TOPIC, QUEUES).await;
    let counts = send_many(&client, &master.addr, 1000).await;

    // Every queue reads the same from both: records, queue offsets,
    // physical offsets, store timestamps, byte for byte.
    for (queue, &count) in counts.iter().enumerate() {
        let queue = i32::try_from(queue).unwrap();
        let from_master = pull_all(&client, &master.addr, TOPIC, queue, count).await;
        let from_replica = pull_all(&client, &replica.addr, TOPIC, queue, count).await;
        assert!(from_master == from_replica, "queue {queue} differs");
    }
    // Cold data: the master suggests the group's whichBrokerWhenConsumeSlowly (1).
    let cold = pull(&client, &master.addr, TOPIC, 0, 0).await;
    assert_eq!(cold.response_code(), ResponseCode::SUCCESS);
    let header: PullMessageResponseHeader = cold.read_header().unwrap();
    assert_eq!(header.suggest_which_broker_id, 1);

    // The CommitLog files too (the replica started empty, so at offset 0).
    let lag = "skylark_ha_replica_lag_bytes{";
    eventually("the replica acknowledges everything", || async {
        master.metric(lag) == Some(0.0)
    })
    .await;
    let end = master.metric("skylark_commitlog_max_offset").unwrap_or(0.0) as i64;
    if end > 0 {
        assert_eq!(
            commit_log_bytes(&master.data_dir.join("commitlog"), 0, end),
            commit_log_bytes(&replica.data_dir.join("commitlog"), 0, end)
        );
    }
    assert_eq!(master.metric("skylark_ha_replicas_in_sync"), Some(1.0));

    // The topic created on the master is copied, and the replica is in
    // the route with its id.
    eventually("the topic reaches the replica", || {
        has_topic(&client, &replica.addr, TOPIC)
    })
    .await;
    eventually("the route lists master and replica", || async {
        route(&client, &cluster.namesrv_addr, TOPIC)
            .await
            .get(GROUP)
            .is_some_and(|ids| {
                ids.get(&0) == Some(&master.addr) && ids.get(&1) == Some(&replica.addr)
            })
    })
    .await;

    // Consumer offsets, subscription groups and delay offsets are copied too.
    commit_offset(&client, &master.addr, "HaGroup", TOPIC, 2, 7).await;
    create_group(&client, &master.addr, "HaCreatedGroup").await;
    let delayed = send_delayed(&client, &master.addr, TOPIC, 1, b"delayed 1 s").await;
    assert_eq!(delayed.response_code(), ResponseCode::SUCCESS);
    eventually("the master delivers the delayed message", || async {
        delay_offsets(&client, &master.addr).await.get(&1) == Some(&1)
    })
    .await;
    eventually(
        "offsets, groups and delay offsets reach the replica",
        || async {
            committed_offset(&client, &replica.addr, "HaGroup", TOPIC, 2).await == Some(7)
                && group_names(&client, &replica.addr)
                    .await
                    .iter()
                    .any(|g| g == "HaCreatedGroup")
                && delay_offsets(&client, &replica.addr).await
                    == delay_offsets(&client, &master.addr).await
        },
    )
    .await;

    // A replica takes no sends.
    let refused = send(&client, &replica.addr, TOPIC, 0, b"to a replica").await;
    assert_eq!(refused.response_code(), ResponseCode::SERVICE_NOT_AVAILABLE);

    // With the master gone, consumers still read everything from the replica.
    let before = pull_all(&client, &replica.addr, TOPIC, 3, counts[3]).await;
    master.kill();
    assert!(before == pull_all(&client, &replica.addr, TOPIC, 3, counts[3]).await);
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_acknowledges_what_a_replica_holds_and_survives_its_crash() {
    let cluster = HaCluster::start();
    let master = cluster.broker(
        "master",
        0,
        "SYNC_MASTER",
        &[("slaveTimeout", "2000".into())],
    );
    let client = RemotingClient::default();
    create_topic(&client, &master.addr, TOPIC, QUEUES).await;
    // No replica yet: stored, but not replicated.
    let alone = send(&client, &master.addr, TOPIC, 0, b"before any replica").await;
    assert_eq!(alone.response_code(), ResponseCode::SLAVE_NOT_AVAILABLE);

    let mut replica = cluster.broker(
        "replica",
        1,
        "SLAVE",
        &[
            ("haMasterAddress", master.ha_addr.clone()),
            ("slaveReadEnable", "true".into()),
        ],
    );
    eventually("the replica connects", || async {
        master.metric("skylark_ha_replicas_connected") == Some(1.0)
    })
    .await;
    // Acknowledged sends are on the replica by the time they are answered.
    for i in 0..50 {
        let body = format!("sync {i}");
        let response = send(&client, &master.addr, TOPIC, 1, body.as_bytes()).await;
        assert_success(&response);
    }
    let master_bytes = pull_all(&client, &master.addr, TOPIC, 1, 50).await;
    assert!(master_bytes == pull_all(&client, &replica.addr, TOPIC, 1, 50).await);

    // The replica dies: sends are stored but not acknowledged as replicated.
    replica.kill();
    let mut last = ResponseCode::SUCCESS;
    for i in 0..5 {
        let response = send(
            &client,
            &master.addr,
            TOPIC,
            2,
            format!("after kill {i}").as_bytes(),
        )
        .await;
        last = response.response_code();
        assert!(
            last == ResponseCode::SLAVE_NOT_AVAILABLE || last == ResponseCode::FLUSH_SLAVE_TIMEOUT,
            "send {i} with the replica dead answered {last:?}"
        );
        let header: SendMessageResponseHeader = response.read_header().unwrap();
        assert_eq!(header.queue_offset, i64::from(i), "stored all the same");
    }
    assert_eq!(last, ResponseCode::SLAVE_NOT_AVAILABLE);

    // Restarted, it catches up on what it missed and sends succeed again.
    replica.restart();
    eventually("the restarted replica connects", || async {
        master.metric("skylark_ha_replicas_connected") == Some(1.0)
    })
    .await;
    let mut ok = false;
    for _ in 0..100 {
        let response = send(&client, &master.addr, TOPIC, 2, b"after restart").await;
        if response.response_code() == ResponseCode::SUCCESS {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        ok,
        "sends never succeeded again after the replica came back"
    );
    let master_q2 = pull_all(&client, &master.addr, TOPIC, 2, 6).await;
    assert!(master_q2 == pull_all(&client, &replica.addr, TOPIC, 2, 6).await);
    client.shutdown();
}
