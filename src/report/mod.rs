//! Usage reports: named SQL files (`queries/*.sql`, embedded in the binary, plus a user's
//! own folder) run against a [`Catalog`], each statement a section of the report.
//!
//! A report file starts with header comments (`-- title:`, `-- description:`, `-- params:`);
//! each statement may be preceded by `-- section: NAME` and `-- chart: KIND X Y1,Y2 [by S]`
//! (KIND is `line`, `bar` or `hbar`; `by S` draws one series per value of column S; or
//! `heatmap X`: the other columns are the cells of a matrix with rows labelled by X). A
//! `-- rows: N` sets how many rows the table and Markdown formats show by default. A
//! statement preceded by `-- setup` prepares a view for the sections after it (computed once
//! and kept in memory when the report runs on this machine: `Catalog::prepare`)
//! (`CREATE VIEW ... AS ...`; a view, not a table, so that it runs on a cluster too) and is
//! not shown.
//!
//! Besides the six tables and their views, reports can read `prices` (the price table,
//! [`prices`]) and `report_window` (one row: `end_day`, the last day of the "last 7 days":
//! the day before `--until`, else the day of the last activity, in the zone of `--tz`).
//! Statements end with a `;` at the end of a line. Reports are data, not code: adding one
//! is adding a file.

use std::path::Path;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result as DfResult;
use datafusion::prelude::DataFrame;

pub mod html;
pub mod prices;
pub mod text;

use crate::error::{Error, Result};
use crate::query::catalog::{Catalog, CatalogOptions, Restriction};
use crate::table::redact::Redactor;
use crate::table::Table;

/// The reports shipped in the binary, in the order `report` runs them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("overview", include_str!("../../queries/overview.sql")),
    ("activity", include_str!("../../queries/activity.sql")),
    ("users", include_str!("../../queries/users.sql")),
    ("courses", include_str!("../../queries/courses.sql")),
    ("shape", include_str!("../../queries/shape.sql")),
    ("retrieval", include_str!("../../queries/retrieval.sql")),
    ("feedback", include_str!("../../queries/feedback.sql")),
    ("multimodal", include_str!("../../queries/multimodal.sql")),
    ("cost", include_str!("../../queries/cost.sql")),
];

/// How a section's result is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Lines over an ordered x axis (time).
    Line,
    /// Vertical bars.
    Bar,
    /// Horizontal bars (top-N lists).
    HBar,
    /// A matrix: rows labelled by the x column, one cell per other column (day × hour).
    Heatmap,
    /// Headline figures: each column of the one-row result is a tile.
    Tiles,
    /// Trend tiles: each row is a tile named by the x column, showing `last_7_days` and
    /// `change_pct` against `previous_7_days`.
    Trend,
}

impl ChartSpec {
    /// Whether the x axis is time (lines, or bars per day, week or month), so that a
    /// shortened table shows the latest rows.
    pub fn is_time_series(&self) -> bool {
        self.kind == ChartKind::Line
            || (self.kind == ChartKind::Bar && matches!(self.x.as_str(), "day" | "week" | "month"))
    }
}

/// A chart of a section: which columns go where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    /// Kind of chart.
    pub kind: ChartKind,
    /// Column of the x axis (categories).
    pub x: String,
    /// Columns drawn as series.
    pub y: Vec<String>,
    /// Column whose values split one y column into several series.
    pub by: Option<String>,
}

/// One statement of a report.
#[derive(Debug, Clone)]
pub struct SectionDef {
    /// Heading.
    pub title: String,
    /// Chart, if any.
    pub chart: Option<ChartSpec>,
    /// The statement.
    pub sql: String,
    /// A preparing statement (`-- setup`), run but not shown.
    pub setup: bool,
    /// Rows shown in the table and Markdown formats unless `--max-rows` says otherwise
    /// (`-- rows: N`; default [`text::DEFAULT_ROWS`]).
    pub rows: Option<usize>,
}

/// A report file.
#[derive(Debug, Clone)]
pub struct ReportDef {
    /// Name (the file name without `.sql`).
    pub name: String,
    /// Title.
    pub title: String,
    /// One-line description.
    pub description: String,
    /// Parameters it honours (`since`, `until`, `course`, `user`).
    pub params: Vec<String>,
    /// Its statements.
    pub sections: Vec<SectionDef>,
}

