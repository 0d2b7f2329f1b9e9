//! Running the Java compatibility harnesses (`*/compat/run.sh`), which call
//! Apache RocketMQ's own code and need a JDK and Maven.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::prerequisites::{Requirement, Tool, tools_available};
use crate::process::{Collected, collect_output};

/// Long enough for a first run that downloads RocketMQ's jars from Maven Central.
pub const HARNESS_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether `java` and `mvn` can be run.
///
/// When they cannot, this panics with what to install, unless
/// `SKYLARK_SKIP_JAVA=1` is set: then it prints a loud banner saying that
/// `test` (which checks `checked`) is skipped, and returns false.
pub fn java_available(test: &str, checked: &str) -> bool {
    let java = std::env::var_os("JAVA_HOME").map_or_else(
        || PathBuf::from("java"),
        |home| PathBuf::from(home).join("bin").join("java"),
    );
    tools_available(
        test,
        checked,
        &Requirement {
            tools: vec![
                Tool {
                    program: java,
                    version_arg: "-version",
                },
                Tool {
                    program: PathBuf::from("mvn"),
                    version_arg: "-v",
                },
            ],
            skip_var: "SKYLARK_SKIP_JAVA",
            needs: "runs Apache RocketMQ's own Java code and needs a JDK 17+ and Maven \
                    (Debian/Ubuntu: `apt-get install -y openjdk-17-jdk-headless maven`)",
        },
    )
}

/// What one harness run did.
#[derive(Debug)]
pub struct HarnessRun {
    /// The arguments, for messages.
    pub what: String,
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// Runs `bash script args…` with extra environment `envs`, in its own
/// process group so that a run exceeding `timeout` is killed together with
/// any Maven or JVM it started (and the test then fails saying so).
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn run_harness(
    script: &Path,
    args: &[OsString],
    envs: &[(&str, &OsStr)],
    timeout: Duration,
) -> HarnessRun {
    let what = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    let mut child = Command::new("bash")
        .arg(script)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
    let collected = collect_output(&mut child, timeout, true)
        .unwrap_or_else(|e| panic!("waiting for {}: {e}", script.display()));
    match collected {
        Collected::Exited {
            status,
            stdout,
            stderr,
        } => HarnessRun {
            what,
            code: status.code(),
            stdout,
            stderr,
            elapsed: start.elapsed(),
        },
        Collected::TimedOut { stderr } => panic!(
            "`{} {what}` did not finish within {timeout:?} and was killed.\n--- stderr ---\n{stderr}",
            script.display()
        ),
    }
}
