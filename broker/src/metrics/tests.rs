use super::*;

/// The sample line `name{labels} value` of `text`, if any.
fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn render_has_traffic_after_recording() {
    let metrics = BrokerMetrics::new();
    metrics.record_put("TopicA", 3, 300);
    metrics.record_put("TopicA", 1, 50);
    metrics.record_put("TopicB", 1, 10);
    metrics.record_pull("TopicA", "GroupX", 2, 200);
    metrics.record_pull("TopicA", "GroupX", 1, 20);
    metrics.record_pull("TopicA", "GroupY", 5, 500);
    let text = metrics.render(&ScrapeValues::default());

    assert!(
        text.contains("# TYPE skylark_messages_in_total counter"),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"skylark_messages_in_total{topic="TopicA"}"#),
        Some("4")
    );
    assert_eq!(
        sample(&text, r#"skylark_bytes_in_total{topic="TopicA"}"#),
        Some("350")
    );
    assert_eq!(
        sample(&text, r#"skylark_messages_in_total{topic="TopicB"}"#),
        Some("1")
    );
    assert!(
        text.contains("# TYPE skylark_messages_out_total counter"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"skylark_messages_out_total{group="GroupX",topic="TopicA"}"#
        ),
        Some("3")
    );
    assert_eq!(
        sample(
            &text,
            r#"skylark_bytes_out_total{group="GroupX",topic="TopicA"}"#
        ),
        Some("220")
    );
    assert_eq!(
        sample(
            &text,
            r#"skylark_messages_out_total{group="GroupY",topic="TopicA"}"#
        ),
        Some("5")
    );
    // Pulled topics need no send to appear, and sent ones have no pull series.
    assert!(!text.contains(r#"skylark_messages_out_total{group="GroupX",topic="TopicB"}"#));
}

#[test]
fn label_values_that_concatenate_alike_stay_apart() {
    let metrics = BrokerMetrics::new();
    metrics.record_pull("ab", "c", 1, 1);
    metrics.record_pull("a", "bc", 10, 10);
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, r#"skylark_messages_out_total{group="c",topic="ab"}"#),
        Some("1")
    );
    assert_eq!(
        sample(&text, r#"skylark_messages_out_total{group="bc",topic="a"}"#),
        Some("10")
    );
}

#[test]
fn label_values_are_escaped() {
    let metrics = BrokerMetrics::new();
    metrics.record_put("quote\"back\\slash", 1, 1);
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(
            &text,
            r#"skylark_messages_in_total{topic="quote\"back\\slash"}"#
        ),
        Some("1"),
        "{text}"
    );
}

#[test]
fn render_has_the_send_latency_histogram() {
    let metrics = BrokerMetrics::new();
    metrics.observe_put(Duration::from_micros(30));
    metrics.observe_put(Duration::from_millis(3));
    metrics.observe_put(Duration::from_secs(9));
    let text = metrics.render(&ScrapeValues::default());
    let name = "skylark_send_store_latency_seconds";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    assert_eq!(
        sample(&text, &format!(r#"{name}_bucket{{le="0.00005"}}"#)),
        Some("1")
    );
    assert_eq!(
        sample(&text, &format!(r#"{name}_bucket{{le="0.0025"}}"#)),
        Some("1")
    );
    assert_eq!(
        sample(&text, &format!(r#"{name}_bucket{{le="0.005"}}"#)),
        Some("2")
    );
    assert_eq!(
        sample(&text, &format!(r#"{name}_bucket{{le="5"}}"#)),
        Some("2")
    );
    assert_eq!(
        sample(&text, &format!(r#"{name}_bucket{{le="+Inf"}}"#)),
        Some("3")
    );
    assert_eq!(sample(&text, &format!("{name}_count")), Some("3"));
}

#[test]
fn render_counts_send_responses_by_code() {
    let metrics = BrokerMetrics::new();
    metrics.record_send_response(0);
    metrics.record_send_response(0);
    metrics.record_send_response(-1);
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, r#"skylark_send_responses_total{code="0"}"#),
        Some("2")
    );
    assert_eq!(
        sample(&text, r#"skylark_send_responses_total{code="-1"}"#),
        Some("1")
    );
}

#[test]
fn render_sets_the_scrape_time_values() {
    let metrics = BrokerMetrics::new();
    let mut values = ScrapeValues {
        pulls_suspended: 7,
        long_poll_wakeups: 5,
        connections: 3,
        disk_used_ratio: Some(0.42),
        disk_full: true,
        commit_log_max_offset: 123_456,
        dispatch_behind_bytes: 789,
    };
    let text = metrics.render(&values);
    assert_eq!(sample(&text, "skylark_pulls_suspended"), Some("7"));
    assert!(
        text.contains("# TYPE skylark_long_poll_wakeups_total counter"),
        "{text}"
    );
    assert_eq!(sample(&text, "skylark_long_poll_wakeups_total"), Some("5"));
    assert_eq!(sample(&text, "skylark_connections"), Some("3"));
    assert_eq!(sample(&text, "skylark_disk_used_ratio"), Some("0.42"));
    assert_eq!(sample(&text, "skylark_disk_full"), Some("1"));
    assert_eq!(
        sample(&text, "skylark_commitlog_max_offset"),
        Some("123456")
    );
    assert_eq!(sample(&text, "skylark_dispatch_behind_bytes"), Some("789"));

    // The next scrape reports the source's new totals, not a sum of scrapes.
    values.long_poll_wakeups = 8;
    values.pulls_suspended = 0;
    values.disk_used_ratio = None;
    let text = metrics.render(&values);
    assert_eq!(sample(&text, "skylark_long_poll_wakeups_total"), Some("8"));
    assert_eq!(sample(&text, "skylark_pulls_suspended"), Some("0"));
    assert_eq!(sample(&text, "skylark_disk_used_ratio"), Some("NaN"));
}

#[test]
fn render_counts_retries_dead_letters_and_pending_delays() {
    let metrics = BrokerMetrics::new();
    metrics.record_retry("G1");
    metrics.record_retry("G1");
    metrics.record_dlq("G1");
    metrics.record_dlq("G2");
    metrics.set_schedule_pending(&[(1, 4), (2, 0)]);
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, r#"skylark_retry_messages_total{group="G1"}"#),
        Some("2")
    );
    assert_eq!(
        sample(&text, r#"skylark_dlq_messages_total{group="G1"}"#),
        Some("1")
    );
    assert_eq!(
        sample(&text, r#"skylark_dlq_messages_total{group="G2"}"#),
        Some("1")
    );
    assert_eq!(
        sample(&text, r#"skylark_schedule_pending{level="1"}"#),
        Some("4")
    );
    assert_eq!(
        sample(&text, r#"skylark_schedule_pending{level="2"}"#),
        Some("0")
    );
    metrics.set_schedule_pending(&[(1, 0)]);
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, r#"skylark_schedule_pending{level="1"}"#),
        Some("0")
    );
}

#[test]
fn transaction_metrics_follow_halves_and_checks() {
    let metrics = BrokerMetrics::new();
    metrics.transaction_half_stored();
    metrics.transaction_half_stored();
    metrics.transaction_half_resolved();
    metrics.record_transaction_check();
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, "skylark_transaction_halves_pending"),
        Some("1")
    );
    assert_eq!(sample(&text, "skylark_transaction_checks_total"), Some("1"));
    metrics.set_transaction_halves_pending(0);
    metrics.transaction_half_resolved();
    let text = metrics.render(&ScrapeValues::default());
    assert_eq!(
        sample(&text, "skylark_transaction_halves_pending"),
        Some("0")
    );
}

#[test]
fn scrape_values_are_read_from_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::BrokerConfig {
        store: skylark_store::config::MessageStoreConfig::with_root(dir.path()),
        ..crate::BrokerConfig::default()
    };
    let broker = Broker::open(config).unwrap();
    let stats = [Arc::new(ServerStats::default())];
    let values = ScrapeValues::read(&broker, &stats);
    assert_eq!(values.connections, 0);
    assert_eq!(values.pulls_suspended, 0);
    assert_eq!(
        values.commit_log_max_offset,
        broker.store.commit_log_max_offset()
    );
    assert!(!values.disk_full);
    let ratio = values.disk_used_ratio.unwrap();
    assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");

    let guard = broker.pull_holds.suspend();
    broker.pull_holds.count_wakeup();
    let values = ScrapeValues::read(&broker, &stats);
    assert_eq!((values.pulls_suspended, values.long_poll_wakeups), (1, 1));
    drop(guard);
    broker.store.shutdown();
}
