//! One interop test's setting: a temporary directory (the Java clients'
//! HOME, data directories, broker configs, logs), the `skylark` processes
//! it starts, and `interop/java/run.sh` scenarios run against them. Every
//! scenario runs even when an earlier one failed; [`Suite::finish`] then
//! fails the test with each failure's output and the servers' logs.

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use skylark_testkit::java::{HARNESS_TIMEOUT, java_available, run_harness};
use skylark_testkit::process::{ChildProcess, Line, StderrTo};
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_broker_ports, free_ports, free_standalone_ports, log_excerpt,
    start_retrying,
};

/// Hang guard for one scenario run (the scenario's own guard is 300 s).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(420);
/// Lines of each server log shown with a failure.
const LOG_LINES: usize = 60;

/// Which official client library a scenario runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    /// `rocketmq-client` 4.9.8.
    V4,
    /// `rocketmq-client` 5.3.3 (the 5.x remoting client).
    V5,
}

impl Client {
    /// `run.sh`'s first argument.
    fn arg(self) -> &'static str {
        match self {
            Client::V4 => "4",
            Client::V5 => "5",
        }
    }

    /// For names of topics, groups and files.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Client::V4 => "c4",
            Client::V5 => "c5",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Client::V4 => "client 4.9.8",
            Client::V5 => "client 5.3.3",
        }
    }
}

/// What one scenario run did.
#[derive(Debug)]
struct ScenarioRun {
    what: String,
    passed: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    client_log: String,
    elapsed: Duration,
}

/// A test's directory, servers' logs and scenario results.
pub(crate) struct Suite {
    test: &'static str,
    dir: tempfile::TempDir,
    logs: PathBuf,
    script: PathBuf,
    runs: Vec<ScenarioRun>,
    driver_failures: Vec<String>,
    server_logs: Vec<(String, PathBuf)>,
}

