//! Errors of the e2e harness.

use std::path::{Path, PathBuf};

/// Why the harness could not bring up or drive the test cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A control-plane binary is missing: the build script has not run.
    #[error(
        "{binary} not found at {path}: build the control plane first with `bash e2e/controlplane/build.sh` (CI's .ci/run does this; the first build takes many minutes)"
    )]
    MissingBinary {
        /// Name of the binary.
        binary: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file or process operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or program involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Making a certificate failed.
    #[error("making the {what}: {source}")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// Building the workspace binaries (node agent, skylark) failed.
    #[error("cargo build of {what} failed: {detail}")]
    CargoBuild {
        /// The binaries asked for.
        what: String,
        /// cargo's complaint.
        detail: String,
    },
    /// A helper program (e.g. `helm`) failed.
    #[error("`{what}` failed: {detail}")]
    Command {
        /// The command line.
        what: String,
        /// Its stderr.
        detail: String,
    },
    /// A `ip` (iproute2) command failed.
    #[error("`ip {args}` failed: {detail}")]
    Ip {
        /// Its arguments.
        args: String,
        /// Its stderr.
        detail: String,
    },
    /// A component exited while the cluster was starting or waiting.
    #[error("{component} exited ({status}); its log: {log}")]
    Exited {
        /// Which component.
        component: String,
        /// Its exit status.
        status: String,
        /// Path of its log file.
        log: PathBuf,
    },
    /// Something did not happen in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
    },
    /// The Kubernetes client failed.
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    /// The kubeconfig could not be read back.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// Encoding the kubeconfig failed.
    #[error("kubeconfig encoding: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Wraps an `std::io::Error` with the path it concerns.
    pub fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io { path, source }
    }
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
