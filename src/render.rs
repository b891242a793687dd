//! Rendering results for people: every function writes to any `io::Write`, so the binary
//! sends it to stdout and tests to a buffer.

use std::io::{self, Write};

use comfy_table::{
    presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table as Grid,
};

use crate::convert::ConvertReport;
use crate::schema::Table;

fn grid(header: &[&str]) -> Grid {
    let mut g = Grid::new();
    g.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    g
}

/// Human-readable size.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The summary `convert` prints: rows per table, then how the input reconciles.
pub fn convert_summary(r: &ConvertReport, w: &mut dyn Write) -> io::Result<()> {
    let mut g = grid(&["table", "rows", "file"]);
    for t in &r.tables {
        g.add_row(vec![
            Cell::new(&t.name),
            Cell::new(t.rows).set_alignment(CellAlignment::Right),
            Cell::new(t.file.as_deref().unwrap_or("-")),
        ]);
    }
    writeln!(w, "{g}")?;
    let s = &r.read;
    writeln!(
        w,
        "read {} from {} input file(s): {} lines ({} blank)",
        bytes(s.bytes),
        r.inputs.len(),
        s.lines,
        s.blank_lines
    )?;
    writeln!(
        w,
        "records: {} conversations + {} documents decoded, {} rejected",
        s.conversations, s.documents, s.rejects
    )?;
    writeln!(
        w,
        "duplicates dropped: {} conversations, {} documents (kept: {} conversations, {} documents)",
        r.duplicates.conversations,
        r.duplicates.documents,
        r.rows(Table::Conversations),
        r.rows(Table::Documents)
    )?;
    if !r.skipped.is_empty() {
        writeln!(w, "skipped (not an export format): {}", r.skipped.len())?;
    }
    if let Some(p) = &r.partitioned {
        let keys: Vec<&str> = p.keys.iter().map(|k| k.name()).collect();
        writeln!(
            w,
            "run {} of a lake partitioned by {}: {} conversations and {} documents already \
             in it, {} and {} older versions replaced",
            p.run,
            keys.join(","),
            p.already_in_lake.0,
            p.already_in_lake.1,
            p.replaced.0,
            p.replaced.1
        )?;
        let totals: Vec<String> = p
            .lake_rows
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        writeln!(w, "lake now holds: {}", totals.join(", "))?;
    }
    writeln!(w, "wrote {} in {:.2} s", r.output.display(), r.seconds)?;
    Ok(())
}

/// `chatql schema`: every table's columns with type and meaning.
pub fn schema(tables: &[Table], markdown: bool, w: &mut dyn Write) -> io::Result<()> {
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        let schema = t.schema();
        if markdown {
            writeln!(w, "### `{}`\n\n{}\n", t.name(), t.doc())?;
            writeln!(w, "| column | type | meaning |\n|---|---|---|")?;
            for (f, c) in schema.fields().iter().zip(t.columns()) {
                writeln!(
                    w,
                    "| `{}` | {} | {} |",
                    f.name(),
                    f.data_type(),
                    c.doc.replace('|', "\\|")
                )?;
            }
        } else {
            writeln!(w, "{}: {}", t.name(), t.doc())?;
            let mut g = grid(&["column", "type", "meaning"]);
            for (f, c) in schema.fields().iter().zip(t.columns()) {
                g.add_row(vec![
                    f.name().to_string(),
                    f.data_type().to_string(),
                    c.doc.to_owned(),
                ]);
            }
            writeln!(w, "{g}")?;
        }
    }
    Ok(())
}

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A box-drawn table sized to the terminal.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// Tab-separated values with a header.
    Tsv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// A Parquet file (needs an output file).
    Parquet,
}

/// How results are rendered.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Output format.
    pub format: Format,
    /// Most rows shown in `table` and `markdown` (None: all).
    pub max_rows: Option<usize>,
    /// Longest cell text in `table` before it is cut with an ellipsis.
    pub max_cell_chars: usize,
    /// Terminal width for `table`, when known.
    pub width: Option<u16>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            format: Format::Table,
            max_rows: Some(40),
            max_cell_chars: 60,
            width: None,
        }
    }
}

/// What rendering left out, for a footer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Rows in the result.
    pub rows: usize,
    /// Rows not shown because of `max_rows`.
    pub hidden: usize,
}

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// One formatter per column of `b`: how every cell of every output format is written.
pub(crate) fn formatters<'a>(
    b: &'a RecordBatch,
    opts: &'a FormatOptions<'a>,
) -> io::Result<Vec<ArrayFormatter<'a>>> {
    b.columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), opts))
        .collect::<Result<_, _>>()
        .map_err(io::Error::other)
}

/// Cell text of every row (up to `limit`) of the batches, one formatter per column.
fn cells(batches: &[RecordBatch], limit: usize) -> io::Result<Vec<Vec<String>>> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        if rows.len() >= limit {
            break;
        }
        let fmts = formatters(b, &opts)?;
        for i in 0..b.num_rows().min(limit - rows.len()) {
            rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(rows)
}

