#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! Apache RocketMQ 5.3.3's own classes against a Skylark name server,
//! through the Java harness in `nameserver/compat` (see its README): Java
//! brokers register (JSON and zlib bodies, CRC), Java decodes routes in
//! both key dialects, cluster info, topic lists, KV config and typed
//! headers, and a `DefaultMQProducer` finds its publish queues before and
//! after a broker's write permission is wiped.
//!
//! Needs a JDK 17+ and Maven (Debian: `apt-get install -y
//! openjdk-17-jdk-headless maven`); without them this test fails, unless
//! `SKYLARK_SKIP_JAVA=1` says to skip it.

mod common;

use std::path::Path;

use common::*;
use skylark_testkit::java::{HARNESS_TIMEOUT, HarnessRun, java_available, run_harness};

/// Runs `run.sh check ADDR` with RocketMQ's client logs kept out of `$HOME`.
fn harness(addr: &str) -> HarnessRun {
    let home = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/run.sh");
    run_harness(
        &script,
        &["check".into(), addr.into()],
        &[("HOME", home.path().as_os_str())],
        HARNESS_TIMEOUT,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_client_classes_work_against_skylark() {
    if !java_available(
        "rocketmq_client_classes_work_against_skylark",
        "Name-server compatibility with RocketMQ's client",
    ) {
        return;
    }
    let h = start().await;
    let addr = h.addr.clone();
    let HarnessRun {
        code,
        stdout,
        stderr,
        ..
    } = tokio::task::spawn_blocking(move || harness(&addr))
        .await
        .unwrap();
    assert_eq!(
        code,
        Some(0),
        "run.sh check exited {code:?} (3 = a check failed)\n--- stdout ---\n{stdout}\n--- stderr (last 4000 chars) ---\n{}",
        &stderr[stderr.len().saturating_sub(4000)..]
    );
    assert!(stdout.contains("ok: all checks passed"), "{stdout}");

    // What Java did is visible on our side too: the KV entry stays, and the
    // brokers left with the harness's connection.
    assert_eq!(
        h.handle
            .name_server()
            .kv()
            .get("ORDER_TOPIC_CONFIG", "CompatTopic")
            .as_deref(),
        Some("broker-a:4;broker-z:4")
    );
    let routes = h.handle.name_server().routes();
    eventually(|| routes.live_broker_count() == 0).await;
    assert!(routes.pickup_topic_route_data("CompatTopic").is_none());
    h.handle.shutdown().await.unwrap();
}
