//! `chatql sql`: statements from the command line, files or standard input, or the shell.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::Result;
use chatql::query::{run_statements, Catalog, CatalogOptions, QueryOptions};
use chatql::render::{Format, RenderOptions};

use super::progress::InputBar;
use super::{is_input, parse_size, terminal_width, AsOfArgs, ReadArgs, TzArgs};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql sql \"select course_name, count(*) from conversations group by 1\" export.jsonl
  chatql sql -f report.sql lake/
  echo 'select count(*) from contexts;' | chatql sql - export.zip
  chatql sql lake/            (opens the interactive shell)")]
pub struct SqlArgs {
    /// The query, then inputs (raw exports, or folders written by `chatql convert`). With
    /// -f, or when the first argument is an existing path, all are inputs; `-` reads the
    /// SQL from standard input.
    #[arg(value_name = "QUERY | INPUT")]
    args: Vec<String>,
    /// Run the statements of this file (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE.sql")]
    files: Vec<PathBuf>,
    /// Output format [default: from the -o file's extension (.csv, .tsv, .json, .jsonl,
    /// .md, .html, .parquet), else table].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the results to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows shown by the table and markdown formats (0: all).
    #[arg(long, default_value_t = 40, value_name = "N")]
    max_rows: usize,
    /// Bound DataFusion's memory (e.g. 2G); sorts and aggregations spill to disk past it.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,
    /// Threads for ingest and queries (default: all cores).
    #[arg(long, value_name = "N")]
    pub(super) threads: Option<usize>,
    /// Keep every version of a conversation or document seen in several raw exports.
    #[arg(long)]
    keep_duplicates: bool,
    #[command(flatten)]
    tz: TzArgs,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    as_of: AsOfArgs,
    /// Run the queries on a Ballista cluster (`chatql cluster`); inputs must be converted
    /// folders the executors can read at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    remote: Option<String>,
}

impl SqlArgs {
    /// The catalog these flags ask for (`chatql.connect` in Python takes the same).
    pub(crate) fn catalog_options(&self, columns_as_needed: bool) -> CatalogOptions {
        CatalogOptions {
            ingest: self.read.ingest(self.threads),
            memory_limit: self.memory_limit,
            keep_duplicates: self.keep_duplicates,
            remote: self.remote.clone(),
            tz: self.tz.tz,
            as_of: self.as_of.as_of,
            columns_as_needed,
        }
    }
}

/// Where the statements come from.
enum Sql {
    Text(String),
    Shell,
}

fn read_stdin() -> Result<String, chatql::Error> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| chatql::Error::io("<stdin>", e))?;
    Ok(s)
}

pub async fn run(a: SqlArgs) -> Result<()> {
    let mut args = a.args.clone();
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
        Sql::Text(read_stdin()?)
    } else if args.first().is_some_and(|q| !is_input(q)) {
        Sql::Text(args.remove(0))
    } else if std::io::stdin().is_terminal() {
        Sql::Shell
    } else {
        Sql::Text(read_stdin()?)
    };
    // Statements known up front keep only the columns they read; the shell keeps all.
    let opts = a.catalog_options(matches!(sql, Sql::Text(_)));
    if opts.remote.is_some() && matches!(sql, Sql::Shell) {
        return Err(chatql::Error::Usage(
            "--remote runs queries given on the command line, with -f or on standard input; \
             the shell is local only"
                .into(),
        )
        .into());
    }
    let render = RenderOptions {
        format: a
            .format
            .or_else(|| a.output.as_deref().and_then(Format::of_path))
            .unwrap_or(Format::Table),
        max_rows: (a.max_rows > 0).then_some(a.max_rows),
        width: if std::io::stdout().is_terminal() {
            terminal_width()
        } else {
            None
        },
        ..Default::default()
    };
    let qopts = QueryOptions {
        render,
        output: a.output.clone(),
    };
    let bar = InputBar::start("read", &opts.ingest.progress, !a.read.quiet);
    let mut catalog = Catalog::open(&args, &opts).await?;
    // Raw exports are read when a statement needs their tables: read them now, under the
    // bar, so that it is gone before results are printed. (A statement that does not
    // parse is reported by the run below.)
    if let Sql::Text(text) = &sql {
        catalog.load_for(text).await?;
    }
    drop(bar);
    match sql {
        Sql::Shell => {
            super::shell::run_interactive(chatql::query::session::Session::new(catalog, qopts))
                .await?;
        }
        Sql::Text(text) => {
            let mut out = std::io::stdout().lock();
            let report = run_statements(&mut catalog, &text, &qopts, &mut out).await?;
            out.flush().map_err(chatql::Error::Output)?;
            if report.hidden > 0 {
                eprintln!(
                    "{} rows, {} not shown (--max-rows 0 shows all)",
                    report.rows, report.hidden
                );
            }
        }
    }
    Ok(())
}
