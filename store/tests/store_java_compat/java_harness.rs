//! Running `store/compat/run.sh` and judging its exit.

use super::*;

/// Panics unless the harness exited 0, with everything it said.
pub(crate) fn assert_ok(run: &HarnessRun) {
    if run.code != Some(0) {
        let meaning = match run.code {
            Some(1) => "usage error, build failure or unexpected exception",
            Some(2) => "DefaultMessageStore.load() or start() failed",
            Some(3) => "the store loaded but is INCONSISTENT",
            _ => "killed or unknown",
        };
        panic!(
            "`run.sh {}` exited with {:?} ({meaning}) after {:?}.\n--- stderr ---\n{}\n--- stdout (first 2000 chars) ---\n{}",
            run.what,
            run.code,
            run.elapsed,
            run.stderr,
            run.stdout.chars().take(2000).collect::<String>()
        );
    }
}

/// Runs `store/compat/run.sh args…` (killed after [`HARNESS_TIMEOUT`]).
pub(crate) fn harness(args: &[OsString]) -> HarnessRun {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/run.sh");
    let run = run_harness(&script, args, &[], HARNESS_TIMEOUT);
    eprintln!(
        "run.sh {}: exit {:?} in {:.1?}",
        run.what, run.code, run.elapsed
    );
    // The harness's own summary lines (layout, checkpoint, record counts).
    for line in run.stderr.lines().filter(|l| {
        ["read: ", "write: ", "commitlog: "]
            .iter()
            .any(|p| l.starts_with(p))
    }) {
        eprintln!("  {line}");
    }
    run
}

pub(crate) fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}
