//! The `skylark` binary run from tests: a standalone, a nameserver or a
//! broker on free loopback ports with its own data directory, logging into
//! a file (`RUST_LOG=debug` unless `SKYLARK_TEST_RUST_LOG` says otherwise),
//! ready once it prints its ready line.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::process::{ChildProcess, StderrTo};

/// Hang guard for a start: from spawn to the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Hang guard for a graceful stop after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of [`start_retrying`] when a picked port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// `N` distinct ports on 127.0.0.1 that were free a moment ago.
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn free_ports<const N: usize>() -> [u16; N] {
    // All listeners stay open until every port is picked, so none repeats.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| {
            TcpListener::bind(("127.0.0.1", 0))
                .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
        })
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .unwrap_or_else(|e| panic!("local address of a loopback listener: {e}"))
            .port()
    })
}

/// A free broker port and its fast (VIP) port: RocketMQ clients with the
/// VIP channel on always dial the broker port minus 2, so that is the one
/// picked for it.
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn free_broker_ports() -> [u16; 2] {
    for _ in 0..100 {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port > 1026 && TcpListener::bind(("127.0.0.1", port - 2)).is_ok() {
            return [port, port - 2];
        }
    }
    panic!("found no free loopback port P with P-2 free too");
}

/// Free ports for a standalone: nameserver, broker, and fast = broker − 2.
pub fn free_standalone_ports() -> [u16; 3] {
    loop {
        let [broker, fast] = free_broker_ports();
        let [namesrv] = free_ports::<1>();
        if namesrv != broker && namesrv != fast {
            return [namesrv, broker, fast];
        }
    }
}

/// broker.conf lines every test standalone and broker starts with
/// ([`SkylarkCommand::standalone`], [`SkylarkCommand::broker`]). 64 MiB CommitLog
/// files: a file's disk is reserved (`fallocate`) when it is made, and tests
/// run many brokers at once on machines whose disk may be nearly full
/// (a store refuses writes past 90 % usage, as RocketMQ's does).
pub const TEST_BROKER_CONF: &[&str] = &["mappedFileSizeCommitLog=67108864"];

/// One run of `skylark`: its arguments, the ready line it prints, its log.
#[derive(Debug, Clone)]
pub struct SkylarkCommand {
    bin: PathBuf,
    role: String,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    log: PathBuf,
    /// broker.conf lines, written beside the log and passed as `-c` (if any).
    conf: Vec<String>,
}

impl SkylarkCommand {
    /// `skylark ROLE ARGS…`, logging to `log`; ready once it prints
    /// `skylark ROLE ready:`.
    pub fn new(bin: &Path, role: &str, log: &Path) -> Self {
        Self {
            bin: bin.to_owned(),
            role: role.to_owned(),
            args: vec![role.into()],
            envs: Vec::new(),
            log: log.to_owned(),
            conf: Vec::new(),
        }
    }

    /// `skylark standalone` on 127.0.0.1 with the given nameserver, broker
    /// and fast ports, no HTTP port, `data_dir`, and the broker.conf lines
    /// [`TEST_BROKER_CONF`] (add more with [`SkylarkCommand::conf`]).
    pub fn standalone(
        bin: &Path,
        data_dir: &Path,
        [namesrv, broker, fast]: [u16; 3],
        log: &Path,
    ) -> Self {
        Self::new(bin, "standalone", log)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--host", "127.0.0.1", "--http-port", "0"])
            .args(["--namesrv-port", &namesrv.to_string()])
            .args(["--broker-port", &broker.to_string()])
            .args(["--fast-port", &fast.to_string()])
            .conf(TEST_BROKER_CONF)
    }

    /// `skylark nameserver` on 127.0.0.1:`port`, keeping KV config in memory.
    pub fn nameserver(bin: &Path, port: u16, log: &Path) -> Self {
        Self::new(bin, "nameserver", log)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--no-persist")
    }

