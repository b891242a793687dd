//! Rendering record batches: one function over batches for every output format (table,
//! CSV, TSV, JSON, NDJSON, Markdown), writing to any `io::Write`, so the binary sends it to
//! stdout and tests to a buffer. A leaf: it knows no command, table or report.

use std::io::{self, Write};

use comfy_table::{
    presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table as Grid,
};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Box-drawing without the top and bottom border lines, for reports that stack many
/// small tables.
const COMPACT: &str = "││  ╞═╪╡┆          ";

/// A box-drawn table with this header, in chatql's style.
pub fn grid(header: &[&str]) -> Grid {
    let mut g = Grid::new();
    g.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    g
}

/// Text made safe inside HTML elements and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    /// `table` without the top and bottom border lines.
    pub compact: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            format: Format::Table,
            max_rows: Some(40),
            max_cell_chars: 60,
            width: None,
            compact: false,
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

/// One formatter per column of `b`: how every cell of every output format is written.
pub fn formatters<'a>(
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
/// `chatql::lake::parquet::write_results` instead.
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
                if opts.compact {
                    g.load_preset(COMPACT);
                }
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
