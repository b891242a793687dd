//! Hive-partitioned lakes: `convert --partition-by course,month` and `--append`.
//!
//! A partitioned lake holds each table in a folder of its own, split by the conversation's
//! (or document's) course and month: `conversations/course=ECE120/month=2024-03/
//! part-r00001-00001.parquet`. DuckDB, Spark, Ballista and DataFusion read that layout as it
//! is, and prune partitions on `course` and `month` predicates.
//!
//! Files keep every column of the table (the partition values are also in the path, but the
//! columns stay the truth: a path cannot hold `NULL` apart from `""`), so a partitioned
//! table is the flat table plus the virtual columns `course` and `month`.
//!
//! Child rows follow their parent by the `*_count` columns (see [`crate::dedup`]); within a
//! partition, the files of every table of a family are in the same order, so reading them in
//! name order keeps children behind their parents. Each run writes files named after its
//! number, so names sort by run, and a run only adds files to the partitions it touches.
//! When an append brings a newer version of a conversation already in the lake, only the
//! partition holding the old version is rewritten; every other old file stays as it was.
//!
//! Crash safety: a run's files are staged beside the lake, moved in, and only then is the
//! manifest (which lists every run) replaced. Files of a run the manifest does not list are
//! the remains of a crash and are deleted by the next append; files a listed run replaced but
//! could not yet delete are deleted then too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::file::properties::WriterProperties;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use crate::dedup::{Dedup, LevelFilter, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::error::{Error, Result};
use crate::schema::Table;

/// A column a lake can be partitioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The conversation's (document's) `course_name`.
    Course,
    /// The month (`YYYY-MM`, UTC) of the conversation's (document's) `created_at`.
    Month,
}

impl Key {
    /// The partition column's name.
    pub fn name(self) -> &'static str {
        match self {
            Key::Course => "course",
            Key::Month => "month",
        }
    }
}

/// Parses `course,month` (any order, either alone) into partition keys.
pub fn parse_keys(s: &str) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let k = match part.to_ascii_lowercase().as_str() {
            "course" | "course_name" => Key::Course,
            "month" => Key::Month,
            other => {
                return Err(Error::Usage(format!(
                    "--partition-by: unknown key {other:?} (keys: course, month)"
                )))
            }
        };
        if keys.contains(&k) {
            return Err(Error::Usage(format!(
                "--partition-by: {} given twice",
                k.name()
            )));
        }
        keys.push(k);
    }
    if keys.is_empty() {
        return Err(Error::Usage(
            "--partition-by needs course, month or both".into(),
        ));
    }
    Ok(keys)
}

/// The value Hive, Spark and DuckDB use for a null partition; chatql also uses it for `""`.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Bytes that cannot stand in a path segment, or that readers treat specially (the set
/// Spark escapes, which DataFusion and DuckDB decode).
const ESCAPE: &AsciiSet = &CONTROLS
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'\'')
    .add(b'*')
    .add(b'/')
    .add(b':')
    .add(b'=')
    .add(b'?')
    .add(b'\\')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'<')
    .add(b'>')
    .add(b'|');

/// A partition value as a path segment value.
pub fn encode_value(v: Option<&str>) -> String {
    match v {
        None | Some("") => NULL_PARTITION.to_owned(),
        Some(v) => {
            let mut s: String = utf8_percent_encode(v, ESCAPE).collect();
            // A leading dot or underscore would hide the folder from most readers.
            if s.starts_with('.') || s.starts_with('_') {
                s = format!("%{:02X}{}", s.as_bytes()[0], &s[1..]);
            }
            // Path segments are limited to 255 bytes; course names are short, but be safe.
            if s.len() > 180 {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
                let mut cut = 160;
                while !s.is_char_boundary(cut) || s[..cut].ends_with('%') {
                    cut -= 1;
                }
                s = format!("{}~{}", &s[..cut], &digest[..16]);
            }
            s
        }
    }
}

/// The `month` partition value (`YYYY-MM`, UTC) of a timestamp in microseconds.
pub(crate) fn month_of(us: Option<i64>) -> Option<String> {
    us.and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.format("%Y-%m").to_string())
}