/// Parses a `-- chart:` spec; the error says what is wanted.
fn parse_chart(spec: &str) -> Result<ChartSpec, String> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let bad = || {
        format!(
            "bad chart {spec:?} (want: line|bar|hbar X Y1,Y2 [by S], heatmap X, trend X or tiles)"
        )
    };
    let kind = match parts.first().copied() {
        Some("line") => ChartKind::Line,
        Some("bar") => ChartKind::Bar,
        Some("hbar") => ChartKind::HBar,
        Some(k @ ("heatmap" | "trend" | "tiles")) => {
            let kind = match k {
                "heatmap" => ChartKind::Heatmap,
                "trend" => ChartKind::Trend,
                _ => ChartKind::Tiles,
            };
            return match (kind, parts.as_slice()) {
                (ChartKind::Tiles, [_]) => Ok(ChartSpec {
                    kind,
                    x: String::new(),
                    y: Vec::new(),
                    by: None,
                }),
                (ChartKind::Heatmap | ChartKind::Trend, [_, x]) => Ok(ChartSpec {
                    kind,
                    x: x.to_string(),
                    y: Vec::new(),
                    by: None,
                }),
                _ => Err(bad()),
            };
        }
        _ => return Err(bad()),
    };
    let (x, y) = match (parts.get(1), parts.get(2)) {
        (Some(x), Some(y)) => (x.to_string(), y.split(',').map(str::to_owned).collect()),
        _ => return Err(bad()),
    };
    let by = match (parts.get(3), parts.get(4)) {
        (Some(&"by"), Some(s)) => Some(s.to_string()),
        (None, None) => None,
        _ => return Err(bad()),
    };
    Ok(ChartSpec { kind, x, y, by })
}

impl ReportDef {
    /// Parses a report file (`file` names it in errors, with the line).
    pub fn parse(name: &str, file: &str, text: &str) -> Result<ReportDef> {
        let at = |line: usize, message: String| Error::Config {
            file: file.to_owned(),
            line: line as u64,
            message,
        };
        let mut def = ReportDef {
            name: name.to_owned(),
            title: name.to_owned(),
            description: String::new(),
            params: Vec::new(),
            sections: Vec::new(),
        };
        let (mut section, mut chart, mut sql) = (None::<String>, None, String::new());
        let mut setup = false;
        let mut rows = None;
        // Where the statement being read began, for an error about it.
        let mut started = 0;
        let mut lines = 0;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            lines = n;
            let t = line.trim();
            if let Some(c) = t.strip_prefix("--") {
                let c = c.trim();
                if let Some(v) = c.strip_prefix("title:") {
                    def.title = v.trim().to_owned();
                } else if let Some(v) = c.strip_prefix("description:") {
                    def.description = v.trim().to_owned();
                } else if let Some(v) = c.strip_prefix("params:") {
                    def.params = v
                        .split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect();
                } else if let Some(v) = c.strip_prefix("section:") {
                    section = Some(v.trim().to_owned());
                } else if let Some(v) = c.strip_prefix("chart:") {
                    chart = Some(parse_chart(v.trim()).map_err(|e| at(n, e))?);
                } else if c == "setup" {
                    setup = true;
                } else if let Some(v) = c.strip_prefix("rows:") {
                    rows = Some(
                        v.trim()
                            .parse()
                            .map_err(|_| at(n, format!("bad rows {:?}", v.trim())))?,
                    );
                }
                continue;
            }
            if t.is_empty() && sql.trim().is_empty() {
                continue;
            }
            if sql.trim().is_empty() {
                started = n;
            }
            sql.push_str(line);
            sql.push('\n');
            if t.ends_with(';') {
                let n = def.sections.len() + 1;
                def.sections.push(SectionDef {
                    title: section.take().unwrap_or_else(|| {
                        if setup {
                            "(setup)".to_owned()
                        } else {
                            format!("Part {n}")
                        }
                    }),
                    chart: chart.take(),
                    sql: std::mem::take(&mut sql),
                    setup: std::mem::take(&mut setup),
                    rows: rows.take(),
                });
            }
        }
        if !sql.trim().is_empty() {
            return Err(at(
                started,
                format!("report {name}: the statement starting here does not end with ';'"),
            ));
        }
        if def.sections.iter().all(|s| s.setup) {
            return Err(at(lines.max(1), format!("report {name}: no SQL statement")));
        }
        Ok(def)
    }
}

