//! Running one container as a local process: inside the pod's network
//! namespace (`ip netns exec`, which also mounts the pod's hosts file over
//! /etc/hosts in a private mount namespace), with the pod's volumes
//! bind-mounted at their mountPaths in that mount namespace, in its own
//! process group so that SIGTERM/SIGKILL reach everything it started.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
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

/// The source of each volumeMount of a container: (host path, mountPath, read-only).
fn mounts(
    c: &Container,
    volumes: &HashMap<String, PathBuf>,
) -> anyhow::Result<Vec<(PathBuf, PathBuf, bool)>> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let base = volumes
            .get(&m.name)
            .with_context(|| format!("volumeMount {} names no volume of the pod", m.name))?;
        let sub = m.sub_path.as_deref().unwrap_or("");
        if sub.split('/').any(|p| p == "..") {
            bail!("subPath {sub} escapes its volume");
        }
        let src = if sub.is_empty() {
            base.clone()
        } else {
            base.join(sub)
        };
        if !src.exists() {
            std::fs::create_dir_all(&src)?;
        }
        out.push((src, PathBuf::from(&m.mount_path), m.read_only == Some(true)));
    }
    Ok(out)
}

/// The shell prelude that bind-mounts the container's volumes at their
/// mountPaths (made beforehand by [`Mountpoints::claim`]), then execs it.
pub(crate) fn prelude(c: &Container, volumes: &HashMap<String, PathBuf>) -> anyhow::Result<String> {
    let mut script = String::from("set -e\n");
    for (src, dst, read_only) in mounts(c, volumes)? {
        let dst = quote(&dst.display().to_string());
        script.push_str(&format!(
            "mount --bind {} {dst}\n",
            quote(&src.display().to_string())
        ));
        if read_only {
            script.push_str(&format!("mount -o remount,bind,ro {dst}\n"));
        }
    }
    let workdir = c.working_dir.as_deref().unwrap_or("/");
    script.push_str(&format!("cd {}\nexec \"$@\"\n", quote(workdir)));
    Ok(script)
}

/// Mount points the agent had to create on the host's filesystem (a
/// mountPath that does not exist there), counted by the pods using them and
/// removed when the last one is gone, so that nothing is left behind.
#[derive(Debug, Default)]
pub(crate) struct Mountpoints {
    held: Mutex<HashMap<PathBuf, usize>>,
}

impl Mountpoints {
    /// Makes every missing mountPath (and workingDir) of the pod's containers;
    /// returns the created paths this pod now holds, parents first.
    pub(crate) fn claim(
        &self,
        containers: &[&Container],
        volumes: &HashMap<String, PathBuf>,
    ) -> anyhow::Result<Vec<PathBuf>> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut mine = Vec::new();
        for c in containers {
            let mut targets: Vec<(PathBuf, bool)> = mounts(c, volumes)?
                .into_iter()
                .map(|(src, dst, _)| (dst, src.is_file()))
                .collect();
            if let Some(w) = &c.working_dir {
                targets.push((PathBuf::from(w), false));
            }
            for (dst, is_file) in targets {
                if !dst.is_absolute() {
                    bail!("mountPath {} is not absolute", dst.display());
                }
                let chain: Vec<&Path> = dst
                    .ancestors()
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .skip(1)
                    .collect();
                for (i, p) in chain.iter().enumerate() {
                    let last = i + 1 == chain.len();
                    if p.exists() && !held.contains_key(*p) {
                        continue;
                    }
                    if !p.exists() {
                        if last && is_file {
                            std::fs::File::create(p)?;
                        } else {
                            std::fs::create_dir(p)?;
                        }
                    }
                    if !mine.iter().any(|m: &PathBuf| m == p) {
                        *held.entry(p.to_path_buf()).or_insert(0) += 1;
                        mine.push(p.to_path_buf());
                    }
                }
            }
        }
        Ok(mine)
    }

    /// Lets go of a pod's created paths, removing those no pod holds any more.
    pub(crate) fn release(&self, mine: &[PathBuf]) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in mine.iter().rev() {
            let Some(n) = held.get_mut(p) else { continue };
            *n -= 1;
            if *n == 0 {
                held.remove(p);
                let _ = if p.is_dir() {
                    std::fs::remove_dir(p)
                } else {
                    std::fs::remove_file(p)
                };
            }
        }
    }
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
    pub(crate) fn spawn(
        &self,
        log: Option<&Path>,
        command: Option<&[String]>,
    ) -> anyhow::Result<Child> {
        let mut cmd = Command::new(ip_binary());
        cmd.args([
            "netns",
            "exec",
            &self.netns,
            "/bin/sh",
            "-c",
            &self.prelude,
            "container",
        ]);
        match command {
            Some(argv) => {
                cmd.args(argv);
            }
            None => {
                cmd.arg(&self.program).args(&self.args);
            }
        }
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0);
        // SAFETY: prctl(2) between fork and exec touches no shared state. If the
        // agent dies, even by SIGKILL, its containers die with it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        match log {
            Some(log) => {
                let out = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)?;
                cmd.stderr(out.try_clone()?).stdout(out);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        cmd.spawn()
            .with_context(|| format!("starting {}", self.program.display()))
    }
}

/// Signals a process group.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
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
    fn mountpoints_made_for_pods_are_removed_after_the_last() {
        let root = tempfile::tempdir().unwrap();
        let vol = root.path().join("vol");
        std::fs::create_dir(&vol).unwrap();
        let target = root.path().join("made/by/agent");
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "c", "volumeMounts": [{"name": "v", "mountPath": target}],
        }))
        .unwrap();
        let volumes = HashMap::from([("v".to_string(), vol)]);
        let mp = Mountpoints::default();
        let a = mp.claim(&[&c], &volumes).unwrap();
        let b = mp.claim(&[&c], &volumes).unwrap();
        assert_eq!(a.len(), 3, "made, made/by, made/by/agent: {a:?}");
        assert!(target.is_dir());
        mp.release(&a);
        assert!(target.is_dir(), "still held by the second pod");
        mp.release(&b);
        assert!(!root.path().join("made").exists(), "nothing left behind");
        let script = prelude(&c, &volumes).unwrap();
        assert!(
            script.contains("mount --bind") && script.ends_with("exec \"$@\"\n"),
            "{script}"
        );
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }
}
