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

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The harness (and any JVM or Maven it started) is killed after this long;
/// the first run downloads RocketMQ's client from Maven Central.
const HARNESS_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether Java and Maven are there; panics with what to install unless
/// `SKYLARK_SKIP_JAVA=1`.
fn java_available() -> bool {
    let java = std::env::var_os("JAVA_HOME").map_or_else(
        || PathBuf::from("java"),
        |home| PathBuf::from(home).join("bin").join("java"),
    );
    let missing: Vec<String> = [(java, "-version"), (PathBuf::from("mvn"), "-v")]
        .into_iter()
        .filter(|(tool, flag)| {
            Command::new(tool)
                .arg(flag)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .map(|(tool, _)| tool.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("SKYLARK_SKIP_JAVA").as_deref() == Ok("1") {
        let banner = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!!! SKIPPED java_compat: {missing:?} not found and SKYLARK_SKIP_JAVA=1.\n\
             !!! Name-server compatibility with RocketMQ's client is NOT being checked.\n{banner}\n"
        );
        return false;
    }
    panic!(
        "{missing:?} not found. This test runs Apache RocketMQ 5.3.3's client classes through \
         nameserver/compat/run.sh and needs a JDK 17+ and Maven (Debian/Ubuntu: `apt-get install \
         -y openjdk-17-jdk-headless maven`). Set SKYLARK_SKIP_JAVA=1 to skip it explicitly."
    );
}

/// Runs `run.sh check ADDR`, returning (exit code, stdout, stderr).
fn harness(addr: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join("run.sh");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = Command::new("bash")
        .arg(&script)
        .args(["check", addr])
        // RocketMQ's client logs under $HOME/logs; keep that out of the user's home.
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        // Its own group, so a timeout kills Maven and the JVM too.
        .process_group(0)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > HARNESS_TIMEOUT {
            let pgid = i32::try_from(child.id()).unwrap();
            // SAFETY: signalling the process group we created.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (
        status.and_then(|s| s.code()),
        std::fs::read_to_string(out_path).unwrap_or_default(),
        std::fs::read_to_string(err_path).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_client_classes_work_against_skylark() {
    if !java_available() {
        return;
    }
    let h = start().await;
    let addr = h.addr.clone();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || harness(&addr))
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
