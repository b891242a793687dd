//! `chatql convert`: exports in, a lake out: one Delta table per table (`LAKE/<table>/`,
//! zstd Parquet files and `_delta_log/`), written under a temporary name and renamed when
//! complete, or appended to an existing lake under its writer lease ([`super::append`]).
//!
//! Deduplication ([`crate::table::dedup`]) costs nothing in the common case: ingest writes every
//! version as it streams, and only if a duplicate turned up are the affected tables
//! rewritten without the losing versions.

use std::collections::HashMap;
use std::path::PathBuf;

use datafusion::parquet::file::properties::WriterProperties;
use std::time::Instant;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

use super::commit::{add_for, commit_run, TableChange};
use super::encode::{EncoderPool, FileId};
use super::fs::TempDir;
use super::lease::{Lease, LEASE_WAIT};
use super::parquet::{drop_versions, staging_props, writer_props};
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

/// Where a lake is written: decided once, from the output's name, and taken by every step
/// (staging, existence, publishing) rather than asked again at each.
enum Place {
    /// A folder on this machine.
    Local(PathBuf),
    /// A prefix in object storage, written through a local staging folder.
    Remote(PathBuf, Remote),
}

impl Place {
    fn of(out: &std::path::Path) -> Result<Place> {
        Ok(if is_remote(out) {
            Place::Remote(out.to_owned(), Remote::open(out)?)
        } else {
            Place::Local(out.to_owned())
        })
    }

    fn path(&self) -> &std::path::Path {
        match self {
            Place::Local(p) | Place::Remote(p, _) => p,
        }
    }

    /// Whether something is there already (for a store: a lake).
    fn exists(&self) -> bool {
        match self {
            Place::Local(p) => p.exists(),
            Place::Remote(p, _) => super::is_lake(p),
        }
    }

    /// The folder a run is staged in: beside the output, or under the temporary folder
    /// for a lake in object storage.
    fn staging(&self) -> Result<TempDir> {
        match self {
            Place::Local(p) => TempDir::beside(p),
            Place::Remote(..) => TempDir::beside(&std::env::temp_dir().join("chatql-lake")),
        }
    }

    /// Puts a new lake staged in `tmp` in place (on disk, replacing what is there: the
    /// caller checked `--force`); `false` when another writer was first in the store.
    fn publish_new(&self, tmp: TempDir) -> Result<bool> {
        match self {
            Place::Local(p) => tmp.commit(p).map(|()| true),
            Place::Remote(_, r) => super::remote::publish(tmp.path(), r, &Default::default()),
        }
    }
}

