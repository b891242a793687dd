//! A conversation's rows read straight from a local lake's Parquet files. The lake is
//! written in conversation order, so each conversation's rows are a run in one file: the
//! runs are found once, when the app opens (one pass over the `convo_id` column of the
//! three tables a thread shows), and a thread then decodes only the pages of its rows,
//! with no SQL planning per request. Lakes in object storage, partitioned lakes and raw
//! exports keep the SQL path of thread.rs.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::file::metadata::PageIndexPolicy;

use crate::error::{Error, Result};
use crate::lake::LakeSnapshot;
use crate::table::Table;

/// The tables a thread reads, in the order of [`RowIndex::runs`]' entries.
pub const TABLES: [Table; 3] = [Table::Conversations, Table::Messages, Table::Contexts];

/// One run of a conversation's rows: file, first row, row count.
#[derive(Debug, Clone, Copy)]
struct Run {
    file: u32,
    start: u64,
    len: u32,
}

/// A table's files, opened once.
struct Files {
    files: Vec<(PathBuf, ArrowReaderMetadata)>,
}

/// Where each conversation's rows are, per table.
pub struct RowIndex {
    tables: Vec<Files>,
    runs: HashMap<Box<str>, [Vec<Run>; 3]>,
}

impl RowIndex {
    /// Indexes the thread tables of `lake` (a local lake without partitions).
    pub fn build(lake: &LakeSnapshot) -> Result<RowIndex> {
        let mut runs: HashMap<Box<str>, [Vec<Run>; 3]> = HashMap::new();
        let mut tables = Vec::new();
        for (k, t) in TABLES.into_iter().enumerate() {
            let mut files = Vec::new();
            for (f, path) in lake.files(t)?.into_iter().enumerate() {
                let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                // The offset index says where each page starts: the pages of other
                // conversations are skipped, not decoded.
                let opts =
                    ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
                let meta =
                    ArrowReaderMetadata::load(&file, opts).map_err(|e| Error::read(&path, e))?;
                index_file(&path, file, &meta, f as u32, k, &mut runs)?;
                files.push((path, meta));
            }
            tables.push(Files { files });
        }
        Ok(RowIndex { tables, runs })
    }

    /// Whether conversation `id` has rows in the conversations table.
    pub fn has(&self, id: &str) -> bool {
        self.runs.get(id).is_some_and(|r| !r[0].is_empty())
    }

    /// The `columns` of conversation `id`'s rows in table `TABLES[k]`, in file order.
    pub fn read(&self, k: usize, id: &str, columns: &[&str]) -> Result<Vec<RecordBatch>> {
        let Some(runs) = self.runs.get(id) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for run in &runs[k] {
            let (path, meta) = &self.tables[k].files[run.file as usize];
            out.extend(read_run(path, meta, *run, columns)?);
        }
        Ok(out)
    }
}

/// Adds the runs of `convo_id` values in one file (`handle`, opened at `path`).
fn index_file(
    path: &PathBuf,
    handle: File,
    meta: &ArrowReaderMetadata,
    file: u32,
    k: usize,
    runs: &mut HashMap<Box<str>, [Vec<Run>; 3]>,
) -> Result<()> {
    let col = meta
        .schema()
        .index_of("convo_id")
        .map_err(|e| Error::read(path, e))?;
    let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), [col]);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone())
        .with_projection(mask)
        .with_batch_size(64 << 10)
        .build()
        .map_err(|e| Error::read(path, e))?;
    let mut row = 0u64;
    let mut current: Option<(String, u64)> = None;
    let mut close = |id: String, start: u64, end: u64| {
        let entry = runs.entry(id.into_boxed_str()).or_default();
        entry[k].push(Run {
            file,
            start,
            len: (end - start) as u32,
        });
    };
    for batch in reader {
        let batch = batch.map_err(|e| Error::read(path, e))?;
        let ids = cast(batch.column(0), &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        for i in 0..ids.len() {
            let id = if ids.is_valid(i) { ids.value(i) } else { "" };
            match &current {
                Some((c, _)) if c == id => {}
                _ => {
                    if let Some((c, start)) = current.take() {
                        close(c, start, row);
                    }
                    current = Some((id.to_owned(), row));
                }
            }
            row += 1;
        }
    }
    if let Some((c, start)) = current {
        close(c, start, row);
    }
    Ok(())
}

/// Decodes one run: only the row groups it spans, and within them only its rows (the
/// page index lets the reader skip the other pages).
fn read_run(
    path: &PathBuf,
    meta: &ArrowReaderMetadata,
    run: Run,
    columns: &[&str],
) -> Result<Vec<RecordBatch>> {
    let end = run.start + run.len as u64;
    let mut groups = Vec::new();
    let mut first_row = None;
    let mut at = 0u64;
    for (g, rg) in meta.metadata().row_groups().iter().enumerate() {
        let n = rg.num_rows() as u64;
        if at + n > run.start && at < end {
            groups.push(g);
            first_row.get_or_insert(at);
        }
        at += n;
    }
    let Some(first_row) = first_row else {
        return Ok(Vec::new());
    };
    let roots: Vec<usize> = columns
        .iter()
        .map(|c| meta.schema().index_of(c).map_err(|e| Error::read(path, e)))
        .collect::<Result<_>>()?;
    let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), roots);
    let selection = RowSelection::from(vec![
        RowSelector::skip((run.start - first_row) as usize),
        RowSelector::select(run.len as usize),
    ]);
    let handle = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone())
        .with_projection(mask)
        .with_row_groups(groups)
        .with_row_selection(selection)
        .with_batch_size(run.len.max(1) as usize)
        .build()
        .map_err(|e| Error::read(path, e))?;
    let batches: Vec<RecordBatch> = reader
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::read(path, e))?;
    // The projection keeps the file's column order: put them in the order asked for.
    batches
        .into_iter()
        .map(|b| {
            let idx: Vec<usize> = columns
                .iter()
                .map(|c| b.schema().index_of(c).map_err(|e| Error::read(path, e)))
                .collect::<Result<_>>()?;
            Ok(b.project(&idx)?)
        })
        .collect()
}
