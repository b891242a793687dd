//! Command-line arguments: one file per command, each with its clap `Args` and the
//! translation into the library's options; flags shared by several commands live here.
//! clap types stay in the binary; the library's own enums derive `clap::ValueEnum`.
//!
//! Exit codes are [`chatql::Error::exit_code`], a contract documented in the README.

mod cluster;
mod completions;
pub(crate) mod convert;
pub(crate) mod export;
pub(crate) mod inspect;
mod interrupt;
mod lake;
mod progress;
pub(crate) mod report;
mod schema;
mod serve;
mod shell;
pub(crate) mod sql;
pub(crate) mod topics;

use std::path::Path;

use anyhow::Result;
use chatql::model::Zone;
use clap::{Parser, Subcommand};

/// chatql: SQL, reports and Parquet from UIUC.chat / Illinois Chat exports.
#[derive(Debug, Parser)]
#[command(name = "chatql", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert exports (.jsonl, .json, .csv, .zip, .gz, .zst, folders, globs) into a Parquet lake.
    Convert(convert::ConvertArgs),
    /// Run SQL over exports or a converted folder; with no query on a terminal, open a shell.
    Sql(sql::SqlArgs),
    /// Usage reports (overview, activity, users, ...) in the terminal, Markdown, JSON, CSV or HTML.
    Report(report::ReportArgs),
    /// Export conversations (OpenAI, ShareGPT, KTO, DPO, annotation samples, UIUC formats) or
    /// documents (UIUC format).
    Export(export::ExportArgs),
    /// What students ask about: topics of the questions, with a map (offline).
    Topics(topics::TopicsArgs),
    /// Read and search every conversation in a local web app (http://127.0.0.1:8001/).
    Serve(serve::ServeArgs),
    /// Show what input files hold: kinds, eras, keys at each level, type conflicts, rejects.
    Inspect(inspect::InspectArgs),
    /// List a lake's versions: when, what each run read and added, and the files.
    History(lake::HistoryArgs),
    /// Rewrite each partition's many small files (one per append) into one file per table,
    /// as a new version with the same rows.
    Compact(lake::CompactArgs),
    /// Delete the files of a lake that no version needs any more (after a retention period).
    Vacuum(lake::VacuumArgs),
    /// Make a lake written by chatql before 0.2 (manifest.json) a Delta lake, in place.
    Upgrade(lake::UpgradeArgs),
    /// Print the tables and their columns.
    Schema(schema::SchemaArgs),
    /// Run a Ballista scheduler or executor, for `sql` and `report` with --remote.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write the man pages (chatql.1 and one per command) into a folder.
    Man(completions::ManArgs),
}

impl Cli {
    /// Worker threads the command asks for (`--threads`), for the runtime `main` builds.
    pub fn threads(&self) -> usize {
        let asked = match &self.command {
            Command::Sql(a) => a.threads,
            Command::Report(a) => a.threads,
            _ => None,
        };
        asked.unwrap_or_else(|| chatql::ingest::IngestOptions::default().threads)
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Convert(a) => convert::run(a).await,
        Command::Sql(a) => sql::run(a).await,
        Command::Report(a) => report::run(a).await,
        Command::Export(a) => export::run(a).await,
        Command::Topics(a) => topics::run(a).await,
        Command::Inspect(a) => inspect::run(a).await,
        Command::Serve(a) => serve::run(a).await,
        Command::Schema(a) => schema::run(a),
        Command::History(a) => lake::history(a),
        Command::Compact(a) => lake::compact(a),
        Command::Vacuum(a) => lake::vacuum(a),
        Command::Upgrade(a) => lake::upgrade(a),
        Command::Cluster(c) => cluster::run(c).await,
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}

/// Runs a parsed command to its end, as a process does: Ctrl-C and SIGTERM remove staging
/// and exit 130, the runtime has `--threads` workers, an error is printed and becomes the
/// exit code. The binary's `main` and the Python package's console command both end here.
pub fn execute(cli: Cli) -> u8 {
    interrupt::install();
    // Deep query plans recurse deeply when planned (a Ballista scheduler plans reports'
    // joins of views): workers get 16 MiB stacks rather than 2.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads().max(1))
        .thread_stack_size(16 << 20)
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match outcome {
        Ok(()) => 0,
        // A closed pipe (`chatql ... | head`) is not a failure, whatever wrote to it.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("chatql: {e}");
            exit_code(&e)
        }
    }
}

