//! Whether the external tools a test runs (a JDK, Maven, Go) are there, and
//! what to do when they are not: fail saying what to install, or skip loudly
//! when the test's skip variable says so.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One external program a test needs.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The program to run (a name looked up in `PATH`, or a path).
    pub program: PathBuf,
    /// An argument that makes it print its version and exit.
    pub version_arg: &'static str,
}

/// What a family of tests needs and how a developer opts out of it.
#[derive(Debug, Clone)]
pub struct Requirement<'a> {
    /// The programs that must run.
    pub tools: Vec<Tool>,
    /// Set to `1`, this skips the tests instead of failing them.
    pub skip_var: &'a str,
    /// Why the test needs them and how to install them, completing
    /// "`TEST` …" in the failure message.
    pub needs: &'a str,
}

/// Whether every tool of `required` can be run.
///
/// When one cannot, this panics saying what to install, unless
/// `required.skip_var` is `1`: then it prints a loud banner saying that
/// `test` (which checks `checked`) is skipped, and returns false.
#[allow(clippy::panic)] // a test helper: the panic is the test's failure
pub fn tools_available(test: &str, checked: &str, required: &Requirement<'_>) -> bool {
    let missing: Vec<String> = required
        .tools
        .iter()
        .filter(|tool| {
            Command::new(&tool.program)
                .arg(tool.version_arg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .map(|tool| tool.program.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let skip_var = required.skip_var;
    if std::env::var(skip_var).as_deref() == Ok("1") {
        // Straight to the process's stderr: libtest does not capture this,
        // so the skip shows even for a passing test.
        let banner = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!!! SKIPPED {test}: {missing:?} not found and {skip_var}=1.\n\
             !!! {checked} is NOT being checked.\n{banner}\n"
        );
        return false;
    }
    panic!(
        "{missing:?} not found. {test} {}. Set {skip_var}=1 to skip it explicitly.",
        required.needs
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(program: &str) -> Requirement<'static> {
        Requirement {
            tools: vec![Tool {
                program: PathBuf::from(program),
                version_arg: "--version",
            }],
            // Never set, so a missing tool fails.
            skip_var: "SKYLARK_TESTKIT_UNSET_SKIP_VAR",
            needs: "needs it (install it)",
        }
    }

    #[test]
    fn a_present_tool_is_available() {
        assert!(tools_available("t", "c", &requirement("sh")));
    }

    #[test]
    #[should_panic(
        expected = "[\"skylark-no-such-tool\"] not found. t needs it (install it). Set SKYLARK_TESTKIT_UNSET_SKIP_VAR=1"
    )]
    fn a_missing_tool_fails_saying_what_to_install() {
        tools_available("t", "c", &requirement("skylark-no-such-tool"));
    }
}
