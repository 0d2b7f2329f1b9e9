//! skylark-e2e: a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, built by `e2e/controlplane/build.sh`) plus our node
//! agent, for end-to-end tests. A test starts one with [`Cluster::start`] and
//! drives it with the [`kube::Client`] from [`Cluster::client`].

pub mod binaries;
pub mod certs;
pub mod cluster;
pub mod controlplane;
pub mod error;
pub mod helm;
pub mod network;
pub mod pods;
pub mod process;
pub mod wait;

pub use cluster::{Cluster, ClusterOptions, NODE_NAME, SHELL_IMAGE, SKYLARK_IMAGE};
pub use error::{Error, Result};
pub use wait::{wait_for_object, wait_until};

/// True if the user asked to skip the end-to-end tests (`SKYLARK_E2E_SKIP=1`);
/// says so on stderr. CI never sets it: there a missing control plane fails.
pub fn skip_requested() -> bool {
    let skip = std::env::var_os("SKYLARK_E2E_SKIP").is_some_and(|v| v == "1");
    if skip {
        eprintln!("SKYLARK_E2E_SKIP=1: skipping an end-to-end test on request");
    }
    skip
}
