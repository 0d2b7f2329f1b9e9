//! The Go toolchain for tests that run Go programs (the interop suite's
//! official RocketMQ Go client): whether it is there, and building a program.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::prerequisites::{Requirement, Tool, tools_available};
use crate::process::{ChildProcess, StderrTo};

/// Long enough for a first build that downloads its modules.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The `go` command: `$GOROOT/bin/go` when `GOROOT` is set, else `go` from `PATH`.
pub fn go_command() -> PathBuf {
    std::env::var_os("GOROOT").map_or_else(
        || PathBuf::from("go"),
        |root| PathBuf::from(root).join("bin").join("go"),
    )
}

/// Whether `go` can be run.
///
/// When it cannot, this panics with what to install, unless
/// `SKYLARK_SKIP_GO=1` is set: then it prints a loud banner saying that
/// `test` (which checks `checked`) is skipped, and returns false.
pub fn go_available(test: &str, checked: &str) -> bool {
    tools_available(
        test,
        checked,
        &Requirement {
            tools: vec![Tool {
                program: go_command(),
                version_arg: "version",
            }],
            skip_var: "SKYLARK_SKIP_GO",
            needs: "runs the official RocketMQ Go client and needs Go 1.22 or newer \
                    (Debian/Ubuntu: `apt-get install -y golang-go`, if its version is recent enough)",
        },
    )
}

/// `go build -o output package` in `module_dir`, killed past
/// [`BUILD_TIMEOUT`]; the error carries what `go` printed. Go's own build
/// cache makes a repeated build of unchanged sources quick.
pub fn go_build(module_dir: &Path, package: &str, output: &Path) -> Result<(), String> {
    let mut command = Command::new(go_command());
    command
        .current_dir(module_dir)
        .arg("build")
        .arg("-o")
        .arg(output)
        .arg(package);
    let what = format!(
        "`go build -o {} {package}` in {}",
        output.display(),
        module_dir.display()
    );
    let mut child = ChildProcess::spawn("go build", command, StderrTo::Capture)
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let Some(status) = child.wait_timeout(BUILD_TIMEOUT) else {
        child.kill();
        return Err(format!(
            "{what} did not finish within {BUILD_TIMEOUT:?}: killed\n{}",
            child.stderr()
        ));
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status}):\n{}", child.stderr()))
    }
}
