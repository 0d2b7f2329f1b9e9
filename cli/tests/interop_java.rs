#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! The proof that unmodified RocketMQ applications work against Skylark:
//! the official Java client (4.9.8 and the 5.x remoting client 5.3.3),
//! through the scenarios of `interop/java` (see its README), against
//! `skylark standalone`, against one restarted after SIGTERM and after
//! SIGKILL, and against a `skylark nameserver` with two `skylark broker`s
//! one of which is killed.
//!
//! Each test is one family of scenarios, run with both clients against
//! servers of its own on free ports; a failure shows the scenario's output
//! and the servers' logs (`RUST_LOG=debug`, or `SKYLARK_TEST_RUST_LOG`).
//! `SKYLARK_INTEROP_CLIENTS=4` (or `5`) runs one client only;
//! `SKYLARK_INTEROP_LOG_DIR=DIR` keeps the logs; `SKYLARK_INTEROP_VERBOSE=1`
//! prints every scenario's output (with `--nocapture`).
//!
//! Needs a JDK 17+ and Maven (Debian: `apt-get install -y
//! openjdk-17-jdk-headless maven`); without them these tests fail, unless
//! `SKYLARK_SKIP_JAVA=1` says to skip them.

#[path = "interop_java/suite.rs"]
mod suite;

use suite::Suite;

/// Runs `scenarios` with every client against one fresh standalone.
fn on_standalone(test: &'static str, scenarios: &[&str]) {
    let Some(mut suite) = Suite::new(test) else {
        return;
    };
    let (_, mut standalone) = suite.standalone("standalone", &[]);
    let namesrv = standalone.addr("namesrvAddr");
    for client in suite.clients() {
        for scenario in scenarios {
            suite.run(client, scenario, &namesrv, &[]);
        }
    }
    suite.finish(&mut [&mut standalone]);
}

#[test]
fn sync_async_oneway_and_batch_sends() {
    on_standalone("sync_async_oneway_and_batch_sends", &["send", "batch"]);
}

#[test]
fn keys_and_tags_arrive_as_sent() {
    on_standalone("keys_and_tags_arrive_as_sent", &["keys-tags"]);
}

#[test]
fn clustering_consumers_share_the_matching_messages() {
    on_standalone(
        "clustering_consumers_share_the_matching_messages",
        &["clustering"],
    );
}

#[test]
fn broadcasting_consumers_each_get_every_message() {
    on_standalone(
        "broadcasting_consumers_each_get_every_message",
        &["broadcasting"],
    );
}

#[test]
fn orderly_consumers_keep_each_order_in_sequence() {
    on_standalone(
        "orderly_consumers_keep_each_order_in_sequence",
        &["orderly"],
    );
}

#[test]
fn lite_pull_consumer_rewinds_by_offset_and_timestamp() {
    on_standalone(
        "lite_pull_consumer_rewinds_by_offset_and_timestamp",
        &["lite-pull"],
    );
}

/// A push consumer answering RECONSUME_LATER gets the message again after
/// delay levels 3 and 4 (10 s, 30 s) with growing reconsume times, then
/// finds it in its group's DLQ; a message sent with delay level 2 arrives
/// no earlier than 5 s later.
#[test]
fn failed_messages_are_retried_then_dead_lettered_and_delays_are_kept() {
    on_standalone(
        "failed_messages_are_retried_then_dead_lettered_and_delays_are_kept",
        &["retry-dlq", "delay-level"],
    );
}

/// RocketMQ 5's timer messages (`setDeliverTimeMs`, `setDelayTimeSec`):
/// each reaches a push consumer once, no earlier than its due time. Run
/// with the 5.3.3 client only: 4.9.8 has no timer API.
#[test]
fn timer_messages_arrive_at_their_deliver_time() {
    let Some(mut suite) = Suite::new("timer_messages_arrive_at_their_deliver_time") else {
        return;
    };
    let (_, mut standalone) = suite.standalone("standalone", &[]);
    let namesrv = standalone.addr("namesrvAddr");
    for client in suite.clients() {
        if client == suite::Client::V5 {
            suite.run(client, "timer", &namesrv, &[]);
        }
    }
    suite.finish(&mut [&mut standalone]);
}

/// `TransactionMQProducer`: committed messages are consumed and
/// rolled-back ones never are; messages whose local transaction answers
/// UNKNOW are committed once the broker's check asks `checkLocalTransaction`
/// (a broker.conf shortens the check so that this takes seconds).
#[test]
fn transactions_commit_roll_back_and_resolve_by_check() {
    let Some(mut suite) = Suite::new("transactions_commit_roll_back_and_resolve_by_check") else {
        return;
    };
    let (_, mut standalone) = suite.standalone(
        "standalone",
        &["transactionCheckInterval=1000", "transactionTimeOut=3000"],
    );
    let namesrv = standalone.addr("namesrvAddr");
    for client in suite.clients() {
        for scenario in ["transaction", "transaction-check"] {
            suite.run(client, scenario, &namesrv, &[]);
        }
    }
    suite.finish(&mut [&mut standalone]);
}

/// SQL92 property filtering (`MessageSelector.bySql`): with
/// `enablePropertyFilter=true` a push consumer gets exactly the messages
/// whose user properties match and a malformed expression fails the
/// consumer's start with the parse error; with it off the start fails with
/// "does not support".
#[test]
fn sql92_selectors_filter_by_message_properties() {
    let Some(mut suite) = Suite::new("sql92_selectors_filter_by_message_properties") else {
        return;
    };
    let (_, mut filtering) = suite.standalone("standalone-sql92", &["enablePropertyFilter=true"]);
    let (_, mut plain) = suite.standalone("standalone", &[]);
    let (with_sql, without) = (filtering.addr("namesrvAddr"), plain.addr("namesrvAddr"));
    for client in suite.clients() {
        suite.run(client, "sql92-filter", &with_sql, &[]);
        suite.run(client, "sql92-unsupported", &without, &[]);
    }
    suite.finish(&mut [&mut filtering, &mut plain]);
}