/// The built-in reports, then those of `dir` (a file there replaces a built-in of the same name).
pub fn registry(dir: Option<&Path>) -> Result<Vec<ReportDef>> {
    let mut defs: Vec<ReportDef> = BUILTIN
        .iter()
        .map(|(n, t)| ReportDef::parse(n, &format!("queries/{n}.sql"), t))
        .collect::<Result<_>>()?;
    if let Some(dir) = dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for f in files {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
            let def = ReportDef::parse(&name, &f.display().to_string(), &text)?;
            match defs.iter_mut().find(|d| d.name == name) {
                Some(d) => *d = def,
                None => defs.push(def),
            }
        }
    }
    Ok(defs)
}

/// The result of one section.
#[derive(Debug, Clone)]
pub struct SectionResult {
    /// Heading.
    pub title: String,
    /// Chart, if any.
    pub chart: Option<ChartSpec>,
    /// Result schema.
    pub schema: SchemaRef,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
    /// Rows shown by default in the table and Markdown formats.
    pub rows: Option<usize>,
}

/// The result of one report.
#[derive(Debug, Clone)]
pub struct ReportResult {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Sections, in order.
    pub sections: Vec<SectionResult>,
}

/// Sections run at once. A report's sections are small queries whose planning, scans and
/// final merges leave cores idle one after another; run side by side they fill them.
const SECTIONS_AT_ONCE: usize = 3;

/// Runs `defs` on `cat`; `progress` is called after each section with (done, total).
///
/// Sections are planned in order on `cat`, and run up to [`SECTIONS_AT_ONCE`] at a time, each
/// on its own task; a `-- setup` statement waits for the sections before it, and the ones
/// after it are planned once its view exists. Results keep the files' order.
pub async fn run(
    cat: &mut Catalog,
    defs: &[ReportDef],
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<ReportResult>> {
    let total: usize = defs.iter().map(|d| d.sections.len()).sum();
    let at_once = if cat.is_remote() { 1 } else { SECTIONS_AT_ONCE };
    let mut done = 0;
    let mut out: Vec<ReportResult> = Vec::new();
    // Sections planned but not yet run.
    let mut planned: Vec<Planned> = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        out.push(ReportResult {
            name: d.name.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            sections: Vec::new(),
        });
        for s in &d.sections {
            let place = format!("report {}, {}", d.name, s.title);
            if s.setup {
                let ran = run_planned(std::mem::take(&mut planned), at_once).await?;
                collect_sections(&mut out, ran, &mut done, total, &mut progress);
                cat.prepare(&s.sql)
                    .await
                    .map_err(|e| in_section(e, &place))?;
                done += 1;
                progress(done, total);
                continue;
            }
            let df = cat
                .plan_last(&s.sql)
                .await
                .map_err(|e| in_section(e, &place))?;
            let Some(df) = df else {
                return Err(Error::Usage(format!("{place}: no SQL statement")));
            };
            planned.push(Planned {
                report: i,
                place,
                def: s.clone(),
                df,
            });
        }
    }
    let ran = run_planned(planned, at_once).await?;
    collect_sections(&mut out, ran, &mut done, total, &mut progress);
    Ok(out)
}

/// Names the report and section (`place`) in a query's error.
fn in_section(e: Error, place: &str) -> Error {
    match e {
        Error::Query(m) => Error::Query(format!("{place}: {m}")),
        Error::DataFusion(e) => Error::Query(format!("{place}: {e}")),
        other => other,
    }
}

/// A section planned and waiting to run: what its result and errors need, owned, so
/// that the tasks running it hold no borrow.
struct Planned {
    /// Index of its report.
    report: usize,
    /// "report NAME, SECTION", for errors.
    place: String,
    def: SectionDef,
    df: DataFrame,
}

impl Planned {
    /// Starts running the section on a task of its own.
    fn start(self) -> Running {
        Running {
            report: self.report,
            schema: std::sync::Arc::new(self.df.schema().as_arrow().clone()),
            task: tokio::spawn(self.df.collect()),
            place: self.place,
            def: self.def,
        }
    }
}

/// A planned section on its task.
struct Running {
    report: usize,
    place: String,
    def: SectionDef,
    schema: SchemaRef,
    task: tokio::task::JoinHandle<DfResult<Vec<RecordBatch>>>,
}

