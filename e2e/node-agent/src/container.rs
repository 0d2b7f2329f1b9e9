//! Running one container as a local process: inside the pod's network
//! namespace (`ip netns exec`, which also mounts the pod's hosts file over
//! /etc/hosts in a private mount namespace), with the pod's volumes
//! bind-mounted at their mountPaths in that mount namespace, in its own
//! process group so that SIGTERM/SIGKILL reach everything it started.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Container;
use tokio::process::{Child, Command};

/// Where `ip` lives (resolved once from the agent's own PATH, as a container's
/// PATH may differ).
fn ip_binary() -> &'static Path {
    static IP: OnceLock<PathBuf> = OnceLock::new();
    IP.get_or_init(|| {
        std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .map(|d| Path::new(d).join("ip"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/ip"))
    })
}

/// Quotes a string for /bin/sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell prelude that mounts the container's volumes, then execs it.
pub(crate) fn prelude(c: &Container, volumes: &HashMap<String, PathBuf>) -> anyhow::Result<String> {
    let mut script = String::from("set -e\n");
    for m in c.volume_mounts.iter().flatten() {
        let base = volumes
            .get(&m.name)
            .with_context(|| format!("volumeMount {} names no volume of the pod", m.name))?;
        let sub = m.sub_path.as_deref().unwrap_or("");
        if sub.split('/').any(|p| p == "..") {
            bail!("subPath {sub} escapes its volume");
        }
        let src = if sub.is_empty() { base.clone() } else { base.join(sub) };
        let dst = quote(&m.mount_path);
        if src.is_file() {
            script.push_str(&format!("mkdir -p \"$(dirname {dst})\"; [ -e {dst} ] || : > {dst}\n"));
        } else {
            std::fs::create_dir_all(&src)?;
            script.push_str(&format!("mkdir -p {dst}\n"));
        }
        script.push_str(&format!("mount --bind {} {dst}\n", quote(&src.display().to_string())));
        if m.read_only == Some(true) {
            script.push_str(&format!("mount -o remount,bind,ro {dst}\n"));
        }
    }
    let workdir = c.working_dir.as_deref().unwrap_or("/");
    script.push_str(&format!("mkdir -p {w}; cd {w}\nexec \"$@\"\n", w = quote(workdir)));
    Ok(script)
}

/// What a container process is started with.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The pod's network namespace.
    pub(crate) netns: String,
    /// Mount prelude (see [`prelude`]).
    pub(crate) prelude: String,
    /// The program.
    pub(crate) program: PathBuf,
    /// Its arguments.
    pub(crate) args: Vec<String>,
    /// Its whole environment.
    pub(crate) env: Vec<(String, String)>,
}

impl Launch {
    /// Starts the process (stdout and stderr appended to `log`), or
    /// `program` overridden with `command` (for exec probes).
    pub(crate) fn spawn(&self, log: Option<&Path>, command: Option<&[String]>) -> anyhow::Result<Child> {
        let mut cmd = Command::new(ip_binary());
        cmd.args(["netns", "exec", &self.netns, "/bin/sh", "-c", &self.prelude, "container"]);
        match command {
            Some(argv) => {
                cmd.args(argv);
            }
            None => {
                cmd.arg(&self.program).args(&self.args);
            }
        }
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).process_group(0);
        match log {
            Some(log) => {
                let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
                cmd.stderr(out.try_clone()?).stdout(out);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        cmd.spawn().with_context(|| format!("starting {}", self.program.display()))
    }
}

/// Signals a process group.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) touches no memory.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// SIGTERM, up to `grace` for it to exit, then SIGKILL; returns its status.
pub(crate) async fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let pid = child.id()?;
    signal_group(pid, libc::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            tracing::info!(pid, grace_s = grace.as_secs(), "grace period over: SIGKILL");
            signal_group(pid, libc::SIGKILL);
            child.wait().await.ok()
        }
    };
    // Anything the container left behind in its group goes too.
    signal_group(pid, libc::SIGKILL);
    status
}

/// Kubernetes' exit code: the status, or 128 + signal.
pub(crate) fn exit_code(status: Option<ExitStatus>) -> (i32, Option<i32>) {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => (code, None),
            (None, Some(sig)) => (128 + sig, Some(sig)),
            (None, None) => (-1, None),
        },
        None => (-1, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }
}
