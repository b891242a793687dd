//! `chatql convert`: exports in, a Parquet lake out (one zstd file per non-empty table and
//! a `manifest.json`), written under a temporary name and renamed when complete.
//!
//! Deduplication ([`crate::dedup`]) costs nothing in the common case: ingest writes every
//! version as it streams, and only if a duplicate turned up are the affected tables
//! rewritten without the losing versions.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::dedup::{Dedup, LevelFilter, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::error::{Error, Result};
use crate::ingest::{ingest, DecodeStats, IngestOptions, Inputs};
use crate::schema::{Table, SCHEMA_VERSION};

/// Options of `convert`.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Output folder.
    pub output: PathBuf,
    /// Replace an existing output folder.
    pub force: bool,
    /// Fail on the first rejected record.
    pub strict: bool,
    /// Keep every version of a conversation or document.
    pub keep_duplicates: bool,
    /// zstd level of the Parquet pages.
    pub zstd_level: i32,
    /// Replace every email in every string column with a keyed pseudonym.
    pub redact_key: Option<String>,
    /// How ingest runs.
    pub ingest: IngestOptions,
    /// Write a Hive-partitioned lake split by these keys ([`crate::partition`]).
    pub partition_by: Option<Vec<crate::partition::Key>>,
    /// Add to an existing partitioned lake instead of refusing it.
    pub append: bool,
}

impl ConvertOptions {
    /// Options with defaults for everything but the output folder.
    pub fn new(output: impl Into<PathBuf>) -> ConvertOptions {
        ConvertOptions {
            output: output.into(),
            force: false,
            strict: false,
            keep_duplicates: false,
            zstd_level: 3,
            redact_key: None,
            ingest: IngestOptions::default(),
            partition_by: None,
            append: false,
        }
    }
}

/// What `convert` did; also the content of `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertReport {
    /// chatql version.
    pub tool_version: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the conversion finished (UTC, RFC 3339).
    pub created_at: String,
    /// Input files with size and SHA-256.
    pub inputs: Vec<InputReport>,
    /// Rows written per table (every table listed, 0 when no file was written).
    pub tables: Vec<TableReport>,
    /// Duplicate versions dropped.
    pub duplicates: Duplicates,
    /// Lines, bytes and records read, and rejects.
    pub read: DecodeStats,
    /// Files and zip members passed over as not being exports.
    pub skipped: Vec<String>,
    /// Seconds taken.
    #[serde(skip)]
    pub seconds: f64,
    /// Output folder.
    #[serde(skip)]
    pub output: PathBuf,
    /// For a partitioned lake: what this run did to it.
    #[serde(skip)]
    pub partitioned: Option<PartitionedRun>,
}

/// What a run did to a partitioned lake.
#[derive(Debug, Clone)]
pub struct PartitionedRun {
    /// The partition keys.
    pub keys: Vec<crate::partition::Key>,
    /// The run's number (1 for a new lake).
    pub run: u32,
    /// Conversations and documents already in the lake, same or newer (not written again).
    pub already_in_lake: (u64, u64),
    /// Older versions in the lake replaced by this run's.
    pub replaced: (u64, u64),
    /// Rows per table in the whole lake after the run.
    pub lake_rows: Vec<(String, u64)>,
}

/// One input file in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// One table in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// Table name.
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// File name in the output folder, when rows > 0.
    pub file: Option<String>,
}

/// Duplicate versions dropped.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Duplicates {
    /// Conversation versions dropped.
    pub conversations: u64,
    /// Document versions dropped.
    pub documents: u64,
}

impl ConvertReport {
    /// Rows written to `table`.
    pub fn rows(&self, table: Table) -> u64 {
        self.tables
            .iter()
            .find(|t| t.name == table.name())
            .map_or(0, |t| t.rows)
    }
}

/// Writes one table to a Parquet file, flushing row groups by size so that memory stays
/// bounded for wide rows (embeddings).
pub(crate) struct TableWriter {
    writer: ArrowWriter<File>,
    rows: u64,
}

/// Bytes buffered before a row group is flushed.
const ROW_GROUP_BYTES: usize = 16 << 20;

fn writer_props(level: i32) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(level).map_err(|e| Error::Usage(format!("zstd level: {e}")))?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(1 << 20))
        .build())
}