/// Messages, topics and committed offsets survive SIGTERM and a restart on
/// the same data directory, and `skylark standalone` exits 0 on SIGTERM.
#[test]
fn restart_after_sigterm_keeps_messages_topics_and_offsets() {
    const COUNT: &str = "200";
    let Some(mut suite) = Suite::new("restart_after_sigterm_keeps_messages_topics_and_offsets")
    else {
        return;
    };
    let (command, mut standalone) = suite.standalone("standalone", &[]);
    let namesrv = standalone.addr("namesrvAddr");
    let clients = suite.clients();
    let names = |client: suite::Client| {
        (
            format!("InteropRestart_{}", client.tag()),
            format!("InteropRestartGroup_{}", client.tag()),
        )
    };
    for &client in &clients {
        let (topic, group) = names(client);
        suite.run(client, "restart-before", &namesrv, &[&topic, COUNT, &group]);
    }
    let stopped = standalone.terminate();
    suite.expect(
        matches!(&stopped, Ok(status) if status.success()),
        &format!("skylark standalone exits 0 on SIGTERM: {stopped:?}"),
    );
    drop(standalone);

    let mut standalone = suite.restart(&command);
    for &client in &clients {
        let (topic, group) = names(client);
        suite.run(client, "restart-after", &namesrv, &[&topic, COUNT, &group]);
    }
    suite.finish(&mut [&mut standalone]);
}

/// With `flushDiskType=SYNC_FLUSH`, every acknowledged send survives a
/// SIGKILL that lands while a producer is sending.
#[test]
fn restart_after_sigkill_with_sync_flush_loses_nothing_acknowledged() {
    let Some(mut suite) =
        Suite::new("restart_after_sigkill_with_sync_flush_loses_nothing_acknowledged")
    else {
        return;
    };
    let (command, mut standalone) = suite.standalone("standalone", &["flushDiskType=SYNC_FLUSH"]);
    let namesrv = standalone.addr("namesrvAddr");
    for client in suite.clients() {
        let topic = format!("InteropKill_{}", client.tag());
        let acked = suite.path(&format!("acked-{}.txt", client.tag()));
        let acked = acked.to_str().unwrap();
        let mut killed = false;
        suite.run_with(
            client,
            "produce-until-killed",
            &namesrv,
            &[&topic, "300", acked],
            |line| {
                if line == "KILL standalone" {
                    standalone.kill();
                    killed = true;
                }
            },
        );
        suite.expect(killed, "the producer asked for the kill (KILL standalone)");
        if !killed {
            standalone.kill();
        }
        standalone = suite.restart(&command);
        suite.run(client, "consume-acked", &namesrv, &[&topic, acked]);
    }
    suite.finish(&mut [&mut standalone]);
}

/// One nameserver, two masters of one cluster: sends spread over both and
/// one group gets everything; when one master is SIGKILLed the producer
/// carries on through the other and the consumers rebalance onto it.
#[test]
fn multi_master_spreads_load_and_survives_a_broker_kill() {
    let Some(mut suite) = Suite::new("multi_master_spreads_load_and_survives_a_broker_kill") else {
        return;
    };
    let mut survivors = Vec::new();
    for client in suite.clients() {
        let tag = client.tag();
        let nameserver = suite.nameserver(&format!("nameserver-{tag}"));
        let namesrv = nameserver.addr("listen");
        let cluster = format!("InteropCluster_{tag}");
        let mut victim = suite.broker(&format!("broker-a-{tag}"), "broker-a", &cluster, &namesrv);
        let survivor = suite.broker(&format!("broker-b-{tag}"), "broker-b", &cluster, &namesrv);
        let mut killed = false;
        suite.run_with(client, "multi-master", &namesrv, &["broker-a"], |line| {
            if line == "KILL broker-a" {
                victim.kill();
                killed = true;
            }
        });
        suite.expect(killed, "the scenario asked for the kill (KILL broker-a)");
        survivors.push(nameserver);
        survivors.push(survivor);
    }
    let mut alive: Vec<_> = survivors.iter_mut().collect();
    suite.finish(&mut alive);
}

/// mqadmin's commands through rocketmq-tools' `DefaultMQAdminExt` (4.9.8
/// and 5.3.3): cluster, topic, group and broker-config commands, queries,
/// consume progress and connections, offset resets online and offline, and
/// wiping a broker's write permission (see interop/java/README.md). The
/// standalone starts from a broker.conf, where updateBrokerConfig saves.
#[test]
fn mqadmin_commands_through_default_mq_admin_ext() {
    let Some(mut suite) = Suite::new("mqadmin_commands_through_default_mq_admin_ext") else {
        return;
    };
    let (command, mut standalone) = suite.standalone("standalone", &["shortPollingTimeMills=1000"]);
    let namesrv = standalone.addr("namesrvAddr");
    let mut saved = None;
    for client in suite.clients() {
        let value = match client {
            suite::Client::V4 => "1404",
            suite::Client::V5 => "1505",
        };
        suite.run(client, "admin-topics", &namesrv, &[value]);
        suite.run(client, "admin-consume", &namesrv, &[]);
        saved = Some(value);
    }
    let conf = command
        .conf_file()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    if let Some(value) = saved {
        let line = format!("shortPollingTimeMills={value}");
        suite.expect(
            conf.lines().any(|l| l == line),
            &format!("updateBrokerConfig saved {line} to the broker.conf:\n{conf}"),
        );
    }
    suite.finish(&mut [&mut standalone]);
}
