//! Running statements against a [`Catalog`] and rendering each result to a writer or,
//! atomically, to a file (`chatql sql` and the shell).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use super::catalog::Catalog;
use crate::error::{Error, Result};
use crate::render::{self, Format, RenderOptions};

/// Where results go.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// How results are rendered.
    pub render: RenderOptions,
    /// Write results to this file (atomically) instead of the writer.
    pub output: Option<PathBuf>,
}

/// What a run of statements produced, for footers.
#[derive(Debug, Clone, Default)]
pub struct QueryReport {
    /// Statements run.
    pub statements: usize,
    /// Rows of the last result.
    pub rows: usize,
    /// Rows of the last result left out of a `table`/`markdown` rendering.
    pub hidden: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Runs every statement of `sql` and renders each result to `out` (or to the output file).
pub async fn run_statements(
    cat: &mut Catalog,
    sql: &str,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> Result<QueryReport> {
    let started = Instant::now();
    let stmts = cat.parse(sql)?;
    if stmts.is_empty() {
        return Err(Error::Usage("no SQL statement given".into()));
    }
    let mut report = QueryReport::default();
    let mut file_buf: Vec<u8> = Vec::new();
    let mut last = None;
    for (i, stmt) in stmts.into_iter().enumerate() {
        let (schema, batches) = cat.run(stmt).await?;
        report.statements += 1;
        if schema.fields().is_empty() {
            continue; // DDL and the like: nothing to show
        }
        if opts.render.format == Format::Parquet {
            last = Some((schema, batches));
            continue;
        }
        let w: &mut dyn Write = if opts.output.is_some() {
            &mut file_buf
        } else {
            &mut *out
        };
        if i > 0 && matches!(opts.render.format, Format::Table | Format::Markdown) {
            writeln!(w).map_err(Error::Output)?;
        }
        let r = render::write_batches(&schema, &batches, &opts.render, w).map_err(Error::Output)?;
        report.rows = r.rows;
        report.hidden = r.hidden;
    }
    match (&opts.output, last) {
        (Some(path), Some((schema, batches))) => {
            report.rows = crate::lake::parquet::write_results(&schema, &batches, path)?;
        }
        (None, Some(_)) => return Err(Error::Usage("--format parquet needs -o FILE".into())),
        (Some(path), None) => crate::lake::fs::write_atomic(path, &file_buf)?,
        (None, None) => {}
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
