//! Pipelined send load against a running broker: `connections` TCP
//! connections, each with `inflight` SEND_MESSAGE_V2 requests outstanding
//! (one task per outstanding request), as a batching Rust or Go client
//! would keep them; RocketMQ's Java benchmark Producer keeps one per thread.
//!
//! ```sh
//! cargo bench -p skylark-broker --bench pipelined_send -- \
//!     --addr 127.0.0.1:10911 --connections 4 --inflight 64 --size 1024 \
//!     --warmup 5 --duration 30 [--rate 20000] [--pid BROKER_PID]
//! ```
//!
//! Every option can also come from the environment: `--addr` is
//! `SKYLARK_BENCH_ADDR`, `--inflight` is `SKYLARK_BENCH_INFLIGHT`, and so on.
//!
//! - Unlimited mode (no `--rate`): every task sends again as soon as its
//!   answer arrives; the result is the broker's throughput at that depth.
//! - Rate-limited mode (`--rate N`, messages per second overall): a pacer
//!   thread hands out N permits a second, every `--tick-us` (default
//!   1000 µs: at 20,000 msg/s, bursts of 20 sends; 100 µs gives bursts of 2
//!   but costs the generator twice the CPU, which on a 2-core machine is
//!   taken from the broker); a task sends only with a permit. Latency is from the send to its answer; if all tasks are busy
//!   the permits wait, and the achieved rate falls short of N (reported).
//!
//! Each message is `--size` bytes of body with the properties the Java
//! client sends (UNIQ_KEY, WAIT=true), headers in ROCKETMQ (binary)
//! serialization as the Java benchmark sets (`--serialize json` for JSON),
//! round-robin over `--queues` queues of `--topic` (created on first send
//! from TBW102 when it does not exist). Only answers that arrive inside the
//! measured window count; latency is recorded in microseconds.
//!
//! With `--pid`, that process's CPU time (utime + stime, /proc/PID/stat) over
//! the measured window is reported too, as are the generator's own and the
//! whole machine's non-idle time (/proc/stat): what is left after the broker
//! and the generator is other work on the machine.
//!
//! `--slow-us N` also prints the time (since start) and latency of every
//! answer slower than N µs inside the window, the first 5000: to tell
//! periodic stalls (a flush, a file switch) from scattered scheduling delay.
//!
//! Prints a line every 5 s and one `RESULT key=value ...` line at the end
//! (read by scripts/bench-vs-rocketmq). Does nothing unless cargo bench
//! passed `--bench`, so `cargo test --all-targets` does not run it.
//! Figures: broker/BENCHMARKS.md.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use skylark_protocol::headers::send::SendMessageRequestHeaderV2;
use skylark_protocol::message::property::UNIQ_KEY;
use skylark_protocol::message::{Properties, UniqIdGenerator};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use skylark_remoting::{ClientConfig, RemotingClient};
use tokio::sync::Semaphore;

/// Longest wait for one answer; a broker slower than this is stalled.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Period of the progress lines.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Highest latency the histogram holds, µs (larger values are clamped).
const MAX_LATENCY_US: u64 = 60_000_000;

/// What to run.
#[derive(Debug, Clone)]
struct Options {
    addr: String,
    connections: usize,
    inflight: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
    /// Messages per second overall; 0 means as fast as answers come.
    rate: u64,
    topic: String,
    queues: i32,
    serialize: SerializeType,
    /// Worker threads of the generator's runtime (1: current-thread).
    threads: usize,
    /// Process whose CPU time is measured (the broker), if any.
    pid: Option<u32>,
    /// Print answers slower than this, µs (0: none).
    slow_us: u64,
    /// Pacer period in rate-limited mode.
    tick: Duration,
}

impl Options {
    /// From `--name value` arguments, then `SKYLARK_BENCH_NAME`, then defaults.
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let get = |name: &str| -> Option<String> {
            let flag = format!("--{name}");
            args.iter()
                .position(|a| *a == flag)
                .and_then(|i| args.get(i + 1).cloned())
                .or_else(|| {
                    let var = format!("SKYLARK_BENCH_{}", name.to_uppercase());
                    std::env::var(var).ok()
                })
        };
        fn num<T: std::str::FromStr>(
            name: &str,
            value: Option<String>,
            default: T,
        ) -> anyhow::Result<T> {
            match value {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--{name}: not a number: {v:?}")),
            }
        }
        let serialize = match get("serialize").as_deref() {
            None | Some("rocketmq") => SerializeType::RocketMq,
            Some("json") => SerializeType::Json,
            Some(other) => bail!("--serialize: rocketmq or json, not {other:?}"),
        };
        let options = Self {
            addr: get("addr").unwrap_or_else(|| "127.0.0.1:10911".into()),
            connections: num("connections", get("connections"), 4)?,
            inflight: num("inflight", get("inflight"), 64)?,
            size: num("size", get("size"), 1024)?,
            warmup: Duration::from_secs_f64(num("warmup", get("warmup"), 5.0)?),
            duration: Duration::from_secs_f64(num("duration", get("duration"), 30.0)?),
            rate: num("rate", get("rate"), 0)?,
            topic: get("topic").unwrap_or_else(|| "PipelinedBench".into()),
            queues: num("queues", get("queues"), 4)?,
            serialize,
            threads: num("threads", get("threads"), 1)?,
            pid: get("pid").map(|p| p.parse()).transpose().context("--pid")?,
            slow_us: num("slow-us", get("slow-us"), 0)?,
            tick: Duration::from_micros(num("tick-us", get("tick-us"), 1000u64)?.max(1)),
        };
        if options.connections == 0 || options.inflight == 0 || options.queues <= 0 {
            bail!("--connections, --inflight and --queues must be positive");
        }
        Ok(options)
    }
}

