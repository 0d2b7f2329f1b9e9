#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark produce` then `skylark consume` against a real standalone:
//! generated messages and lines from stdin and a file, printed as text and
//! as JSON lines, with tags, keys and properties as sent; tag filtering;
//! and `--count` that cannot be met ends with exit 6.

mod support;

use std::collections::BTreeSet;

use support::Standalone;

#[test]
fn produce_n_then_consume_n_as_text_and_json_lines() {
    let standalone = Standalone::start(&[]);
    standalone.ok(&["topic", "create", "--topic", "PcTopic", "--queues", "4"]);

    let sent = standalone.ok(&[
        "produce",
        "--topic",
        "PcTopic",
        "--count",
        "20",
        "--size",
        "64",
        "--tag",
        "gen",
        "--key",
        "k1",
        "--key",
        "k2",
        "--property",
        "source=test",
    ]);
    assert_eq!(sent.stdout.lines().count(), 20, "{sent}");
    assert!(
        sent.stdout.lines().all(|l| l.starts_with("sent ")),
        "{sent}"
    );

    let text = standalone.ok(&[
        "consume", "--topic", "PcTopic", "--group", "PcText", "--from", "first", "--count", "20",
    ]);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 20, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("tags=gen") && l.contains("keys=\"k1 k2\""))
    );

    let json = standalone
        .ok(&[
            "consume", "--topic", "PcTopic", "--group", "PcJson", "--from", "first", "--count",
            "20", "--output", "json",
        ])
        .json_lines();
    assert_eq!(json.len(), 20);
    let ids: BTreeSet<&str> = json.iter().map(|m| m["msg_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 20, "each message once");
    for message in &json {
        assert_eq!(message["topic"], "PcTopic");
        assert_eq!(message["tags"], "gen");
        assert_eq!(message["keys"], "k1 k2");
        assert_eq!(message["properties"]["source"], "test");
        assert_eq!(message["body_len"], 64);
    }
}

#[test]
fn lines_from_stdin_and_a_file_become_messages_with_their_bodies() {
    let standalone = Standalone::start(&[]);
    standalone.ok(&["topic", "create", "--topic", "LineTopic", "--queues", "2"]);
    let sent = standalone
        .ok_with_stdin(
            &[
                "produce",
                "--topic",
                "LineTopic",
                "--tag",
                "A",
                "-o",
                "json",
            ],
            "first line\nsecond — ünïcode\n\nfourth\n",
        )
        .json_lines();
    assert_eq!(
        sent.len(),
        3,
        "empty lines are skipped (RocketMQ refuses empty bodies)"
    );
    assert!(sent.iter().all(|s| s["status"] == "SEND_OK"));

    let file = standalone.path("bodies.txt");
    std::fs::write(&file, "from file 1\nfrom file 2").unwrap();
    standalone.ok(&[
        "produce",
        "--topic",
        "LineTopic",
        "--tag",
        "B",
        "--file",
        file.to_str().unwrap(),
    ]);

    let got = standalone
        .ok(&[
            "consume",
            "--topic",
            "LineTopic",
            "--group",
            "LineGroup",
            "--from",
            "first",
            "--count",
            "5",
            "-o",
            "json",
        ])
        .json_lines();
    let bodies: BTreeSet<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = [
        "first line",
        "second — ünïcode",
        "fourth",
        "from file 1",
        "from file 2",
    ]
    .into();
    assert_eq!(bodies, expected);

    // Tag filtering: only B.
    let only_b = standalone
        .ok(&[
            "consume",
            "--topic",
            "LineTopic",
            "--group",
            "LineGroupB",
            "--from",
            "first",
            "--tag",
            "B",
            "--count",
            "2",
            "-o",
            "json",
        ])
        .json_lines();
    assert!(only_b.iter().all(|m| m["tags"] == "B"), "{only_b:?}");

    // More than there is: exit 6 after the wait, having printed what came.
    let short = standalone.run(&[
        "consume",
        "--topic",
        "LineTopic",
        "--group",
        "LineGroupShort",
        "--from",
        "first",
        "--tag",
        "B",
        "--count",
        "3",
        "--wait",
        "5s",
        "-o",
        "json",
    ]);
    assert_eq!(short.code, Some(6), "{short}");
    assert_eq!(short.stdout.lines().count(), 2, "{short}");
    assert!(short.stderr.starts_with("error: "), "{short}");
}

#[test]
fn sql_selectors_filter_by_property_and_a_broker_without_them_says_so() {
    let filtering = Standalone::start(&["enablePropertyFilter=true"]);
    filtering.ok(&["topic", "create", "--topic", "SqlTopic", "--queues", "2"]);
    for a in 1..=6 {
        let property = format!("a={a}");
        filtering.ok(&[
            "produce",
            "--topic",
            "SqlTopic",
            "--count",
            "1",
            "--property",
            &property,
        ]);
    }
    let got = filtering
        .ok(&[
            "consume",
            "--topic",
            "SqlTopic",
            "--group",
            "SqlGroup",
            "--from",
            "first",
            "--sql",
            "a BETWEEN 3 AND 4",
            "--count",
            "2",
            "-o",
            "json",
        ])
        .json_lines();
    let mut values: Vec<&str> = got
        .iter()
        .map(|m| m["properties"]["a"].as_str().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, ["3", "4"]);

    let malformed = filtering.run(&[
        "consume", "--topic", "SqlTopic", "--group", "SqlBad", "--sql", "a >>> 3", "--count", "1",
    ]);
    assert_eq!(malformed.code, Some(3), "{malformed}");
    assert!(
        malformed
            .stderr
            .contains("SUBSCRIPTION_PARSE_FAILED (code 23)"),
        "{malformed}"
    );

    let plain = Standalone::start(&[]);
    plain.ok(&["topic", "create", "--topic", "SqlTopic"]);
    let refused = plain.run(&[
        "consume", "--topic", "SqlTopic", "--group", "SqlGroup", "--sql", "a > 3", "--count", "1",
    ]);
    assert_eq!(refused.code, Some(3), "{refused}");
    assert_eq!(refused.stderr.lines().count(), 1, "{refused}");
    assert!(refused.stderr.contains("(code 1)"), "{refused}");
    assert!(
        refused.stderr.contains("enablePropertyFilter=true"),
        "{refused}"
    );
}
