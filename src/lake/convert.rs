//! `chatql convert`: exports in, a Parquet lake out (one zstd file per non-empty table and
//! a `manifest.json`), written under a temporary name and renamed when complete.
//!
//! Deduplication ([`crate::table::dedup`]) costs nothing in the common case: ingest writes every
//! version as it streams, and only if a duplicate turned up are the affected tables
//! rewritten without the losing versions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

use super::fs::TempDir;
use super::manifest::{
    FlatManifest, InputReport, Manifest, PartitionedManifest, PerFamily, Reading, TableReport,
};
use super::parquet::{drop_versions, staging_props, writer_props, TableWriter};
use super::partition::Key;
use crate::error::{Error, Result};
use crate::ingest::{ingest, IngestOptions, Inputs};
use crate::table::dedup::{Dedup, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::redact::Redactor;
use crate::table::{col, Table, SCHEMA_VERSION};

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
    /// Write a Hive-partitioned lake split by these keys ([`crate::lake::partition`]).
    pub partition_by: Option<Vec<Key>>,
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

/// What `convert` did.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    /// What was read: inputs, counts, duplicates, skipped files.
    pub reading: Reading,
    /// Rows written per table (every table listed, 0 when nothing was written); for a
    /// partitioned lake, the rows this run added, with the table's folder as `file`.
    pub tables: Vec<TableReport>,
    /// Seconds taken.
    pub seconds: f64,
    /// Output folder.
    pub output: PathBuf,
    /// For a partitioned lake: what this run did to it.
    pub partitioned: Option<PartitionedRun>,
}

