//! `skylark bench consume`: a push consumer of a fresh group reading a
//! topic from its first message.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, MessageExt, PushConsumer, PushConsumerConfig,
    concurrently_fn,
};

use super::report::{Counters, Latency, Report, new_histogram, record};
use super::{BenchArgs, BenchConsumeArgs, finish, supervise};

/// Hang guard of a `--count` run without `--duration`.
const COUNT_GUARD: Duration = Duration::from_secs(300);

/// Runs the bench.
pub(crate) async fn run(args: BenchConsumeArgs) -> anyhow::Result<Report> {
    let group = args.group.clone().unwrap_or_else(fresh_group);
    let bench = &args.bench;
    let counters = Arc::new(Counters::default());
    let histogram = Arc::new(Mutex::new(new_histogram()));
    let mut consumer = start_consumer(
        bench,
        &group,
        ConsumeFromWhere::ConsumeFromFirstOffset,
        0,
        Arc::clone(&counters),
        Arc::clone(&histogram),
        Stamp::Store,
    )
    .await?;
    let start = Instant::now();
    let count = bench.count;
    supervise(
        "consume",
        &counters,
        bench.limit(Some(COUNT_GUARD)),
        false,
        move |c| count.is_some_and(|n| c.messages.load(std::sync::atomic::Ordering::Relaxed) >= n),
    )
    .await;
    let elapsed = start.elapsed();
    consumer.shutdown().await;
    let histogram = histogram.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(finish(
        "consume",
        &bench.settings(),
        elapsed,
        &counters,
        Latency::of("store to delivery (1 ms precision)", &histogram),
    ))
}

/// A group no one has used: it starts where it is told to.
pub(crate) fn fresh_group() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("skylark-bench-{}-{now}", std::process::id())
}

/// Which of a message's times its latency is measured from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stamp {
    /// When the broker stored it.
    Store,
    /// When the producer made it.
    Born,
}

/// Starts a push consumer of `group` on the bench's topic that counts
/// what it gets and records the latency since `stamp`.
pub(crate) async fn start_consumer(
    bench: &BenchArgs,
    group: &str,
    from: ConsumeFromWhere,
    from_timestamp_ms: i64,
    counters: Arc<Counters>,
    histogram: Arc<Mutex<Histogram<u64>>>,
    stamp: Stamp,
) -> anyhow::Result<PushConsumer> {
    let mut config = PushConsumerConfig::new(group, bench.client.config());
    config.consume_from_where = from;
    if from == ConsumeFromWhere::ConsumeFromTimestamp {
        config.consume_timestamp_ms = from_timestamp_ms;
    }
    // Whole pulled batches per listener call: one lock of the histogram each.
    config.consume_message_batch_max_size = 32;
    let mut consumer = PushConsumer::new(config);
    consumer
        .subscribe(&bench.topic, "*")
        .with_context(|| format!("subscribing to {}", bench.topic))?;
    consumer.register_concurrently(concurrently_fn(move |messages: &[MessageExt], _context| {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut histogram = histogram.lock().unwrap_or_else(PoisonError::into_inner);
        for message in messages {
            let since = match stamp {
                Stamp::Store => message.store_timestamp(),
                Stamp::Born => message.born_timestamp(),
            };
            let ms = u64::try_from(now_ms.saturating_sub(since)).unwrap_or(0);
            record(&mut histogram, Duration::from_millis(ms));
            counters.add(message.body().len() as u64);
        }
        ConsumeConcurrentlyStatus::ConsumeSuccess
    }));
    consumer
        .start()
        .await
        .with_context(|| format!("starting a consumer of {} as {group}", bench.topic))?;
    Ok(consumer)
}
