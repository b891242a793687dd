//! `chatql completions SHELL` and `chatql man DIR`: shell completion scripts and man pages,
//! generated from the same clap definitions the parser uses, so they never drift.

use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::{emit, Cli};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql completions bash > ~/.local/share/bash-completion/completions/chatql
  chatql completions zsh > ~/.zfunc/_chatql
  chatql completions fish > ~/.config/fish/completions/chatql.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  chatql man ~/.local/share/man/man1 && man chatql-report")]
pub struct ManArgs {
    /// Folder to write `chatql.1` and `chatql-COMMAND.1` into (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn completions(a: CompletionsArgs) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "chatql", &mut buf);
    emit(&buf, None)?;
    Ok(())
}

pub fn man(a: ManArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir).map_err(|e| chatql::Error::io(&a.dir, e))?;
    let cmd = Cli::command();
    let mut pages = vec![(String::from("chatql"), cmd.clone())];
    for sub in cmd.get_subcommands() {
        let name = format!("chatql-{}", sub.get_name());
        let title: &'static str = Box::leak(name.clone().into_boxed_str());
        pages.push((name, sub.clone().name(title)));
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut buf)
            .map_err(chatql::Error::Output)?;
        chatql::lake::fs::write_atomic(&a.dir.join(format!("{name}.1")), &buf)?;
    }
    Ok(())
}