/// The relative folder of one partition (`course=X/month=Y`).
fn partition_dir(keys: &[Key], course: Option<&str>, created: Option<i64>) -> String {
    let month = month_of(created);
    keys.iter()
        .map(|k| {
            let v = match k {
                Key::Course => encode_value(course),
                Key::Month => encode_value(month.as_deref()),
            };
            format!("{}={v}", k.name())
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads the partition keys a lake was written with; `None` for a flat lake.
pub fn lake_keys(lake: &Path) -> Result<Option<Vec<Key>>> {
    let m = read_manifest(lake)?;
    match m.get("partition_by").and_then(Value::as_array) {
        None => Ok(None),
        Some(list) => {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            parse_keys(&names.join(",")).map(Some)
        }
    }
}

fn read_manifest(lake: &Path) -> Result<Value> {
    let path = lake.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

/// The Parquet files of one table of a lake, in the order rows must be read for children to
/// follow their parents: the flat file, or every partition's files in name order.
pub fn table_files(lake: &Path, t: Table) -> Result<Vec<PathBuf>> {
    let flat = lake.join(format!("{}.parquet", t.name()));
    if flat.is_file() {
        return Ok(vec![flat]);
    }
    let dir = lake.join(t.name());
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().map_or_else(|| dir.clone(), Path::to_owned);
            Error::io(path, e.into())
        })?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.ends_with(".parquet") && !name.starts_with('.') {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Bytes of rows buffered across all partitions before the largest buffers are written.
const BUFFER_BUDGET: usize = 256 << 20;

/// Routes the rows of one table to per-partition files, buffering in bounded memory.
struct Router<'a> {
    table: Table,
    root: &'a Path,
    run: u32,
    props: &'a WriterProperties,
    buffers: HashMap<u32, (Vec<RecordBatch>, usize)>,
    buffered: usize,
    seq: HashMap<u32, u32>,
    written: Vec<(PathBuf, u64)>,
}

impl<'a> Router<'a> {
    fn new(table: Table, root: &'a Path, run: u32, props: &'a WriterProperties) -> Self {
        Router {
            table,
            root,
            run,
            props,
            buffers: HashMap::new(),
            buffered: 0,
            seq: HashMap::new(),
            written: Vec::new(),
        }
    }

    /// Adds a batch whose row `i` goes to partition `pids[i]` (a folder of `parts`).
    fn push(&mut self, batch: &RecordBatch, pids: &[u32], parts: &[String]) -> Result<()> {
        let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (i, p) in pids.iter().enumerate() {
            groups.entry(*p).or_default().push(i as u32);
        }
        for (pid, rows) in groups {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows))?
            };
            let size = part.get_array_memory_size();
            let slot = self.buffers.entry(pid).or_default();
            slot.0.push(part);
            slot.1 += size;
            self.buffered += size;
        }
        while self.buffered > BUFFER_BUDGET {
            let largest = *self
                .buffers
                .iter()
                .max_by_key(|(_, (_, size))| *size)
                .expect("buffered bytes imply a buffer")
                .0;
            self.flush(largest, parts)?;
        }
        Ok(())
    }

    fn flush(&mut self, pid: u32, parts: &[String]) -> Result<()> {
        let Some((batches, size)) = self.buffers.remove(&pid) else {
            return Ok(());
        };
        self.buffered -= size;
        let seq = self.seq.entry(pid).or_insert(0);
        *seq += 1;
        let dir = self.root.join(self.table.name()).join(&parts[pid as usize]);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(part_name(self.run, *seq));
        let mut w = crate::convert::TableWriter::create(&path, self.table, self.props.clone())?;
        for b in &batches {
            w.write(b, &path)?;
        }
        let rows = w.close(&path)?;
        self.written.push((path, rows));
        Ok(())
    }

    fn finish(mut self, parts: &[String]) -> Result<Vec<(PathBuf, u64)>> {
        let mut pids: Vec<u32> = self.buffers.keys().copied().collect();
        pids.sort_unstable();
        for p in pids {
            self.flush(p, parts)?;
        }
        Ok(self.written)
    }
}

/// File name of the `seq`th file a run writes into a partition (0 is a rewrite of the
/// partition's older rows, which must sort before the run's new rows).
fn part_name(run: u32, seq: u32) -> String {
    format!("part-r{run:05}-{seq:05}.parquet")
}

/// The run a file belongs to, from its name.
fn run_of(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("part-r")?.get(..5)?.parse().ok()
}