impl TableWriter {
    pub(crate) fn create(
        path: &Path,
        table: Table,
        props: WriterProperties,
    ) -> Result<TableWriter> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer =
            ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(|e| Error::Write {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(TableWriter { writer, rows: 0 })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch, path: &Path) -> Result<()> {
        let err = |e: datafusion::parquet::errors::ParquetError| Error::Write {
            path: path.to_owned(),
            message: e.to_string(),
        };
        self.writer.write(batch).map_err(err)?;
        if self.writer.in_progress_size() > ROW_GROUP_BYTES {
            self.writer.flush().map_err(err)?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    pub(crate) fn close(self, path: &Path) -> Result<u64> {
        self.writer.close().map_err(|e| Error::Write {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(self.rows)
    }
}

/// A folder being written under a temporary name; removed on drop unless committed.
struct TempDir {
    path: PathBuf,
    committed: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn file_name(table: Table) -> String {
    format!("{}.parquet", table.name())
}

/// Converts the exports named by `args` into a Parquet lake.
pub fn convert(args: &[String], opts: &ConvertOptions) -> Result<ConvertReport> {
    let started = Instant::now();
    let out = &opts.output;
    let (keys, appending) = partition_plan(opts)?;
    if out.exists() && !opts.force && !appending {
        return Err(Error::OutputExists(out.clone()));
    }
    let inputs = Inputs::expand(args)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let base = out
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = TempDir {
        path: parent.join(format!(".{base}.tmp-{}", std::process::id())),
        committed: false,
    };
    if tmp.path.exists() {
        std::fs::remove_dir_all(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
    }
    std::fs::create_dir(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
    let props = writer_props(opts.zstd_level)?;

    let mut writers: HashMap<Table, TableWriter> = HashMap::new();
    let mut convo_dedup = Dedup::default();
    let mut doc_dedup = Dedup::default();
    let redactor = opts
        .redact_key
        .as_deref()
        .map(crate::export::redact::Redactor::new);
    let summary = ingest(&inputs, &opts.ingest, |decoded| {
        for (table, batch) in &decoded.batches {
            let redacted;
            let batch = match &redactor {
                Some(r) => {
                    redacted = r.redact_batch(batch)?;
                    &redacted
                }
                None => batch,
            };
            if opts.strict && *table == Table::Rejects {
                let b = batch;
                let s = |c: usize| b.column(c).as_string::<i32>().value(0).to_owned();
                let n = |c: usize| b.column(c).as_primitive::<Int64Type>().value(0) as u64;
                return Err(Error::Rejected {
                    file: s(0),
                    line: n(1),
                    offset: n(2),
                    reason: s(3),
                });
            }
            if !opts.keep_duplicates {
                match table {
                    Table::Conversations => convo_dedup.offer_batch(*table, batch),
                    Table::Documents => doc_dedup.offer_batch(*table, batch),
                    _ => {}
                }
            }
            let path = tmp.path.join(file_name(*table));
            let w = match writers.entry(*table) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(TableWriter::create(&path, *table, props.clone())?)
                }
            };
            w.write(batch, &path)?;
        }
        Ok(())
    })?;

    let mut rows: HashMap<Table, u64> = HashMap::new();
    for (table, w) in writers {
        let path = tmp.path.join(file_name(table));
        rows.insert(table, w.close(&path)?);
    }
    let duplicates = Duplicates {
        conversations: convo_dedup.losers().len() as u64,
        documents: doc_dedup.losers().len() as u64,
    };
    for (d, chain) in [
        (&convo_dedup, CONVERSATION_CHAIN),
        (&doc_dedup, DOCUMENT_CHAIN),
    ] {
        if !d.losers().is_empty() {
            rows.extend(drop_versions(&tmp.path, chain, d.losers(), &props)?);
        }
    }

    let report = ConvertReport {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: SCHEMA_VERSION,
        created_at: crate::model::format_timestamp_pg(crate::model::now_us()),
        inputs: inputs
            .files
            .iter()
            .zip(&summary.sha256)
            .map(|(f, h)| InputReport {
                path: f.path.to_string_lossy().into_owned(),
                size: f.size,
                sha256: h.clone(),
            })
            .collect(),
        tables: Table::ALL
            .iter()
            .map(|t| {
                let n = rows.get(t).copied().unwrap_or(0);
                TableReport {
                    name: t.name().to_owned(),
                    rows: n,
                    file: (n > 0).then(|| file_name(*t)),
                }
            })
            .collect(),
        duplicates,
        read: summary.stats,
        skipped: inputs.skipped.clone(),
        seconds: started.elapsed().as_secs_f64(),
        output: out.clone(),
        partitioned: None,
    };
    if let Some(keys) = keys {
        return finish_partitioned(report, tmp, keys, appending, &props, opts, started);
    }
    // A table emptied by deduplication leaves no file behind.
    for t in Table::ALL {
        let p = tmp.path.join(file_name(*t));
        if rows.get(t) == Some(&0) && p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let manifest = serde_json::to_string_pretty(&report).expect("serializable");
    let mpath = tmp.path.join("manifest.json");
    std::fs::write(&mpath, manifest + "\n").map_err(|e| Error::io(&mpath, e))?;
    commit(tmp, out)?;
    Ok(report)
}

/// The partition keys to write with, and whether the run appends to an existing lake.
fn partition_plan(opts: &ConvertOptions) -> Result<(Option<Vec<crate::partition::Key>>, bool)> {
    let out = &opts.output;
    if opts.append && opts.force {
        return Err(Error::Usage(
            "--append and --force exclude each other".into(),
        ));
    }
    let existing = if opts.append && out.exists() {
        if !crate::catalog::is_lake(out) {
            return Err(Error::Usage(format!(
                "--append: {} is not a folder written by `chatql convert`",
                out.display()
            )));
        }
        match crate::partition::lake_keys(out)? {
            Some(k) => Some(k),
            None => {
                return Err(Error::Usage(format!(
                    "--append: {} is a flat lake; only a lake written with --partition-by \
                     can be appended to",
                    out.display()
                )))
            }
        }
    } else {
        None
    };
    let names =
        |k: &[crate::partition::Key]| k.iter().map(|k| k.name()).collect::<Vec<_>>().join(",");
    match (&opts.partition_by, existing) {
        (Some(a), Some(b)) if *a != b => Err(Error::Usage(format!(
            "--partition-by {} differs from the lake's {}",
            names(a),
            names(&b)
        ))),
        (Some(_), Some(b)) | (None, Some(b)) => Ok((Some(b), true)),
        (Some(a), None) => Ok((Some(a.clone()), false)),
        (None, None) if opts.append => Err(Error::Usage(
            "--append to a new folder needs --partition-by".into(),
        )),
        (None, None) => Ok((None, false)),
    }
}

/// Lays out the flat conversion in `tmp` as a partitioned lake (a new one, or a run
/// appended to the existing one).
fn finish_partitioned(
    mut report: ConvertReport,
    tmp: TempDir,
    keys: Vec<crate::partition::Key>,
    appending: bool,
    props: &WriterProperties,
    opts: &ConvertOptions,
    started: Instant,
) -> Result<ConvertReport> {
    let out = &opts.output;
    let mut run = serde_json::to_value(&report).expect("serializable");
    if let Some(o) = run.as_object_mut() {
        for k in ["tool_version", "schema_version", "tables"] {
            o.remove(k);
        }
    }
    let (manifest, outcome) = crate::partition::write_run(
        &tmp.path,
        appending.then_some(out.as_path()),
        &keys,
        opts.keep_duplicates,
        props,
        run,
    )?;
    let last = &manifest["runs"][manifest["runs"].as_array().map_or(0, Vec::len) - 1];
    for t in &mut report.tables {
        t.rows = last["rows_added"][&t.name].as_u64().unwrap_or(0);
        t.file = (t.rows > 0).then(|| format!("{}/", t.name));
    }
    let lake_rows = manifest["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["rows"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    report.partitioned = Some(PartitionedRun {
        keys,
        run: last["run"].as_u64().unwrap_or(1) as u32,
        already_in_lake: outcome.already_present,
        replaced: outcome.replaced,
        lake_rows,
    });
    if !appending {
        let text = serde_json::to_string_pretty(&manifest).expect("serializable");
        let mpath = tmp.path.join("manifest.json");
        std::fs::write(&mpath, text + "\n").map_err(|e| Error::io(&mpath, e))?;
        commit(tmp, out)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Renames the finished folder into place, replacing an existing one (only with --force,
/// checked before starting).
fn commit(mut tmp: TempDir, out: &Path) -> Result<()> {
    if out.exists() {
        let old = tmp.path.with_extension("old");
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
        std::fs::rename(&tmp.path, out).map_err(|e| Error::io(out, e))?;
        let _ = if old.is_dir() {
            std::fs::remove_dir_all(&old)
        } else {
            std::fs::remove_file(&old)
        };
    } else {
        std::fs::rename(&tmp.path, out).map_err(|e| Error::io(out, e))?;
    }
    tmp.committed = true;
    Ok(())
}

/// Rewrites a parent table and its descendants (`chain`, parent first) without the rows of
/// the `losers` parent ordinals. Returns the rows kept per table.
pub(crate) fn drop_versions(
    dir: &Path,
    chain: &[Table],
    losers: &HashSet<u64>,
    props: &WriterProperties,
) -> Result<Vec<(Table, u64)>> {
    let mut kept = Vec::new();
    let mut filter = LevelFilter::top(chain[0], losers);
    for (level, table) in chain.iter().enumerate() {
        if level > 0 {
            filter = LevelFilter::child(*table, filter);
        }
        let path = dir.join(file_name(*table));
        if !path.exists() {
            kept.push((*table, 0));
            continue;
        }
        let tmp = dir.join(format!("{}.dedup", file_name(*table)));
        let reader = crate::partition::open_reader(&path, None)?;
        let mut writer = TableWriter::create(&tmp, *table, props.clone())?;
        for batch in reader {
            let filtered = filter.filter(&batch?)?;
            if filtered.num_rows() > 0 {
                writer.write(&filtered, &tmp)?;
            }
        }
        let n = writer.close(&tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        kept.push((*table, n));
    }
    Ok(kept)
}
