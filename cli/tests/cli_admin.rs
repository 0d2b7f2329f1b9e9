#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark topic|group|cluster|message|offset` against a real
//! `skylark standalone`: round trips in table and JSON output, lag, queries
//! by key and id, offset resets, and a refused request's error line.

mod support;

use serde_json::Value;
use support::Standalone;

/// The topic names of `topic list --output json`.
fn topic_names(standalone: &Standalone) -> Vec<String> {
    let list = standalone.ok(&["topic", "list", "--output", "json"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn topic_create_list_describe_update_delete_round_trip() {
    let standalone = Standalone::start(&[]);

    let created = standalone.ok(&["topic", "create", "--topic", "CliTopic", "--queues", "4"]);
    assert!(created.stdout.contains("CliTopic"), "{created}");

    // Table: a header row, then the topic, aligned.
    let table = standalone.ok(&["topic", "list"]);
    let mut lines = table.stdout.lines();
    assert_eq!(lines.next().map(str::trim_end), Some("TOPIC"), "{table}");
    assert!(lines.any(|l| l == "CliTopic"), "{table}");
    assert!(topic_names(&standalone).contains(&"CliTopic".to_owned()));

    let describe = standalone.ok(&["topic", "describe", "--topic", "CliTopic"]);
    assert!(describe.stdout.contains("QUEUE"), "{describe}");
    assert!(describe.stdout.contains("MAX_OFFSET"), "{describe}");
    let json = standalone
        .ok(&["topic", "describe", "--topic", "CliTopic", "-o", "json"])
        .json();
    assert_eq!(json["topic"], "CliTopic");
    assert_eq!(json["queues"].as_array().unwrap().len(), 4, "{json}");
    assert_eq!(json["routes"][0]["write_queues"], 4, "{json}");
    assert_eq!(json["routes"][0]["perm"], "rw", "{json}");
    for queue in json["queues"].as_array().unwrap() {
        assert_eq!(queue["max_offset"], 0, "{json}");
    }

    standalone.ok(&[
        "topic", "update", "--topic", "CliTopic", "--queues", "6", "--perm", "r",
    ]);
    let json = standalone
        .ok(&["topic", "describe", "--topic", "CliTopic", "-o", "json"])
        .json();
    assert_eq!(json["routes"][0]["write_queues"], 6, "{json}");
    assert_eq!(json["routes"][0]["perm"], "r", "{json}");

    standalone.ok(&["topic", "delete", "--topic", "CliTopic"]);
    assert!(!topic_names(&standalone).contains(&"CliTopic".to_owned()));

    // A refused request: one line with the code's name and number, exit 4.
    let missing = standalone.run(&["topic", "describe", "--topic", "CliTopic"]);
    assert_eq!(missing.code, Some(4), "{missing}");
    assert_eq!(missing.stderr.lines().count(), 1, "{missing}");
    assert!(
        missing.stderr.starts_with("error: ")
            && missing.stderr.contains("TOPIC_NOT_EXIST (code 17)"),
        "{missing}"
    );
    assert!(missing.stderr.contains("skylark topic create"), "{missing}");
}

#[test]
fn cluster_list_names_the_standalone_broker() {
    let standalone = Standalone::start(&[]);
    let table = standalone.ok(&["cluster", "list"]);
    assert!(table.stdout.starts_with("CLUSTER"), "{table}");
    let json = standalone.ok(&["cluster", "list", "-o", "json"]).json();
    let brokers = json.as_array().unwrap();
    assert_eq!(brokers.len(), 1, "{json}");
    assert_eq!(brokers[0]["broker_id"], 0, "{json}");
    assert!(
        brokers[0]["addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{json}"
    );
    assert!(
        table
            .stdout
            .contains(brokers[0]["broker_name"].as_str().unwrap())
    );
}

/// Sends `count` generated messages; returns their `produce -o json` lines.
fn produce(standalone: &Standalone, topic: &str, count: usize, extra: &[&str]) -> Vec<Value> {
    let count_text = count.to_string();
    let mut args = vec![
        "produce",
        "--topic",
        topic,
        "--count",
        &count_text,
        "-o",
        "json",
    ];
    args.extend(extra);
    let sent = standalone.ok(&args).json_lines();
    assert_eq!(sent.len(), count);
    sent
}

/// Consumes `count` messages as `group` from the first offset.
fn consume(standalone: &Standalone, topic: &str, group: &str, count: usize) -> Vec<Value> {
    let count_text = count.to_string();
    let got = standalone
        .ok(&[
            "consume",
            "--topic",
            topic,
            "--group",
            group,
            "--from",
            "first",
            "--count",
            &count_text,
            "-o",
            "json",
        ])
        .json_lines();
    assert_eq!(got.len(), count);
    got
}

#[test]
fn groups_show_per_queue_offsets_and_lag() {
    let standalone = Standalone::start(&[]);
    standalone.ok(&["topic", "create", "--topic", "LagTopic", "--queues", "4"]);
    standalone.ok(&["group", "create", "--group", "LagGroup"]);
    let groups = standalone.ok(&["group", "list", "-o", "json"]).json();
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["group"] == "LagGroup"),
        "{groups}"
    );

    produce(&standalone, "LagTopic", 10, &[]);
    consume(&standalone, "LagTopic", "LagGroup", 10);
    produce(&standalone, "LagTopic", 5, &[]);

    let json = standalone
        .ok(&["group", "describe", "--group", "LagGroup", "-o", "json"])
        .json();
    let queues = json["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 4, "{json}");
    let sum = |field: &str| {
        queues
            .iter()
            .map(|q| q[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(sum("broker_offset"), 15, "{json}");
    assert_eq!(sum("consumer_offset"), 10, "{json}");
    assert_eq!(sum("lag"), 5, "{json}");
    assert_eq!(json["total_lag"], 5, "{json}");

    let table = standalone.ok(&["group", "describe", "--group", "LagGroup"]);
    for column in ["TOPIC", "QUEUE", "BROKER_OFFSET", "CONSUMER_OFFSET", "LAG"] {
        assert!(table.stdout.contains(column), "{table}");
    }
    assert!(table.stdout.contains("total lag 5"), "{table}");

    standalone.ok(&["group", "delete", "--group", "LagGroup"]);
    let groups = standalone.ok(&["group", "list", "-o", "json"]).json();
    assert!(
        !groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["group"] == "LagGroup"),
        "{groups}"
    );
}

#[test]
fn messages_are_found_by_key_and_by_id() {
    let standalone = Standalone::start(&[]);
    standalone.ok(&["topic", "create", "--topic", "QueryTopic", "--queues", "2"]);
    let sent = produce(
        &standalone,
        "QueryTopic",
        3,
        &["--key", "order-42", "--tag", "Q"],
    );
    produce(&standalone, "QueryTopic", 2, &["--key", "other"]);

    let by_key = standalone
        .ok(&[
            "message",
            "query",
            "--topic",
            "QueryTopic",
            "--key",
            "order-42",
            "-o",
            "json",
        ])
        .json_lines();
    assert_eq!(by_key.len(), 3, "{by_key:?}");
    for message in &by_key {
        assert_eq!(message["keys"], "order-42");
        assert_eq!(message["tags"], "Q");
    }

    let id = sent[1]["msg_id"].as_str().unwrap();
    let by_id = standalone
        .ok(&[
            "message",
            "query",
            "--topic",
            "QueryTopic",
            "--id",
            id,
            "-o",
            "json",
        ])
        .json_lines();
    assert_eq!(by_id.len(), 1, "{by_id:?}");
    assert_eq!(by_id[0]["msg_id"], id);
    assert_eq!(by_id[0]["queue_offset"], sent[1]["queue_offset"]);

    let offset_id = sent[2]["offset_msg_id"].as_str().unwrap();
    let by_offset_id = standalone
        .ok(&["message", "query", "--id", offset_id, "-o", "json"])
        .json_lines();
    assert_eq!(by_offset_id.len(), 1);
    assert_eq!(by_offset_id[0]["msg_id"], sent[2]["msg_id"]);

    let text = standalone.ok(&[
        "message",
        "query",
        "--topic",
        "QueryTopic",
        "--key",
        "other",
    ]);
    assert_eq!(text.stdout.lines().count(), 2, "{text}");
    assert!(text.stdout.contains("keys=\"other\""), "{text}");

    let none = standalone.run(&["message", "query", "--topic", "QueryTopic", "--key", "nope"]);
    assert_eq!(none.code, Some(4), "{none}");
}

#[test]
fn offsets_reset_by_offset_and_by_time() {
    let standalone = Standalone::start(&[]);
    standalone.ok(&["topic", "create", "--topic", "ResetTopic", "--queues", "2"]);
    let first = produce(&standalone, "ResetTopic", 6, &[]);
    consume(&standalone, "ResetTopic", "ResetGroup", 6);

    // By offset: back to 0, and the group gets all six again.
    let reset = standalone
        .ok(&[
            "offset",
            "reset",
            "--group",
            "ResetGroup",
            "--topic",
            "ResetTopic",
            "--to-offset",
            "0",
            "-o",
            "json",
        ])
        .json();
    let queues = reset.as_array().unwrap();
    assert_eq!(queues.len(), 2, "{reset}");
    assert!(queues.iter().all(|q| q["offset"] == 0), "{reset}");
    let again = consume(&standalone, "ResetTopic", "ResetGroup", 6);
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v
            .iter()
            .map(|m| m["msg_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&first));

    // By time: a mark between two batches; the group gets the second batch again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mark = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = produce(&standalone, "ResetTopic", 4, &[]);
    consume(&standalone, "ResetTopic", "ResetGroup", 4);
    standalone.ok(&[
        "offset",
        "reset",
        "-g",
        "ResetGroup",
        "-t",
        "ResetTopic",
        "--to-time",
        &mark,
    ]);
    let group = standalone
        .ok(&["group", "describe", "--group", "ResetGroup", "-o", "json"])
        .json();
    assert_eq!(group["total_lag"], 4, "{group}");
    let replayed = consume(&standalone, "ResetTopic", "ResetGroup", 4);
    assert_eq!(ids(&replayed), ids(&second));
}
