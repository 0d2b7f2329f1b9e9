//! Child processes for tests: each in its own process group, its stdout
//! read line by line as it comes, stopped by signal, and killed (with
//! everything it started) when dropped, so that a failing test leaves
//! nothing running.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a child's stderr goes.
#[derive(Debug, Clone)]
pub enum StderrTo {
    /// Appended to this file (a server's log).
    File(PathBuf),
    /// Kept in memory; see [`ChildProcess::stderr`].
    Capture,
}

/// What [`ChildProcess::next_line`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// One line of stdout, without its newline.
    Text(String),
    /// Stdout was closed: the process has exited (or closed it).
    Eof,
    /// Nothing came within the timeout.
    Timeout,
}

/// A running child process, killed with its process group when dropped.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Option<JoinHandle<String>>,
    stderr_text: Option<String>,
    status: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `command` (stdin closed, stdout piped, stderr as `stderr` says)
    /// in a new process group; `name` is used in messages.
    pub fn spawn(name: &str, mut command: Command, stderr: StderrTo) -> io::Result<Self> {
        let stderr_stdio = match &stderr {
            StderrTo::File(path) => Stdio::from(
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
            ),
            StderrTo::Capture => Stdio::piped(),
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_stdio)
            .process_group(0)
            .spawn()?;

        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            let seen = Arc::clone(&stdout);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line.clone());
                    // The receiver may be gone; the copy above is still kept.
                    let _ = tx.send(line);
                }
            });
        }
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        });
        Ok(Self {
            name: name.to_owned(),
            child,
            lines,
            stdout,
            stderr,
            stderr_text: None,
            status: None,
        })
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Line {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Line::Text(line),
            Err(RecvTimeoutError::Timeout) => Line::Timeout,
            Err(RecvTimeoutError::Disconnected) => Line::Eof,
        }
    }

    /// Waits up to `timeout` for a stdout line that `matches`, and returns
    /// it; the error says whether the process exited first or was silent.
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Line::Text(line) if matches(&line) => return Ok(line),
                Line::Text(_) => {}
                Line::Eof => {
                    let status = self.wait_timeout(Duration::from_secs(10));
                    return Err(format!(
                        "{} closed its stdout (exit status {status:?}) before the expected line",
                        self.name
                    ));
                }
                Line::Timeout => {
                    return Err(format!(
                        "{} printed no expected line within {timeout:?}",
                        self.name
                    ));
                }
            }
        }
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Captured stderr ([`StderrTo::Capture`]), complete once the process has exited.
    pub fn stderr(&mut self) -> String {
        if self.stderr_text.is_none() && self.status.is_some() {
            if let Some(reader) = self.stderr.take() {
                self.stderr_text = Some(reader.join().unwrap_or_default());
            }
        }
        self.stderr_text.clone().unwrap_or_default()
    }

    /// Sends `signal` to the process itself (not its group).
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        let pid = i32::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: signals a child this value owns; no memory is involved.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether it has exited (its status, once known).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits up to `timeout` for it to exit; past that it is
    /// killed and the error says so.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        if let Some(status) = self.try_status() {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)
            .map_err(|e| format!("SIGTERM {}: {e}", self.name))?;
        match self.wait_timeout(timeout) {
            Some(status) => Ok(status),
            None => {
                let status = self.kill();
                Err(format!(
                    "{} did not exit within {timeout:?} of SIGTERM; killed ({status})",
                    self.name
                ))
            }
        }
    }

    /// SIGKILLs its process group and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: signals the process group this value started; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        self.status = status;
        status.unwrap_or_else(|| std::os::unix::process::ExitStatusExt::from_raw(libc::SIGKILL))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // Once reaped, its group id may be reused: only a live group is signalled.
        if self.try_status().is_none() {
            self.kill();
        }
    }
}

/// How [`collect_output`] ended.
#[derive(Debug)]
pub enum Collected {
    /// The child exited in time.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// Everything it printed on stdout.
        stdout: String,
        /// Everything it printed on stderr.
        stderr: String,
    },
    /// The child ran past the timeout and was killed.
    TimedOut {
        /// What it had printed on stderr.
        stderr: String,
    },
}

/// Waits for `child`, whose stdout and stderr are piped, reading both pipes
/// meanwhile so a chatty child never blocks on a full pipe. Past `timeout`
/// the child is killed: with its whole process group when `kill_group`
/// (it was started with `process_group(0)`), else alone.
pub fn collect_output(
    child: &mut Child,
    timeout: Duration,
    kill_group: bool,
) -> io::Result<Collected> {
    let start = Instant::now();
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            if !kill_group {
                let _ = child.kill();
            } else if let Ok(pgid) = i32::try_from(child.id()) {
                // SAFETY: signals the child's own (unreaped) process group; no memory involved.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            let _ = child.wait();
            return Ok(Collected::TimedOut {
                stderr: err.join().unwrap_or_default(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Collected::Exited {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piped_sh(script: &str) -> Child {
        Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn collects_both_pipes_and_the_exit_code() {
        let mut child = piped_sh("echo out; echo err >&2; exit 4");
        let Collected::Exited {
            status,
            stdout,
            stderr,
        } = collect_output(&mut child, Duration::from_secs(60), true).unwrap()
        else {
            panic!("timed out");
        };
        assert_eq!(
            (status.code(), &*stdout, &*stderr),
            (Some(4), "out\n", "err\n")
        );
    }

    #[test]
    fn a_child_past_the_timeout_is_killed_with_its_group() {
        let mut child = piped_sh("echo started >&2; sleep 30 & wait");
        let collected = collect_output(&mut child, Duration::from_millis(300), true).unwrap();
        let Collected::TimedOut { stderr } = collected else {
            panic!("{collected:?}");
        };
        assert_eq!(stderr, "started\n");
    }

    #[test]
    fn reads_lines_and_reports_exit() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo one; echo two >&2; echo ready: x=1; exec sleep 30",
        ]);
        let mut child = ChildProcess::spawn("sh", command, StderrTo::Capture).unwrap();
        let line = child
            .wait_for_line(Duration::from_secs(10), |l| l.starts_with("ready:"))
            .unwrap();
        assert_eq!(line, "ready: x=1");
        assert_eq!(child.stdout_lines(), ["one", "ready: x=1"]);
        let status = child.terminate(Duration::from_secs(10)).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        assert_eq!(child.stderr(), "two\n");
    }

    #[test]
    fn says_when_the_process_exits_before_its_line() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo nope; exit 3"]);
        let mut child = ChildProcess::spawn("sh", command, StderrTo::Capture).unwrap();
        let err = child
            .wait_for_line(Duration::from_secs(10), |l| l.starts_with("ready:"))
            .unwrap_err();
        assert!(err.contains("closed its stdout"), "{err}");
        assert_eq!(child.try_status().and_then(|s| s.code()), Some(3));
    }

    #[test]
    fn drop_kills_the_process_group() {
        let mut command = Command::new("sh");
        // The grandchild shares the group and must die with it.
        command.args(["-c", "sleep 30 & echo $!; wait"]);
        let mut child = ChildProcess::spawn("sh", command, StderrTo::Capture).unwrap();
        let Line::Text(grandchild) = child.next_line(Duration::from_secs(10)) else {
            panic!("no pid printed");
        };
        let grandchild: i32 = grandchild.trim().parse().unwrap();
        drop(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(grandchild) {
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `pid` runs (a zombie waiting for its new parent to reap it has died).
    fn alive(pid: i32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
        !matches!(state, Some(Some('Z' | 'X')))
    }
}
