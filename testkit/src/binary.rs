//! The `skylark` binary for tests outside the cli crate (which get it from
//! `CARGO_BIN_EXE_skylark`): the one in the target directory when it is newer
//! than every source it is built from (a workspace test run builds it before
//! any test starts), else built once per test process with the cargo running
//! the tests, into the same target directory, so it is never stale.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of an up-to-date `skylark` binary; builds it (`cargo build -p
/// skylark-cli --bin skylark`) on first use. Panics with cargo's output
/// when the build fails.
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn skylark_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(given) = std::env::var_os("SKYLARK_BIN") {
            return PathBuf::from(given);
        }
        // A test runs as <target>/<profile>/deps/<name>-<hash>.
        let exe = std::env::current_exe()
            .unwrap_or_else(|e| panic!("cannot find the test executable: {e}"));
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
        let target = profile_dir
            .parent()
            .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
        let bin = profile_dir.join("skylark");
        if is_fresh(&bin) {
            return bin;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "-p", "skylark-cli", "--bin", "skylark"])
            .arg("--target-dir")
            .arg(target);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run cargo to build skylark: {e}"));
        assert!(
            output.status.success(),
            "building the skylark binary failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bin = profile_dir.join("skylark");
        assert!(
            bin.exists(),
            "cargo built skylark but {} is missing",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Whether `bin` exists and is newer than the workspace's manifests and
/// every source file of the crates the binary is built from.
fn is_fresh(bin: &Path) -> bool {
    let Some(built) = std::fs::metadata(bin).and_then(|m| m.modified()).ok() else {
        return false;
    };
    let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() else {
        return false;
    };
    let mut newest = None;
    for file in ["Cargo.toml", "Cargo.lock"] {
        newest = newest.max(modified(&root.join(file)));
    }
    for krate in [
        "protocol",
        "remoting",
        "store",
        "nameserver",
        "broker",
        "client",
        "cli",
    ] {
        newest = newest.max(modified(&root.join(krate).join("Cargo.toml")));
        newest = newest.max(newest_in(&root.join(krate).join("src")));
    }
    newest.is_some_and(|newest| newest <= built)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file under `dir`.
fn newest_in(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_in(&path)
        } else {
            modified(&path)
        };
        newest = newest.max(time);
    }
    newest
}
