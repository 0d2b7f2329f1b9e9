#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! The official Apache RocketMQ Go client (`rocketmq-client-go` v2, through
//! the scenarios of `interop/go`, see its README) against `skylark standalone`.
//!
//! Each test starts a standalone of its own on free ports and runs one
//! scenario program against it; a failure shows the scenario's output and
//! the server's log (`RUST_LOG=debug`, or `SKYLARK_TEST_RUST_LOG`).
//! `SKYLARK_INTEROP_LOG_DIR=DIR` keeps the logs.
//!
//! Needs Go 1.22+; the scenario program is built once per test run into
//! Cargo's target directory (Go's build cache makes that quick). Without Go
//! these tests fail, unless `SKYLARK_SKIP_GO=1` says to skip them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use skylark_testkit::go::{go_available, go_build};
use skylark_testkit::process::{ChildProcess, Line, StderrTo};
use skylark_testkit::skylark::{SkylarkCommand, free_ports, log_excerpt, start_retrying};

/// Hang guard for one scenario run (the scenario's own guard is 240 s).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines of the server log and of the scenario's stderr shown with a failure.
const LOG_LINES: usize = 80;

#[test]
fn go_client_sync_and_async_sends_read_back_as_sent() {
    run_scenario("go_client_sync_and_async_sends_read_back_as_sent", "send");
}

#[test]
fn go_push_consumer_gets_each_tag_matching_message_once() {
    run_scenario(
        "go_push_consumer_gets_each_tag_matching_message_once",
        "push",
    );
}

/// The scenario program, built on first use by any test of this run.
#[allow(clippy::panic)] // the panic is the test's failure
fn scenario_binary() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/go");
        let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-go/scenario");
        go_build(&module, "./cmd/scenario", &output).map(|()| output)
    });
    match built {
        Ok(path) => path,
        Err(why) => panic!("building the Go interop scenarios failed: {why}"),
    }
}

/// Runs `scenario` against a fresh `skylark standalone`, then stops it with
/// SIGTERM; fails with everything worth reading unless both went well.
#[allow(clippy::panic)] // the panic is the test's failure
fn run_scenario(test: &str, scenario: &str) {
    if !go_available(test, "Interop with the official RocketMQ Go client") {
        return;
    }
    let binary = scenario_binary();
    let dir = tempfile::Builder::new()
        .prefix(&format!("interop-go-{scenario}-"))
        .tempdir()
        .unwrap();
    let logs = match std::env::var_os("SKYLARK_INTEROP_LOG_DIR") {
        Some(root) => PathBuf::from(root).join(test),
        None => dir.path().to_owned(),
    };
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("standalone.log");
    let data = dir.path().join("data");
    let (_, mut standalone) = start_retrying(|| {
        SkylarkCommand::standalone(
            Path::new(env!("CARGO_BIN_EXE_skylark")),
            &data,
            free_ports::<3>(),
            &log,
        )
    });
    let namesrv = standalone.addr("namesrvAddr");

    let started = Instant::now();
    let mut command = Command::new(binary);
    // HOME: where the client would keep local files (broadcasting offsets).
    command.args([scenario, &namesrv]).env("HOME", dir.path());
    let mut run = ChildProcess::spawn(
        &format!("go scenario {scenario}"),
        command,
        StderrTo::Capture,
    )
    .unwrap();
    let finished = read_to_end(&mut run, SCENARIO_TIMEOUT);
    let status = if finished {
        run.wait_timeout(Duration::from_secs(10))
    } else {
        None
    };
    if status.is_none() {
        run.kill();
    }
    let stdout = run.stdout_lines().join("\n");
    let stderr = run.stderr();
    let elapsed = started.elapsed();

    let mut failures = Vec::new();
    match status {
        Some(status) if status.success() => {}
        Some(status) => failures.push(format!(
            "go scenario {scenario} failed after {elapsed:?}: {status}"
        )),
        None => failures.push(format!(
            "go scenario {scenario} did not finish within {SCENARIO_TIMEOUT:?}: killed"
        )),
    }
    match standalone.terminate() {
        Ok(status) if status.success() => {}
        Ok(status) => failures.push(format!(
            "skylark standalone exited with {status} on SIGTERM"
        )),
        Err(why) => failures.push(why),
    }
    if !failures.is_empty() {
        panic!(
            "{}\n--- scenario stdout ---\n{stdout}\n--- scenario stderr (last {LOG_LINES} lines) ---\n{}\n--- skylark standalone log ---\n{}",
            failures.join("\n"),
            tail(&stderr, LOG_LINES),
            log_excerpt(&log, LOG_LINES)
        );
    }
}

/// Reads `run`'s stdout until it closes (true) or `timeout` passes (false).
fn read_to_end(run: &mut ChildProcess, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match run.next_line(deadline.saturating_duration_since(Instant::now())) {
            Line::Text(_) => {}
            Line::Eof => return true,
            Line::Timeout => return false,
        }
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
