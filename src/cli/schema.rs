//! `chatql schema`: every table's columns with type and meaning (the README's table
//! section is this command's Markdown output).

use std::io::{self, Write};

use anyhow::Result;
use chatql::render::grid;
use chatql::table::Table;

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Only these tables.
    #[arg(value_name = "TABLE")]
    tables: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Table)]
    format: SchemaFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaFormat {
    Table,
    Markdown,
}

pub fn run(a: SchemaArgs) -> Result<()> {
    let tables = if a.tables.is_empty() {
        Table::ALL.to_vec()
    } else {
        a.tables
            .iter()
            .map(|n| {
                Table::from_name(n).ok_or_else(|| {
                    let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
                    chatql::Error::Usage(format!(
                        "no table {n:?}; tables are: {}",
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut out = io::stdout().lock();
    print(
        &tables,
        matches!(a.format, SchemaFormat::Markdown),
        &mut out,
    )
    .and_then(|_| out.flush())
    .map_err(chatql::Error::Output)?;
    Ok(())
}

/// `chatql schema`: every table's columns with type and meaning.
pub fn print(tables: &[Table], markdown: bool, w: &mut dyn Write) -> io::Result<()> {
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        let schema = t.schema();
        if markdown {
            writeln!(w, "## `{}`\n\n{}\n", t.name(), t.doc())?;
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
