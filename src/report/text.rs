//! Report results as text: the terminal table, Markdown, one JSON document, or CSV
//! sections, all through [`crate::render::write_batches`]. The table and Markdown formats
//! show at most `max_rows` rows a section (the top of a ranking, the latest of a time
//! series) and say how many more there are; JSON and CSV keep every row.

use std::io::{self, Write};

use datafusion::arrow::array::RecordBatch;

use super::{ReportResult, SectionResult};
use crate::render::{write_batches, Format, RenderOptions};

/// Rows a section shows in the table and Markdown formats when neither `--max-rows` nor
/// the section (`-- rows: N`) says otherwise.
pub const DEFAULT_ROWS: usize = 15;

/// How many rows each section shows in the table and Markdown formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowLimit {
    /// The section's own limit, else [`DEFAULT_ROWS`].
    #[default]
    Default,
    /// Every row.
    All,
    /// At most this many.
    At(usize),
}

impl RowLimit {
    fn of(self, s: &SectionResult) -> Option<usize> {
        match self {
            RowLimit::Default => Some(s.rows.unwrap_or(DEFAULT_ROWS)),
            RowLimit::All => None,
            RowLimit::At(n) => Some(n),
        }
    }
}

/// The rows of a section a reader sees: all, or the first (last, for a time series)
/// `max`; and how many were left out.
fn shown(s: &SectionResult, max: Option<usize>) -> (Vec<RecordBatch>, usize) {
    let total: usize = s.batches.iter().map(|b| b.num_rows()).sum();
    let Some(max) = max.filter(|m| total > *m) else {
        return (s.batches.clone(), 0);
    };
    let latest = s.chart.as_ref().is_some_and(|c| c.is_time_series());
    let skip = if latest { total - max } else { 0 };
    let mut out = Vec::new();
    let (mut at, mut left) = (0, max);
    for b in &s.batches {
        let n = b.num_rows();
        let from = skip.saturating_sub(at).min(n);
        let take = (n - from).min(left);
        if take > 0 {
            out.push(b.slice(from, take));
            left -= take;
        }
        at += n;
    }
    (out, total - max)
}

/// One section in the table or Markdown format, with the note on rows left out.
fn section_text(
    s: &SectionResult,
    opts: &RenderOptions,
    limit: RowLimit,
    w: &mut dyn Write,
) -> io::Result<()> {
    if s.batches.iter().all(|b| b.num_rows() == 0) {
        return writeln!(w, "(no rows)");
    }
    let (batches, hidden) = shown(s, limit.of(s));
    let all = RenderOptions {
        max_rows: None,
        ..opts.clone()
    };
    write_batches(&s.schema, &batches, &all, w)?;
    if hidden > 0 {
        let which = if s.chart.as_ref().is_some_and(|c| c.is_time_series()) {
            "earlier"
        } else {
            "more"
        };
        writeln!(w, "… {hidden} {which} rows (--max-rows 0 shows all)")?;
    }
    Ok(())
}

/// Renders report results in a text format (`table`, `markdown`, `json`, `csv`); HTML is
/// [`super::html::report_page`].
pub fn write_reports(
    results: &[ReportResult],
    opts: &RenderOptions,
    limit: RowLimit,
    w: &mut dyn Write,
) -> io::Result<()> {
    match opts.format {
        Format::Json => {
            let mut reports = Vec::new();
            for r in results {
                let mut sections = Vec::new();
                for s in &r.sections {
                    let mut buf = Vec::new();
                    let o = RenderOptions {
                        format: Format::Json,
                        ..opts.clone()
                    };
                    write_batches(&s.schema, &s.batches, &o, &mut buf)?;
                    let rows: serde_json::Value =
                        serde_json::from_slice(&buf).map_err(io::Error::other)?;
                    sections.push(serde_json::json!({"title": s.title, "rows": rows}));
                }
                reports.push(serde_json::json!({
                    "name": r.name, "title": r.title, "description": r.description, "sections": sections
                }));
            }
            writeln!(
                w,
                "{}",
                serde_json::to_string_pretty(&reports).map_err(io::Error::other)?
            )
        }
        Format::Csv | Format::Tsv => {
            for r in results {
                for s in &r.sections {
                    writeln!(w, "# {} / {}", r.name, s.title)?;
                    write_batches(&s.schema, &s.batches, opts, w)?;
                    writeln!(w)?;
                }
            }
            Ok(())
        }
        Format::Markdown => {
            for r in results {
                writeln!(w, "## {}\n\n{}\n", r.title, r.description)?;
                for s in &r.sections {
                    writeln!(w, "### {}\n", s.title)?;
                    section_text(s, opts, limit, w)?;
                    writeln!(w)?;
                }
            }
            Ok(())
        }
        _ => {
            for (i, r) in results.iter().enumerate() {
                if i > 0 {
                    writeln!(w)?;
                }
                writeln!(
                    w,
                    "{}\n{}\n{}",
                    r.title,
                    "=".repeat(r.title.chars().count()),
                    r.description
                )?;
                for s in &r.sections {
                    writeln!(w, "\n{}", s.title)?;
                    let t = RenderOptions {
                        format: Format::Table,
                        compact: true,
                        ..opts.clone()
                    };
                    section_text(s, &t, limit, w)?;
                }
            }
            Ok(())
        }
    }
}
