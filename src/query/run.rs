//! Running statements against a [`Catalog`] and rendering each result as its batches
//! arrive, to a writer or to an output file ([`crate::lake::sink::Sink`]: atomically, to
//! an object, or to standard output for `-`): memory stays bounded whatever the result's
//! size (`chatql sql` and the shell).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use super::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::sink::Sink;
use crate::render::{BatchWriter, Format, RenderOptions};

/// Where results go.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// How results are rendered.
    pub render: RenderOptions,
    /// Write results to this file (atomically; `-` is standard output) instead of the writer.
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
/// With `--format parquet` the file holds the last result.
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
    let parquet = opts.render.format == Format::Parquet;
    let Some(path) = opts.output.as_ref() else {
        if parquet {
            return Err(Error::Usage("--format parquet needs -o FILE".into()));
        }
        let mut report = run_each(cat, stmts, &opts.render, out, &mut |e| Error::Output(e)).await?;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    };
    let mut report = QueryReport::default();
    if parquet {
        // A file per result; the last one is put in place.
        let mut last = None;
        for stmt in stmts {
            let (schema, stream) = cat.execute(stmt).await?;
            report.statements += 1;
            if schema.fields().is_empty() {
                drain(stream).await?;
                continue;
            }
            let sink = Sink::create(path, false)?;
            let (rows, sink) = write_parquet(schema, stream, sink).await?;
            report.rows = rows as usize;
            last = Some(sink);
        }
        if let Some(sink) = last {
            sink.commit()?;
        }
    } else {
        let mut sink = Sink::create(path, true)?;
        let name = path.clone();
        report = run_each(cat, stmts, &opts.render, &mut sink, &mut |e| {
            crate::lake::sink::write_error(&name, e)
        })
        .await?;
        sink.commit()?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs the statements, rendering each result to `w` as it arrives.
async fn run_each(
    cat: &mut Catalog,
    stmts: Vec<datafusion::sql::parser::Statement>,
    render: &RenderOptions,
    w: &mut dyn Write,
    io_error: &mut dyn FnMut(std::io::Error) -> Error,
) -> Result<QueryReport> {
    let mut report = QueryReport::default();
    for (i, stmt) in stmts.into_iter().enumerate() {
        let (schema, stream) = cat.execute(stmt).await?;
        report.statements += 1;
        if schema.fields().is_empty() {
            drain(stream).await?; // DDL and the like: nothing to show
            continue;
        }
        if i > 0
            && matches!(
                render.format,
                Format::Table | Format::Markdown | Format::Html
            )
        {
            writeln!(w).map_err(&mut *io_error)?;
        }
        let r = render_stream(&schema, stream, render, w, io_error).await?;
        report.rows = r.rows;
        report.hidden = r.hidden;
    }
    Ok(report)
}

/// Renders one result's stream to `w`.
async fn render_stream(
    schema: &SchemaRef,
    mut stream: SendableRecordBatchStream,
    render: &RenderOptions,
    w: &mut dyn Write,
    io_error: &mut dyn FnMut(std::io::Error) -> Error,
) -> Result<crate::render::Rendered> {
    let mut out = BatchWriter::new(schema, render, w).map_err(&mut *io_error)?;
    while let Some(b) = stream.next().await {
        out.write(&b?).map_err(&mut *io_error)?;
    }
    out.finish().map_err(io_error)
}

/// Writes one result's stream as zstd Parquet to `sink`, its row groups encoded on every
/// core ([`crate::lake::encode::write_one`], on a blocking thread fed through a short
/// queue, so that the stream's own tasks keep running); returns its rows and the sink. An
/// error of the stream goes down the queue and ends the file unfinished.
async fn write_parquet(
    schema: SchemaRef,
    mut stream: SendableRecordBatchStream,
    sink: Sink,
) -> Result<(u64, Sink)> {
    let path = sink.path().to_owned();
    let props = crate::lake::parquet::result_props()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(1);
    let writer = tokio::task::spawn_blocking(move || {
        let batches = std::iter::from_fn(move || rx.blocking_recv());
        crate::lake::encode::write_one(sink, &path, schema, props, batches)
    });
    while let Some(b) = stream.next().await {
        let failed = b.is_err();
        // A closed queue means the writer failed: its error is the one to return.
        if tx.send(b.map_err(Error::from)).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    writer
        .await
        .map_err(|e| Error::Internal(format!("the Parquet writer: {e}")))?
}

/// Runs a stream to its end, for statements without rows.
async fn drain(mut stream: SendableRecordBatchStream) -> Result<()> {
    while let Some(b) = stream.next().await {
        b?;
    }
    Ok(())
}