fn truncate(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut t: String = flat.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Renders query results to `w` in the chosen format. Parquet output goes through
/// [`write_parquet`] instead.
pub fn write_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<Rendered> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    match opts.format {
        Format::Table | Format::Markdown => {
            let limit = opts.max_rows.unwrap_or(usize::MAX);
            let rows = cells(batches, limit)?;
            let shown = rows.len();
            if opts.format == Format::Table {
                let mut g = grid(&names);
                if let Some(width) = opts.width {
                    g.set_width(width);
                }
                for r in rows {
                    g.add_row(
                        r.iter()
                            .map(|c| truncate(c, opts.max_cell_chars))
                            .collect::<Vec<_>>(),
                    );
                }
                for (i, f) in schema.fields().iter().enumerate() {
                    if f.data_type().is_numeric() {
                        if let Some(c) = g.column_mut(i) {
                            c.set_cell_alignment(CellAlignment::Right);
                        }
                    }
                }
                writeln!(w, "{g}")?;
            } else {
                let esc = |s: &str| s.replace('|', "\\|").replace('\n', "<br>");
                writeln!(
                    w,
                    "| {} |",
                    names.iter().map(|n| esc(n)).collect::<Vec<_>>().join(" | ")
                )?;
                writeln!(
                    w,
                    "|{}|",
                    names.iter().map(|_| "---").collect::<Vec<_>>().join("|")
                )?;
                for r in rows {
                    writeln!(
                        w,
                        "| {} |",
                        r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
                    )?;
                }
            }
            Ok(Rendered {
                rows: total,
                hidden: total - shown,
            })
        }
        Format::Csv | Format::Tsv => {
            let mut out = csv::WriterBuilder::new()
                .delimiter(if opts.format == Format::Csv {
                    b','
                } else {
                    b'\t'
                })
                .from_writer(w);
            out.write_record(&names).map_err(io::Error::other)?;
            let json_opts = FormatOptions::default().with_null("");
            for b in batches {
                let fmts = formatters(b, &json_opts)?;
                for i in 0..b.num_rows() {
                    out.write_record(fmts.iter().map(|f| f.value(i).to_string()))
                        .map_err(|e| match e.into_kind() {
                            csv::ErrorKind::Io(io) => io,
                            other => io::Error::other(format!("{other:?}")),
                        })?;
                }
            }
            out.flush()?;
            Ok(Rendered {
                rows: total,
                hidden: 0,
            })
        }
        Format::Json | Format::Ndjson => {
            use datafusion::arrow::json::{
                writer::JsonArray, writer::LineDelimited, WriterBuilder,
            };
            let err = |e: datafusion::arrow::error::ArrowError| match e {
                datafusion::arrow::error::ArrowError::IoError(_, io) => io,
                other => io::Error::other(other),
            };
            if opts.format == Format::Json {
                if total == 0 {
                    writeln!(w, "[]")?;
                } else {
                    let mut jw = WriterBuilder::new()
                        .with_explicit_nulls(true)
                        .build::<_, JsonArray>(&mut *w);
                    for b in batches {
                        jw.write(b).map_err(err)?;
                    }
                    jw.finish().map_err(err)?;
                    writeln!(w)?;
                }
            } else {
                let mut jw = WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, LineDelimited>(&mut *w);
                for b in batches {
                    jw.write(b).map_err(err)?;
                }
                jw.finish().map_err(err)?;
            }
            Ok(Rendered {
                rows: total,
                hidden: 0,
            })
        }
        Format::Parquet => Err(io::Error::other("parquet output needs -o FILE")),
    }
}

/// Writes results as a zstd Parquet file, atomically (temporary file, then rename).
pub fn write_parquet(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    path: &std::path::Path,
) -> crate::Result<usize> {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::{Compression, ZstdLevel};
    use datafusion::parquet::file::properties::WriterProperties;
    let err = |e: datafusion::parquet::errors::ParquetError| crate::Error::Write {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .build();
    let mut writer = ArrowWriter::try_new(
        tmp.reopen().map_err(|e| crate::Error::io(path, e))?,
        schema.clone(),
        Some(props),
    )
    .map_err(err)?;
    let mut rows = 0;
    for b in batches {
        writer.write(b).map_err(err)?;
        rows += b.num_rows();
    }
    writer.close().map_err(err)?;
    crate::query::persist(tmp, path)?;
    Ok(rows)
}

/// Renders report results in a text format (`table`, `markdown`, `json`, `csv`); HTML is
/// [`crate::html::report_page`].
pub fn write_reports(
    results: &[crate::report::ReportResult],
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

/// `chatql inspect` as text: per file, kinds, eras, keys, conflicts and rejects.
pub fn inspect_report(files: &[crate::inspect::FileReport], w: &mut dyn Write) -> io::Result<()> {
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        writeln!(w, "{}\n  {} lines, {}", f.file, f.lines, bytes(f.bytes))?;
        writeln!(
            w,
            "  kinds: {}",
            if f.kinds.is_empty() {
                "none".into()
            } else {
                join(&f.kinds)
            }
        )?;
        if !f.eras.is_empty() {
            writeln!(w, "  era signals: {}", join(&f.eras))?;
        }
        if !f.keys.is_empty() {
            let mut g = grid(&["level", "key", "count", "types", "first seen"]);
            for k in &f.keys {
                let types: Vec<String> = k.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
                g.add_row(vec![
                    k.level.clone(),
                    k.key.clone(),
                    k.count.to_string(),
                    types.join(", "),
                    k.first_seen.clone(),
                ]);
            }
            writeln!(w, "{g}")?;
        }
        for c in &f.conflicts {
            writeln!(w, "  type conflict: {c}")?;
        }
        for r in &f.rejects {
            writeln!(
                w,
                "  reject: {}:{} (byte {}): {}",
                f.file, r.line, r.byte_offset, r.reason
            )?;
        }
    }
    Ok(())
}
