//! Where the harness finds its programs: the control plane that
//! `e2e/controlplane/build.sh` built into the cache, and the workspace's own
//! binaries (node agent, `skylark`), built on demand with cargo.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Kubernetes release of the control plane (keep in step with build.sh and go.mod).
pub const K8S_VERSION: &str = "v1.35.4";
/// etcd release of the control plane (keep in step with build.sh and go.mod).
pub const ETCD_VERSION: &str = "v3.6.5";

/// Folder holding etcd, kube-apiserver and kube-controller-manager.
pub fn control_plane_dir() -> PathBuf {
    let root = std::env::var_os("SKYLARK_E2E_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/root".into());
            home.join(".cache/skylark-e2e")
        });
    root.join(format!("k8s-{K8S_VERSION}-etcd-{ETCD_VERSION}"))
        .join("bin")
}

/// Path of one control-plane binary; a clear error naming the build script if absent.
pub fn control_plane_binary(name: &str) -> Result<PathBuf> {
    let path = control_plane_dir().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            binary: name.to_string(),
            path,
        })
    }
}

/// The cargo target profile folder the running test was built into
/// (target/debug for `target/debug/deps/test-1234`).
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(Error::io("current_exe"))?;
    let deps = exe
        .parent()
        .ok_or_else(|| Error::io(&exe)(std::io::ErrorKind::NotFound.into()))?;
    let profile = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()
    } else {
        Some(deps)
    };
    profile
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::io(&exe)(std::io::ErrorKind::NotFound.into()))
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds (if stale) and returns a binary of a workspace package, in the
/// profile the tests run in, so a test never runs an old node agent or broker.
pub fn workspace_binary(package: &str, binary: &str) -> Result<PathBuf> {
    let _guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let profile = profile_dir()?;
    let target = profile
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| profile.clone());
    let release = profile.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", binary])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target);
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(Error::io("cargo"))?;
    if !out.status.success() {
        return Err(Error::CargoBuild {
            what: format!("{package}/{binary}"),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let path = profile.join(binary);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            binary: binary.to_string(),
            path,
        })
    }
}
