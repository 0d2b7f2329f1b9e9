//! `skylark`: the command users type.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Skylark: an Apache RocketMQ-compatible message broker.
///
/// Exit codes: 0 success, 1 error, 2 usage error, 3 feature not yet available.
#[derive(Debug, Parser)]
#[command(name = "skylark", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a nameserver and a broker in one process, ready for any RocketMQ client.
    Standalone {
        /// Where the broker keeps its store and config (default: ~/.skylark).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Standalone { data_dir } => {
            let dir = data_dir
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".skylark")))
                .unwrap_or_else(|| PathBuf::from(".skylark"));
            eprintln!(
                "skylark standalone is not yet available: the nameserver and broker are still \
                 being built (data dir would be {})",
                dir.display()
            );
            ExitCode::from(3)
        }
    }
}
