#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark broker status|promote|follow` against a real `skylark
//! standalone`: the status in JSON and as text, a promotion at a stale
//! epoch refused with RocketMQ's fencing code, one at the next epoch
//! accepted, and a broker told to follow itself refused.

mod support;

use support::{Standalone, run};

#[test]
fn status_promote_and_refusals() {
    let standalone = Standalone::start(&[]);
    let broker = standalone.broker();
    let b = broker.as_str();

    let status = run(&["broker", "status", "-b", b, "-o", "json"], None);
    assert_eq!(status.code, Some(0), "{status}");
    let json = status.json();
    assert_eq!(json["role"], "MASTER", "{status}");
    assert_eq!(json["epoch"], 1, "{status}");
    assert_eq!(json["writable"], true, "{status}");
    assert_eq!(json["brokerId"], 0, "{status}");
    assert_eq!(json["epochs"][0]["epoch"], 1, "{status}");

    let text = run(&["broker", "status", "--broker", b], None);
    assert_eq!(text.code, Some(0), "{text}");
    assert!(text.stdout.contains("MASTER, writable"), "{text}");
    assert!(text.stdout.contains("EPOCH"), "{text}");

    // Not newer than the broker's epoch: refused, exit code 3.
    let stale = run(&["broker", "promote", "-b", b, "--epoch", "1"], None);
    assert_eq!(stale.code, Some(3), "{stale}");
    assert!(
        stale.stderr.contains("CONTROLLER_FENCED_MASTER_EPOCH"),
        "{stale}"
    );

    // Without --epoch: one above the broker's.
    let promoted = run(&["broker", "promote", "-b", b, "-o", "json"], None);
    assert_eq!(promoted.code, Some(0), "{promoted}");
    assert_eq!(promoted.json()["epoch"], 2, "{promoted}");
    assert_eq!(promoted.json()["role"], "MASTER", "{promoted}");

    let itself = run(&["broker", "follow", "-b", b, "--master", b], None);
    assert_eq!(itself.code, Some(3), "{itself}");
    assert!(itself.stderr.contains("cannot follow itself"), "{itself}");

    // `broker` with an action takes no run flags.
    let mixed = run(&["broker", "-c", "x.conf", "status", "-b", b], None);
    assert_eq!(mixed.code, Some(2), "{mixed}");
}
