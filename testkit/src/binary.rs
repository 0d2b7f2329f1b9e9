//! The `skylark` binary for tests outside the cli crate (which get it from
//! `CARGO_BIN_EXE_skylark`): built once per test process with the cargo
//! running the tests, into the same target directory, so it is never stale.

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