impl Suite {
    /// Builds the Java harness (once per machine, cached) and makes the
    /// test's directory; `None` when Java is missing and
    /// `SKYLARK_SKIP_JAVA=1` says to skip.
    pub(crate) fn new(test: &'static str) -> Option<Self> {
        if !java_available(test, "Interop with the official RocketMQ Java client") {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/java/run.sh");
        let build = run_harness(&script, &["build".into()], &[], HARNESS_TIMEOUT);
        assert_eq!(
            build.code,
            Some(0),
            "interop/java/run.sh build failed\n--- stderr ---\n{}",
            build.stderr
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("interop-{test}-"))
            .tempdir()
            .unwrap();
        // SKYLARK_INTEROP_LOG_DIR keeps the servers' logs after the test.
        let logs = match std::env::var_os("SKYLARK_INTEROP_LOG_DIR") {
            Some(root) => PathBuf::from(root).join(test),
            None => dir.path().join("logs"),
        };
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Some(Self {
            test,
            dir,
            logs,
            script,
            runs: Vec::new(),
            driver_failures: Vec::new(),
            server_logs: Vec::new(),
        })
    }

    /// The clients to run: both, unless `SKYLARK_INTEROP_CLIENTS` names
    /// some (`4`, `5` or `4,5`).
    pub(crate) fn clients(&self) -> Vec<Client> {
        let wanted = std::env::var("SKYLARK_INTEROP_CLIENTS").unwrap_or_else(|_| "4,5".into());
        [Client::V4, Client::V5]
            .into_iter()
            .filter(|c| wanted.split(',').any(|w| w.trim() == c.arg()))
            .collect()
    }

    /// A path inside the test's directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The log file of server `name`, listed in the failure report.
    fn log(&mut self, name: &str) -> PathBuf {
        let path = self.logs.join(format!("{name}.log"));
        if !self.server_logs.iter().any(|(n, _)| n == name) {
            self.server_logs.push((name.to_owned(), path.clone()));
        }
        path
    }

    /// Starts `skylark standalone` with data directory `name` on fresh
    /// ports (and `broker.conf` lines `conf`, if any); returns the command,
    /// for restarting it on the same ports and data, and the process.
    pub(crate) fn standalone(&mut self, name: &str, conf: &[&str]) -> (SkylarkCommand, Skylark) {
        let data = self.path(name);
        let log = self.log(name);
        let home = self.path("home");
        start_retrying(|| {
            SkylarkCommand::standalone(
                Path::new(env!("CARGO_BIN_EXE_skylark")),
                &data,
                free_standalone_ports(),
                &log,
            )
            .env("HOME", &home)
            .conf(conf)
        })
    }

    /// Starts `skylark nameserver` as `name` on a fresh port.
    pub(crate) fn nameserver(&mut self, name: &str) -> Skylark {
        let log = self.log(name);
        let home = self.path("home");
        start_retrying(|| {
            let [port] = free_ports::<1>();
            SkylarkCommand::nameserver(Path::new(env!("CARGO_BIN_EXE_skylark")), port, &log)
                .env("HOME", &home)
        })
        .1
    }

    /// Starts `skylark broker` named `broker_name` (a master of `cluster`)
    /// registering with `namesrv`; `name` names its data directory and log.
    pub(crate) fn broker(
        &mut self,
        name: &str,
        broker_name: &str,
        cluster: &str,
        namesrv: &str,
    ) -> Skylark {
        let data = self.path(name);
        let log = self.log(name);
        let conf = [
            format!("brokerClusterName={cluster}"),
            format!("brokerName={broker_name}"),
            "brokerId=0".to_owned(),
            "brokerIP1=127.0.0.1".to_owned(),
            format!("namesrvAddr={namesrv}"),
            format!("storePathRootDir={}", data.display()),
            "flushDiskType=ASYNC_FLUSH".to_owned(),
        ];
        let home = self.path("home");
        start_retrying(|| {
            SkylarkCommand::broker(
                Path::new(env!("CARGO_BIN_EXE_skylark")),
                namesrv,
                free_broker_ports(),
                &data,
                &log,
            )
            .conf(&conf)
            .env("HOME", &home)
        })
        .1
    }

    /// Starts `command` again (same ports, same data directory).
    pub(crate) fn restart(&mut self, command: &SkylarkCommand) -> Skylark {
        command
            .start()
            .unwrap_or_else(|e| panic!("restart failed: {}", e.message))
    }

    /// Runs `scenario` with `client` against `namesrv`.
    pub(crate) fn run(&mut self, client: Client, scenario: &str, namesrv: &str, args: &[&str]) {
        self.run_with(client, scenario, namesrv, args, |_| {});
    }

    /// Like [`Suite::run`], calling `on_line` with each stdout line as it
    /// comes (a scenario prints `KILL ...` when the driver should kill a server).
    pub(crate) fn run_with(
        &mut self,
        client: Client,
        scenario: &str,
        namesrv: &str,
        args: &[&str],
        mut on_line: impl FnMut(&str),
    ) {
        let what = format!("{} {scenario} {}", client.label(), args.join(" "));
        let home = self.path("home");
        let client_log = home.join("logs/rocketmqlogs/rocketmq_client.log");
        let client_log_start = std::fs::metadata(&client_log).map_or(0, |m| m.len());
        let mut command = Command::new("bash");
        command
            .arg(&self.script)
            .args([client.arg(), scenario, namesrv])
            .args(args)
            .env("HOME", &home);
        let start = Instant::now();
        let mut child = ChildProcess::spawn(&what, command, StderrTo::Capture).unwrap();
        let deadline = start + SCENARIO_TIMEOUT;
        let mut timed_out = false;
        loop {
            match child.next_line(deadline.saturating_duration_since(Instant::now())) {
                Line::Text(line) => on_line(&line),
                Line::Eof => break,
                Line::Timeout => {
                    timed_out = true;
                    child.kill();
                    break;
                }
            }
        }
        let status = child.wait_timeout(Duration::from_secs(30));
        let code = status.and_then(|s| s.code());
        let mut stderr = child.stderr();
        if timed_out {
            stderr.push_str(&format!(
                "\n[driver: killed after {SCENARIO_TIMEOUT:?} without finishing]"
            ));
        }
        let passed = code == Some(0);
        self.runs.push(ScenarioRun {
            what,
            passed,
            code,
            stdout: child.stdout_lines().join("\n"),
            stderr,
            client_log: if passed {
                String::new()
            } else {
                warnings_since(&client_log, client_log_start)
            },
            elapsed: start.elapsed(),
        });
    }

    /// Records a check the driver itself makes (a server's exit status, a kill that happened).
    pub(crate) fn expect(&mut self, ok: bool, what: &str) {
        if !ok {
            self.driver_failures.push(what.to_owned());
        }
    }

    /// Fails the test when a scenario or driver check failed, or when one
    /// of `alive` (servers that should still run) has exited; the message
    /// has every failure's output and the servers' logs.
    pub(crate) fn finish(mut self, alive: &mut [&mut Skylark]) {
        for server in alive.iter_mut() {
            if let Some(status) = server.process().try_status() {
                let name = server.process().name().to_owned();
                self.driver_failures
                    .push(format!("{name} exited unexpectedly ({status})"));
            }
        }
        let mut summary = String::new();
        for run in &self.runs {
            let closing = run
                .stdout
                .lines()
                .rev()
                .find(|l| l.starts_with("scenario "))
                .unwrap_or("(no closing line)");
            let _ = writeln!(
                summary,
                "{} {} — exit {:?}, {:.1}s — {closing}",
                if run.passed { "PASS" } else { "FAIL" },
                run.what,
                run.code,
                run.elapsed.as_secs_f64()
            );
        }
        for failure in &self.driver_failures {
            let _ = writeln!(summary, "FAIL driver: {failure}");
        }
        if std::env::var_os("SKYLARK_INTEROP_VERBOSE").is_some() {
            for run in &self.runs {
                eprintln!("----- {} -----\n{}", run.what, run.stdout);
            }
        }
        eprintln!("interop {}:\n{summary}", self.test);
        let failed = self.runs.iter().filter(|r| !r.passed).count() + self.driver_failures.len();
        if failed == 0 {
            return;
        }

        let mut report = format!(
            "{failed} interop check(s) failed in {}:\n{summary}",
            self.test
        );
        for run in self.runs.iter().filter(|r| !r.passed) {
            let _ = write!(
                report,
                "\n===== FAIL {} =====\n--- stdout ---\n{}\n--- stderr (last 3000 chars) ---\n{}\n",
                run.what,
                run.stdout,
                last_chars(&run.stderr, 3000)
            );
            if !run.client_log.is_empty() {
                let _ = write!(
                    report,
                    "--- client log WARN/ERROR lines ---\n{}",
                    run.client_log
                );
            }
        }
        for (name, path) in &self.server_logs {
            let _ = write!(
                report,
                "\n===== {name} log =====\n{}",
                log_excerpt(path, LOG_LINES)
            );
        }
        if std::env::var_os("SKYLARK_INTEROP_LOG_DIR").is_none() {
            report.push_str(
                "\n(set SKYLARK_INTEROP_LOG_DIR=DIR to keep the full server logs after the test)\n",
            );
        }
        panic!("{report}");
    }
}

/// WARN and ERROR lines the client library logged since byte `start` (the last 40).
fn warnings_since(log: &Path, start: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(log) {
        if file.seek(SeekFrom::Start(start)).is_ok() {
            let mut buf = Vec::new();
            let _ = file.read_to_end(&mut buf);
            text = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    let mut out = lines[lines.len().saturating_sub(40)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The last `n` characters of `text` (on a char boundary).
fn last_chars(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
