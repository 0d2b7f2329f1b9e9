//! Running `helm` against a test cluster (its admin kubeconfig).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The `helm` binary: `$HELM`, else `helm` on PATH, else `~/go/bin/helm`
/// (where `.ci/run` installs it with `go install`); a clear error otherwise.
pub fn helm_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HELM") {
        return Ok(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("helm"));
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    let go_bin = std::env::var_os("GOPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join("go"))
        .join("bin/helm");
    on_path
        .chain(std::iter::once(go_bin.clone()))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Command {
            what: "helm".into(),
            detail: format!(
                "not on PATH nor at {}: install it from the Go module proxy as .ci/run does (go install helm.sh/helm/v3/cmd/helm@VERSION)",
                go_bin.display()
            ),
        })
}

/// The repository's chart folder `charts/<name>`.
pub fn chart_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts")
        .join(name)
}

/// Runs `helm ARGS --kubeconfig KUBECONFIG`; returns its stdout, or an error
/// with its stderr.
pub fn run(kubeconfig: &Path, args: &[&str]) -> Result<String> {
    let helm = helm_binary()?;
    // helm keeps caches and its registry config under HOME; a private one
    // keeps tests from touching the user's.
    let home = kubeconfig
        .parent()
        .map(|d| d.join("helm-home"))
        .unwrap_or_else(|| "/tmp/skylark-e2e-helm-home".into());
    let out = std::process::Command::new(&helm)
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .map_err(Error::io(&helm))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            what: format!("helm {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}
