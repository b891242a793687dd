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
        .set_header(header.iter().map(|h| Cell::new(h)));
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