    /// `skylark broker` registering with `namesrv`, on the given broker and
    /// fast ports, with `data_dir`, and the broker.conf lines
    /// [`TEST_BROKER_CONF`] (add more with [`SkylarkCommand::conf`]).
    pub fn broker(
        bin: &Path,
        namesrv: &str,
        [broker, fast]: [u16; 2],
        data_dir: &Path,
        log: &Path,
    ) -> Self {
        Self::new(bin, "broker", log)
            .args(["--namesrv-addr", namesrv])
            .args(["--listen-port", &broker.to_string()])
            .args(["--fast-port", &fast.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .conf(TEST_BROKER_CONF)
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Adds broker.conf lines (`key=value`), written to a file beside the
    /// log (its name with `.conf`) at every start, so a restart begins from
    /// these lines again, and passed as `-c`; a later line for the same key
    /// wins.
    #[must_use]
    pub fn conf<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, lines: I) -> Self {
        self.conf
            .extend(lines.into_iter().map(|l| l.as_ref().to_owned()));
        self
    }

    /// Where [`SkylarkCommand::conf`]'s lines are written (and the broker
    /// saves config updates), if there are any.
    pub fn conf_file(&self) -> Option<PathBuf> {
        (!self.conf.is_empty()).then(|| self.log.with_extension("conf"))
    }

    /// Sets an environment variable for the process.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The log file (appended to by every start).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Starts it and waits for its ready line ([`READY_TIMEOUT`]).
    pub fn start(&self) -> Result<Skylark, StartError> {
        let mut args = self.args.clone();
        if let Some(path) = self.conf_file() {
            let text: String = self.conf.iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(&path, text).map_err(|e| StartError {
                message: format!("cannot write {}: {e}", path.display()),
                port_in_use: false,
            })?;
            args.extend(["-c".into(), path.into_os_string()]);
        }
        let shown = args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let log_start = append_log_header(&self.log, &format!("skylark {shown}"));
        let mut command = Command::new(&self.bin);
        command.args(&args);
        command
            .env(
                "RUST_LOG",
                std::env::var("SKYLARK_TEST_RUST_LOG").unwrap_or_else(|_| "debug".to_owned()),
            )
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        let name = format!("skylark {}", self.role);
        let mut process = ChildProcess::spawn(&name, command, StderrTo::File(self.log.clone()))
            .map_err(|e| StartError {
                message: format!("cannot start {}: {e}", self.bin.display()),
                port_in_use: false,
            })?;
        let prefix = format!("skylark {} ready:", self.role);
        match process.wait_for_line(READY_TIMEOUT, |line| line.starts_with(&prefix)) {
            Ok(ready) => Ok(Skylark {
                process,
                ready,
                log: self.log.clone(),
            }),
            Err(why) => {
                process.kill();
                let printed = read_from(&self.log, log_start);
                Err(StartError {
                    port_in_use: printed.contains("in use"),
                    message: format!(
                        "`{name}` never became ready: {why}\n--- its stdout ---\n{}\n--- its log ---\n{}",
                        process.stdout_lines().join("\n"),
                        tail(&printed, 60)
                    ),
                })
            }
        }
    }
}

/// Why a start failed.
#[derive(Debug)]
pub struct StartError {
    /// What happened, with the process's output.
    pub message: String,
    /// Whether it failed because a port was taken (worth a retry on other ports).
    pub port_in_use: bool,
}

/// Starts what `make` builds (called again for each attempt, so that it
/// can pick fresh ports), retrying when a port turned out to be taken.
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn start_retrying(mut make: impl FnMut() -> SkylarkCommand) -> (SkylarkCommand, Skylark) {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let command = make();
        match command.start() {
            Ok(running) => return (command, running),
            Err(e) if e.port_in_use => last = e.message,
            Err(e) => panic!("{}", e.message),
        }
    }
    panic!("ports kept being taken; last attempt: {last}");
}

/// A running `skylark`, killed when dropped.
#[derive(Debug)]
pub struct Skylark {
    process: ChildProcess,
    ready: String,
    log: PathBuf,
}

impl Skylark {
    /// The ready line it printed.
    pub fn ready_line(&self) -> &str {
        &self.ready
    }

