//! Report results as text: the terminal table, Markdown, one JSON document, or CSV
//! sections, all through [`crate::render::write_batches`].

use std::io::{self, Write};

use super::ReportResult;
use crate::render::{write_batches, Format, RenderOptions};

/// Renders report results in a text format (`table`, `markdown`, `json`, `csv`); HTML is
/// [`super::html::report_page`].
pub fn write_reports(
    results: &[ReportResult],
    opts: &RenderOptions,
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
                    write_batches(&s.schema, &s.batches, opts, w)?;
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
                        ..opts.clone()
                    };
                    write_batches(&s.schema, &s.batches, &t, w)?;
                }
            }
            Ok(())
        }
    }
}