/// Runs planned sections, `at_once` at a time, each on its own task; the results come back
/// in the order given (the first error, in that order, wins; the sections after it are
/// stopped).
async fn run_planned(planned: Vec<Planned>, at_once: usize) -> Result<Vec<(usize, SectionResult)>> {
    let mut waiting = planned.into_iter();
    let mut running = std::collections::VecDeque::new();
    let mut out = Vec::new();
    loop {
        while running.len() < at_once {
            let Some(p) = waiting.next() else { break };
            running.push_back(p.start());
        }
        let Some(r) = running.pop_front() else {
            return Ok(out);
        };
        let batches = match r.task.await {
            Ok(ran) => ran.map_err(|e| in_section(Error::DataFusion(e), &r.place)),
            Err(e) => Err(Error::Internal(format!("report task failed: {e}"))),
        };
        let batches = batches.inspect_err(|_| running.iter().for_each(|r| r.task.abort()))?;
        let section = SectionResult {
            title: r.def.title,
            chart: r.def.chart,
            schema: r.schema,
            batches,
            rows: r.def.rows,
        };
        out.push((r.report, section));
    }
}

/// Files sections that ran under their reports, counting them as done.
fn collect_sections(
    out: &mut [ReportResult],
    ran: Vec<(usize, SectionResult)>,
    done: &mut usize,
    total: usize,
    progress: &mut impl FnMut(usize, usize),
) {
    for (i, section) in ran {
        out[i].sections.push(section);
        *done += 1;
        progress(*done, total);
    }
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Box-drawn tables in the terminal.
    Table,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One JSON document of every report and section.
    Json,
    /// CSV sections, each headed by a `# report / section` line.
    Csv,
    /// A self-contained page with charts.
    Html,
}

/// What `chatql report` runs.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Reports to run, by name (empty: all).
    pub names: Vec<String>,
    /// A folder of extra report files.
    pub queries_dir: Option<std::path::PathBuf>,
    /// Which conversations and documents.
    pub restriction: Restriction,
    /// How the catalog runs.
    pub catalog: CatalogOptions,
    /// Key for email pseudonyms in the output; None keeps emails.
    pub redact_key: Option<String>,
    /// A price table replacing the built-in one ([`prices`]).
    pub prices: Option<std::path::PathBuf>,
    /// With every report: end with the topics of the questions ([`crate::topics`]) when a
    /// document export or enough questions are there. The CLI asks for it on the page and in
    /// JSON and CSV; the terminal formats point to `chatql topics` instead, to stay short.
    pub topics: bool,
}

/// The reports `opts` names, from the registry.
pub fn select(opts: &ReportOptions) -> Result<Vec<ReportDef>> {
    let all = registry(opts.queries_dir.as_deref())?;
    if opts.names.is_empty() {
        return Ok(all);
    }
    opts.names
        .iter()
        .map(|n| {
            all.iter().find(|d| &d.name == n).cloned().ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
                Error::Usage(format!(
                    "no report {n:?}; reports are: {}",
                    names.join(", ")
                ))
            })
        })
        .collect()
}

