//! `chatql report`: named reports over exports or lakes, in a text format or as a page.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use chatql::query::{CatalogOptions, Restriction};
use chatql::render::{Format, RenderOptions};
use chatql::report::text::RowLimit;
use chatql::report::{ReportFormat, ReportOptions};

use super::progress::InputBar;
use super::{
    emit, is_input, parse_date, terminal_width, AsOfArgs, DateArg, ReadArgs, RedactArgs, TzArgs,
};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql report --list
  chatql report lake/                          (every report, in the terminal)
  chatql report activity export.zip --since 2025-01-01
  chatql report lake/ --format html -o usage.html")]
pub struct ReportArgs {
    /// Optionally a report name, then inputs (raw exports or converted folders).
    #[arg(value_name = "[NAME] INPUT")]
    args: Vec<String>,
    /// List the reports and exit.
    #[arg(long)]
    list: bool,
    /// A folder of more report files (`NAME.sql`; same name replaces a built-in).
    #[arg(long, value_name = "DIR")]
    queries: Option<PathBuf>,
    /// Only conversations created on or after this date (YYYY-MM-DD or ISO time; without
    /// an offset, in the zone of --tz).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    since: Option<DateArg>,
    /// Only conversations created before this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    until: Option<DateArg>,
    #[command(flatten)]
    tz: TzArgs,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    as_of: AsOfArgs,
    /// Only this course.
    #[arg(long, value_name = "NAME")]
    course: Option<String>,
    /// Only this user's conversations.
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    #[command(flatten)]
    redact: RedactArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows shown per section in the table and markdown formats: the top of a ranking, the
    /// latest of a time series (default: 15, fewer for long-text sections; 0: all; json and
    /// csv keep every row).
    #[arg(long, value_name = "N")]
    max_rows: Option<usize>,
    /// A price table for the cost report, replacing the built-in one (CSV: model_pattern,
    /// valid_from, input_usd_per_1m, output_usd_per_1m[, note]).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub(super) threads: Option<usize>,
    /// Run the queries on a Ballista cluster (`chatql cluster`); inputs must be converted
    /// folders the executors can read at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    remote: Option<String>,
}

impl ReportArgs {
    /// The folder of more report files (`--queries`).
    pub(crate) fn queries(&self) -> Option<&std::path::Path> {
        self.queries.as_deref()
    }

    /// The inputs and the options of the reports these flags ask for, given the reports
    /// there are (`chatql.report` in Python takes the same).
    pub(crate) fn options(
        &self,
        defs: &[chatql::report::ReportDef],
    ) -> Result<(Vec<String>, ReportOptions), chatql::Error> {
        let mut args = self.args.clone();
        let mut names = Vec::new();
        if let Some(first) = args.first() {
            if defs.iter().any(|d| &d.name == first) && !is_input(first) {
                names.push(args.remove(0));
            } else if args.len() > 1 && !is_input(first) {
                // `chatql report costs lake`: a misspelt report name, not a missing input.
                let known: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
                return Err(chatql::Error::Usage(format!(
                    "no report {first:?}; reports are: {}",
                    known.join(", ")
                )));
            }
        }
        if args.is_empty() {
            return Err(chatql::Error::Usage(
                "report needs inputs: exports or a converted folder".into(),
            ));
        }
        let opts = ReportOptions {
            names,
            queries_dir: self.queries.clone(),
            restriction: Restriction {
                since: self.since.map(|d| d.at(self.tz.tz)),
                until: self.until.map(|d| d.at(self.tz.tz)),
                course: self.course.clone(),
                user: self.user.clone(),
            },
            catalog: CatalogOptions {
                ingest: self.read.ingest(self.threads),
                remote: self.remote.clone(),
                tz: self.tz.tz,
                as_of: self.as_of.as_of,
                ..Default::default()
            },
            redact_key: self.redact.key()?,
            prices: self.prices.clone(),
            topics: matches!(
                self.format,
                ReportFormat::Html | ReportFormat::Json | ReportFormat::Csv
            ),
        };
        Ok((args, opts))
    }
}

pub async fn run(a: ReportArgs) -> Result<()> {
    let defs = chatql::report::registry(a.queries())?;
    if a.list {
        let mut text = String::new();
        for d in &defs {
            text.push_str(&format!("{:<12} {}: {}\n", d.name, d.title, d.description));
        }
        emit(text.as_bytes(), None)?;
        return Ok(());
    }
    let (args, opts) = a.options(&defs)?;
    let bar = if std::io::stderr().is_terminal() && !a.read.quiet {
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
    let mut input_bar = Some(InputBar::start(
        "read",
        &opts.catalog.ingest.progress,
        !a.read.quiet,
    ));
    let results = chatql::report::generate(&args, &opts, |done, total| {
        // The inputs are read before the first section.
        input_bar.take();
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    let mut text: Vec<u8> = Vec::new();
    match a.format {
        ReportFormat::Html => {
            let subtitle = format!(
                "{} · times in {} · made {}",
                args.join(", "),
                a.tz.tz,
                chatql::model::format_timestamp_pg(chatql::model::now_us())
                    .get(..16)
                    .unwrap_or("")
            );
            text.extend_from_slice(
                chatql::report::html::report_page(&results, &subtitle).as_bytes(),
            );
        }
        f => {
            let render = RenderOptions {
                format: match f {
                    ReportFormat::Markdown => Format::Markdown,
                    ReportFormat::Json => Format::Json,
                    ReportFormat::Csv => Format::Csv,
                    _ => Format::Table,
                },
                max_rows: None,
                width: if a.output.is_none() && std::io::stdout().is_terminal() {
                    terminal_width()
                } else {
                    None
                },
                ..Default::default()
            };
            let limit = match a.max_rows {
                None => RowLimit::Default,
                Some(0) => RowLimit::All,
                Some(n) => RowLimit::At(n),
            };
            chatql::report::text::write_reports(&results, &render, limit, &mut text)
                .map_err(chatql::Error::Output)?;
        }
    }
    emit(&text, a.output.as_deref())?;
    Ok(())
}
