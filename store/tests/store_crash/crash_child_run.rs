//! Running the writer child, reading its acknowledgements, killing it.

use super::*;

/// An acknowledged put, as the child reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    pub(crate) seq: u64,
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) queue_offset: i64,
    pub(crate) phys: i64,
}

impl Ack {
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let mut f = line.strip_prefix("ACK ")?.split(' ');
        let ack = Self {
            seq: f.next()?.parse().ok()?,
            topic: f.next()?.to_owned(),
            queue_id: f.next()?.parse().ok()?,
            queue_offset: f.next()?.parse().ok()?,
            phys: f.next()?.parse().ok()?,
        };
        f.next().is_none().then_some(ack)
    }
}

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kill {
    /// This long after the child opened the store.
    Opened(Duration),
    /// This long after spawning (often during the child's open and recovery).
    Spawned(Duration),
    /// Once this many puts are acknowledged.
    Acked(usize),
}

/// What one child run printed.
#[derive(Debug, Default)]
pub(crate) struct ChildRun {
    pub(crate) acks: Vec<Ack>,
    /// Puts that completed with another status than PUT_OK.
    pub(crate) nacks: Vec<String>,
    /// How long after the spawn the child had opened the store, if it had
    /// when it was killed.
    pub(crate) opened: Option<Duration>,
}

impl ChildRun {
    pub(crate) fn take(&mut self, line: &str, spawned: Instant) {
        if line == "OPENED" {
            self.opened = Some(spawned.elapsed());
        } else if line.starts_with("ACK ") {
            let ack = Ack::parse(line).unwrap_or_else(|| panic!("bad line {line:?}"));
            self.acks.push(ack);
        } else if line.starts_with("NACK ") {
            self.nacks.push(line.to_owned());
        }
    }
}

/// Kills (SIGKILL) and reaps the child when dropped, so a failing parent
/// leaves no process behind.
pub(crate) struct Reaper(pub(crate) Child);

impl Reaper {
    pub(crate) fn kill(&mut self) -> ExitStatus {
        let _ = self.0.kill();
        self.0.wait().unwrap()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the child on `dir` starting at sequence number `next_seq`, kills it
/// as `kill` says, and returns what it acknowledged.
pub(crate) fn run_child(dir: &Path, logs: &Path, next_seq: u64, kill: Kill) -> ChildRun {
    let stderr_path = logs.join("child.stderr");
    let stderr = File::create(&stderr_path).unwrap();
    let mut child = Reaper(
        Command::new(std::env::current_exe().unwrap())
            .args([
                CHILD_TEST,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, dir)
            .env(CHILD_SEQ_ENV, next_seq.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let spawned = Instant::now();
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut run = ChildRun::default();
    let give_up = spawned + CHILD_WAIT_LIMIT;
    let mut kill_at = match kill {
        Kill::Spawned(d) => Some(spawned + d),
        _ => None,
    };
    let mut exited_early = false;
    loop {
        let now = Instant::now();
        if kill_at.is_some_and(|at| now >= at) {
            break;
        }
        if now >= give_up {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("the child did not get to {kill:?} in {CHILD_WAIT_LIMIT:?}; stderr:\n{stderr}");
        }
        let until = kill_at.map_or(give_up, |at| at.min(give_up));
        match rx.recv_timeout(until - now) {
            Ok(line) => {
                run.take(&line, spawned);
                match kill {
                    Kill::Opened(d) if line == "OPENED" => kill_at = Some(Instant::now() + d),
                    Kill::Acked(n) if run.acks.len() >= n => break,
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                exited_early = true;
                break;
            }
        }
    }
    let status = child.kill();
    // What the child printed before it died; its stdout closes with it.
    let drain_until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = drain_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => run.take(&line, spawned),
            Err(RecvTimeoutError::Disconnected) => {
                reader.join().unwrap();
                break;
            }
            Err(RecvTimeoutError::Timeout) => panic!("the child's stdout stayed open"),
        }
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        !exited_early && status.signal() == Some(libc::SIGKILL),
        "the child ended by itself ({status:?}); stderr:\n{stderr}"
    );
    assert!(
        run.nacks.iter().all(|l| l.ends_with(" FLUSH_DISK_TIMEOUT")),
        "puts failed: {:?}",
        run.nacks
    );
    run
}