/// Converts the exports named by `args` into a Parquet lake.
pub fn convert(args: &[String], opts: &ConvertOptions) -> Result<ConvertReport> {
    let started = Instant::now();
    let place = Place::of(&opts.output)?;
    if opts.force && matches!(place, Place::Remote(..)) {
        return Err(Error::Usage(format!(
            "{}: --force cannot replace a lake in object storage; delete it first",
            place.path().display()
        )));
    }
    let (keys, appending) = partition_plan(opts, &place)?;
    let keys = keys.unwrap_or_default();
    if place.exists() && !opts.force && !appending {
        return Err(Error::OutputExists(opts.output.clone()));
    }
    let inputs = Inputs::expand(args)?;
    let tmp = place.staging()?;
    let props = writer_props(opts.zstd_level)?;
    let staged = stage(&inputs, opts, &keys, appending, &tmp, &props)?;
    let mut report = ConvertReport::of_stage(&inputs, &staged, &opts.output);
    let run = report.run(&staged.rows);
    match (appending, &place) {
        (true, Place::Remote(out, remote)) => {
            append_remote(&tmp, out, remote, opts, &props, run, &mut report)?
        }
        (true, Place::Local(out)) => append_local(&tmp, out, opts, &props, run, &mut report)?,
        (false, _) => finish_new(tmp, &place, &keys, staged, run, &mut report)?,
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What staging a run left in its folder: flat table files (one per table), or files
/// already routed to partitions; the rows of each table; what ingest saw.
struct Staged {
    rows: HashMap<Table, u64>,
    routed: Vec<WrittenFile>,
    summary: crate::ingest::IngestSummary,
    duplicates: PerFamily,
}

/// Reads the inputs into the staging folder `tmp`, dropping duplicate versions: flat files
/// (an append's stage, split later, or a flat lake), or, for a new partitioned lake, files
/// routed to partitions as rows are decoded.
fn stage(
    inputs: &Inputs,
    opts: &ConvertOptions,
    keys: &[Key],
    appending: bool,
    tmp: &TempDir,
    props: &WriterProperties,
) -> Result<Staged> {
    // An append writes a flat stage first and splits it: the stage is read once.
    let stage_props = if appending {
        staging_props()
    } else {
        props.clone()
    };
    // A one-shot partitioned run routes rows to partition files as they are decoded.
    let route = !keys.is_empty() && !appending;
    let mut files: HashMap<Table, FileId> = HashMap::new();
    let mut convo_dedup = Dedup::default();
    let mut doc_dedup = Dedup::default();
    let redactor = opts.redact_key.as_deref().map(Redactor::new);
    let mut rows: HashMap<Table, u64> = HashMap::new();
    let mut routed_files: Vec<WrittenFile> = Vec::new();
    let summary = std::thread::scope(|scope| -> Result<_> {
        let pool = route.then(|| WriterPool::start(scope, props));
        let mut splitter = pool.as_ref().map(|p| Splitter::new(keys, tmp.path(), 1, p));
        let mut flat = EncoderPool::start(scope);
        let summary = ingest(inputs, &opts.ingest, |decoded| {
            let mut routed = Vec::new();
            for (table, batch) in decoded.batches {
                let batch = match &redactor {
                    Some(r) => r.redact_batch(&batch)?,
                    None => batch,
                };
                if opts.strict && table == Table::Rejects {
                    return Err(rejected(&batch));
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
                let id = match files.get(&table) {
                    Some(id) => *id,
                    None => {
                        let path = tmp.path().join(table.file_name());
                        let id = flat.create(&path, table, stage_props.clone())?;
                        files.insert(table, id);
                        id
                    }
                };
                flat.write(id, batch)?;
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
        // Both pools are joined before any error is returned (a worker's own error says more
        // than the routing's "a writer stopped", and a thread left unjoined would turn its
        // panic into the scope's).
        let routed = pool.map(|p| p.finish());
        let flat_rows = flat.finish();
        if let Some(r) = routed {
            routed_files = r?;
        }
        let flat_rows: HashMap<FileId, u64> =
            flat_rows?.into_iter().map(|(id, n, _)| (id, n)).collect();
        let summary = summary?;
        for (table, id) in &files {
            rows.insert(*table, flat_rows[id]);
        }
        for (d, family) in [&convo_dedup, &doc_dedup]
            .into_iter()
            .zip(families.transpose()?.into_iter().flatten())
        {
            if !d.losers().is_empty() {
                drop_lost(&family, d.losers(), tmp.path(), 1, props, &mut routed_files)?;
            }
        }
        Ok(summary)
    })?;

    for f in &routed_files {
        *rows.entry(f.table).or_default() += f.rows;
    }
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
    Ok(Staged {
        rows,
        routed: routed_files,
        summary,
        duplicates: PerFamily {
            conversations: convo_dedup.losers().len() as u64,
            documents: doc_dedup.losers().len() as u64,
        },
    })
}

/// The error of `--strict` for the reject in `batch` (a batch of rejects holds one row).
fn rejected(batch: &datafusion::arrow::array::RecordBatch) -> Error {
    use col::rejects as r;
    let s = |c: usize| batch.column(c).as_string::<i32>().value(0).to_owned();
    let n = |c: usize| batch.column(c).as_primitive::<Int64Type>().value(0) as u64;
    Error::Rejected {
        file: s(r::source_file),
        line: n(r::source_line),
        offset: n(r::byte_offset),
        reason: s(r::reason),
    }
}

/// Appends the staged run to the lake in object storage, through a mirror of its logs.
fn append_remote(
    tmp: &TempDir,
    out: &std::path::Path,
    remote: &Remote,
    opts: &ConvertOptions,
    props: &WriterProperties,
    run: Run,
    report: &mut ConvertReport,
) -> Result<()> {
    let _lease = Lease::acquire_remote(remote, LEASE_WAIT)?;
    let mirror = tmp.path().join("mirror");
    let lake = Arc::new(RemoteLake::new(remote.clone()));
    let (record, version) = super::remote::write_mirrored(remote, &mirror, out, || {
        super::append::append_run(
            tmp.path(),
            &mirror,
            Some(lake.clone()),
            opts.keep_duplicates,
            props,
            run,
        )
    })?;
    let snap = LakeSnapshot::load_mirror(&mirror, Some(AsOf::Version(version)), lake)?;
    report.set_run(&record, &snap);
    Ok(())
}

/// Appends the staged run to the lake on disk, under its lease.
fn append_local(
    tmp: &TempDir,
    out: &std::path::Path,
    opts: &ConvertOptions,
    props: &WriterProperties,
    run: Run,
    report: &mut ConvertReport,
) -> Result<()> {
    let _lease = Lease::acquire(out, LEASE_WAIT)?;
    let (record, version) =
        super::append::append_run(tmp.path(), out, None, opts.keep_duplicates, props, run)?;
    let snap = LakeSnapshot::load(out, Some(AsOf::Version(version)))?;
    report.set_run(&record, &snap);
    Ok(())
}

/// Commits the staged run as version 0 of a new lake and puts it in place.
fn finish_new(
    tmp: TempDir,
    place: &Place,
    keys: &[Key],
    staged: Staged,
    run: Run,
    report: &mut ConvertReport,
) -> Result<()> {
    let written = if keys.is_empty() {
        flat_into_folders(&tmp, &staged.rows)?
    } else {
        let mut files = staged.routed;
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
    let record = commit_run(tmp.path(), true, keys, changes, run)?;
    if !keys.is_empty() {
        let snap = LakeSnapshot::load(tmp.path(), None)?;
        report.set_run(&record, &snap);
    }
    if !place.publish_new(tmp)? {
        return Err(Error::OutputExists(place.path().to_owned()));
    }
    Ok(())
}

/// Moves each flat table file of the stage into its table's folder, as the lake's first
/// file; returns the files with their (empty) partition values.
fn flat_into_folders(
    tmp: &TempDir,
    rows: &HashMap<Table, u64>,
) -> Result<Vec<(Table, PathBuf, PartitionValues)>> {
    let mut written = Vec::new();
    for t in Table::ALL {
        let from = tmp.path().join(t.file_name());
        if !from.exists() {
            continue;
        }
        if rows.get(t).copied().unwrap_or(0) == 0 {
            std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
            continue;
        }
        let dir = tmp.path().join(t.name());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let to = dir.join(part_name(1, 1));
        std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        written.push((*t, to, PartitionValues::new()));
    }
    Ok(written)
}

impl ConvertReport {
    /// The report of a staged run, before it is committed anywhere.
    fn of_stage(inputs: &Inputs, staged: &Staged, out: &std::path::Path) -> ConvertReport {
        let reading = Reading {
            created_at: crate::model::format_timestamp_pg(crate::model::now_us()),
            inputs: inputs
                .files
                .iter()
                .zip(&staged.summary.blake3)
                .map(|(f, h)| InputReport {
                    path: f.path.to_string_lossy().into_owned(),
                    size: f.size,
                    blake3: h.clone(),
                    sha256: String::new(),
                })
                .collect(),
            duplicates: staged.duplicates,
            read: staged.summary.stats,
            skipped: inputs.skipped.clone(),
        };
        let tables = Table::ALL
            .iter()
            .map(|t| {
                let n = staged.rows.get(t).copied().unwrap_or(0);
                TableReport {
                    name: t.name().to_owned(),
                    rows: n,
                    file: (n > 0).then(|| format!("{}/", t.name())),
                }
            })
            .collect();
        ConvertReport {
            reading,
            tables,
            seconds: 0.0,
            output: out.to_owned(),
            partitioned: None,
        }
    }

    /// The record of this run as a lake keeps it.
    fn run(&self, rows: &HashMap<Table, u64>) -> Run {
        Run {
            reading: self.reading.clone(),
            run: 1,
            rows_added: rows
                .iter()
                .map(|(t, n)| (t.name().to_owned(), *n))
                .collect(),
            already_in_lake: PerFamily::default(),
            replaced_in_lake: PerFamily::default(),
            operation: None,
        }
    }

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

/// Creates an empty lake at `place` split by `keys`, unless another writer just did.
fn create_empty(place: &Place, keys: &[Key]) -> Result<()> {
    let tmp = place.staging()?;
    commit_run(
        tmp.path(),
        true,
        keys,
        HashMap::new(),
        Run::reading_nothing(1, None),
    )?;
    match place {
        Place::Local(out) => {
            tmp.commit_new(out)?;
        }
        // Of racing creators one gets each commit (empty versions 0 are alike); one that
        // lost waits for the winner's root commit, the last it makes.
        Place::Remote(out, r) => {
            if !super::remote::publish(tmp.path(), r, &Default::default())? {
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
    }
    Ok(())
}

/// The partition keys to write with, and whether the run appends to an existing lake.
fn partition_plan(opts: &ConvertOptions, place: &Place) -> Result<(Option<Vec<Key>>, bool)> {
    let out = &opts.output;
    if opts.append && opts.force {
        return Err(Error::Usage(
            "--append and --force exclude each other".into(),
        ));
    }
    if opts.append && !place.exists() {
        // Appends may race to create the lake: one creates it empty, all then append.
        create_empty(place, opts.partition_by.as_deref().unwrap_or_default())?;
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
