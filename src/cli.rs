//! Command-line arguments (clap types stay in the binary) and their translation into the
//! library's options.
//!
//! Exit codes, a contract documented in the README:
//! 0 success; 1 error (unreadable input, write failure, bad query); 2 usage error;
//! 3 data rejected under `--strict`; 4 the output exists (no `--force`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use chatql::convert::{convert, ConvertOptions};
use chatql::ingest::IngestOptions;
use chatql::render;
use chatql::schema::Table;

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
    Convert(ConvertArgs),
    /// Run SQL over exports or a converted folder; with no query on a terminal, open a shell.
    Sql(SqlArgs),
    /// Usage reports (overview, activity, users, ...) in the terminal, Markdown, JSON, CSV or HTML.
    Report(ReportArgs),
    /// Export conversations (OpenAI, ShareGPT, UIUC formats) or documents (UIUC format).
    Export(ExportArgs),
    /// Show what input files hold: kinds, eras, keys at each level, type conflicts, rejects.
    Inspect(InspectArgs),
    /// Print the tables and their columns.
    Schema(SchemaArgs),
    /// Run a Ballista scheduler or executor, for `sql` and `report` with --remote.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:
  chatql cluster scheduler --bind 0.0.0.0:50050 --external-host head
  chatql cluster executor --scheduler head:50050 --bind 0.0.0.0:50051 --external-host node1
  chatql report /shared/lake --remote df://head:50050")]