    /// The value of `key=value` in its ready line (e.g. `namesrvAddr`, `broker`, `listen`).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.ready.split_whitespace().find_map(|token| {
            token
                .split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }

    /// Like [`Skylark::field`], for a field the role always prints.
    #[allow(clippy::panic)] // a test helper: the panic is the test's failure
    pub fn addr(&self, key: &str) -> String {
        self.field(key)
            .unwrap_or_else(|| panic!("no {key}= in ready line `{}`", self.ready))
            .to_owned()
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The process, for signals and stdout.
    pub fn process(&mut self) -> &mut ChildProcess {
        &mut self.process
    }

    /// SIGTERM and wait ([`STOP_TIMEOUT`]); the error says it had to be killed.
    pub fn terminate(&mut self) -> Result<ExitStatus, String> {
        self.process.terminate(STOP_TIMEOUT)
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) -> ExitStatus {
        self.process.kill()
    }
}

/// What of a log is worth showing with a failure: its last `lines` lines,
/// preceded by its WARN and ERROR lines (the last `lines` of those) when
/// they are not already among the last lines.
pub fn log_excerpt(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    let last_start = all.len().saturating_sub(lines);
    let warnings: Vec<&str> = all[..last_start]
        .iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .copied()
        .collect();
    let mut out = String::new();
    if !warnings.is_empty() {
        out.push_str(&format!(
            "[{} WARN/ERROR lines before the end; the last {}:]\n",
            warnings.len(),
            warnings.len().min(lines)
        ));
        for line in &warnings[warnings.len().saturating_sub(lines)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "[last {} of {} lines of {}:]\n",
        all.len() - last_start,
        all.len(),
        path.display()
    ));
    for line in &all[last_start..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Appends a header line naming this start; returns the log's length before it.
fn append_log_header(log: &Path, what: &str) -> u64 {
    let Ok(mut file) = std::fs::File::options().create(true).append(true).open(log) else {
        return 0;
    };
    let start = file.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = writeln!(file, "===== {what} =====");
    start
}

/// The file's text from byte `offset` on (lossy; empty when unreadable).
fn read_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut buf);
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports::<3>();
        assert!(a != b && b != c && a != c);
        let [namesrv, broker, fast] = free_standalone_ports();
        assert_eq!(fast, broker - 2);
        assert_ne!(namesrv, broker);
        assert_ne!(namesrv, fast);
    }

    #[test]
    fn a_fake_server_becomes_ready_and_its_fields_parse() {
        let dir = std::env::temp_dir().join(format!("skylark-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("fake.log");
        let script = "echo starting >&2; echo 'skylark fake ready: listen=127.0.0.1:5 broker=127.0.0.1:6'; exec sleep 30";
        let command = SkylarkCommand::new(Path::new("sh"), "fake", &log);
        // `sh fake -c SCRIPT`: sh takes `fake` as the script name only with -c first.
        let command = SkylarkCommand {
            args: vec!["-c".into(), script.into(), "fake".into()],
            ..command
        };
        let mut running = command.start().unwrap();
        assert_eq!(running.field("listen"), Some("127.0.0.1:5"));
        assert_eq!(running.addr("broker"), "127.0.0.1:6");
        assert_eq!(running.field("nope"), None);
        running.terminate().unwrap();
        let excerpt = log_excerpt(&log, 10);
        assert!(excerpt.contains("===== skylark -c"), "{excerpt}");
        assert!(excerpt.contains("starting"), "{excerpt}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_server_that_exits_early_is_reported_with_its_log() {
        let dir = std::env::temp_dir().join(format!("skylark-testkit-exit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("fake.log");
        let command = SkylarkCommand {
            args: vec![
                "-c".into(),
                "echo 'bind: Address already in use' >&2; exit 1".into(),
            ],
            ..SkylarkCommand::new(Path::new("sh"), "fake", &log)
        };
        let err = command.start().unwrap_err();
        assert!(err.port_in_use, "{}", err.message);
        assert!(
            err.message.contains("Address already in use"),
            "{}",
            err.message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
