//! `skylark bench e2e`: sends as `bench produce` does while a push consumer
//! of a fresh group reads the topic; reports the end-to-end latency.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use skylark_client::consumer::ConsumeFromWhere;

use super::consume::{Stamp, fresh_group, start_consumer};
use super::produce::{Senders, ensure_topic};
use super::report::{Counters, Latency, Report, new_histogram};
use super::{BenchArgs, finish, supervise};

/// How long the consumer may take to catch up once sending stops.
const DRAIN: Duration = Duration::from_secs(30);
/// Hang guard of a `--count` run without `--duration`.
const COUNT_GUARD: Duration = Duration::from_secs(300);

/// Runs the bench.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    let admin = args.client.admin()?;
    let queues = ensure_topic(&admin, &args.topic, args.queues).await?;
    let received = Arc::new(Counters::default());
    let histogram = Arc::new(Mutex::new(new_histogram()));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // From now: whatever the topic held before is not part of this run.
    let mut consumer = start_consumer(
        &args,
        &fresh_group(),
        ConsumeFromWhere::ConsumeFromTimestamp,
        now_ms,
        Arc::clone(&received),
        Arc::clone(&histogram),
        Stamp::Born,
    )
    .await?;
    let sent = Arc::new(Counters::default());
    let senders = Senders::start(&args, Arc::clone(&sent)).await?;
    let start = Instant::now();
    let count = args.count;
    let watched = Arc::clone(&received);
    supervise(
        "e2e",
        &sent,
        args.limit(Some(COUNT_GUARD)),
        false,
        move |_| count.is_some_and(|n| watched.messages.load(Ordering::Relaxed) >= n),
    )
    .await;
    let (_, send_histogram) = senders.stop().await;
    // Let the consumer catch up with what was acknowledged.
    let acknowledged = sent.messages.load(Ordering::Relaxed);
    let drain_until = Instant::now() + DRAIN;
    while received.messages.load(Ordering::Relaxed) < acknowledged && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    consumer.shutdown().await;
    received
        .failed
        .store(sent.failed.load(Ordering::Relaxed), Ordering::Relaxed);
    let mut settings = args.settings();
    settings.queues = queues;
    let histogram = histogram.lock().unwrap_or_else(PoisonError::into_inner);
    let mut report = finish(
        "e2e",
        &settings,
        elapsed,
        &received,
        Latency::of("born to delivery (1 ms precision)", &histogram),
    );
    report.send_latency = Some(Latency::of("send round trip", &send_histogram));
    Ok(report)
}