/// What a run did to a partitioned lake.
#[derive(Debug, Clone)]
pub struct PartitionedRun {
    /// The partition keys.
    pub keys: Vec<Key>,
    /// The run's number (1 for a new lake).
    pub run: u32,
    /// Conversations and documents already in the lake, same or newer (not written again).
    pub already_in_lake: PerFamily,
    /// Older versions in the lake replaced by this run's.
    pub replaced: PerFamily,
    /// Rows per table in the whole lake after the run.
    pub lake_rows: Vec<(String, u64)>,
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

/// Converts the exports named by `args` into a Parquet lake.
pub fn convert(args: &[String], opts: &ConvertOptions) -> Result<ConvertReport> {
    let started = Instant::now();
    let out = &opts.output;
    let (keys, appending) = partition_plan(opts)?;
    if out.exists() && !opts.force && !appending {
        return Err(Error::OutputExists(out.clone()));
    }
    let inputs = Inputs::expand(args)?;
    let tmp = TempDir::beside(out)?;
    let props = writer_props(opts.zstd_level)?;
    // A partitioned run writes a flat stage first and splits it: the stage is read once.
    let stage_props = if keys.is_some() {
        staging_props()
    } else {
        props.clone()
    };

    let mut writers: HashMap<Table, TableWriter> = HashMap::new();
    let mut convo_dedup = Dedup::default();
    let mut doc_dedup = Dedup::default();
    let redactor = opts.redact_key.as_deref().map(Redactor::new);
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
                use col::rejects as r;
                let b = batch;
                let s = |c: usize| b.column(c).as_string::<i32>().value(0).to_owned();
                let n = |c: usize| b.column(c).as_primitive::<Int64Type>().value(0) as u64;
                return Err(Error::Rejected {
                    file: s(r::source_file),
                    line: n(r::source_line),
                    offset: n(r::byte_offset),
                    reason: s(r::reason),
                });
            }
            if !opts.keep_duplicates {
                match table {
                    Table::Conversations => convo_dedup.offer_batch(*table, batch),
                    Table::Documents => doc_dedup.offer_batch(*table, batch),
                    _ => {}
                }
            }
            let path = tmp.path().join(table.file_name());
            let w = match writers.entry(*table) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(TableWriter::create(&path, *table, stage_props.clone())?)
                }
            };
            w.write(batch, &path)?;
        }
        Ok(())
    })?;

    let mut rows: HashMap<Table, u64> = HashMap::new();
    for (table, w) in writers {
        let path = tmp.path().join(table.file_name());
        rows.insert(table, w.close(&path)?);
    }
    let duplicates = PerFamily {
        conversations: convo_dedup.losers().len() as u64,
        documents: doc_dedup.losers().len() as u64,
    };
    for (d, chain) in [
        (&convo_dedup, CONVERSATION_CHAIN),
        (&doc_dedup, DOCUMENT_CHAIN),
    ] {
        if !d.losers().is_empty() {
            rows.extend(drop_versions(tmp.path(), chain, d.losers(), &stage_props)?);
        }
    }

    let reading = Reading {
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
        duplicates,
        read: summary.stats,
        skipped: inputs.skipped.clone(),
    };
    let tables = Table::ALL
        .iter()
        .map(|t| {
            let n = rows.get(t).copied().unwrap_or(0);
            TableReport {
                name: t.name().to_owned(),
                rows: n,
                file: (n > 0).then(|| t.file_name()),
            }
        })
        .collect();
    let mut report = ConvertReport {
        reading,
        tables,
        seconds: 0.0,
        output: out.clone(),
        partitioned: None,
    };
    if let Some(keys) = keys {
        let manifest = super::append::write_run(
            tmp.path(),
            appending.then_some(out.as_path()),
            &keys,
            opts.keep_duplicates,
            &props,
            report.reading.clone(),
        )?;
        report.set_run(&manifest);
        if !appending {
            Manifest::Partitioned(manifest).write(tmp.path())?;
            tmp.commit(out)?;
        }
    } else {
        // A table emptied by deduplication leaves no file behind.
        for t in Table::ALL {
            let p = tmp.path().join(t.file_name());
            if rows.get(t) == Some(&0) && p.exists() {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        Manifest::Flat(report.flat_manifest()).write(tmp.path())?;
        tmp.commit(out)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

impl ConvertReport {
    /// The manifest of the flat lake this report describes.
    fn flat_manifest(&self) -> FlatManifest {
        let r = self.reading.clone();
        FlatManifest {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version: SCHEMA_VERSION,
            created_at: r.created_at,
            inputs: r.inputs,
            tables: self.tables.clone(),
            duplicates: r.duplicates,
            read: r.read,
            skipped: r.skipped,
        }
    }

    /// Takes the rows added and the lake's totals from the manifest after this run.
    fn set_run(&mut self, manifest: &PartitionedManifest) {
        let Some(last) = manifest.runs.last() else {
            return;
        };
        for t in &mut self.tables {
            t.rows = last.rows_added.get(&t.name).copied().unwrap_or(0);
            t.file = (t.rows > 0).then(|| format!("{}/", t.name));
        }
        self.partitioned = Some(PartitionedRun {
            keys: manifest.partition_by.clone(),
            run: last.run,
            already_in_lake: last.already_in_lake,
            replaced: last.replaced_in_lake,
            lake_rows: manifest
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.rows))
                .collect(),
        });
    }
}

/// The partition keys to write with, and whether the run appends to an existing lake.
fn partition_plan(opts: &ConvertOptions) -> Result<(Option<Vec<Key>>, bool)> {
    let out = &opts.output;
    if opts.append && opts.force {
        return Err(Error::Usage(
            "--append and --force exclude each other".into(),
        ));
    }
    let existing = if opts.append && out.exists() {
        if !super::is_lake(out) {
            return Err(Error::Usage(format!(
                "--append: {} is not a folder written by `chatql convert`",
                out.display()
            )));
        }
        match Manifest::read(out)?.partition_keys() {
            Some(k) => Some(k.to_vec()),
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
    let names = |k: &[Key]| k.iter().map(|k| k.name()).collect::<Vec<_>>().join(",");
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
