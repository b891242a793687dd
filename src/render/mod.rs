//! Rendering record batches: one function over batches for every output format (table,
//! CSV, TSV, JSON, NDJSON, Markdown), writing to any `io::Write`, so the binary sends it to
//! stdout and tests to a buffer. A leaf: it knows no command, table or report.

pub mod page;

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

/// Text made safe inside HTML elements and attribute values, quoted either way.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 32);
    // Runs without a special byte copied whole; the five are ASCII, so every cut is at a
    // character's boundary.
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(entity);
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out
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
    /// An HTML `<table>` (a notebook's view of a result; a fragment, not a page).
    Html,
    /// A Parquet file (needs an output file).
    Parquet,
}

impl Format {
    /// The format a file's name asks for (`out.parquet`, `rows.csv`, `rows.jsonl.gz`), when
    /// `--format` is not given.
    pub fn of_path(path: &std::path::Path) -> Option<Format> {
        let mut ext = path.extension()?.to_str()?.to_ascii_lowercase();
        if matches!(ext.as_str(), "gz" | "zst") {
            ext = std::path::Path::new(path.file_stem()?)
                .extension()?
                .to_str()?
                .to_ascii_lowercase();
        }
        Some(match ext.as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "md" | "markdown" => Format::Markdown,
            "html" | "htm" => Format::Html,
            "parquet" | "pq" => Format::Parquet,
            _ => return None,
        })
    }
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
/// `chatql::lake::encode::write_results` instead.
pub fn write_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<Rendered> {
    let mut out = BatchWriter::new(schema, opts, w)?;
    for b in batches {
        out.write(b)?;
    }
    out.finish()
}

/// What a format keeps between batches.
enum State<'w> {
    /// `table`, `markdown` and `html`: the cells of the rows shown (at most `max_rows`), drawn at
    /// the end since column widths depend on every row shown.
    Grid(Vec<Vec<String>>, &'w mut dyn Write),
    /// CSV and TSV, row by row.
    Csv(csv::Writer<&'w mut dyn Write>),
    /// One JSON array, batch by batch.
    Json(
        datafusion::arrow::json::Writer<
            &'w mut dyn Write,
            datafusion::arrow::json::writer::JsonArray,
        >,
    ),
    /// One JSON object per line.
    Ndjson(
        datafusion::arrow::json::Writer<
            &'w mut dyn Write,
            datafusion::arrow::json::writer::LineDelimited,
        >,
    ),
}

/// A result rendered as its batches arrive: memory stays bounded whatever the result's
/// size (the table formats keep only the rows they show).
pub struct BatchWriter<'w> {
    schema: SchemaRef,
    opts: RenderOptions,
    state: State<'w>,
    rows: usize,
    /// A reused buffer for one CSV cell.
    cell: String,
}

/// An Arrow error as an I/O error (keeping the I/O error a failed write carries).
fn arrow_io(e: datafusion::arrow::error::ArrowError) -> io::Error {
    match e {
        datafusion::arrow::error::ArrowError::IoError(_, io) => io,
        other => io::Error::other(other),
    }
}

