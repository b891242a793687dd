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

/// Lines the terminal report of every report together stays within (by default): sections
/// give up rows, the longest first, until it fits, whatever the data (long cells wrapped on
/// a narrow terminal take several lines a row).
pub const LINE_BUDGET: usize = 400;

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
    section_rows(s, opts, limit.of(s), w)
}

/// One section showing at most `max` rows.
fn section_rows(
    s: &SectionResult,
    opts: &RenderOptions,
    max: Option<usize>,
    w: &mut dyn Write,
) -> io::Result<()> {
    if s.batches.iter().all(|b| b.num_rows() == 0) {
        return writeln!(w, "(no rows)");
    }
    let (batches, hidden) = shown(s, max);
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
        _ => terminal(results, opts, limit, w),
    }
}

/// The terminal report: with the default limits, within [`LINE_BUDGET`] lines.
fn terminal(
    results: &[ReportResult],
    opts: &RenderOptions,
    limit: RowLimit,
    w: &mut dyn Write,
) -> io::Result<()> {
    let t = RenderOptions {
        format: Format::Table,
        compact: true,
        ..opts.clone()
    };
    let sections: Vec<&SectionResult> = results.iter().flat_map(|r| &r.sections).collect();
    let mut max: Vec<Option<usize>> = sections.iter().map(|s| limit.of(s)).collect();
    let render = |s: &SectionResult, max: Option<usize>| -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        section_rows(s, &t, max, &mut out)?;
        Ok(out)
    };
    let mut texts = sections
        .iter()
        .zip(&max)
        .map(|(s, m)| render(s, *m))
        .collect::<io::Result<Vec<_>>>()?;
    let heads: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{}{}\n{}\n{}\n",
                if i > 0 { "\n" } else { "" },
                r.title,
                "=".repeat(r.title.chars().count()),
                r.description
            )
        })
        .collect();
    if limit == RowLimit::Default {
        let lines = |b: &[u8]| b.iter().filter(|c| **c == b'\n').count();
        // Each section's title takes two lines ("\n{title}\n").
        let fixed: usize =
            heads.iter().map(|h| lines(h.as_bytes())).sum::<usize>() + 2 * sections.len();
        loop {
            let total = fixed + texts.iter().map(|t| lines(t)).sum::<usize>();
            if total <= LINE_BUDGET {
                break;
            }
            // The section taking the most lines gives up a row, down to one.
            let showing = |i: usize| max[i].unwrap_or(usize::MAX).min(section_len(sections[i]));
            let Some(i) = (0..sections.len())
                .filter(|&i| showing(i) > 1)
                .max_by_key(|&i| (lines(&texts[i]), showing(i)))
            else {
                break; // every section at one row: more sections than the budget holds
            };
            max[i] = Some(showing(i) - 1);
            texts[i] = render(sections[i], max[i])?;
        }
    }
    let mut texts = texts.into_iter();
    for (r, head) in results.iter().zip(&heads) {
        w.write_all(head.as_bytes())?;
        for s in &r.sections {
            writeln!(w, "\n{}", s.title)?;
            w.write_all(&texts.next().unwrap_or_default())?;
        }
    }
    Ok(())
}

/// Rows of a section's result.
fn section_len(s: &SectionResult) -> usize {
    s.batches.iter().map(|b| b.num_rows()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    /// A section of `n` rows whose text cells are `len` characters long.
    fn section(n: usize, len: usize) -> SectionResult {
        let schema = Arc::new(Schema::new(vec![
            Field::new("question", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let text: Vec<String> = (0..n)
            .map(|i| format!("{i} {}", "word ".repeat(len / 5)))
            .collect();
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(text)),
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
            ],
        )
        .unwrap();
        SectionResult {
            title: "Questions".into(),
            chart: None,
            schema,
            batches: vec![b],
            rows: None,
        }
    }

    #[test]
    fn the_terminal_report_holds_its_line_budget_whatever_the_data() {
        let report = |sections: usize, len: usize| ReportResult {
            name: "r".into(),
            title: "R".into(),
            description: "d".into(),
            sections: (0..sections).map(|_| section(100, len)).collect(),
        };
        for (width, len, reports) in [(None, 20, 3), (Some(40), 60, 3), (Some(30), 300, 6)] {
            let results: Vec<ReportResult> = (0..reports).map(|_| report(5, len)).collect();
            let opts = RenderOptions {
                width,
                ..Default::default()
            };
            let mut out = Vec::new();
            write_reports(&results, &opts, RowLimit::Default, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let lines = text.lines().count();
            assert!(lines <= LINE_BUDGET, "{lines} lines at width {width:?}");
            assert!(lines > LINE_BUDGET / 2, "{lines}: the budget is used");
            // Asked for all rows, the budget gives way.
            let mut out = Vec::new();
            write_reports(&results, &opts, RowLimit::All, &mut out).unwrap();
            assert!(String::from_utf8(out).unwrap().lines().count() > LINE_BUDGET);
        }
    }
}
