//! `chatql convert`: exports in, a lake out: one Delta table per table (`LAKE/<table>/`,
//! zstd Parquet files and `_delta_log/`), written under a temporary name and renamed when
//! complete, or appended to an existing lake under its writer lease ([`super::append`]).
//!
//! Deduplication ([`crate::table::dedup`]) costs nothing in the common case: ingest writes every
//! version as it streams, and only if a duplicate turned up are the affected tables
//! rewritten without the losing versions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

use super::commit::{add_for, commit_run, TableChange};
use super::fs::TempDir;
use super::lease::{Lease, LEASE_WAIT};
use super::parquet::{drop_versions, staging_props, writer_props, TableWriter};
use super::partition::{part_name, Key, PartitionValues, WrittenFile};
use super::record::LakeCommit;
use super::record::{InputReport, PerFamily, Reading, Run, TableReport};
use super::snapshot::{AsOf, LakeSnapshot, RemoteLake};
use super::split::{drop_lost, move_rejects, Splitter, WriterPool};
use crate::error::{Error, Result};
use crate::ingest::{ingest, IngestOptions, Inputs};
use crate::store::{is_remote, Remote};
use crate::table::dedup::{Dedup, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::redact::Redactor;
use crate::table::{col, Table};
use std::sync::Arc;

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
    /// Add to an existing lake instead of refusing it.
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
    let remote = if is_remote(out) {
        if opts.force {
            return Err(Error::Usage(format!(
                "{}: --force cannot replace a lake in object storage; delete it first",
                out.display()
            )));
        }
        Some(Remote::open(out)?)
    } else {
        None
    };
    let (keys, appending) = partition_plan(opts)?;
    let keys = keys.unwrap_or_default();
    let exists = match &remote {
        Some(_) => super::is_lake(out),
        None => out.exists(),
    };
    if exists && !opts.force && !appending {
        return Err(Error::OutputExists(out.clone()));
    }
    let inputs = Inputs::expand(args)?;
    // A lake in object storage is written locally first, under the temporary folder.
    let tmp = match &remote {
        Some(_) => TempDir::beside(&std::env::temp_dir().join("chatql-lake"))?,
        None => TempDir::beside(out)?,
    };
    let props = writer_props(opts.zstd_level)?;
    // An append writes a flat stage first and splits it: the stage is read once.
    let stage_props = if appending {
        staging_props()
    } else {
        props.clone()
    };

    // A one-shot partitioned run routes rows to partition files as they are decoded.
    let route = !keys.is_empty() && !appending;
    let mut writers: HashMap<Table, TableWriter> = HashMap::new();
    let mut convo_dedup = Dedup::default();
    let mut doc_dedup = Dedup::default();
    let redactor = opts.redact_key.as_deref().map(Redactor::new);
    let mut rows: HashMap<Table, u64> = HashMap::new();
    let mut routed_files: Vec<WrittenFile> = Vec::new();
    let summary = std::thread::scope(|scope| -> Result<_> {
        let pool = route.then(|| WriterPool::start(scope, &props));
        let mut splitter = pool
            .as_ref()
            .map(|p| Splitter::new(&keys, tmp.path(), 1, p));
        let summary = ingest(&inputs, &opts.ingest, |decoded| {
            let mut routed = Vec::new();
            for (table, batch) in decoded.batches {
                let batch = match &redactor {
                    Some(r) => r.redact_batch(&batch)?,
                    None => batch,
                };
                if opts.strict && table == Table::Rejects {
                    use col::rejects as r;
                    let b = &batch;
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
                        Table::Conversations => convo_dedup.offer_batch(table, &batch),
                        Table::Documents => doc_dedup.offer_batch(table, &batch),
                        _ => {}
                    }
                }
                if splitter.is_some() && table != Table::Rejects {
                    routed.push((table, batch));
                    continue;
                }
                let path = tmp.path().join(table.file_name());
                let w = match writers.entry(table) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(TableWriter::create(&path, table, stage_props.clone())?)
                    }
                };
                w.write(&batch, &path)?;
            }
            if let Some(s) = &mut splitter {
                s.push_chunk(&routed)?;
            }
            super::commit::pause_point("staged");
            Ok(())
        });
        let families = match (splitter, &summary) {
            (Some(s), Ok(_)) => Some(s.finish()),
            _ => None,
        };
        if let Some(pool) = pool {
            // A writer's own error says more than the routing's "a writer stopped".
            routed_files = pool.finish()?;
        }
        let summary = summary?;
        for (d, family) in [&convo_dedup, &doc_dedup]
            .into_iter()
            .zip(families.transpose()?.into_iter().flatten())
        {
            if !d.losers().is_empty() {
                drop_lost(
                    &family,
                    d.losers(),
                    tmp.path(),
                    1,
                    &props,
                    &mut routed_files,
                )?;
            }
        }
        Ok(summary)
    })?;

    for (table, w) in writers {
        let path = tmp.path().join(table.file_name());
        rows.insert(table, w.close(&path)?);
    }
    for f in &routed_files {
        *rows.entry(f.table).or_default() += f.rows;
    }
    let duplicates = PerFamily {
        conversations: convo_dedup.losers().len() as u64,
        documents: doc_dedup.losers().len() as u64,
    };
    if !route {
        for (d, chain) in [
            (&convo_dedup, CONVERSATION_CHAIN),
            (&doc_dedup, DOCUMENT_CHAIN),
        ] {
            if !d.losers().is_empty() {
                rows.extend(drop_versions(tmp.path(), chain, d.losers(), &stage_props)?);
            }
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
                file: (n > 0).then(|| format!("{}/", t.name())),
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
    let run = Run {
        reading: report.reading.clone(),
        run: 1,
        rows_added: rows
            .iter()
            .map(|(t, n)| (t.name().to_owned(), *n))
            .collect(),
        already_in_lake: PerFamily::default(),
        replaced_in_lake: PerFamily::default(),
        operation: None,
    };
    if let (true, Some(remote)) = (appending, &remote) {
        let _lease = Lease::acquire_remote(remote, LEASE_WAIT)?;
        let mirror = tmp.path().join("mirror");
        let lake = Arc::new(RemoteLake::new(remote.clone()));
        let (record, version) = super::remote::write_mirrored(remote, &mirror, out, || {
            super::append::append_run(
                tmp.path(),
                &mirror,
                Some(lake.clone()),
                opts.keep_duplicates,
                &props,
                run,
            )
        })?;
        let snap = LakeSnapshot::load_mirror(&mirror, Some(AsOf::Version(version)), lake)?;
        report.set_run(&record, &snap);
    } else if appending {
        let _lease = Lease::acquire(out, LEASE_WAIT)?;
        let (record, version) =
            super::append::append_run(tmp.path(), out, None, opts.keep_duplicates, &props, run)?;
        let snap = LakeSnapshot::load(out, Some(AsOf::Version(version)))?;
        report.set_run(&record, &snap);
    } else {
        let written = if keys.is_empty() {
            // One file per table, moved into the table's folder.
            let mut written = Vec::new();
            for t in Table::ALL {
                let from = tmp.path().join(t.file_name());
                if !from.exists() {
                    continue;
                }
                let n = rows.get(t).copied().unwrap_or(0);
                if n == 0 {
                    std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
                    continue;
                }
                let dir = tmp.path().join(t.name());
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let to = dir.join(part_name(1, 1));
                std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
                written.push((*t, to, PartitionValues::new()));
            }
            written
        } else {
            let mut files = routed_files;
            let rejects = tmp.path().join(Table::Rejects.file_name());
            if rejects.is_file() {
                files.push(move_rejects(&rejects, tmp.path(), 1)?);
            }
            files
                .into_iter()
                .map(|f| (f.table, f.path, f.partition))
                .collect()
        };
        let mut changes: HashMap<Table, TableChange> = HashMap::new();
        for (t, path, partition) in written {
            let add = add_for(&tmp.path().join(t.name()), &path, t, partition)?;
            changes.entry(t).or_default().adds.push(add);
        }
        let record = commit_run(tmp.path(), true, &keys, changes, run)?;
        if !keys.is_empty() {
            let snap = LakeSnapshot::load(tmp.path(), None)?;
            report.set_run(&record, &snap);
        }
        match &remote {
            Some(r) => {
                if !super::remote::publish(tmp.path(), r, &Default::default())? {
                    return Err(Error::OutputExists(out.clone()));
                }
            }
            None => tmp.commit(out)?,
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

impl ConvertReport {
    /// Takes the rows added and the lake's totals from the record of this run.
    fn set_run(&mut self, record: &LakeCommit, snap: &LakeSnapshot) {
        let run = &record.run;
        for t in &mut self.tables {
            t.rows = run.rows_added.get(&t.name).copied().unwrap_or(0);
            t.file = (t.rows > 0).then(|| format!("{}/", t.name));
        }
        self.partitioned = Some(PartitionedRun {
            keys: record.partition_by.clone(),
            run: run.run,
            already_in_lake: run.already_in_lake,
            replaced: run.replaced_in_lake,
            lake_rows: Table::ALL
                .iter()
                .map(|t| (t.name().to_owned(), snap.rows(*t)))
                .collect(),
        });
    }
}

/// Creates an empty lake at `out` split by `keys`, unless another writer just did.
fn create_empty(out: &std::path::Path, keys: &[Key]) -> Result<()> {
    let remote = if is_remote(out) {
        Some(Remote::open(out)?)
    } else {
        None
    };
    let tmp = match &remote {
        Some(_) => TempDir::beside(&std::env::temp_dir().join("chatql-lake"))?,
        None => TempDir::beside(out)?,
    };
    commit_run(
        tmp.path(),
        true,
        keys,
        HashMap::new(),
        Run::reading_nothing(1, None),
    )?;
    match remote {
        // Of racing creators one gets each commit (empty versions 0 are alike); one that
        // lost waits for the winner's root commit, the last it makes.
        Some(r) => {
            if !super::remote::publish(tmp.path(), &r, &Default::default())? {
                let started = Instant::now();
                while !super::is_lake(out) {
                    if started.elapsed() > std::time::Duration::from_secs(60) {
                        return Err(Error::Write {
                            path: out.to_owned(),
                            source: "another writer began creating this lake and has not \
                                      finished in 60 s"
                                .into(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        None => {
            tmp.commit_new(out)?;
        }
    }
    Ok(())
}

/// The partition keys to write with, and whether the run appends to an existing lake.
fn partition_plan(opts: &ConvertOptions) -> Result<(Option<Vec<Key>>, bool)> {
    let out = &opts.output;
    if opts.append && opts.force {
        return Err(Error::Usage(
            "--append and --force exclude each other".into(),
        ));
    }
    let missing = if is_remote(out) {
        !super::is_lake(out)
    } else {
        !out.exists()
    };
    if opts.append && missing {
        // Appends may race to create the lake: one creates it empty, all then append.
        create_empty(out, opts.partition_by.as_deref().unwrap_or_default())?;
    }
    let existing = if opts.append {
        if !super::is_lake(out) {
            return Err(Error::Usage(format!(
                "--append: {} is not a folder written by `chatql convert`",
                out.display()
            )));
        }
        Some(LakeSnapshot::load(out, None)?.keys().to_vec())
    } else {
        None
    };
    let names = |k: &[Key]| match k {
        [] => "none (one folder per table)".to_owned(),
        k => k.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
    };
    match (&opts.partition_by, existing) {
        (Some(a), Some(b)) if *a != b => Err(Error::Usage(format!(
            "--partition-by {} differs from the lake's {}",
            names(a),
            names(&b)
        ))),
        (Some(_), Some(b)) | (None, Some(b)) => Ok((Some(b), true)),
        (Some(a), None) => Ok((Some(a.clone()), false)),
        (None, None) => Ok((None, false)),
    }
}