/// The exit code of an error: the library's table, 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.downcast_ref::<chatql::Error>()
        .map_or(1, chatql::Error::exit_code)
}

/// Whether an error is a write to a closed pipe, anywhere in its chain: the library's
/// output errors, a plain I/O error, or one inside a JSON serializer.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<chatql::Error>()
            .is_some_and(chatql::Error::is_broken_pipe)
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}

/// `--redact-emails` and its key, shared by convert, report and export.
#[derive(Debug, clap::Args)]
struct RedactArgs {
    /// Replace emails in the output with stable keyed pseudonyms.
    #[arg(long)]
    redact_emails: bool,
    /// Key of the pseudonyms.
    #[arg(
        long,
        value_name = "KEY",
        env = "CHATQL_REDACT_KEY",
        hide_env_values = true
    )]
    redact_key: Option<String>,
}

impl RedactArgs {
    /// The pseudonym key when `--redact-emails` is given.
    fn key(&self) -> Result<Option<String>, chatql::Error> {
        if !self.redact_emails {
            return Ok(None);
        }
        match self.redact_key.clone().filter(|k| !k.is_empty()) {
            Some(k) => Ok(Some(k)),
            None => Err(chatql::Error::Usage(
                "--redact-emails needs a key: --redact-key KEY or CHATQL_REDACT_KEY".into(),
            )),
        }
    }
}

/// A `--since`/`--until` date: YYYY-MM-DD or an ISO time. Without an offset it is a
/// wall-clock time, read in the zone of `--tz` (UTC by default).
#[derive(Debug, Clone, Copy)]
struct DateArg {
    us: i64,
    wall_clock: bool,
}

impl DateArg {
    /// The instant, in microseconds since the epoch.
    fn at(self, tz: Zone) -> i64 {
        if self.wall_clock {
            tz.from_local(self.us)
        } else {
            self.us
        }
    }
}

fn parse_date(s: &str) -> Result<DateArg, String> {
    let us = chatql::model::parse_timestamp(s.trim())
        .ok_or_else(|| format!("bad date {s:?}: use YYYY-MM-DD or an ISO time"))?;
    Ok(DateArg {
        us,
        wall_clock: !chatql::model::has_offset(s),
    })
}

/// `--tz` (or `CHATQL_TZ`): the zone of buckets, printed times and dates without offset.
#[derive(Debug, clap::Args)]
struct TzArgs {
    /// Time zone of every hour/day/week/month bucket, printed time and --since/--until
    /// date: an IANA name such as America/Chicago (default: UTC).
    #[arg(long, value_name = "ZONE", env = "CHATQL_TZ", default_value = "UTC", value_parser = Zone::parse)]
    tz: Zone,
}

/// `--as-of`: which version of a lake to read (`sql`, `report`, `export`).
#[derive(Debug, Clone, clap::Args)]
struct AsOfArgs {
    /// Read the lake as it was at this version (see `chatql history`) or time
    /// (2026-03-01T12:00:00Z, or a date: midnight UTC).
    #[arg(long, value_name = "VERSION|TIME", value_parser = |s: &str| s.parse::<chatql::lake::AsOf>())]
    as_of: Option<chatql::lake::AsOf>,
}

