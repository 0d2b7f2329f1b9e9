//! What the `cli_*` tests share: a `skylark standalone` of their own and
//! running the `skylark` binary with arguments (and stdin), with a hang guard.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use skylark_testkit::process::{Collected, collect_output};
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_standalone_ports, log_excerpt, start_retrying,
};

/// Hang guard of one `skylark` client command.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The `skylark` binary under test.
pub(crate) fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_skylark"))
}

/// A running standalone in a temporary directory.
pub(crate) struct Standalone {
    dir: tempfile::TempDir,
    server: Skylark,
    /// Its nameserver address, for `--namesrv`.
    pub(crate) namesrv: String,
}

impl Standalone {
    /// Starts one on free ports, with extra broker.conf `conf` lines.
    pub(crate) fn start(conf: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("skylark-cli-test-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let log = dir.path().join("standalone.log");
        let (_, server) = start_retrying(|| {
            SkylarkCommand::standalone(bin(), &data, free_standalone_ports(), &log)
                .env("HOME", dir.path())
                // haListenPort=0: tests run in parallel, the default HA port is fixed.
                .conf(["haListenPort=0"])
                .conf(conf)
        });
        let namesrv = server.addr("namesrvAddr");
        Self {
            dir,
            server,
            namesrv,
        }
    }

    /// Its broker's remoting address.
    pub(crate) fn broker(&self) -> String {
        self.server.addr("broker")
    }

    /// A path in its temporary directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The last lines of its log, for failure messages.
    pub(crate) fn log(&self) -> String {
        log_excerpt(self.server.log(), 40)
    }

    /// Runs `skylark ARGS… --namesrv ADDR` (the flag appended after the args).
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--namesrv", &self.namesrv]);
        run(&all, None)
    }

    /// Like [`Standalone::run`], asserting exit code 0.
    pub(crate) fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            Some(0),
            "skylark {args:?} failed\n{run}\n--- standalone log ---\n{}",
            self.log()
        );
        run
    }

    /// Like [`Standalone::ok`], with `stdin` as standard input.
    pub(crate) fn ok_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--namesrv", &self.namesrv]);
        let run = run(&all, Some(stdin));
        assert_eq!(run.code, Some(0), "skylark {args:?} failed\n{run}");
        run
    }
}

/// What one `skylark` run did.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    /// Stdout.
    pub(crate) stdout: String,
    /// Stderr.
    pub(crate) stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Stdout parsed as one JSON document.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{self}"))
    }

    /// Each stdout line parsed as JSON.
    pub(crate) fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("line {l:?} is not JSON: {e}\n{self}"))
            })
            .collect()
    }
}

/// Runs `skylark ARGS…` with `stdin` (or none), killing it after the hang guard.
pub(crate) fn run(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NAMESRV_ADDR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let text = text.to_owned();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    match collect_output(&mut child, RUN_TIMEOUT, false).unwrap() {
        Collected::Exited {
            status,
            stdout,
            stderr,
        } => Run {
            code: status.code(),
            stdout,
            stderr,
        },
        Collected::TimedOut { stderr } => panic!(
            "skylark {args:?} still running after {RUN_TIMEOUT:?}; killed\n--- stderr ---\n{stderr}"
        ),
    }
}