/// A CSV error as an I/O error.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<'w> BatchWriter<'w> {
    /// Starts a result of `schema` on `w` (CSV and TSV write their header now).
    pub fn new(schema: &SchemaRef, opts: &RenderOptions, w: &'w mut dyn Write) -> io::Result<Self> {
        use datafusion::arrow::json::WriterBuilder;
        let state = match opts.format {
            Format::Table | Format::Markdown | Format::Html => State::Grid(Vec::new(), w),
            Format::Csv | Format::Tsv => {
                let delimiter = if opts.format == Format::Csv {
                    b','
                } else {
                    b'\t'
                };
                let mut out = csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .from_writer(w);
                out.write_record(schema.fields().iter().map(|f| f.name()))
                    .map_err(csv_io)?;
                State::Csv(out)
            }
            Format::Json => State::Json(WriterBuilder::new().with_explicit_nulls(true).build(w)),
            Format::Ndjson => {
                State::Ndjson(WriterBuilder::new().with_explicit_nulls(true).build(w))
            }
            Format::Parquet => return Err(io::Error::other("parquet output needs -o FILE")),
        };
        Ok(BatchWriter {
            schema: schema.clone(),
            opts: opts.clone(),
            state,
            rows: 0,
            cell: String::new(),
        })
    }

    /// Renders one batch.
    pub fn write(&mut self, b: &RecordBatch) -> io::Result<()> {
        match &mut self.state {
            State::Grid(rows, _) => {
                let limit = self.opts.max_rows.unwrap_or(usize::MAX);
                let take = b.num_rows().min(limit.saturating_sub(rows.len()));
                if take > 0 {
                    let opts = FormatOptions::default().with_null("NULL");
                    let fmts = formatters(b, &opts)?;
                    for i in 0..take {
                        rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
                    }
                }
            }
            State::Csv(out) => {
                use std::fmt::Write as _;
                let opts = FormatOptions::default().with_null("");
                let fmts = formatters(b, &opts)?;
                for i in 0..b.num_rows() {
                    for f in &fmts {
                        self.cell.clear();
                        write!(self.cell, "{}", f.value(i)).map_err(io::Error::other)?;
                        out.write_field(&self.cell).map_err(csv_io)?;
                    }
                    out.write_record(None::<&[u8]>).map_err(csv_io)?;
                }
            }
            State::Json(jw) => jw.write(b).map_err(arrow_io)?,
            State::Ndjson(jw) => jw.write(b).map_err(arrow_io)?,
        }
        self.rows += b.num_rows();
        Ok(())
    }

    /// Ends the result: draws the table, closes the JSON array, flushes.
    pub fn finish(self) -> io::Result<Rendered> {
        let BatchWriter {
            schema,
            opts,
            state,
            rows,
            ..
        } = self;
        let shown = match state {
            State::Grid(cells, w) => {
                let shown = cells.len();
                draw_grid(&schema, &opts, cells, w)?;
                shown
            }
            State::Csv(mut out) => {
                out.flush()?;
                rows
            }
            State::Json(mut jw) => {
                if rows == 0 {
                    jw.into_inner().write_all(b"[]\n")?;
                } else {
                    jw.finish().map_err(arrow_io)?;
                    jw.into_inner().write_all(b"\n")?;
                }
                rows
            }
            State::Ndjson(mut jw) => {
                jw.finish().map_err(arrow_io)?;
                rows
            }
        };
        Ok(Rendered {
            rows,
            hidden: rows - shown,
        })
    }
}

/// An HTML table of these cells: escaped, long text cut as in `table`, numbers right-aligned.
fn draw_html(
    schema: &SchemaRef,
    opts: &RenderOptions,
    rows: &[Vec<String>],
    w: &mut dyn Write,
) -> io::Result<()> {
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    write!(w, "<table>\n<thead><tr>")?;
    for f in schema.fields() {
        write!(w, "<th>{}</th>", html_escape(f.name()))?;
    }
    writeln!(w, "</tr></thead>\n<tbody>")?;
    for r in rows {
        write!(w, "<tr>")?;
        for (c, num) in r.iter().zip(&numeric) {
            let align = if *num {
                " style=\"text-align:right\""
            } else {
                ""
            };
            let text = html_escape(&truncate(c, opts.max_cell_chars));
            write!(w, "<td{align}>{text}</td>")?;
        }
        writeln!(w, "</tr>")?;
    }
    writeln!(w, "</tbody>\n</table>")
}

/// Draws `table`, `markdown` or `html` of these cells.
fn draw_grid(
    schema: &SchemaRef,
    opts: &RenderOptions,
    rows: Vec<Vec<String>>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    if opts.format == Format::Html {
        return draw_html(schema, opts, &rows, w);
    }
    if opts.format == Format::Markdown {
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', "<br>");
        let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
        writeln!(w, "{}", line(names.iter().map(|n| esc(n)).collect()))?;
        writeln!(w, "|{}|", vec!["---"; names.len()].join("|"))?;
        for r in rows {
            writeln!(w, "{}", line(r.iter().map(|c| esc(c)).collect()))?;
        }
        return Ok(());
    }
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
    writeln!(w, "{g}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_escape_replaces_the_five_and_keeps_the_rest() {
        assert_eq!(
            super::html_escape("<a href=\"x\">Tom's & é→</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; é→&lt;/a&gt;"
        );
        assert_eq!(super::html_escape(""), "");
        assert_eq!(super::html_escape("plain ünïcode"), "plain ünïcode");
        assert_eq!(super::html_escape("&&"), "&amp;&amp;");
    }
}
