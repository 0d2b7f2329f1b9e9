//! etcd, kube-apiserver and kube-controller-manager as child processes on
//! 127.0.0.1, with fresh certificates, logs under the cluster's folder, and an
//! admin kubeconfig; all stopped when dropped.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::binaries::control_plane_binary;
use crate::certs::Pki;
use crate::error::{Error, Result};
use crate::process::{Managed, free_port};

/// Service ClusterIPs are allocated from here; no traffic is ever sent to them
/// (there is no kube-proxy: the node agent resolves Service names to pod IPs).
pub const SERVICE_CIDR: &str = "10.96.0.0/16";

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    // Dropped in this order: controller manager, API server, etcd.
    controller_manager: Managed,
    apiserver: Managed,
    etcd: Managed,
    /// The admin kubeconfig (JSON, which every kubeconfig reader accepts).
    pub kubeconfig: PathBuf,
    /// The PKI of this cluster.
    pub pki: Pki,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// The API server's port on 127.0.0.1.
    pub apiserver_port: u16,
}

/// Writes a kubeconfig for `server` authenticating with a client certificate.
fn write_kubeconfig(path: &Path, server: &str, pki: &Pki) -> Result<()> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {
            "server": server,
            "certificate-authority": pki.ca_cert,
        }}],
        "users": [{"name": "admin", "user": {
            "client-certificate": pki.admin_cert,
            "client-key": pki.admin_key,
        }}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
        "current-context": "e2e",
    });
    std::fs::write(path, serde_json::to_vec_pretty(&config)?).map_err(Error::io(path))
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

impl ControlPlane {
    /// Starts the control plane with its state and logs under `dir`.
    /// `advertise` is the address the API server publishes in the `kubernetes`
    /// Service (it must not be loopback; it listens on 127.0.0.1 only).
    pub async fn start(dir: &Path, advertise: Ipv4Addr) -> Result<ControlPlane> {
        let etcd_bin = control_plane_binary("etcd")?;
        let apiserver_bin = control_plane_binary("kube-apiserver")?;
        let kcm_bin = control_plane_binary("kube-controller-manager")?;
        let pki = Pki::create(
            &dir.join("pki"),
            &[IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(advertise)],
        )?;

        let (client_port, peer_port) = (free_port()?, free_port()?);
        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut etcd = Managed::spawn(
            "etcd",
            &etcd_bin,
            &[
                s("--name=e2e"),
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=e2e={peer_url}"),
                // Test data: durability across power loss is not the point.
                s("--unsafe-no-fsync"),
                s("--log-level=warn"),
            ],
            &dir.join("etcd.log"),
        )?;
        wait_tcp(&mut etcd, client_port).await?;

        let apiserver_port = free_port()?;
        let server = format!("https://127.0.0.1:{apiserver_port}");
        let kubeconfig = dir.join("admin.kubeconfig");
        write_kubeconfig(&kubeconfig, &server, &pki)?;
        let p = |p: &Path| p.display().to_string();
        let mut apiserver = Managed::spawn(
            "kube-apiserver",
            &apiserver_bin,
            &[
                format!("--etcd-servers={etcd_url}"),
                s("--bind-address=127.0.0.1"),
                format!("--advertise-address={advertise}"),
                format!("--secure-port={apiserver_port}"),
                format!("--cert-dir={}", dir.join("apiserver-certs").display()),
                format!("--tls-cert-file={}", p(&pki.server_cert)),
                format!("--tls-private-key-file={}", p(&pki.server_key)),
                format!("--client-ca-file={}", p(&pki.ca_cert)),
                s("--authorization-mode=RBAC"),
                s("--service-account-issuer=https://kubernetes.default.svc.cluster.local"),
                format!("--service-account-key-file={}", p(&pki.service_account_pub)),
                format!(
                    "--service-account-signing-key-file={}",
                    p(&pki.service_account_key)
                ),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                s("--allow-privileged=true"),
                s("--profiling=false"),
                s("--v=1"),
            ],
            &dir.join("kube-apiserver.log"),
        )?;
        let client = admin_client(&kubeconfig).await?;
        wait_ready(&client, &mut apiserver, "/readyz", Duration::from_secs(120)).await?;

        let kcm_port = free_port()?;
        let controller_manager = Managed::spawn(
            "kube-controller-manager",
            &kcm_bin,
            &[
                format!("--kubeconfig={}", p(&kubeconfig)),
                format!("--authentication-kubeconfig={}", p(&kubeconfig)),
                format!("--authorization-kubeconfig={}", p(&kubeconfig)),
                s("--bind-address=127.0.0.1"),
                format!("--secure-port={kcm_port}"),
                format!("--cert-dir={}", dir.join("kcm-certs").display()),
                format!(
                    "--service-account-private-key-file={}",
                    p(&pki.service_account_key)
                ),
                format!("--root-ca-file={}", p(&pki.ca_cert)),
                format!("--cluster-signing-cert-file={}", p(&pki.ca_cert)),
                format!("--cluster-signing-key-file={}", p(&pki.ca_key)),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                s("--controllers=*"),
                s("--leader-elect=false"),
                s("--profiling=false"),
                s("--v=1"),
            ],
            &dir.join("kube-controller-manager.log"),
        )?;
        Ok(ControlPlane {
            controller_manager,
            apiserver,
            etcd,
            kubeconfig,
            pki,
            server,
            apiserver_port,
        })
    }

    /// Fails if a component has exited.
    pub fn check_running(&mut self) -> Result<()> {
        self.etcd.check_running()?;
        self.apiserver.check_running()?;
        self.controller_manager.check_running()
    }

    /// Log files of etcd, kube-apiserver and kube-controller-manager.
    pub fn logs(&self) -> [&Path; 3] {
        [
            self.etcd.log(),
            self.apiserver.log(),
            self.controller_manager.log(),
        ]
    }
}

/// A client from an admin kubeconfig file.
pub async fn admin_client(kubeconfig: &Path) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(kube::Client::try_from(config)?)
}

async fn wait_tcp(process: &mut Managed, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        process.check_running()?;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("127.0.0.1:{port} to accept"),
                secs: 60,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls a health endpoint until it answers `ok`.
async fn wait_ready(
    client: &kube::Client,
    process: &mut Managed,
    path: &str,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        process.check_running()?;
        let request = http::Request::get(path).body(Vec::new());
        if let Ok(request) = request
            && let Ok(body) = client.request_text(request).await
            && body.trim() == "ok"
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("kube-apiserver {path}"),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
