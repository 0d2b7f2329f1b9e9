//! The interop proof of replication: Apache RocketMQ 5.3.3's own broker
//! (Maven Central jars, `broker/compat-ha/run.sh`) runs as a SLAVE of a
//! Skylark master over RocketMQ's classic HA protocol and receives every
//! message: its CommitLog is byte-identical to the master's, pulling from it
//! returns the same records, and it copies the master's topics. And the
//! other way round: a Skylark replica follows a RocketMQ master (whose
//! chunks cut records anywhere) just as faithfully.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::assert_success;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use skylark_remoting::RemotingClient;
use skylark_testkit::java::{HARNESS_TIMEOUT, java_available};
use skylark_testkit::process::{ChildProcess, StderrTo};
use skylark_testkit::skylark::{free_broker_ports, free_ports};
use support::ha::{
    GROUP, HaCluster, commit_log_bytes, create_topic, eventually, has_topic, pull_all, send,
};

const TOPIC: &str = "JavaReplicaTopic";
const QUEUES: i32 = 4;

/// Attempts at starting the Java broker when a picked port was taken meanwhile.
const JAVA_START_ATTEMPTS: usize = 3;

/// A started Java broker and the ports it listens on.
struct JavaBroker {
    process: ChildProcess,
    /// Its remoting port (the fast port is this minus 2, Java's rule).
    port: u16,
    /// Its HA port.
    ha_port: u16,
}

