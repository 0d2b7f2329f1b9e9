//! `skylark completions SHELL`: a completion script for the shell.

use std::io::Write as _;

use anyhow::Context as _;
use clap_complete::Shell;

/// `skylark completions`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Print a shell completion script for skylark on stdout.",
    after_help = "Examples:
  skylark completions bash > /etc/bash_completion.d/skylark
  skylark completions zsh > \"${fpath[1]}/_skylark\"
  skylark completions fish > ~/.config/fish/completions/skylark.fish"
)]
pub(crate) struct CompletionsCommand {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

impl CompletionsCommand {
    /// Writes the script for `command` (the whole `skylark` command tree).
    pub(crate) fn run(self, mut command: clap::Command) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        clap_complete::generate(self.shell, &mut command, "skylark", &mut out);
        out.flush().context("writing the completion script")
    }
}