/// Reads a Parquet file of a lake in batches, optionally only some columns; errors name the
/// file.
pub(crate) fn open_reader(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let err = |e: datafusion::parquet::errors::ParquetError| Error::Write {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(err)?;
    if let Some(cols) = columns {
        let schema = builder.schema().clone();
        let idx: Vec<usize> = cols
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
        builder = builder.with_projection(mask);
    }
    builder.with_batch_size(8192).build().map_err(err)
}

/// Splits the flat table files of `flat` (a folder `convert` wrote) into partitions under
/// `root`, as files of run `run`. Returns the files written, with their rows.
fn split_flat(
    flat: &Path,
    root: &Path,
    keys: &[Key],
    run: u32,
    props: &WriterProperties,
) -> Result<Vec<(PathBuf, u64)>> {
    let mut written = Vec::new();
    for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
        // Partition ids of the rows of the level above, with how many children each owns.
        let mut parts: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut above: Vec<(u32, u64)> = Vec::new();
        for (level, t) in chain.iter().enumerate() {
            let path = flat.join(format!("{}.parquet", t.name()));
            if !path.is_file() {
                break;
            }
            let schema = t.schema();
            let count_col = crate::dedup::child_count_column(*t)
                .map(|c| schema.index_of(c).expect("count column"));
            let mut next: Vec<(u32, u64)> = Vec::new();
            let mut owners = above.iter().copied().filter(|(_, n)| *n > 0);
            let mut current: (u32, u64) = (0, 0);
            let mut router = Router::new(*t, root, run, props);
            for batch in open_reader(&path, None)? {
                let batch = batch?;
                let mut pids = Vec::with_capacity(batch.num_rows());
                if level == 0 {
                    let course = batch
                        .column(schema.index_of("course_name").expect("course"))
                        .as_string::<i32>();
                    let created = batch
                        .column(schema.index_of("created_at").expect("created_at"))
                        .as_primitive::<TimestampMicrosecondType>();
                    for i in 0..batch.num_rows() {
                        let c = course.is_valid(i).then(|| course.value(i));
                        let at = created.is_valid(i).then(|| created.value(i));
                        let dir = partition_dir(keys, c, at);
                        let pid = match index.get(&dir) {
                            Some(p) => *p,
                            None => {
                                let p = parts.len() as u32;
                                index.insert(dir.clone(), p);
                                parts.push(dir);
                                p
                            }
                        };
                        pids.push(pid);
                    }
                } else {
                    for _ in 0..batch.num_rows() {
                        while current.1 == 0 {
                            current = owners.next().ok_or_else(|| Error::Write {
                                path: path.clone(),
                                message: format!(
                                    "more {} rows than their parents' counts say",
                                    t.name()
                                ),
                            })?;
                        }
                        current.1 -= 1;
                        pids.push(current.0);
                    }
                }
                if let Some(c) = count_col {
                    let counts = batch.column(c).as_primitive::<Int32Type>();
                    for (i, p) in pids.iter().enumerate() {
                        let n = if counts.is_valid(i) {
                            counts.value(i).max(0) as u64
                        } else {
                            0
                        };
                        next.push((*p, n));
                    }
                }
                router.push(&batch, &pids, &parts)?;
            }
            written.extend(router.finish(&parts)?);
            above = next;
        }
    }
    let rejects = flat.join("rejects.parquet");
    if rejects.is_file() {
        let dir = root.join("rejects");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let to = dir.join(part_name(run, 1));
        std::fs::rename(&rejects, &to).map_err(|e| Error::io(&to, e))?;
        let rows = parquet_rows(&to)?;
        written.push((to, rows));
    }
    Ok(written)
}

fn parquet_rows(path: &Path) -> Result<u64> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::Write {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(b.metadata().file_metadata().num_rows().max(0) as u64)
}

/// What one run did to a partitioned lake.
pub struct RunOutcome {
    /// Conversations and documents of this run already in the lake in the same or a newer
    /// version (not written again).
    pub already_present: (u64, u64),
    /// Older versions in the lake this run replaced.
    pub replaced: (u64, u64),
}

