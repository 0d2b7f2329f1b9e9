#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark --help` documents exit codes and the environment, every client
//! command has examples, completions generate for each shell, usage errors
//! exit 2, and an unreachable nameserver is one `error:` line with exit 5.

mod support;

use support::run;

#[test]
fn top_level_help_lists_commands_environment_and_exit_codes() {
    let help = run(&["--help"], None);
    assert_eq!(help.code, Some(0), "{help}");
    for needle in [
        "topic",
        "group",
        "cluster",
        "produce",
        "consume",
        "message",
        "offset",
        "bench",
        "completions",
        "NAMESRV_ADDR",
        "Exit codes:",
        "  3  the nameserver or broker refused",
        "  5  cannot reach",
        "  6  incomplete",
    ] {
        assert!(help.stdout.contains(needle), "no {needle:?} in\n{help}");
    }
}

#[test]
fn client_commands_have_examples_and_the_namesrv_env() {
    for command in [
        &["topic", "create", "--help"][..],
        &["group", "describe", "--help"],
        &["produce", "--help"],
        &["consume", "--help"],
        &["message", "query", "--help"],
        &["offset", "reset", "--help"],
        &["bench", "produce", "--help"],
        &["bench", "consume", "--help"],
        &["bench", "e2e", "--help"],
    ] {
        let help = run(command, None);
        assert_eq!(help.code, Some(0), "{command:?}: {help}");
        assert!(help.stdout.contains("Example"), "{command:?}: {help}");
        assert!(help.stdout.contains("NAMESRV_ADDR"), "{command:?}: {help}");
    }
}

#[test]
fn completions_generate_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef skylark"),
        ("fish", "complete -c skylark"),
    ] {
        let script = run(&["completions", shell], None);
        assert_eq!(script.code, Some(0), "{shell}: {script}");
        assert!(script.stdout.contains(marker), "{shell}: no {marker:?}");
        for word in ["topic", "bench", "consume"] {
            assert!(script.stdout.contains(word), "{shell}: no {word}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let missing = run(&["topic", "create"], None);
    assert_eq!(missing.code, Some(2), "{missing}");
    assert!(missing.stderr.contains("--topic"), "{missing}");
    let bad_time = run(
        &[
            "offset",
            "reset",
            "-g",
            "G",
            "-t",
            "T",
            "--to-time",
            "soon-ish",
        ],
        None,
    );
    assert_eq!(bad_time.code, Some(2), "{bad_time}");
    assert!(bad_time.stderr.contains("not a TIME"), "{bad_time}");
}

#[test]
fn an_unreachable_nameserver_is_one_line_and_exit_5() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let failed = run(
        &["topic", "list", "--namesrv", &addr, "--timeout", "3s"],
        None,
    );
    assert_eq!(failed.code, Some(5), "{failed}");
    let lines: Vec<&str> = failed.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{failed}");
    assert!(lines[0].starts_with("error: "), "{failed}");
    assert!(lines[0].contains("--namesrv"), "{failed}");
}
