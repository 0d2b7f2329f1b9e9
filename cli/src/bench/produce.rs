//! `skylark bench produce`: `--threads` tasks, each keeping `--inflight`
//! sends outstanding, as fast as the broker acknowledges them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use skylark_client::admin::Admin;
use skylark_client::producer::{Producer, ProducerConfig};
use skylark_client::{ClientError, Message, SendStatus};
use skylark_protocol::ResponseCode;
use skylark_protocol::body::TopicConfig;
use tokio::task::JoinHandle;

use super::report::{Counters, Latency, Report, new_histogram, record};
use super::{BenchArgs, finish, supervise};

/// Producer group of the bench.
const GROUP: &str = "skylark-bench-producer";
/// Pause of a sending task after a failed send.
const ERROR_PAUSE: Duration = Duration::from_millis(200);
/// How long a topic just created may take to show in the nameserver's routes.
const ROUTE_WAIT: Duration = Duration::from_secs(30);

/// Runs the bench.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    let admin = args.client.admin()?;
    let queues = ensure_topic(&admin, &args.topic, args.queues).await?;
    let counters = Arc::new(Counters::default());
    let senders = Senders::start(&args, Arc::clone(&counters)).await?;
    let done = Arc::clone(&senders.finished);
    let tasks = senders.tasks.len();
    supervise("produce", &counters, args.limit(None), false, move |_| {
        done.load(Ordering::Relaxed) == tasks
    })
    .await;
    let (elapsed, histogram) = senders.stop().await;
    let mut settings = args.settings();
    settings.queues = queues;
    Ok(finish(
        "produce",
        &settings,
        elapsed,
        &counters,
        Latency::of("send round trip", &histogram),
    ))
}

/// Creates `topic` with `queues` queues on every master when it has no
/// route; returns its write queues.
pub(crate) async fn ensure_topic(admin: &Admin, topic: &str, queues: u32) -> anyhow::Result<u32> {
    let write_queues = |route: &skylark_protocol::body::TopicRouteData| {
        route
            .queue_datas
            .iter()
            .map(|q| u32::try_from(q.write_queue_nums).unwrap_or(0))
            .sum::<u32>()
    };
    match admin.topic_route(topic).await {
        Ok(route) => return Ok(write_queues(&route)),
        Err(e) if e.response_code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("looking up topic {topic}")),
    }
    let mut config = TopicConfig::new(topic);
    let queues_i32 = i32::try_from(queues).unwrap_or(i32::MAX);
    config.read_queue_nums = queues_i32;
    config.write_queue_nums = queues_i32;
    config.perm = 6;
    admin
        .create_topic_in_cluster(None, &config)
        .await
        .with_context(|| format!("creating topic {topic}"))?;
    // The brokers register the new topic with the nameservers; wait for it
    // so that the producer does not fall back to the auto-create route.
    let deadline = Instant::now() + ROUTE_WAIT;
    loop {
        match admin.topic_route(topic).await {
            Ok(route) if write_queues(&route) > 0 => return Ok(write_queues(&route)),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(_) => anyhow::bail!("topic {topic} was created but has no writable queue"),
            Err(e) => {
                return Err(e).with_context(|| format!("topic {topic} created but not routed"));
            }
        }
    }
}

/// The sending tasks of a produce or e2e bench.
pub(crate) struct Senders {
    producer: Producer,
    tasks: Vec<JoinHandle<()>>,
    histograms: Vec<Arc<Mutex<Histogram<u64>>>>,
    finished: Arc<AtomicUsize>,
    started: Instant,
}

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Senders")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Senders {
    /// Starts `threads × inflight` tasks sending `size`-byte bodies to the
    /// topic until `counters.stop` or, with `--count`, until that many sends
    /// were started.
    pub(crate) async fn start(args: &BenchArgs, counters: Arc<Counters>) -> anyhow::Result<Self> {
        let mut config = ProducerConfig::with_client(GROUP, args.client.config());
        config.send_timeout = args.client.timeout;
        // As RocketMQ's benchmark producer: bodies are sent as they are.
        config.compress_over = usize::MAX;
        let producer = Producer::start(config).context("starting the producer")?;
        producer
            .publish_queues(&args.topic)
            .await
            .with_context(|| format!("finding the queues of {}", args.topic))?;
        let body = super::body(args.size as usize);
        let tickets = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let mut histograms = Vec::new();
        for _ in 0..args.threads {
            // One histogram per thread, shared by its in-flight sends.
            let histogram = Arc::new(Mutex::new(new_histogram()));
            histograms.push(Arc::clone(&histogram));
            for _ in 0..args.inflight {
                tasks.push(tokio::spawn(send_loop(SendLoop {
                    producer: producer.clone(),
                    topic: args.topic.clone(),
                    body: body.clone(),
                    count: args.count,
                    tickets: Arc::clone(&tickets),
                    counters: Arc::clone(&counters),
                    histogram: Arc::clone(&histogram),
                    finished: Arc::clone(&finished),
                })));
            }
        }
        Ok(Self {
            producer,
            tasks,
            histograms,
            finished,
            started: Instant::now(),
        })
    }

    /// Waits for every task (the caller set `counters.stop`, or the count is
    /// spent), shuts the producer down; returns the sending time and the
    /// merged latencies.
    pub(crate) async fn stop(self) -> (Duration, Histogram<u64>) {
        for task in self.tasks {
            let _ = task.await;
        }
        let elapsed = self.started.elapsed();
        self.producer.shutdown().await;
        let mut merged = new_histogram();
        for histogram in &self.histograms {
            let histogram = histogram.lock().unwrap_or_else(PoisonError::into_inner);
            // Same bounds everywhere, so adding cannot fail.
            let _ = merged.add(&*histogram);
        }
        (elapsed, merged)
    }
}

/// What one sending task holds.
struct SendLoop {
    producer: Producer,
    topic: String,
    body: bytes::Bytes,
    count: Option<u64>,
    tickets: Arc<AtomicU64>,
    counters: Arc<Counters>,
    histogram: Arc<Mutex<Histogram<u64>>>,
    finished: Arc<AtomicUsize>,
}

/// Sends one message at a time until told to stop. Per message this
/// allocates only what `Producer::send` needs: the `Message` it takes by
/// value (its topic `String`); the body is a shared `Bytes`.
async fn send_loop(task: SendLoop) {
    let size = task.body.len() as u64;
    while !task.counters.stopped() {
        if let Some(n) = task.count {
            if task.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                break;
            }
        }
        let message = Message::new(task.topic.as_str(), task.body.clone());
        let start = Instant::now();
        match task.producer.send(message).await {
            Ok(result) if result.status == SendStatus::SendOk => {
                let elapsed = start.elapsed();
                record(
                    &mut task
                        .histogram
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                    elapsed,
                );
                task.counters.add(size);
            }
            Ok(_) => {
                task.counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                task.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "send failed");
                if matches!(error, ClientError::Shutdown) {
                    break;
                }
                // As RocketMQ's benchmark producer: a failing broker is not hammered.
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    task.finished.fetch_add(1, Ordering::Relaxed);
}
