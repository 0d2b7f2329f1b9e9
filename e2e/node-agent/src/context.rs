//! What every part of the agent shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::container::Mountpoints;
use crate::hosts::HostsRegistry;
use crate::netns::Network;

/// Shared state of the agent.
pub(crate) struct Context {
    /// Client with the agent's credentials.
    pub(crate) client: kube::Client,
    /// Our Node's name.
    pub(crate) node_name: String,
    /// Root of pod folders and persistent volumes.
    pub(crate) state_dir: PathBuf,
    /// Image name → binary.
    pub(crate) images: HashMap<String, PathBuf>,
    /// Pod network namespaces and addresses.
    pub(crate) network: Network,
    /// The API server's port on 127.0.0.1 (relayed into each pod).
    pub(crate) api_port: u16,
    /// Pods whose hosts files need Service and pod names.
    pub(crate) hosts: HostsRegistry,
    /// Mount points made on the host for pods.
    pub(crate) mountpoints: Mountpoints,
    /// First and longest restart back-off.
    pub(crate) backoff: (Duration, Duration),
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("node_name", &self.node_name)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Builds the context and its folders.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: kube::Client,
        node_name: String,
        state_dir: PathBuf,
        images: HashMap<String, PathBuf>,
        network: Network,
        api_port: u16,
        backoff_ms: (u64, u64),
    ) -> anyhow::Result<Context> {
        for dir in ["pods", "volumes"] {
            let d = state_dir.join(dir);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        // An image has its binary on PATH (a start script runs `exec skylark ...`):
        // images/<name>/<name> links to the mapped binary, first on the container's PATH.
        for (name, bin) in &images {
            let d = state_dir.join("images").join(name);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            let link = d.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(bin, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
        Ok(Context {
            client,
            node_name,
            state_dir,
            images,
            network,
            api_port,
            hosts: HostsRegistry::default(),
            mountpoints: Mountpoints::default(),
            backoff: (
                Duration::from_millis(backoff_ms.0),
                Duration::from_millis(backoff_ms.1),
            ),
        })
    }

    /// The folder holding image `name`'s binary under its own name (first on PATH).
    pub(crate) fn image_bin_dir(&self, name: &str) -> PathBuf {
        self.state_dir.join("images").join(name)
    }

    /// Folder of one pod: logs, volumes.
    pub(crate) fn pod_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.state_dir
            .join("pods")
            .join(format!("{namespace}_{name}"))
    }

    /// Folder backing a provisioned PersistentVolume; it outlives pods.
    pub(crate) fn volume_dir(&self, pv_name: &str) -> PathBuf {
        self.state_dir.join("volumes").join(pv_name)
    }
}
