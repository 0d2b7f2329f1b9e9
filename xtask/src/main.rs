//! `cargo xtask`: the one entry point that knows how to run Skylark's checks.
//!
//! - `cargo xtask test`: every test suite (README's test command; CI runs it).
//! - `cargo xtask lint`: `cargo fmt --check` and clippy with warnings denied.
//! - `cargo xtask fuzz [SECONDS]`: each fuzz target for SECONDS (default 60).
//! - `cargo xtask vectors`: regenerate the Java-made protocol test vectors.
//! - `cargo xtask crds [--write]`: check (or rewrite) the generated CRD YAML in
//!   `crds/` and `charts/skylark/crds/` (the operator's tests check it too).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <test | lint | fuzz [SECONDS] | vectors | crds [--write]>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("test") => test(&root),
        Some("lint") => lint(&root),
        Some("fuzz") => {
            let secs = match args.get(1) {
                Some(s) => s.parse().context("SECONDS must be a whole number")?,
                None => 60,
            };
            fuzz(&root, secs)
        }
        Some("vectors") => run(
            &root,
            Command::new("bash").arg("protocol/vectors/generate.sh"),
        ),
        Some("crds") => crds(&root, args.get(1).map(String::as_str) == Some("--write")),
        _ => bail!("{USAGE}"),
    }
}

/// Regenerates the CRDs with `crdgen`; with `write` into the repository,
/// else into a scratch directory compared file by file with the checked-in ones.
fn crds(root: &Path, write: bool) -> Result<()> {
    step("crdgen");
    let crdgen = |dirs: &[PathBuf]| -> Result<()> {
        let mut cmd = cargo();
        cmd.args([
            "run",
            "-q",
            "-p",
            "skylark-operator",
            "--bin",
            "crdgen",
            "--",
        ]);
        cmd.args(dirs);
        run(root, &mut cmd)
    };
    let checked_in = [root.join("crds"), root.join("charts/skylark/crds")];
    if write {
        return crdgen(&checked_in);
    }
    let scratch = std::env::temp_dir().join(format!("skylark-crds-{}", std::process::id()));
    crdgen(std::slice::from_ref(&scratch))?;
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&scratch).context("reading generated CRDs")? {
        let path = entry?.path();
        let fresh = std::fs::read(&path)?;
        for dir in &checked_in {
            let there = dir.join(path.file_name().context("generated file has a name")?);
            if std::fs::read(&there).ok().as_deref() != Some(fresh.as_slice()) {
                stale.push(there.display().to_string());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if !stale.is_empty() {
        bail!(
            "stale CRD YAML (run `cargo xtask crds --write`): {}",
            stale.join(", ")
        );
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs every test suite in the workspace and ends with one summary line.
fn test(root: &Path) -> Result<()> {
    let mut totals = Totals::default();
    step("fuzz targets still build");
    run(
        root,
        cargo().args(["check", "--manifest-path", "fuzz/Cargo.toml", "--bins"]),
    )?;
    step("doc tests");
    run_counted(
        root,
        cargo().args(["test", "--workspace", "--doc"]),
        &mut totals,
    )?;
    step("unit and integration tests");
    let outcome = run_counted(
        root,
        // Benchmarks are built by clippy --all-targets but not run here.
        // --no-fail-fast: one failing suite must not hide the others' results.
        cargo().args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--lib",
            "--bins",
            "--tests",
            "--examples",
        ]),
        &mut totals,
    );
    step("summary");
    // The plain closing line CI reads, summed over every test binary, printed
    // whether or not a suite failed.
    #[allow(clippy::print_stdout)] // xtask is a command-line tool: stdout is its output
    {
        println!("{} passed, {} failed", totals.passed, totals.failed);
    }
    outcome
}

/// Test counts summed over cargo's `test result:` lines.
#[derive(Debug, Default)]
struct Totals {
    passed: u64,
    failed: u64,
}

impl Totals {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next())
                && let Ok(n) = n.parse::<u64>()
            {
                match what {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    _ => {}
                }
            }
        }
    }
}

/// Runs `cmd`, echoing its stdout while counting test results.
fn run_counted(root: &Path, cmd: &mut Command, totals: &mut Totals) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};

    cmd.current_dir(root).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        totals.add_line(&line);
        writeln!(out, "{line}")?;
    }
    drop(out);
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn lint(root: &Path) -> Result<()> {
    step("rustfmt");
    run(root, cargo().args(["fmt", "--all", "--check"]))?;
    step("clippy");
    run(
        root,
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        root,
        cargo().args([
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--bins",
            "--",
            "-D",
            "warnings",
        ]),
    )
}

/// Runs each cargo-fuzz target for `secs` seconds (needs nightly and cargo-fuzz).
fn fuzz(root: &Path, secs: u64) -> Result<()> {
    let out = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(root)
        .output()
        .context("running `cargo +nightly fuzz list` (is cargo-fuzz installed?)")?;
    if !out.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for target in String::from_utf8_lossy(&out.stdout).lines() {
        step(&format!("fuzz {target} for {secs}s"));
        run(
            root,
            Command::new("cargo").args([
                "+nightly",
                "fuzz",
                "run",
                target,
                "--",
                &format!("-max_total_time={secs}"),
            ]),
        )?;
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

fn run(root: &Path, cmd: &mut Command) -> Result<()> {
    cmd.current_dir(root);
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn sums_cargo_test_result_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 228 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.59s");
        t.add_line("test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured");
        t.add_line("running 7 tests");
        assert_eq!((t.passed, t.failed), (230, 3));
    }
}
