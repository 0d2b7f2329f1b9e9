//! skylark-e2e: a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, built by `e2e/controlplane/build.sh`) plus our node
//! agent, for end-to-end tests. A test starts one with [`Cluster::start`] and
//! drives it with the [`kube::Client`] from [`Cluster::client`].

pub mod binaries;
pub mod certs;
pub mod cluster;
pub mod controlplane;
pub mod error;
pub mod network;
pub mod process;
pub mod wait;

pub use cluster::{Cluster, ClusterOptions, NODE_NAME, SHELL_IMAGE, SKYLARK_IMAGE};
pub use error::{Error, Result};
pub use wait::wait_until;
