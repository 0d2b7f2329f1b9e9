//! The test's own pod network: a Linux bridge with a /24 from 10.213.0.0/16,
//! made by the harness, into which the node agent plugs one network namespace
//! per pod. Nothing here is reachable from outside this machine: the bridge has
//! no uplink and IP forwarding stays as it was.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::error::{Error, Result};

/// Runs `ip ARGS`, failing with its stderr.
pub fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(Error::io("ip"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Ip {
            args: args.join(" "),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// A bridge owned by one test cluster; deleted (with every pod namespace whose
/// name starts with its prefix, and the processes in them) on drop.
#[derive(Debug)]
pub struct PodNetwork {
    /// Name of the bridge device, e.g. `skbr17`.
    pub bridge: String,
    /// The bridge's own address, the pods' default gateway: 10.213.N.1.
    pub gateway: Ipv4Addr,
    /// Prefix of the pod network namespaces' names, e.g. `sk17-`.
    pub netns_prefix: String,
}

impl PodNetwork {
    /// Claims the first free 10.213.N.0/24: the bridge name `skbrN` is the lock,
    /// so concurrent test clusters (even in other processes) never share one.
    pub fn create() -> Result<PodNetwork> {
        let mut last = None;
        std::fs::create_dir_all(OWNERS).map_err(Error::io(OWNERS))?;
        for n in 1u8..=250 {
            let bridge = format!("skbr{n}");
            let owner = format!("{OWNERS}/{bridge}.pid");
            let mut added = ip(&["link", "add", &bridge, "type", "bridge"]);
            if added.is_err() && owner_is_dead(&owner) {
                // Left by a test process that was killed: take it back.
                drop(PodNetwork {
                    bridge: bridge.clone(),
                    gateway: Ipv4Addr::new(10, 213, n, 1),
                    netns_prefix: format!("sk{n}-"),
                });
                added = ip(&["link", "add", &bridge, "type", "bridge"]);
            }
            match added {
                Ok(_) => {
                    std::fs::write(&owner, std::process::id().to_string())
                        .map_err(Error::io(&owner))?;
                    let gateway = Ipv4Addr::new(10, 213, n, 1);
                    let net = PodNetwork {
                        bridge,
                        gateway,
                        netns_prefix: format!("sk{n}-"),
                    };
                    ip(&["addr", "add", &format!("{gateway}/24"), "dev", &net.bridge])?;
                    ip(&["link", "set", &net.bridge, "up"])?;
                    return Ok(net);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::Ip {
            args: "link add".into(),
            detail: "no free bridge".into(),
        }))
    }

    /// The pod subnet in CIDR form.
    pub fn cidr(&self) -> String {
        let [a, b, c, _] = self.gateway.octets();
        format!("{a}.{b}.{c}.0/24")
    }

    /// Kills what runs in this network's pod namespaces and deletes them.
    pub fn sweep_namespaces(&self) {
        let Ok(list) = ip(&["netns", "list"]) else {
            return;
        };
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if !name.starts_with(&self.netns_prefix) {
                continue;
            }
            if let Ok(pids) = ip(&["netns", "pids", name]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<libc::pid_t>().ok())
                {
                    // SAFETY: kill(2) touches no memory.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            let _ = ip(&["netns", "del", name]);
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
        }
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        self.sweep_namespaces();
        let _ = ip(&["link", "del", &self.bridge]);
        let _ = std::fs::remove_file(format!("{OWNERS}/{}.pid", self.bridge));
    }
}

/// Where each bridge's owning test process is recorded.
const OWNERS: &str = "/run/skylark-e2e";

/// True if the bridge's owner file names a process that no longer exists
/// (a missing or unreadable file counts as a live owner: never take what is unknown).
fn owner_is_dead(path: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<libc::pid_t>() else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}