/// Runs the reports of `opts` over `inputs`: loads the tables they read in one pass, applies
/// the restriction, runs every section, and pseudonymizes emails if asked.
pub async fn generate(
    inputs: &[String],
    opts: &ReportOptions,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<ReportResult>> {
    let defs = select(opts)?;
    let mut cat = Catalog::open(inputs, &opts.catalog).await?;
    let mut tables = std::collections::BTreeSet::new();
    for d in &defs {
        for s in &d.sections {
            tables.extend(cat.tables_in(&s.sql)?);
        }
    }
    // Every report at once ends with the topics of the questions (chatql topics), which
    // read the questions, their contexts and the chunks.
    let all_reports = opts.names.is_empty() && opts.queries_dir.is_none();
    let with_topics = opts.topics && all_reports;
    if with_topics {
        tables.extend([
            Table::Conversations,
            Table::Messages,
            Table::Contexts,
            Table::Chunks,
        ]);
    }
    if !opts.restriction.is_empty() {
        // Messages and contexts are narrowed through their conversations.
        if tables.contains(&Table::Messages) || tables.contains(&Table::Contexts) {
            tables.insert(Table::Conversations);
        }
    }
    cat.load(&tables).await?;
    cat.restrict(&opts.restriction).await?;
    let price_table = match &opts.prices {
        Some(path) => prices::PriceTable::read(path)?,
        None => prices::PriceTable::builtin()?,
    };
    cat.run_sql(&price_table.view_sql()).await?;
    let until = opts
        .restriction
        .until
        .map_or("CAST(NULL AS DATE)".to_owned(), |u| {
            // The day of the last microsecond before --until, in the zone the tables show.
            let local = crate::model::format_timestamp_pg(cat.tz().to_local(u - 1));
            format!("DATE '{}'", &local[..10])
        });
    cat.run_sql(&format!(
        "CREATE VIEW report_window AS SELECT coalesce({until}, \
         (SELECT CAST(max(created_at) AS DATE) FROM conversations)) AS end_day"
    ))
    .await?;
    // The topics are clustered on a thread of their own while the reports' queries run.
    let topic_map = if with_topics {
        let o = crate::topics::TopicOptions {
            min_questions: TOPICS_MIN_QUESTIONS,
            ..Default::default()
        };
        crate::topics::start(&mut cat, &o).await?
    } else {
        None
    };
    let mut results = run(&mut cat, &defs, progress).await?;
    if let Some(pending) = topic_map {
        results.push(topics_report(&pending.finish().await?)?);
    }
    if let Some(key) = &opts.redact_key {
        let r = Redactor::new(key);
        for rep in &mut results {
            for s in &mut rep.sections {
                for b in &mut s.batches {
                    *b = r.redact_batch(b)?;
                }
            }
        }
    }
    Ok(results)
}

/// Questions the all-reports page needs to show topics when no document export places them.
const TOPICS_MIN_QUESTIONS: usize = 100;

/// The topics as a report of two sections: the topic table (charted) and the questions
/// closest to each topic's centre.
fn topics_report(m: &crate::topics::TopicMap) -> Result<ReportResult> {
    use crate::topics::table::{examples_batch, topics_batch};
    let t = topics_batch(m)?.project(&[0, 1, 2, 3, 4, 5, 6, 8])?;
    let e = examples_batch(m)?;
    Ok(ReportResult {
        name: "topics".into(),
        title: "Topics".into(),
        description: format!(
            "What students ask about: {} topic(s) of {} question(s), placed by {}; the command \
             chatql topics draws the map and writes each question's topic.",
            m.topics.len(),
            m.questions.len(),
            if m.by_retrieval {
                "the document chunks they retrieved"
            } else {
                "their words"
            }
        ),
        sections: vec![
            SectionResult {
                title: "Topics by size".into(),
                chart: Some(parse_chart("hbar label questions").map_err(Error::Internal)?),
                schema: t.schema(),
                batches: vec![t],
                rows: None,
            },
            SectionResult {
                title: "Questions closest to each topic's centre".into(),
                chart: None,
                schema: e.schema(),
                batches: vec![e],
                rows: Some(15),
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Python package and the server run reports on other tasks, which needs their future
    /// to be `Send` (a borrow held inside a stream combinator once made it not, which only
    /// the Python build caught). Compiling this is the test.
    #[test]
    fn generating_reports_can_run_on_another_task() {
        fn on_another_task<F: std::future::Future + Send>(_: F) {}
        let (inputs, opts) = (vec!["lake".to_owned()], ReportOptions::default());
        on_another_task(async move { generate(&inputs, &opts, |_, _| {}).await });
    }

    #[test]
    fn every_builtin_report_parses_with_titles_and_charts() {
        let defs = registry(None).unwrap();
        assert_eq!(defs.len(), BUILTIN.len());
        for d in &defs {
            assert!(!d.description.is_empty(), "{}", d.name);
            assert_eq!(d.params, ["since", "until", "course", "user"], "{}", d.name);
            for s in d.sections.iter().filter(|s| !s.setup) {
                assert!(
                    !s.title.starts_with("Part "),
                    "{}: untitled section",
                    d.name
                );
                assert!(s.sql.trim_end().ends_with(';'));
            }
        }
        let activity = defs.iter().find(|d| d.name == "activity").unwrap();
        assert_eq!(
            activity.sections[0].chart,
            Some(ChartSpec {
                kind: ChartKind::Line,
                x: "month".into(),
                y: vec![
                    "conversations".into(),
                    "messages".into(),
                    "active_users".into()
                ],
                by: None
            })
        );
    }

    #[test]
    fn bad_report_files_are_refused() {
        let err = |text: &str| {
            ReportDef::parse("x", "r/x.sql", text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("-- title: X\nselect 1\n  from t"),
            "r/x.sql:2: report x: the statement starting here does not end with ';'"
        );
        assert!(
            err("-- title: X\n\n-- chart: pie a b\nselect 1;").starts_with("r/x.sql:3: bad chart")
        );
        assert_eq!(err("-- nothing\n"), "r/x.sql:1: report x: no SQL statement");
        assert_eq!(
            err("-- rows: many\nselect 1;"),
            "r/x.sql:1: bad rows \"many\""
        );
        let e = ReportDef::parse("x", "r/x.sql", "-- rows: x\nselect 1;").unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
