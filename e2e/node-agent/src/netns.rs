//! Pod networking: one network namespace per pod with a veth into the test's
//! bridge and an address from its /24, plus a relay of the API server into the
//! pod's own loopback (the API server itself listens on the host's 127.0.0.1
//! only, which a pod's namespace cannot reach).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use tokio::net::{TcpListener, TcpStream};

/// The pod network this agent plugs pods into.
#[derive(Debug)]
pub(crate) struct Network {
    /// The bridge.
    bridge: String,
    /// The bridge's address, the pods' gateway.
    pub(crate) gateway: Ipv4Addr,
    /// Prefix of our namespaces' names.
    prefix: String,
    /// Host octets (.2 to .254) in use.
    used: Mutex<Octets>,
}

/// Host octets in use and the last one handed out.
#[derive(Debug)]
struct Octets {
    set: BTreeSet<u8>,
    last_given: u8,
}

/// One pod's network identity.
#[derive(Debug, Clone)]
pub(crate) struct PodNet {
    /// Name of its network namespace (`ip netns`).
    pub(crate) netns: String,
    /// Its address on the bridge.
    pub(crate) ip: Ipv4Addr,
    host_octet: u8,
}

/// Runs `ip ARGS`.
pub(crate) fn ip(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Network {
    /// The network on `bridge` with `cidr` (a /24 whose .1 is the bridge).
    pub(crate) fn new(bridge: &str, cidr: &str, prefix: &str) -> anyhow::Result<Network> {
        let base = cidr
            .strip_suffix("/24")
            .context("the pod CIDR must be a /24")?;
        let base: Ipv4Addr = base
            .parse()
            .with_context(|| format!("bad pod CIDR {cidr}"))?;
        let [a, b, c, _] = base.octets();
        ip(&["link", "show", bridge]).with_context(|| format!("the bridge {bridge} must exist"))?;
        Ok(Network {
            bridge: bridge.to_string(),
            gateway: Ipv4Addr::new(a, b, c, 1),
            prefix: prefix.to_string(),
            used: Mutex::new(Octets {
                set: BTreeSet::new(),
                last_given: 1,
            }),
        })
    }

    /// The next free host octet after the last one handed out, so that an
    /// address is reused as late as possible.
    fn claim_octet(&self) -> anyhow::Result<u8> {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = u16::from(used.last_given);
        let octet = (1..=253u16)
            .filter_map(|i| u8::try_from((start + i + 251) % 253 + 2).ok())
            .find(|o| !used.set.contains(o))
            .context("the pod network is full")?;
        used.set.insert(octet);
        used.last_given = octet;
        Ok(octet)
    }

    /// Makes a namespace for a pod, plugged into the bridge, with an address.
    pub(crate) fn create(&self, pod_uid: &str) -> anyhow::Result<PodNet> {
        let octet = self.claim_octet()?;
        let [a, b, c, _] = self.gateway.octets();
        let short: String = pod_uid
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        let net = PodNet {
            netns: format!("{}{short}", self.prefix),
            ip: Ipv4Addr::new(a, b, c, octet),
            host_octet: octet,
        };
        let veth = format!("{}v{octet}", self.prefix);
        let addr = format!("{}/24", net.ip);
        let gw = self.gateway.to_string();
        let [a, b, c, d] = net.ip.octets();
        let mac = format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}");
        let result = (|| {
            ip(&["netns", "add", &net.netns])?;
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &net.netns,
            ])?;
            ip(&["link", "set", &veth, "master", &self.bridge])?;
            ip(&["link", "set", &veth, "up"])?;
            ip(&["-n", &net.netns, "link", "set", "lo", "up"])?;
            // A MAC derived from the address (as Docker does): when an address
            // is reused, neighbours' ARP caches are still right.
            ip(&["-n", &net.netns, "link", "set", "eth0", "address", &mac])?;
            ip(&["-n", &net.netns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &net.netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &net.netns, "route", "add", "default", "via", &gw])?;
            anyhow::Ok(())
        })();
        if let Err(e) = result {
            self.destroy(&net);
            return Err(e);
        }
        Ok(net)
    }

    /// Deletes a pod's namespace (its veth goes with it) and frees its address.
    pub(crate) fn destroy(&self, net: &PodNet) {
        let _ = ip(&["netns", "del", &net.netns]);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", net.netns));
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set
            .remove(&net.host_octet);
    }

    /// Deletes every namespace with our prefix (on shutdown).
    pub(crate) fn sweep(&self) {
        let Ok(list) = ip(&["netns", "list"]) else {
            return;
        };
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if name.starts_with(&self.prefix) {
                let _ = ip(&["netns", "del", name]);
                let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
            }
        }
    }
}

/// Listens on 127.0.0.1:`port` inside `netns` and relays every connection to
/// the API server on the host's 127.0.0.1:`port`. Ends when the task is aborted.
pub(crate) async fn api_relay(
    netns: String,
    port: u16,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: setns changes the calling thread's namespace, and a
    // socket keeps the namespace it was made in after the thread is gone.
    std::thread::spawn(move || {
        let _ = tx.send(listen_in(&netns, port));
    });
    let listener = rx.await.context("relay thread vanished")??;
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut inside, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut outside) = TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
                }
            });
        }
    }))
}

fn listen_in(netns: &str, port: u16) -> anyhow::Result<std::net::TcpListener> {
    let path = format!("/run/netns/{netns}");
    let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    // SAFETY: setns(2) on a valid fd; it only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns {path}: {}", std::io::Error::last_os_error());
    }
    std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("relay listen in {netns}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_reused_as_late_as_possible() {
        let net = Network {
            bridge: "unused".into(),
            gateway: Ipv4Addr::new(10, 213, 9, 1),
            prefix: "t-".into(),
            used: Mutex::new(Octets {
                set: BTreeSet::new(),
                last_given: 1,
            }),
        };
        let first = net.claim_octet().unwrap();
        assert_eq!(first, 2);
        net.used.lock().unwrap().set.remove(&first);
        assert_eq!(
            net.claim_octet().unwrap(),
            3,
            "a freed address waits its turn"
        );
        for _ in 4..=254 {
            net.claim_octet().unwrap();
        }
        assert_eq!(
            net.claim_octet().unwrap(),
            2,
            "wraps around to the freed one"
        );
        assert!(net.claim_octet().is_err(), "then the /24 is full");
    }
}