enum ClusterCommand {
    /// Plan queries and hand out their tasks.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: String,
        /// Name executors and clients reach the scheduler by (default: the bind host).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
    },
    /// Run tasks: reads the lake's files and exchanges intermediate data.
    Executor {
        /// The scheduler.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: String,
        /// Data (Arrow Flight) service address; the task service takes the next port.
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
        bind: String,
        /// Port of the task service (default: the --bind port + 1).
        #[arg(long, value_name = "PORT")]
        grpc_port: Option<u16>,
        /// Name the scheduler and other executors reach this one by (default: the bind host).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Tasks run at once (default: all cores).
        #[arg(long, value_name = "N")]
        cores: Option<usize>,
        /// Folder for intermediate (shuffle) files (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Export files, folders or globs.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    format: InspectFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InspectFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Markdown,
    Json,
    Csv,
    Html,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql report --list
  chatql report lake/                          (every report, in the terminal)
  chatql report activity export.zip --since 2025-01-01
  chatql report lake/ --format html -o usage.html")]
struct ReportArgs {
    /// Optionally a report name, then inputs (raw exports or converted folders).
    #[arg(value_name = "[NAME] INPUT")]
    args: Vec<String>,
    /// List the reports and exit.
    #[arg(long)]
    list: bool,
    /// A folder of more report files (`NAME.sql`; same name replaces a built-in).
    #[arg(long, value_name = "DIR")]
    queries: Option<PathBuf>,
    /// Only conversations created on or after this date (YYYY-MM-DD or ISO time, UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only conversations created before this date.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only this course.
    #[arg(long, value_name = "NAME")]
    course: Option<String>,
    /// Only this user's conversations.
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    /// Replace emails in the output with stable keyed pseudonyms.
    #[arg(long)]
    redact_emails: bool,
    /// Key of the pseudonyms (default: the CHATQL_REDACT_KEY environment variable).
    #[arg(long, value_name = "KEY")]
    redact_key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows shown per section in the table and markdown formats (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    max_rows: usize,
    /// Threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Run the queries on a Ballista cluster (`chatql cluster`); inputs must be converted
    /// folders the executors can read at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    remote: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// OpenAI chat fine-tuning JSONL.
    Openai,
    /// ShareGPT JSONL.
    Sharegpt,
    /// The original format-R rows.
    UiucRows,
    /// The original format-C conversation objects.
    UiucConvo,
    /// The original document lines with embeddings.
    UiucDocs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ContextsArg {
    None,
    System,
    User,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FeedbackArg {
    Positive,
    Negative,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Raw exports, or folders written by `chatql convert`.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long = "to", value_enum)]
    to: ExportFormat,
    /// Output file; `.gz` or `.zst` compresses.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// System message: `none`, `prompt` (the conversation's), or a text.
    #[arg(long, default_value = "prompt", value_name = "none|prompt|TEXT")]
    system: String,
    /// Plain-text content instead of OpenAI content parts.
    #[arg(long)]
    text_only: bool,
    /// Inline each question's retrieved contexts.
    #[arg(long, value_enum, default_value_t = ContextsArg::None)]
    contexts: ContextsArg,
    /// Only conversations created on or after this date (YYYY-MM-DD or ISO time, UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only conversations created before this date.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only this course (repeatable).
    #[arg(long = "course", value_name = "NAME")]
    courses: Vec<String>,
    /// Only this user's conversations (repeatable).
    #[arg(long = "user", value_name = "EMAIL")]
    users: Vec<String>,
    /// Only conversations with at least N questions.
    #[arg(long, value_name = "N")]
    min_turns: Option<usize>,
    /// Only conversations with an answer rated this way.
    #[arg(long, value_enum)]
    feedback: Option<FeedbackArg>,
    /// Only conversations matching this SQL predicate on `conversations`.
    #[arg(long = "where", value_name = "SQL")]
    where_sql: Option<String>,
    /// Write this fraction to FILE and the rest to FILE's `.val` sibling, split by conversation.
    #[arg(long, value_name = "FRACTION")]
    split: Option<f64>,
    /// Replace every email with a stable keyed pseudonym.
    #[arg(long)]
    redact_emails: bool,
    /// Key of the pseudonyms (default: the CHATQL_REDACT_KEY environment variable).
    #[arg(long, value_name = "KEY")]
    redact_key: Option<String>,
    /// Keep every version of a conversation seen in several raw exports.
    #[arg(long)]
    keep_duplicates: bool,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Tsv,
    Json,
    Ndjson,
    Markdown,
    Parquet,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql sql \"select course_name, count(*) from conversations group by 1\" export.jsonl
  chatql sql -f report.sql lake/
  echo 'select count(*) from contexts;' | chatql sql - export.zip
  chatql sql lake/            (opens the interactive shell)")]
struct SqlArgs {
    /// The query, then inputs (raw exports, or folders written by `chatql convert`). With
    /// -f, or when the first argument is an existing path, all are inputs; `-` reads the
    /// SQL from standard input.
    #[arg(value_name = "QUERY | INPUT")]
    args: Vec<String>,
    /// Run the statements of this file (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE.sql")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Write the results to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows shown by the table and markdown formats (0: all).
    #[arg(long, default_value_t = 40, value_name = "N")]
    max_rows: usize,
    /// Bound DataFusion's memory (e.g. 2G); sorts and aggregations spill to disk past it.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Threads for ingest and queries (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Keep every version of a conversation or document seen in several raw exports.
    #[arg(long)]
    keep_duplicates: bool,
    /// Run the queries on a Ballista cluster (`chatql cluster`); inputs must be converted
    /// folders the executors can read at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    remote: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    /// Export files, folders or glob patterns, in any mix.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output folder (created; must not exist unless --force).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Replace the output folder if it exists.
    #[arg(long)]
    force: bool,
    /// Fail (exit 3, no output) on the first record that cannot be read.
    #[arg(long)]
    strict: bool,
    /// Keep every version of a conversation or document seen in several exports.
    #[arg(long)]
    keep_duplicates: bool,
    /// Decoder threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// zstd level of the Parquet files (1-22).
    #[arg(long, default_value_t = 3, value_name = "N")]
    zstd_level: i32,
    /// Print nothing on success.
    #[arg(short, long)]
    quiet: bool,
    /// Replace every email (in every column, text and `extra`) with a stable keyed pseudonym.
    #[arg(long)]
    redact_emails: bool,
    /// Key of the pseudonyms (default: the CHATQL_REDACT_KEY environment variable).
    #[arg(long, value_name = "KEY")]
    redact_key: Option<String>,
    /// Write a Hive-partitioned lake (`TABLE/course=X/month=YYYY-MM/part-*.parquet`).
    #[arg(long, value_name = "course,month")]
    partition_by: Option<String>,
    /// Add this run to an existing partitioned lake (new partitions; only partitions with
    /// replaced versions are rewritten).
    #[arg(long)]
    append: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaFormat {
    Table,
    Markdown,
}

#[derive(Debug, clap::Args)]
struct SchemaArgs {
    /// Only these tables.
    #[arg(value_name = "TABLE")]
    tables: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Table)]
    format: SchemaFormat,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Convert(a) => {
            let mut opts = ConvertOptions::new(&a.output);
            opts.force = a.force;
            opts.strict = a.strict;
            opts.keep_duplicates = a.keep_duplicates;
            opts.zstd_level = a.zstd_level;
            opts.redact_key = redact_key(a.redact_emails, &a.redact_key)?;
            opts.partition_by = a
                .partition_by
                .as_deref()
                .map(chatql::partition::parse_keys)
                .transpose()?;
            opts.append = a.append;
            opts.ingest = IngestOptions {
                threads: a.threads.unwrap_or(IngestOptions::default().threads),
                ..IngestOptions::default()
            };
            let report = convert(&a.inputs, &opts)?;
            if !a.quiet {
                render::convert_summary(&report, &mut out).map_err(chatql::Error::Output)?;
            }
            if report.read.rejects > 0 {
                let at = if report.partitioned.is_some() {
                    "rejects/"
                } else {
                    "rejects.parquet"
                };
                eprintln!(
                    "chatql: {} record(s) rejected: see {}/{at}",
                    report.read.rejects,
                    a.output.display()
                );
            }
        }
        Command::Sql(a) => return run_sql(a),
        Command::Cluster(c) => return run_cluster(c),
        Command::Inspect(a) => {
            let files = chatql::inspect::inspect(&a.inputs)?;
            match a.format {
                InspectFormat::Table => render::inspect_report(&files, &mut out),
                InspectFormat::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&files)
                        .map_err(|e| chatql::Error::Usage(e.to_string()))?
                ),
            }
            .map_err(chatql::Error::Output)?;
        }
        Command::Report(a) => return run_report(a),
        Command::Export(a) => {
            let report = chatql::export::export(&a.inputs, &export_options(&a)?)?;
            let mut line = format!(
                "wrote {} line(s) to {}",
                report.written,
                report.files[0].display()
            );
            if let Some(v) = report.files.get(1) {
                line.push_str(&format!(" and {} to {}", report.validation, v.display()));
            }
            if report.filtered > 0 {
                line.push_str(&format!("; {} filtered out", report.filtered));
            }
            for (reason, n) in &report.skipped {
                line.push_str(&format!("; {n} skipped ({reason})"));
            }
            writeln!(out, "{line}").map_err(chatql::Error::Output)?;
        }
        Command::Schema(a) => {
            let tables = if a.tables.is_empty() {
                Table::ALL.to_vec()
            } else {
                a.tables
                    .iter()
                    .map(|n| {
                        Table::from_name(n).ok_or_else(|| {
                            let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
                            chatql::Error::Usage(format!(
                                "no table {n:?}; tables are: {}",
                                names.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            render::schema(
                &tables,
                matches!(a.format, SchemaFormat::Markdown),
                &mut out,
            )
            .map_err(chatql::Error::Output)?;
        }
    }
    out.flush().map_err(chatql::Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// The pseudonym key when `--redact-emails` is given: `--redact-key`, else the environment.
fn redact_key(on: bool, key: &Option<String>) -> Result<Option<String>, chatql::Error> {
    if !on {
        return Ok(None);
    }
    let key = key
        .clone()
        .or_else(|| std::env::var("CHATQL_REDACT_KEY").ok());
    match key.filter(|k| !k.is_empty()) {
        Some(k) => Ok(Some(k)),
        None => Err(chatql::Error::Usage(
            "--redact-emails needs a key: --redact-key KEY or CHATQL_REDACT_KEY".into(),
        )),
    }
}

fn parse_date(s: &str) -> Result<i64, chatql::Error> {
    chatql::model::parse_timestamp(s.trim()).ok_or_else(|| {
        chatql::Error::Usage(format!("bad date {s:?}: use YYYY-MM-DD or an ISO time"))
    })
}

fn export_options(a: &ExportArgs) -> Result<chatql::export::ExportOptions, chatql::Error> {
    use chatql::export::*;
    let redact_key = if a.redact_emails {
        let key = a
            .redact_key
            .clone()
            .or_else(|| std::env::var("CHATQL_REDACT_KEY").ok());
        match key.filter(|k| !k.is_empty()) {
            Some(k) => Some(k),
            None => {
                return Err(chatql::Error::Usage(
                    "--redact-emails needs a key: --redact-key KEY or CHATQL_REDACT_KEY".into(),
                ))
            }
        }
    } else {
        None
    };
    if let Some(f) = a.split {
        if !(f > 0.0 && f < 1.0) {
            return Err(chatql::Error::Usage(
                "--split takes a fraction between 0 and 1, e.g. 0.9".into(),
            ));
        }
    }
    Ok(ExportOptions {
        target: match a.to {
            ExportFormat::Openai => Target::OpenAi,
            ExportFormat::Sharegpt => Target::ShareGpt,
            ExportFormat::UiucRows => Target::UiucRows,
            ExportFormat::UiucConvo => Target::UiucConvo,
            ExportFormat::UiucDocs => Target::UiucDocs,
        },
        output: a.output.clone(),
        system: match a.system.as_str() {
            "none" => SystemMessage::None,
            "prompt" => SystemMessage::Prompt,
            text => SystemMessage::Text(text.to_owned()),
        },
        text_only: a.text_only,
        contexts: match a.contexts {
            ContextsArg::None => ContextPlacement::None,
            ContextsArg::System => ContextPlacement::System,
            ContextsArg::User => ContextPlacement::User,
        },
        filters: Filters {
            since: a.since.as_deref().map(parse_date).transpose()?,
            until: a.until.as_deref().map(parse_date).transpose()?,
            courses: a.courses.clone(),
            users: a.users.clone(),
            min_turns: a.min_turns,
            feedback: a.feedback.map(|f| matches!(f, FeedbackArg::Positive)),
            where_sql: a.where_sql.clone(),
        },
        split: a.split,
        redact_key,
        keep_duplicates: a.keep_duplicates,
        force: a.force,
    })
}

/// Whether an argument names something on disk (a path, or a glob with matches).
fn is_input(arg: &str) -> bool {
    std::path::Path::new(arg).exists()
        || (arg.contains(['*', '?']) && glob::glob(arg).is_ok_and(|mut g| g.next().is_some()))
}

fn run_cluster(c: ClusterCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| chatql::Error::Usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(serve(c))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cluster")]
async fn serve(c: ClusterCommand) -> chatql::Result<()> {
    use chatql::cluster::{run_executor, run_scheduler, ExecutorOptions, SchedulerOptions};
    chatql::cluster::init_logging();
    match c {
        ClusterCommand::Scheduler {
            bind,
            external_host,
        } => {
            run_scheduler(&SchedulerOptions {
                bind,
                external_host,
            })
            .await
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            external_host,
            cores,
            work_dir,
        } => {
            run_executor(&ExecutorOptions {
                scheduler,
                bind,
                grpc_port,
                external_host,
                cores,
                work_dir,
            })
            .await
        }
    }
}

#[cfg(not(feature = "cluster"))]
async fn serve(_: ClusterCommand) -> chatql::Result<()> {
    Err(chatql::Error::Usage(
        "this chatql was built without the `cluster` feature \
         (cargo install --path . --features cluster)"
            .into(),
    ))
}

fn run_sql(a: SqlArgs) -> Result<ExitCode> {
    use std::io::{IsTerminal, Read};
    let mut args = a.args.clone();
    enum Sql {
        Text(String),
        Shell,
    }
    let sql = if !a.files.is_empty() {
        let mut text = String::new();
        for f in &a.files {
            let s = std::fs::read_to_string(f).map_err(|e| chatql::Error::io(f, e))?;
            text.push_str(&s);
            text.push('\n');
        }
        Sql::Text(text)
    } else if args.first().map(String::as_str) == Some("-") {
        args.remove(0);
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| chatql::Error::io("<stdin>", e))?;
        Sql::Text(s)
    } else if args.first().is_some_and(|q| !is_input(q)) {
        Sql::Text(args.remove(0))
    } else if std::io::stdin().is_terminal() {
        Sql::Shell
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| chatql::Error::io("<stdin>", e))?;
        Sql::Text(s)
    };
    let threads = a.threads.unwrap_or(IngestOptions::default().threads);
    let opts = chatql::catalog::CatalogOptions {
        ingest: IngestOptions {
            threads,
            ..IngestOptions::default()
        },
        memory_limit: a
            .memory_limit
            .as_deref()
            .map(chatql::query::parse_size)
            .transpose()?,
        keep_duplicates: a.keep_duplicates,
        remote: a.remote.clone(),
    };
    if opts.remote.is_some() && matches!(sql, Sql::Shell) {
        return Err(chatql::Error::Usage(
            "--remote runs queries given on the command line, with -f or on standard input; \
             the shell is local only"
                .into(),
        )
        .into());
    }
    let stdout_tty = std::io::stdout().is_terminal();
    let render = chatql::render::RenderOptions {
        format: match a.format {
            OutputFormat::Table => chatql::render::Format::Table,
            OutputFormat::Csv => chatql::render::Format::Csv,
            OutputFormat::Tsv => chatql::render::Format::Tsv,
            OutputFormat::Json => chatql::render::Format::Json,
            OutputFormat::Ndjson => chatql::render::Format::Ndjson,
            OutputFormat::Markdown => chatql::render::Format::Markdown,
            OutputFormat::Parquet => chatql::render::Format::Parquet,
        },
        max_rows: (a.max_rows > 0).then_some(a.max_rows),
        width: if stdout_tty { terminal_width() } else { None },
        ..Default::default()
    };
    let qopts = chatql::query::QueryOptions {
        render,
        output: a.output.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| chatql::Error::Usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let mut catalog = chatql::catalog::Catalog::open(&args, &opts).await?;
        match sql {
            Sql::Shell => {
                chatql::shell::run_interactive(chatql::shell::Session::new(catalog, qopts)).await?;
            }
            Sql::Text(text) => {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                let report =
                    chatql::query::run_statements(&mut catalog, &text, &qopts, &mut out).await?;
                out.flush().map_err(chatql::Error::Output)?;
                if report.hidden > 0 {
                    eprintln!(
                        "{} rows, {} not shown (--max-rows 0 shows all)",
                        report.rows, report.hidden
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_report(a: ReportArgs) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let defs = chatql::report::registry(a.queries.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.list {
        for d in &defs {
            writeln!(out, "{:<12} {}: {}", d.name, d.title, d.description)
                .map_err(chatql::Error::Output)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut args = a.args.clone();
    let mut names = Vec::new();
    if let Some(first) = args.first() {
        if defs.iter().any(|d| &d.name == first) && !is_input(first) {
            names.push(args.remove(0));
        }
    }
    if args.is_empty() {
        return Err(chatql::Error::Usage(
            "report needs inputs: exports or a converted folder".into(),
        )
        .into());
    }
    let threads = a.threads.unwrap_or(IngestOptions::default().threads);
    let opts = chatql::report::ReportOptions {
        names,
        queries_dir: a.queries.clone(),
        restriction: chatql::catalog::Restriction {
            since: a.since.as_deref().map(parse_date).transpose()?,
            until: a.until.as_deref().map(parse_date).transpose()?,
            course: a.course.clone(),
            user: a.user.clone(),
        },
        catalog: chatql::catalog::CatalogOptions {
            ingest: IngestOptions {
                threads,
                ..IngestOptions::default()
            },
            remote: a.remote.clone(),
            ..Default::default()
        },
        redact_key: redact_key(a.redact_emails, &a.redact_key)?,
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} report {pos}/{len} sections {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| chatql::Error::Usage(format!("cannot start the runtime: {e}")))?;
    let results = rt.block_on(chatql::report::generate(&args, &opts, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }))?;
    bar.finish_and_clear();
    let mut text: Vec<u8> = Vec::new();
    match a.format {
        ReportFormat::Html => {
            let subtitle = format!(
                "{} · made {}",
                args.join(", "),
                chatql::model::format_timestamp_pg(chatql::model::now_us())
                    .get(..16)
                    .unwrap_or("")
            );
            text.extend_from_slice(chatql::html::report_page(&results, &subtitle).as_bytes());
        }
        f => {
            let render = chatql::render::RenderOptions {
                format: match f {
                    ReportFormat::Markdown => chatql::render::Format::Markdown,
                    ReportFormat::Json => chatql::render::Format::Json,
                    ReportFormat::Csv => chatql::render::Format::Csv,
                    _ => chatql::render::Format::Table,
                },
                max_rows: (a.max_rows > 0).then_some(a.max_rows),
                width: if a.output.is_none() && std::io::stdout().is_terminal() {
                    terminal_width()
                } else {
                    None
                },
                ..Default::default()
            };
            chatql::render::write_reports(&results, &render, &mut text)
                .map_err(chatql::Error::Output)?;
        }
    }
    match &a.output {
        Some(path) => chatql::query::write_atomic(path, &text)?,
        None => {
            out.write_all(&text).map_err(chatql::Error::Output)?;
            out.flush().map_err(chatql::Error::Output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Width of the terminal on stdout, from `COLUMNS` or the terminal itself.
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| comfy_table::Table::new().width())
}

/// The exit code of an error (see the module documentation).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<chatql::Error>() {
        Some(chatql::Error::Rejected { .. }) => 3,
        Some(chatql::Error::OutputExists(_)) => 4,
        Some(chatql::Error::Usage(_)) => 2,
        _ => 1,
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
}