/// The measured window, and the counters every task adds to.
#[derive(Debug)]
struct Shared {
    measure_start: Instant,
    measure_end: Instant,
    /// Answers received so far (any time), for the progress lines.
    answered: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
    /// Failures by kind ("code 2: remark", "timeout"...), first few kept.
    failures: Mutex<BTreeMap<String, u64>>,
    ids: UniqIdGenerator,
    start: Instant,
    /// Slow answers printed so far (`--slow-us`).
    slow_printed: AtomicU64,
}

impl Shared {
    fn note_failure(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut failures) = self.failures.lock()
            && (failures.len() < 20 || failures.contains_key(&what))
        {
            *failures.entry(what).or_default() += 1;
        }
    }
}

/// One task's share of the result.
struct Tally {
    latency_us: Histogram<u64>,
    sent: u64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "pipelined_send: run with `cargo bench -p skylark-broker --bench pipelined_send -- --addr HOST:PORT`"
        );
        return Ok(());
    }
    let options = Options::parse(&args)?;
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(options.threads);
        builder
    }
    .enable_all()
    .build()
    .context("cannot start the runtime")?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> anyhow::Result<()> {
    let clients: Vec<RemotingClient> = (0..options.connections)
        .map(|_| RemotingClient::new(ClientConfig::default()))
        .collect();
    for client in &clients {
        client
            .connection(&options.addr)
            .await
            .with_context(|| format!("cannot connect to {}", options.addr))?;
    }
    let body = Bytes::from(vec![b'x'; options.size]);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        measure_start: start + options.warmup,
        measure_end: start + options.warmup + options.duration,
        answered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failures: Mutex::default(),
        ids: UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        start,
        slow_printed: AtomicU64::new(0),
    });
    let permits = (options.rate > 0).then(|| Arc::new(Semaphore::new(0)));

    let mut workers = Vec::with_capacity(options.connections * options.inflight);
    for (c, client) in clients.iter().enumerate() {
        for i in 0..options.inflight {
            let queue = i32::try_from((c * options.inflight + i) % options.queues as usize)
                .context("queue id")?;
            workers.push(tokio::spawn(worker(
                client.clone(),
                options.clone(),
                shared.clone(),
                permits.clone(),
                body.clone(),
                queue,
            )));
        }
    }
    let pacer = permits.clone().map(|permits| {
        let (rate, tick, end) = (options.rate, options.tick, shared.measure_end);
        std::thread::spawn(move || pace(&permits, rate, tick, start, end))
    });

    let windows = report(&shared, start, options.pid).await;
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(permits) = &permits {
        // Wakes the tasks waiting for a permit, which then stop.
        permits.close();
    }
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)?;
    let mut sent = 0;
    for worker in workers {
        let tally = worker.await.context("a send task panicked")??;
        latency_us.add(&tally.latency_us)?;
        sent += tally.sent;
    }
    if let Some(pacer) = pacer {
        pacer
            .join()
            .map_err(|_| anyhow::anyhow!("the pacer panicked"))?;
    }
    for client in &clients {
        client.shutdown();
    }

    let seconds = options.duration.as_secs_f64();
    let failed = shared.failed.load(Ordering::Relaxed);
    if let Ok(failures) = shared.failures.lock() {
        for (what, count) in failures.iter() {
            println!("failure x{count}: {what}");
        }
    }
    let cpu = |ticks: Option<u64>| ticks.map_or(-1, |t| i64::try_from(t).unwrap_or(-1));
    println!(
        "RESULT mode={} connections={} inflight={} size={} rate={} seconds={:.3} sent={} failed={} \
         tps={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={} mean_us={:.0} \
         cpu_ticks={} gen_cpu_ticks={} machine_busy_ticks={}",
        if options.rate > 0 {
            "rate"
        } else {
            "unlimited"
        },
        options.connections,
        options.inflight,
        options.size,
        options.rate,
        seconds,
        sent,
        failed,
        sent as f64 / seconds,
        latency_us.value_at_quantile(0.50),
        latency_us.value_at_quantile(0.90),
        latency_us.value_at_quantile(0.99),
        latency_us.value_at_quantile(0.999),
        latency_us.max(),
        latency_us.mean(),
        cpu(windows.broker_ticks),
        cpu(windows.own_ticks),
        cpu(windows.machine_ticks),
    );
    Ok(())
}