/// How raw exports are read (`convert`, `sql`, `report`, `export`, `topics`).
#[derive(Debug, Clone, clap::Args)]
struct ReadArgs {
    /// Longest record read from a raw export (one JSON line, or a whole JSON document): a
    /// longer one becomes a reject with its line, byte offset and size, is skipped without
    /// being held in memory, and reading goes on (e.g. 64M, 2G).
    /// At most 1G: one column of a batch must stay within Arrow's 2 GiB of offsets.
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_record_size)]
    max_record_size: usize,
    /// Print nothing but results and errors: no progress bar (none is drawn when stderr is
    /// not a terminal anyway), and `convert` prints no summary.
    #[arg(short, long)]
    pub(super) quiet: bool,
}

impl ReadArgs {
    /// Ingest settings with `threads` decoder threads (default: all cores).
    fn ingest(&self, threads: Option<usize>) -> chatql::ingest::IngestOptions {
        let default = chatql::ingest::IngestOptions::default();
        chatql::ingest::IngestOptions {
            threads: threads.unwrap_or(default.threads),
            max_record_bytes: self.max_record_size,
            ..default
        }
    }
}

/// `--max-record-size`: a size up to [`chatql::table::columns::MAX_RECORD_BYTES`].
fn parse_record_size(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n > chatql::table::columns::MAX_RECORD_BYTES {
        return Err(format!(
            "{s} is past the largest record chatql reads (1G): one batch's text must fit \
             Arrow's 2 GiB string offsets"
        ));
    }
    Ok(n)
}

/// Parses a size like `512M`, `2G`, `1.5GiB` or `1000000` into bytes.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad size {s:?}: expected e.g. 512M or 2G"))?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024f64.powi(4),
        _ => return Err(format!("bad size unit in {s:?}: use K, M, G or T")),
    };
    Ok((n * mult) as usize)
}

/// Whether an argument names something on disk (a path, or a glob with matches).
fn is_input(arg: &str) -> bool {
    Path::new(arg).exists()
        || (arg.contains(['*', '?']) && glob::glob(arg).is_ok_and(|mut g| g.next().is_some()))
}

/// Width of the terminal on stdout, from `COLUMNS` or the terminal itself.
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| comfy_table::Table::new().width())
}

/// Writes `text` to stdout, or atomically to `path` (`-` is stdout too).
fn emit(text: &[u8], path: Option<&Path>) -> Result<(), chatql::Error> {
    use std::io::Write;
    match path.filter(|p| !chatql::export::is_stdout(p)) {
        Some(p) => chatql::lake::fs::write_atomic(p, text),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text).map_err(chatql::Error::Output)?;
            out.flush().map_err(chatql::Error::Output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn convert_needs_inputs_and_output() {
        assert!(Cli::try_parse_from(["chatql", "convert", "-o", "x"]).is_err());
        assert!(Cli::try_parse_from(["chatql", "convert", "a.jsonl"]).is_err());
        let ok = Cli::try_parse_from([
            "chatql", "convert", "a.jsonl", "b.zip", "-o", "x", "--strict",
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn typed_flags_parse_or_fail_at_parse_time() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        assert!(parse("chatql convert a -o x --partition-by month,course").is_ok());
        assert!(parse("chatql convert a -o x --partition-by year").is_err());
        assert!(parse("chatql convert a -o x --partition-by month,month").is_err());
        assert!(parse("chatql sql --memory-limit 2G x").is_ok());
        assert!(parse("chatql sql --memory-limit lots x").is_err());
        assert!(parse("chatql report --since 2024-13-01 x").is_err());
        assert!(parse("chatql report --tz America/Chicago x").is_ok());
        assert!(parse("chatql report --tz Mars/Olympus x").is_err());
        let system = [
            "chatql", "export", "x", "--to", "openai", "-o", "o", "--system", "Be brief",
        ];
        assert!(Cli::try_parse_from(system).is_ok());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
        assert_eq!(parse_record_size("1G").unwrap(), 1 << 30);
        let e = parse_record_size("3G").unwrap_err();
        assert!(e.contains("largest record chatql reads (1G)"), "{e}");
    }
}