/// Lays out a finished flat conversion (`flat`, the staging folder of `convert`) as run
/// `run` of a partitioned lake. For a new lake (`lake` = None) the partitions are written
/// into `flat` itself, which then becomes the lake. For an append, they are staged in
/// `flat` and moved into `lake`, and the lake's manifest gets the run.
pub(crate) fn write_run(
    flat: &Path,
    lake: Option<&Path>,
    keys: &[Key],
    keep_duplicates: bool,
    props: &WriterProperties,
    mut run_report: Value,
) -> Result<(Value, RunOutcome)> {
    let mut outcome = RunOutcome {
        already_present: (0, 0),
        replaced: (0, 0),
    };
    let (run, mut manifest) = match lake {
        None => (1, None),
        Some(l) => {
            let m = read_manifest(l)?;
            recover(l, &m)?;
            let runs = m.get("runs").and_then(Value::as_array).map_or(0, Vec::len);
            (runs as u32 + 1, Some(m))
        }
    };
    let staging = flat.join("partitions");
    let mut removed: Vec<PathBuf> = Vec::new();
    if let (Some(l), false) = (lake, keep_duplicates) {
        for (chain, slot) in [(CONVERSATION_CHAIN, 0), (DOCUMENT_CHAIN, 1)] {
            let (present, replaced, gone) = merge_family(flat, l, &staging, chain, run, props)?;
            if slot == 0 {
                outcome.already_present.0 = present;
                outcome.replaced.0 = replaced;
            } else {
                outcome.already_present.1 = present;
                outcome.replaced.1 = replaced;
            }
            removed.extend(gone);
        }
    }
    let written = split_flat(flat, &staging, keys, run, props)?;
    for t in Table::ALL {
        let d = staging.join(t.name());
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
    }
    let target = lake.unwrap_or(flat);
    let rel = |p: &Path| -> String {
        p.strip_prefix(&staging)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let mut added: BTreeMap<&str, u64> = BTreeMap::new();
    for (p, rows) in &written {
        let table = rel(p).split('/').next().unwrap_or_default().to_owned();
        if let Some(t) = Table::from_name(&table) {
            *added.entry(t.name()).or_default() += rows;
        }
    }
    run_report["run"] = json!(run);
    run_report["rows_added"] = json!(added);
    run_report["already_in_lake"] = json!({
        "conversations": outcome.already_present.0,
        "documents": outcome.already_present.1,
    });
    run_report["replaced_in_lake"] = json!({
        "conversations": outcome.replaced.0,
        "documents": outcome.replaced.1,
    });
    // Everything staged: the split run, and the partitions merge_family rewrote (file 0).
    let mut files = Vec::new();
    for t in Table::ALL {
        files.extend(table_files(&staging, *t)?.iter().map(|f| rel(f)));
    }
    files.sort();
    run_report["files_added"] = json!(files);
    run_report["files_removed"] = json!(removed
        .iter()
        .map(|p| p
            .strip_prefix(target)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned())
        .collect::<Vec<_>>());

    // Move the staged files into place.
    for f in &files {
        let from = staging.join(f);
        let to = target.join(f);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
    }
    for t in Table::ALL {
        let d = target.join(t.name());
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        let flat_file = target.join(format!("{}.parquet", t.name()));
        if lake.is_none() && flat_file.exists() {
            std::fs::remove_file(&flat_file).map_err(|e| Error::io(&flat_file, e))?;
        }
    }
    let _ = std::fs::remove_dir_all(&staging);

    let mut m = manifest.take().unwrap_or_else(|| {
        json!({
            "tool_version": env!("CARGO_PKG_VERSION"),
            "schema_version": crate::schema::SCHEMA_VERSION,
            "partition_by": keys.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "runs": [],
        })
    });
    m["runs"]
        .as_array_mut()
        .expect("runs is a list")
        .push(run_report);
    // Totals from the files themselves (the removed files are about to go).
    let mut tables = Vec::new();
    for t in Table::ALL {
        let mut rows = 0;
        let mut n = 0;
        for f in table_files(target, *t)? {
            if removed.contains(&f) {
                continue;
            }
            rows += parquet_rows(&f)?;
            n += 1;
        }
        tables.push(json!({"name": t.name(), "rows": rows, "files": n}));
    }
    m["tables"] = json!(tables);
    m["updated_at"] = json!(crate::model::format_timestamp_pg(crate::model::now_us()));
    if lake.is_some() {
        let text = serde_json::to_string_pretty(&m).expect("serializable") + "\n";
        crate::query::write_atomic(&target.join("manifest.json"), text.as_bytes())?;
        for f in &removed {
            std::fs::remove_file(f).map_err(|e| Error::io(f, e))?;
        }
    }
    Ok((m, outcome))
}

/// Deletes what a crashed append left: files of runs the manifest does not list, and files
/// a listed run replaced but had not deleted yet.
fn recover(lake: &Path, manifest: &Value) -> Result<()> {
    let runs = manifest.get("runs").and_then(Value::as_array);
    let known = runs.map_or(0, Vec::len) as u32;
    for t in Table::ALL {
        for f in table_files(lake, *t)? {
            if run_of(&f).is_some_and(|r| r > known) {
                std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
            }
        }
    }
    for run in runs.into_iter().flatten() {
        for f in run
            .get("files_removed")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let p = lake.join(f);
            if p.is_file() {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    Ok(())
}

/// The files of a lake's table grouped by partition folder (relative), in read order.
fn partition_files(lake: &Path, t: Table) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let base = lake.join(t.name());
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in table_files(lake, t)? {
        let rel = f
            .parent()
            .and_then(|p| p.strip_prefix(&base).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.entry(rel).or_default().push(f);
    }
    Ok(out)
}

/// Deduplicates one family of this run (in `flat`) against the lake. Versions already in
/// the lake at least as new are dropped from the run; lake versions the run supersedes are
/// dropped from their partitions, which are rewritten into `staging` as file 0 of the run.
/// Returns (run versions dropped, lake versions replaced, lake files to remove).
fn merge_family(
    flat: &Path,
    lake: &Path,
    staging: &Path,
    chain: &[Table],
    run: u32,
    props: &WriterProperties,
) -> Result<(u64, u64, Vec<PathBuf>)> {
    let parent = chain[0];
    let key_cols: &[&str] = match parent {
        Table::Conversations => &["convo_id", "created_at", "updated_at", "message_count"],
        _ => &[
            "doc_id",
            "created_at",
            "course_name",
            "s3_path",
            "url",
            "chunk_count",
        ],
    };
    let project = |b: RecordBatch| -> Result<RecordBatch> {
        // Dedup reads columns by the table's schema positions: widen back with nulls.
        let schema = parent.schema();
        let cols = schema
            .fields()
            .iter()
            .map(|f| match b.schema().index_of(f.name()) {
                Ok(i) => b.column(i).clone(),
                Err(_) => datafusion::arrow::array::new_null_array(f.data_type(), b.num_rows()),
            })
            .collect();
        Ok(RecordBatch::try_new(schema, cols)?)
    };
    // New versions first, so that a tie keeps the lake's version and leaves its file alone.
    let mut d = Dedup::default();
    let mut new_rows = 0u64;
    let flat_parent = flat.join(format!("{}.parquet", parent.name()));
    if flat_parent.is_file() {
        for b in open_reader(&flat_parent, Some(key_cols))? {
            let b = project(b?)?;
            new_rows += b.num_rows() as u64;
            d.offer_batch(parent, &b);
        }
    }
    if new_rows == 0 {
        return Ok((0, 0, Vec::new()));
    }
    let mut ranges: Vec<(String, u64, u64)> = Vec::new();
    let mut ordinal = new_rows;
    let lake_parts = partition_files(lake, parent)?;
    for (part, files) in &lake_parts {
        let start = ordinal;
        for f in files {
            for b in open_reader(f, Some(key_cols))? {
                let b = project(b?)?;
                ordinal += b.num_rows() as u64;
                d.offer_batch(parent, &b);
            }
        }
        ranges.push((part.clone(), start, ordinal));
    }
    let new_losers: HashSet<u64> = d
        .losers()
        .iter()
        .copied()
        .filter(|o| *o < new_rows)
        .collect();
    let old_losers: Vec<u64> = d
        .losers()
        .iter()
        .copied()
        .filter(|o| *o >= new_rows)
        .collect();
    if !new_losers.is_empty() {
        crate::convert::drop_versions(flat, chain, &new_losers, props)?;
    }
    let mut removed = Vec::new();
    let child_parts: Vec<BTreeMap<String, Vec<PathBuf>>> = chain[1..]
        .iter()
        .map(|t| partition_files(lake, *t))
        .collect::<Result<_>>()?;
    for (part, start, end) in ranges {
        let local: HashSet<u64> = old_losers
            .iter()
            .filter(|o| **o >= start && **o < end)
            .map(|o| o - start)
            .collect();
        if local.is_empty() {
            continue;
        }
        let mut filter = LevelFilter::top(parent, &local);
        for (level, t) in chain.iter().enumerate() {
            let files = if level == 0 {
                lake_parts.get(&part)
            } else {
                filter = LevelFilter::child(*t, filter);
                child_parts[level - 1].get(&part)
            };
            let Some(files) = files else { continue };
            let dir = staging.join(t.name()).join(&part);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let out = dir.join(part_name(run, 0));
            let mut w = crate::convert::TableWriter::create(&out, *t, props.clone())?;
            for f in files {
                for b in open_reader(f, None)? {
                    let kept = filter.filter(&b?)?;
                    if kept.num_rows() > 0 {
                        w.write(&kept, &out)?;
                    }
                }
                removed.push(f.clone());
            }
            if w.close(&out)? == 0 {
                std::fs::remove_file(&out).map_err(|e| Error::io(&out, e))?;
            }
        }
    }
    Ok((new_losers.len() as u64, old_losers.len() as u64, removed))
}
