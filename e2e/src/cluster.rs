//! A whole test cluster: pod network, control plane and one node agent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};

use crate::binaries::workspace_binary;
use crate::controlplane::{ControlPlane, admin_client};
use crate::error::{Error, Result};
use crate::network::PodNetwork;
use crate::process::Managed;
use crate::wait::wait_until;

/// The image name that runs the workspace's `skylark` binary.
pub const SKYLARK_IMAGE: &str = "skylark";
/// The image name that runs `/bin/sh` (for small shell-loop containers).
pub const SHELL_IMAGE: &str = "sh";
/// Name of the one Node.
pub const NODE_NAME: &str = "e2e-node";

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Image name (last path segment, tag ignored) → local binary.
    pub images: Vec<(String, PathBuf)>,
    /// Build and map the `skylark` binary as image `skylark`.
    pub with_skylark: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            images: vec![(SHELL_IMAGE.into(), "/bin/sh".into())],
            with_skylark: true,
        }
    }
}

/// A running cluster; everything stops and the pod network goes on drop.
/// Set `SKYLARK_E2E_KEEP=1` to keep its folder (logs, etcd, volumes).
pub struct Cluster {
    // Field order is drop order: agent (stops its pods) → control plane → network → folder.
    node_agent: Managed,
    control_plane: ControlPlane,
    network: PodNetwork,
    client: kube::Client,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Cluster {
    /// Starts a cluster whose node maps `sh` and `skylark` images.
    pub async fn start() -> Result<Cluster> {
        Cluster::start_with(ClusterOptions::default()).await
    }

    /// Starts a cluster with the given options.
    pub async fn start_with(options: ClusterOptions) -> Result<Cluster> {
        let agent_bin = workspace_binary("skylark-node-agent", "skylark-node-agent")?;
        let mut images = options.images;
        if options.with_skylark {
            images.push((
                SKYLARK_IMAGE.into(),
                workspace_binary("skylark-cli", "skylark")?,
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("skylark-e2e-")
            .tempdir()
            .map_err(Error::io("/tmp"))?;
        let path = dir.path().to_path_buf();
        let keep = std::env::var_os("SKYLARK_E2E_KEEP").is_some_and(|v| v == "1");
        let dir = if keep {
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let network = PodNetwork::create()?;
        let mut control_plane = ControlPlane::start(&path, network.gateway).await?;
        let client = admin_client(&control_plane.kubeconfig).await?;

        let mut args = vec![
            format!("--kubeconfig={}", control_plane.kubeconfig.display()),
            format!("--node-name={NODE_NAME}"),
            format!("--state-dir={}", path.join("node").display()),
            format!("--bridge={}", network.bridge),
            format!("--pod-cidr={}", network.cidr()),
            format!("--netns-prefix={}", network.netns_prefix),
        ];
        for (name, bin) in &images {
            args.push(format!("--image={name}={}", bin.display()));
        }
        let mut node_agent = Managed::spawn(
            "skylark-node-agent",
            &agent_bin,
            &args,
            &path.join("node-agent.log"),
        )?;
        tracing::info!(dir = %path.display(), "test cluster starting");

        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            node_agent.check_running()?;
            control_plane.check_running()?;
            let node = nodes.get_opt(NODE_NAME).await?;
            let ready = node
                .and_then(|n| n.status)
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if ready {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: "the node to be Ready".into(),
                    secs: 60,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Cluster {
            node_agent,
            control_plane,
            network,
            client,
            dir,
            path,
        })
    }

    /// An admin client (group `system:masters`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.control_plane.kubeconfig
    }

    /// The cluster's folder: logs (`*.log`), etcd data, node state.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The pods' default gateway, i.e. this host as seen from a pod.
    pub fn gateway(&self) -> std::net::Ipv4Addr {
        self.network.gateway
    }

    /// Fails if a component (etcd, API server, controller manager, node agent) died.
    pub fn check_running(&mut self) -> Result<()> {
        self.node_agent.check_running()?;
        self.control_plane.check_running()
    }

    /// Creates a namespace and waits for its `default` ServiceAccount (pods are
    /// refused until the controller manager has made it).
    pub async fn create_namespace(&self, name: &str) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.to_string());
        namespaces.create(&PostParams::default(), &ns).await?;
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), name);
        wait_until(
            "the default ServiceAccount",
            Duration::from_secs(60),
            || async { Ok(accounts.get_opt("default").await?.is_some()) },
        )
        .await
    }

    /// Where a pod's container logs are: `<dir>/node/pods/<ns>_<pod>/<container>.log`.
    pub fn container_log(&self, namespace: &str, pod: &str, container: &str) -> PathBuf {
        self.path
            .join("node/pods")
            .join(format!("{namespace}_{pod}"))
            .join(format!("{container}.log"))
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.path)
            .field("server", &self.control_plane.server)
            .field("bridge", &self.network.bridge)
            .finish_non_exhaustive()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The agent stops its pods on SIGTERM; give it their grace periods.
        self.node_agent.stop(Duration::from_secs(40));
        if self.dir.is_none() {
            tracing::info!(dir = %self.path.display(), "kept the test cluster's folder");
        }
    }
}
