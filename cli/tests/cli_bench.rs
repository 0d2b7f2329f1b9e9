#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark bench produce|consume|e2e` with small counts against a real
//! standalone: the topic is created, and the `--json` report on the last
//! line adds up.

mod support;

use serde_json::Value;
use support::Standalone;

/// The report on the last stdout line.
fn report(run: &support::Run) -> Value {
    let last = run
        .stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output\n{run}"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON: {e}\n{run}"))
}

#[test]
fn bench_produce_then_consume_with_counts() {
    let standalone = Standalone::start(&[]);
    let produced = report(&standalone.ok(&[
        "bench",
        "produce",
        "--topic",
        "BenchTopic",
        "--threads",
        "2",
        "--inflight",
        "4",
        "--size",
        "256",
        "--queues",
        "3",
        "--count",
        "500",
        "--json",
    ]));
    assert_eq!(produced["mode"], "produce");
    assert_eq!(produced["messages"], 500, "{produced}");
    assert_eq!(produced["failed"], 0, "{produced}");
    assert_eq!(produced["bytes"], 500 * 256, "{produced}");
    assert!(produced["msgs_per_sec"].as_f64().unwrap() > 0.0);
    let latency = &produced["latency"];
    assert_eq!(latency["count"], 500, "{produced}");
    assert!(latency["p50_us"].as_u64().unwrap() <= latency["p99_us"].as_u64().unwrap());
    assert!(latency["p99_us"].as_u64().unwrap() <= latency["max_us"].as_u64().unwrap());

    // The bench created the topic with its queues.
    let topic = standalone
        .ok(&["topic", "describe", "--topic", "BenchTopic", "-o", "json"])
        .json();
    assert_eq!(topic["queues"].as_array().unwrap().len(), 3, "{topic}");

    let consumed = report(&standalone.ok(&[
        "bench",
        "consume",
        "--topic",
        "BenchTopic",
        "--count",
        "500",
        "--json",
    ]));
    assert_eq!(consumed["mode"], "consume");
    assert!(consumed["messages"].as_u64().unwrap() >= 500, "{consumed}");
    assert!(
        consumed["latency"]["count"].as_u64().unwrap() >= 500,
        "{consumed}"
    );

    // The people's report.
    let text = standalone.ok(&["bench", "produce", "--topic", "BenchTopic", "--count", "50"]);
    assert!(text.stdout.contains("msg/s"), "{text}");
    assert!(text.stdout.contains("p99"), "{text}");
}

#[test]
fn bench_e2e_reports_end_to_end_and_send_latency() {
    let standalone = Standalone::start(&[]);
    let e2e = report(&standalone.ok(&[
        "bench",
        "e2e",
        "--topic",
        "E2eTopic",
        "--threads",
        "2",
        "--count",
        "300",
        "--json",
    ]));
    assert_eq!(e2e["mode"], "e2e");
    assert!(e2e["messages"].as_u64().unwrap() >= 300, "{e2e}");
    assert_eq!(e2e["failed"], 0, "{e2e}");
    assert!(
        e2e["send_latency"]["count"].as_u64().unwrap() >= 300,
        "{e2e}"
    );
}
