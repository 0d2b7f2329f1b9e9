//! `skylark bench produce|consume|e2e`: load generators with a live
//! progress line and a final report (msgs/s, MB/s, latency percentiles).

mod consume;
mod e2e;
mod produce;
mod report;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::client_args::ClientArgs;
use crate::output::Out;
use crate::time_arg::parse_duration;

use self::report::{Counters, Progress, Report};

/// `skylark bench`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Send messages as fast as the broker takes them; report send latency.
    #[command(
        long_about = "Send messages as fast as the broker acknowledges them and report msgs/s, \
                      MB/s and the send round-trip latency (µs precision). Each of --threads \
                      tasks keeps --inflight sends outstanding: --inflight 1 is RocketMQ's \
                      benchmark Producer (one synchronous send per thread); raise it to drive \
                      the broker at full speed from few threads. The topic is created (on \
                      every master) when missing, with --queues queues.",
        after_help = "Examples:
  skylark bench produce --topic Bench --threads 16 --size 1024 --duration 30s
  skylark bench produce --topic Bench --threads 4 --inflight 64 --count 1000000 --json"
    )]
    Produce(BenchArgs),
    /// Consume a topic as a new group from its first message; report rates.
    #[command(
        long_about = "Consume a topic as a fresh consumer group (or --group) from its first \
                      offset with a push consumer and report msgs/s, MB/s and the latency from \
                      each message's store time to its delivery (1 ms precision: the broker \
                      stamps store times in ms). Stops after --count messages or --duration.",
        after_help = "Example:
  skylark bench produce --topic Bench --count 100000
  skylark bench consume --topic Bench --count 100000"
    )]
    Consume(BenchConsumeArgs),
    /// Produce and consume at once; report end-to-end latency.
    #[command(
        long_about = "Send with --threads x --inflight like `bench produce` while a push \
                      consumer of a fresh group reads the topic from its end, and report the \
                      consumed rate and the end-to-end latency (born time to delivery, 1 ms \
                      precision: RocketMQ stamps born times in ms) beside the send latency.",
        after_help = "Example:
  skylark bench e2e --topic Bench --threads 4 --inflight 16 --size 1024 --duration 20s"
    )]
    E2e(BenchArgs),
}

/// What every bench takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The topic (created when missing).
    #[arg(short = 't', long, default_value = "SkylarkBench")]
    pub(crate) topic: String,
    /// Sending tasks (RocketMQ's benchmark: threads).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) threads: u32,
    /// Requests each task keeps in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) inflight: u32,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=4_194_304))]
    pub(crate) size: u32,
    /// Queues of the topic when it is created.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) queues: u32,
    /// How long to run (default 30s); with --count, the most to wait for it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many messages instead (in all, over every task).
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Print the report as one JSON object on the last line.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `bench consume`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchConsumeArgs {
    #[command(flatten)]
    pub(crate) bench: BenchArgs,
    /// The consumer group (default: a new one, so that it starts from the first message).
    #[arg(short = 'g', long)]
    pub(crate) group: Option<String>,
}

/// What the report repeats of the arguments.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The topic.
    pub(crate) topic: String,
    /// Tasks.
    pub(crate) threads: usize,
    /// In flight per task.
    pub(crate) inflight: usize,
    /// Body bytes.
    pub(crate) size: usize,
    /// Queues.
    pub(crate) queues: u32,
}

/// Default length of a bench without --count.
const DEFAULT_DURATION: Duration = Duration::from_secs(30);

impl BenchArgs {
    /// How long the run may last: --duration, else 30 s without --count and
    /// `counting` (a hang guard, or none) with it.
    pub(crate) fn limit(&self, counting: Option<Duration>) -> Option<Duration> {
        match (self.duration, self.count) {
            (Some(d), _) => Some(d),
            (None, None) => Some(DEFAULT_DURATION),
            (None, Some(_)) => counting,
        }
    }

    /// The report's copy of the arguments.
    fn settings(&self) -> Settings {
        Settings {
            topic: self.topic.clone(),
            threads: self.threads as usize,
            inflight: self.inflight as usize,
            size: self.size as usize,
            queues: self.queues,
        }
    }
}

impl BenchCommand {
    /// Runs the bench on a multi-threaded runtime.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let (json, count) = match &self {
            Self::Produce(args) | Self::E2e(args) => (args.json, args.count),
            Self::Consume(args) => (args.bench.json, args.bench.count),
        };
        crate::runtime::init_client_logging();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("skylark-bench")
            .build()
            .context("cannot start the async runtime")?;
        let report = runtime.block_on(async move {
            match self {
                Self::Produce(args) => produce::run(args).await,
                Self::Consume(args) => consume::run(args).await,
                Self::E2e(args) => e2e::run(args).await,
            }
        })?;
        let mut out = Out::new();
        if json {
            out.json_line(&report)?;
        } else {
            out.line(report.text().trim_end())?;
        }
        out.flush()?;
        if let Some(n) = count
            && report.messages < n
        {
            return Err(crate::errors::Incomplete {
                what: format!(
                    "{} of {n} messages before the time ran out",
                    report.messages
                ),
            }
            .into());
        }
        if report.failed > 0 {
            return Err(crate::errors::Incomplete {
                what: format!(
                    "{} of the sends failed (see the report above)",
                    report.failed
                ),
            }
            .into());
        }
        Ok(())
    }
}

/// Watches a running bench: refreshes the progress line every second and
/// sets `stop` when the duration is over, `done` says so, or Ctrl-C is
/// pressed (a `--count` run ends by `done` only).
pub(crate) async fn supervise(
    what: &str,
    counters: &Arc<Counters>,
    duration: Option<Duration>,
    quiet: bool,
    done: impl Fn(&Counters) -> bool,
) {
    let start = Instant::now();
    let mut progress = Progress::start(what, quiet);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut ticks = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut ctrl_c => break,
        }
        ticks += 1;
        if ticks % 10 == 0 {
            progress.tick(counters);
        }
        if counters.stopped() || done(counters) || duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
    }
    counters.stop.store(true, Ordering::Relaxed);
    progress.finish();
}

/// A body of `size` printable bytes (RocketMQ's benchmark fills its body likewise).
pub(crate) fn body(size: usize) -> bytes::Bytes {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..size)
        .map(|i| ALPHABET[(i * 7 + i / 62) % ALPHABET.len()])
        .collect::<Vec<u8>>()
        .into()
}

/// Builds the final report.
pub(crate) fn finish(
    mode: &'static str,
    settings: &Settings,
    elapsed: Duration,
    counters: &Counters,
    latency: report::Latency,
) -> Report {
    Report::new(mode, settings, elapsed.as_secs_f64(), counters, latency)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(args: &[&str]) -> BenchArgs {
        Wrapper::parse_from(std::iter::once("bench").chain(args.iter().copied())).args
    }

    #[test]
    fn duration_and_count_decide_the_limit() {
        let guard = Some(Duration::from_secs(300));
        assert_eq!(parse(&[]).limit(guard), Some(DEFAULT_DURATION));
        assert_eq!(parse(&["--count", "10"]).limit(None), None);
        assert_eq!(parse(&["--count", "10"]).limit(guard), guard);
        let both = parse(&["--count", "10", "--duration", "5s"]);
        assert_eq!(both.limit(guard), Some(Duration::from_secs(5)));
        assert_eq!(
            parse(&["--duration", "2m"]).limit(None),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn bodies_have_the_size_and_are_printable() {
        let body = body(1000);
        assert_eq!(body.len(), 1000);
        assert!(body.iter().all(u8::is_ascii_alphanumeric));
        assert!(super::body(0).is_empty());
    }
}