/// RocketMQ's broker under `dir`, configured by `conf(port, ha_port)` (its
/// store under `dir/store`), started and booted on free loopback ports;
/// retried on new ports when one was taken between picking and binding
/// (tests run in parallel); panics with its output otherwise.
fn start_java_broker(dir: &Path, conf: impl Fn(u16, u16) -> String) -> JavaBroker {
    std::fs::create_dir_all(dir).unwrap();
    let conf_path = dir.join("broker.conf");
    let run_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-ha/run.sh");
    for attempt in 1..=JAVA_START_ATTEMPTS {
        // Java binds listenPort - 2 too: free_broker_ports checks both.
        let [port, _fast] = free_broker_ports();
        let [ha_port] = free_ports::<1>();
        std::fs::write(
            &conf_path,
            format!(
                "{}storePathRootDir={}\n",
                conf(port, ha_port),
                dir.join("store").display()
            ),
        )
        .unwrap();
        let stderr_path = dir.join(format!("stderr-{attempt}.log"));
        let mut command = Command::new("bash");
        command
            .arg(&run_sh)
            .arg("broker")
            .arg(dir.join("home"))
            .arg(&conf_path);
        let mut java = ChildProcess::spawn(
            "rocketmq java broker",
            command,
            StderrTo::File(stderr_path.clone()),
        )
        .unwrap();
        // The first run may build the harness (Maven downloads).
        match java.wait_for_line(HARNESS_TIMEOUT, |l| l.contains("boot success")) {
            Ok(_) => {
                return JavaBroker {
                    process: java,
                    port,
                    ha_port,
                };
            }
            Err(why) => {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                if stderr.contains("Address already in use") && attempt < JAVA_START_ATTEMPTS {
                    let _ = java.terminate(Duration::from_secs(30));
                    continue;
                }
                panic!(
                    "the Java broker did not start: {why}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
                    java.stdout_lines().join("\n")
                );
            }
        }
    }
    unreachable!("the last attempt returns or panics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_java_broker_replicates_a_skylark_master() {
    if !java_available(
        "ha_java_replica",
        "a RocketMQ Java broker replicates a Skylark master",
    ) {
        return;
    }
    let cluster = HaCluster::start();
    let master = cluster.broker("master", 0, "ASYNC_MASTER", &[]);

    // No haMasterAddress: RocketMQ 5.3.3 applies it before its HA client
    // exists and then never connects; it learns the master's HA address
    // from the nameserver's registration answer instead, as usual.
    let java_dir = cluster.dir.path().join("java");
    let JavaBroker {
        process: mut java,
        port,
        ..
    } = start_java_broker(&java_dir, |port, ha_port| {
        format!(
            "brokerClusterName=HaCluster\nbrokerName={GROUP}\nbrokerId=1\nbrokerRole=SLAVE\n\
             brokerIP1=127.0.0.1\nbindAddress=127.0.0.1\nlistenPort={port}\n\
             haListenPort={ha_port}\nnamesrvAddr={}\nmappedFileSizeCommitLog=1048576\n\
             mappedFileSizeConsumeQueue=60000\nslaveReadEnable=true\ntimerWheelEnable=false\n",
            cluster.namesrv_addr,
        )
    });
    let java_addr = format!("127.0.0.1:{port}");

    // An empty replica is streamed the master's newest file only (Java's
    // rule), so it must be connected before the first file fills.
    eventually("the Java replica connects to the HA port", || async {
        master.metric("skylark_ha_replicas_connected") == Some(1.0)
    })
    .await;
    let client = RemotingClient::default();
    create_topic(&client, &master.addr, TOPIC, QUEUES).await;
    let mut counts = [0i64; QUEUES as usize];
    for i in 0..700usize {
        let queue = i32::try_from(i).unwrap() % QUEUES;
        let body = format!("to java {i} {}", "j".repeat(2500 + i % 113));
        let response = send(&client, &master.addr, TOPIC, queue, body.as_bytes()).await;
        assert_success(&response);
        counts[queue as usize] += 1;
    }

    // The Java broker reads back every record, as the master serves it.
    for (queue, &count) in counts.iter().enumerate() {
        let queue = i32::try_from(queue).unwrap();
        let from_master = pull_all(&client, &master.addr, TOPIC, queue, count).await;
        let from_java = pull_all(&client, &java_addr, TOPIC, queue, count).await;
        assert!(
            from_master == from_java,
            "queue {queue}: the Java replica's records differ from the master's"
        );
    }
    // Its CommitLog holds the master's bytes (several 1 MiB files, BLANK padding included).
    let end = master.metric("skylark_commitlog_max_offset").unwrap() as i64;
    assert!(
        end > 1 << 20,
        "expected more than one file, got {end} bytes"
    );
    eventually("the Java replica acknowledges everything", || async {
        master.metric("skylark_ha_replica_lag_bytes{") == Some(0.0)
    })
    .await;
    let ours = commit_log_bytes(&master.data_dir.join("commitlog"), 0, end);
    let theirs = commit_log_bytes(&java_dir.join("store/commitlog"), 0, end);
    assert!(
        ours == theirs,
        "the Java replica's CommitLog differs from the master's"
    );
    // Its SlaveSynchronize copied the topic from Skylark's admin codes.
    eventually("the Java replica copies the topic", || {
        has_topic(&client, &java_addr, TOPIC)
    })
    .await;

    client.shutdown();
    let _ = java.terminate(Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skylark_replica_follows_a_rocketmq_java_master() {
    if !java_available(
        "ha_java_replica",
        "a Skylark replica follows a RocketMQ Java master",
    ) {
        return;
    }
    let cluster = HaCluster::start();
    let java_dir = cluster.dir.path().join("java-master");
    let JavaBroker {
        process: mut java,
        port,
        ha_port,
    } = start_java_broker(&java_dir, |port, ha_port| {
        format!(
            "brokerClusterName=HaCluster\nbrokerName={GROUP}\nbrokerId=0\n\
             brokerRole=ASYNC_MASTER\nbrokerIP1=127.0.0.1\nbindAddress=127.0.0.1\n\
             listenPort={port}\nhaListenPort={ha_port}\nnamesrvAddr={}\n\
             mappedFileSizeCommitLog=1048576\nmappedFileSizeConsumeQueue=60000\n\
             timerWheelEnable=false\n",
            cluster.namesrv_addr,
        )
    });
    let java_addr = format!("127.0.0.1:{port}");
    let replica = cluster.broker(
        "replica",
        1,
        "SLAVE",
        &[
            ("haMasterAddress", format!("127.0.0.1:{ha_port}")),
            ("slaveReadEnable", "true".into()),
        ],
    );
    eventually("the replica connects to the Java master", || async {
        replica.metric("skylark_ha_master_connected") == Some(1.0)
    })
    .await;

    let client = RemotingClient::default();
    create_topic(&client, &java_addr, TOPIC, QUEUES).await;
    let mut counts = [0i64; QUEUES as usize];
    for i in 0..700usize {
        let queue = i32::try_from(i).unwrap() % QUEUES;
        let body = format!("from java {i} {}", "k".repeat(2500 + i % 113));
        let response = send(&client, &java_addr, TOPIC, queue, body.as_bytes()).await;
        assert_success(&response);
        counts[queue as usize] += 1;
    }
    for (queue, &count) in counts.iter().enumerate() {
        let queue = i32::try_from(queue).unwrap();
        let from_java = pull_all(&client, &java_addr, TOPIC, queue, count).await;
        let from_replica = pull_all(&client, &replica.addr, TOPIC, queue, count).await;
        assert!(
            from_java == from_replica,
            "queue {queue}: the Skylark replica's records differ from the Java master's"
        );
    }
    // Same CommitLog bytes up to the end the replica reached.
    eventually("the replica has all the Java master's bytes", || async {
        replica.metric("skylark_ha_master_lag_bytes") == Some(0.0)
    })
    .await;
    let end = replica.metric("skylark_commitlog_max_offset").unwrap() as i64;
    assert!(
        end > 1 << 20,
        "expected more than one file, got {end} bytes"
    );
    assert!(
        commit_log_bytes(&java_dir.join("store/commitlog"), 0, end)
            == commit_log_bytes(&replica.data_dir.join("commitlog"), 0, end),
        "the Skylark replica's CommitLog differs from the Java master's"
    );
    // The replica copied the topic from the Java master's admin codes.
    eventually("the topic reaches the replica", || {
        has_topic(&client, &replica.addr, TOPIC)
    })
    .await;
    client.shutdown();
    let _ = java.terminate(Duration::from_secs(30));
}
