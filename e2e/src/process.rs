//! A child process of the harness: its own process group, output in a log
//! file, and the whole group stopped (SIGTERM, then SIGKILL) when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A running component (etcd, kube-apiserver, the node agent, ...).
#[derive(Debug)]
pub struct Managed {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Managed {
    /// Starts `program args` in a new process group, stdout and stderr to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> Result<Managed> {
        let out = std::fs::File::create(log).map_err(Error::io(log))?;
        let err = out.try_clone().map_err(Error::io(log))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl(2) in the child between fork and exec touches no shared
        // state; if the test process dies (even by SIGKILL) its components follow.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().map_err(Error::io(program))?;
        tracing::info!(component = name, pid = child.id(), log = %log.display(), "started");
        Ok(Managed {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// Process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Path of its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Fails if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Exited {
                component: self.name.clone(),
                status: status.to_string(),
                log: self.log.clone(),
            }),
            Err(e) => Err(Error::io(&self.log)(e)),
        }
    }

    /// Sends SIGTERM to the group, waits up to `grace`, then SIGKILLs it.
    pub fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            kill_group(self.child.id(), libc::SIGKILL);
            return;
        }
        kill_group(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Children the component left behind in its group go too.
        kill_group(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
        tracing::info!(component = %self.name, "stopped");
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// Signals a whole process group.
fn kill_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals that group; it touches no memory.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::io("127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .map_err(Error::io("127.0.0.1:0"))?
        .port();
    Ok(port)
}
