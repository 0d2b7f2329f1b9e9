//! What every server command shares: logging, the async runtime, signals.

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context as _;

/// `$HOME`, or the current directory when it is not set.
pub(crate) fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Logs of client commands: stderr, off unless `RUST_LOG` says otherwise
/// (a failure is reported as one `error:` line; RUST_LOG=debug shows the way there).
pub(crate) fn init_client_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs `main` on a multi-threaded runtime named `name`.
pub(crate) fn block_on<F: Future<Output = anyhow::Result<()>>>(
    name: &str,
    main: F,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(main)
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
pub(crate) fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = term.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
            _ = terminated => tracing::info!(signal = "SIGTERM", "shutting down"),
        }
    })
}

/// Prints the line scripts and tests wait for, on stdout, flushed.
#[allow(clippy::print_stdout)] // the ready line is the command's output
pub(crate) fn announce(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