/// Sends until told to stop: with a permit each time in rate-limited mode.
async fn worker(
    client: RemotingClient,
    options: Options,
    shared: Arc<Shared>,
    permits: Option<Arc<Semaphore>>,
    body: Bytes,
    queue_id: i32,
) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
        sent: 0,
    };
    let mut properties = Properties::new();
    properties.insert("WAIT", "true");
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(permits) = &permits {
            match permits.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => break,
            }
        }
        properties.insert(UNIQ_KEY, shared.ids.next_id());
        let header = SendMessageRequestHeaderV2 {
            producer_group: "pipelined_bench".into(),
            topic: options.topic.clone(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: options.queues,
            queue_id,
            sys_flag: 0,
            born_timestamp: now_ms(),
            flag: 0,
            properties: Some(properties.to_property_string()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(false),
            broker_name: None,
        };
        let mut request =
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2, &header).with_body(body.clone());
        request.serialize_type = options.serialize;

        let sent_at = Instant::now();
        let outcome = client.invoke(&options.addr, request, REQUEST_TIMEOUT).await;
        let answered_at = Instant::now();
        shared.answered.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(response) if response.response_code() == ResponseCode::SUCCESS => {
                if answered_at >= shared.measure_start && answered_at < shared.measure_end {
                    tally.sent += 1;
                    let micros =
                        u64::try_from((answered_at - sent_at).as_micros()).unwrap_or(u64::MAX);
                    tally
                        .latency_us
                        .saturating_record(micros.clamp(1, MAX_LATENCY_US));
                    if options.slow_us > 0
                        && micros >= options.slow_us
                        && shared.slow_printed.fetch_add(1, Ordering::Relaxed) < 5000
                    {
                        println!(
                            "slow t={:.3}s latency_us={micros} queue={queue_id}",
                            (sent_at - shared.start).as_secs_f64()
                        );
                    }
                }
            }
            Ok(response) => shared.note_failure(format!(
                "response code {}: {}",
                response.code,
                response.remark.as_deref().unwrap_or("")
            )),
            Err(error) => {
                shared.note_failure(error.to_string());
                // A broken connection fails every task at once; do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(tally)
}

/// Adds `rate` permits a second, every `tick`, from `start` until `end`.
/// A thread of its own: `thread::sleep` has microsecond resolution where
/// tokio's timer has milliseconds.
fn pace(permits: &Semaphore, rate: u64, tick: Duration, start: Instant, end: Instant) {
    let mut issued: u64 = 0;
    let mut next = start;
    loop {
        // An absolute schedule: after a late wake-up the next tick catches
        // up (the permits due meanwhile are released together).
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        let now = Instant::now();
        if now >= end || permits.is_closed() {
            return;
        }
        let due = ((now - start).as_secs_f64() * rate as f64) as u64;
        if due > issued {
            let add = usize::try_from(due - issued).unwrap_or(usize::MAX);
            permits.add_permits(add.min(Semaphore::MAX_PERMITS - permits.available_permits()));
            issued = due;
        }
    }
}

/// CPU time over the measured window.
struct Windows {
    broker_ticks: Option<u64>,
    own_ticks: Option<u64>,
    machine_ticks: Option<u64>,
}

/// Prints the answer rate every [`REPORT_EVERY`] until the window ends, and
/// reads CPU times at its start and end.
async fn report(shared: &Shared, start: Instant, pid: Option<u32>) -> Windows {
    let mut last = (Instant::now(), 0u64);
    let mut at_start = None;
    loop {
        let now = Instant::now();
        if at_start.is_none() && now >= shared.measure_start {
            at_start = Some((
                pid.and_then(cpu_ticks),
                cpu_ticks_self(),
                machine_busy_ticks(),
            ));
        }
        if now >= shared.measure_end {
            let (broker0, own0, machine0) = at_start.unwrap_or((None, None, None));
            let delta = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| b.saturating_sub(a));
            return Windows {
                broker_ticks: delta(broker0, pid.and_then(cpu_ticks)),
                own_ticks: delta(own0, cpu_ticks_self()),
                machine_ticks: delta(machine0, machine_busy_ticks()),
            };
        }
        let next = [
            shared.measure_start,
            shared.measure_end,
            last.0 + REPORT_EVERY,
        ]
        .into_iter()
        .filter(|t| *t > now)
        .min()
        .unwrap_or(now);
        tokio::time::sleep_until(next.into()).await;
        let now = Instant::now();
        if now >= last.0 + REPORT_EVERY {
            let answered = shared.answered.load(Ordering::Relaxed);
            let phase = if now <= shared.measure_start {
                "warm-up"
            } else {
                "measure"
            };
            println!(
                "{:>6.1}s {phase} answers/s: {:.0} failed: {}",
                (now - start).as_secs_f64(),
                (answered - last.1) as f64 / (now - last.0).as_secs_f64(),
                shared.failed.load(Ordering::Relaxed),
            );
            last = (now, answered);
        }
    }
}

/// utime + stime of `pid` (all threads), clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn cpu_ticks_self() -> Option<u64> {
    parse_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Fields 14 and 15 of a /proc stat line, counted after the command name
/// (which may hold spaces and parentheses).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Non-idle time of all CPUs (user, nice, system, irq, softirq, steal), clock ticks.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum(),
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
