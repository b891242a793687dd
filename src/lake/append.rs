//! Appending a run to a lake (`convert --append`), under the lake's writer lease.
//!
//! The run is deduplicated against the lake's current version by the usual rule
//! ([`crate::table::dedup`]), except that a tie keeps the lake's version. A version already
//! in the lake is not written again; a newer version (a conversation that grew) rewrites only
//! the partition that holds the old one, as file 0 of the run, and the old files are
//! removed in the same Delta commit; every other file stays as it was.
//!
//! Crash safety: files are moved into the lake before any commit, so a writer that dies
//! before committing leaves only files no version names, and one that dies between its
//! table commits leaves child versions the root never recorded. Readers ignore both
//! ([`super::snapshot`]); the next writer, holding the lease, deletes the first and commits
//! the second back to the recorded content ([`repair`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::file::properties::WriterProperties;

use super::commit::{add_for, commit_run, TableChange};
use super::delta::log::decode_path;
use super::delta::{commit, now_ms, Action, Add, CommitInfo, Committed, Remove, Snapshot};
use super::parquet::{drop_versions, open_reader, TableWriter};
use super::partition::{part_name, PartitionValues, WrittenFile};
use super::record::Run;
use super::record::{LakeCommit, ROOT};
use super::snapshot::{LakeSnapshot, RemoteLake};
use super::split::split_flat;
use crate::error::{Error, Result};
use crate::table::dedup::{key_columns, walk_chain, Dedup, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::Table;

/// Appends the finished flat conversion in `flat` (the staging folder of `convert`) to the
/// lake in `lake` as its next version; the caller holds the lease. Returns the record
/// committed and the lake's version.
pub fn append_run(
    flat: &Path,
    lake: &Path,
    remote: Option<Arc<RemoteLake>>,
    keep_duplicates: bool,
    props: &WriterProperties,
    mut run: Run,
) -> Result<(LakeCommit, u64)> {
    let mut snap = repair(lake)?;
    snap.remote = remote;
    let keys = snap.keys().to_vec();
    let version = snap.version + 1;
    let run_no = version as u32 + 1;
    run.run = run_no;
    let staging = flat.join("partitions");
    let mut changes: HashMap<Table, TableChange> = HashMap::new();
    let mut staged: Vec<(Table, WrittenFile)> = Vec::new();
    if !keep_duplicates {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            let merged = merge_family(flat, &snap, &staging, chain, run_no, props)?;
            let (a, r) = if chain[0] == Table::Conversations {
                (
                    &mut run.already_in_lake.conversations,
                    &mut run.replaced_in_lake.conversations,
                )
            } else {
                (
                    &mut run.already_in_lake.documents,
                    &mut run.replaced_in_lake.documents,
                )
            };
            *a = merged.dropped;
            *r = merged.replaced;
            for (t, add) in merged.removed {
                changes
                    .entry(t)
                    .or_default()
                    .removes
                    .push(Remove::of(&add, now_ms(), true));
            }
            staged.extend(merged.rewritten);
        }
    }
    for f in split_flat(flat, &staging, &keys, run_no, props)? {
        staged.push((f.table, f));
    }
    run.rows_added = BTreeMap::new();
    for (t, f) in &staged {
        if f.seq > 0 {
            *run.rows_added.entry(t.name().to_owned()).or_default() += f.rows;
        }
    }
    // Move the staged files into the lake (invisible until committed), then commit.
    move_into_lake(staged, &staging, lake, true, &mut changes)?;
    super::commit::crash_point("moved");
    let record = commit_run(lake, false, &keys, changes, run)?;
    super::commit::crash_point("committed");
    Ok((record, version))
}

/// Moves files staged under `staging/TABLE/…` to the same place under `lake/TABLE/`, where
/// they are invisible until a version names them, and adds their `add` actions to
/// `changes` (`data_change`: false when they hold rows the lake already had).
pub(super) fn move_into_lake(
    staged: Vec<(Table, WrittenFile)>,
    staging: &Path,
    lake: &Path,
    data_change: bool,
    changes: &mut HashMap<Table, TableChange>,
) -> Result<()> {
    for (t, f) in staged {
        let rel = f
            .path
            .strip_prefix(staging.join(t.name()))
            .map_err(|_| Error::Internal(format!("{} outside staging", f.path.display())))?
            .to_owned();
        let table_dir = lake.join(t.name());
        let to = table_dir.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(&f.path, &to).map_err(|e| Error::io(&to, e))?;
        let mut add = add_for(&table_dir, &to, t, f.partition)?;
        add.data_change = data_change;
        changes.entry(t).or_default().adds.push(add);
    }
    let _ = std::fs::remove_dir_all(staging);
    Ok(())
}

/// Brings the lake back to its last recorded version after a writer died: child versions
/// committed after the root's record are undone by a new version with the recorded files,
/// and files no version ever named are deleted. Only a lease holder may call this. (For a
/// lake in object storage, `lake` is the mirror of its logs.) Returns the lake's latest
/// version, as repaired.
pub fn repair(lake: &Path) -> Result<LakeSnapshot> {
    let snap = LakeSnapshot::load(lake, None)?;
    for t in Table::ALL {
        let dir = lake.join(t.name());
        let now = Snapshot::load(&dir, None)?;
        let latest = now.version;
        let recorded = snap.table(*t).version;
        // Every file a version named is live in the latest or was removed by a later one.
        let mut named: HashSet<String> = now.removed.keys().cloned().collect();
        named.extend(now.files.iter().map(|a| decode_path(&a.path)));
        if latest > recorded && *t != ROOT {
            let want = snap.table(*t);
            let keep: HashSet<&str> = want.files.iter().map(|a| a.path.as_str()).collect();
            let have: HashSet<&str> = now.files.iter().map(|a| a.path.as_str()).collect();
            let mut actions = vec![Action::CommitInfo(CommitInfo {
                timestamp: Some(now_ms()),
                operation: Some("RESTORE".into()),
                operation_parameters: Some(
                    [("version".to_owned(), serde_json::json!(recorded))]
                        .into_iter()
                        .collect(),
                ),
                engine_info: Some(format!("chatql/{}", env!("CARGO_PKG_VERSION"))),
                is_blind_append: Some(false),
                extra: Default::default(),
            })];
            for a in now.files.iter().filter(|a| !keep.contains(a.path.as_str())) {
                actions.push(Action::Remove(Remove::of(a, now_ms(), true)));
            }
            for a in want
                .files
                .iter()
                .filter(|a| !have.contains(a.path.as_str()))
            {
                actions.push(Action::Add(a.clone()));
            }
            if commit(&dir, latest + 1, &actions)? == Committed::Conflict {
                return Err(Error::Write {
                    path: dir,
                    source: "another writer committed while this one held the lease".into(),
                });
            }
        }
        // Files of runs that never committed.
        for entry in walkdir::WalkDir::new(&dir).min_depth(1) {
            let Ok(entry) = entry else { continue };
            let rel = entry.path().strip_prefix(&dir).unwrap_or(entry.path());
            let rel = rel.to_string_lossy();
            if entry.file_type().is_file()
                && rel.ends_with(".parquet")
                && !rel.starts_with("_delta_log")
                && !named.contains(rel.as_ref())
            {
                let p = entry.path();
                std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
            }
        }
    }
    Ok(snap)
}

/// The files of one table of a snapshot, grouped by partition folder (relative), in read
/// order, with the partition's values.
pub(super) type Partitions = BTreeMap<String, (PartitionValues, Vec<Add>)>;

pub(super) fn partitions(snap: &Snapshot) -> Partitions {
    let mut out: Partitions = BTreeMap::new();
    for add in &snap.files {
        let rel = decode_path(&add.path);
        let folder = rel.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let slot = out
            .entry(folder)
            .or_insert_with(|| (add.partition_values.clone(), Vec::new()));
        slot.1.push(add.clone());
    }
    out
}

/// What deduplicating one family of a run against the lake did.
struct Merged {
    /// Run versions dropped (the lake has them, same or newer).
    dropped: u64,
    /// Lake versions the run replaced.
    replaced: u64,
    /// Lake files removed (their partitions rewritten).
    removed: Vec<(Table, Add)>,
    /// The rewrites, staged.
    rewritten: Vec<(Table, WrittenFile)>,
}

/// Deduplicates one family of this run (in `flat`) against the lake. Versions already in
/// the lake at least as new are dropped from the run; lake versions the run supersedes are
/// dropped from their partitions, which are rewritten into `staging` as file 0 of the run.
fn merge_family(
    flat: &Path,
    snap: &LakeSnapshot,
    staging: &Path,
    chain: &[Table],
    run: u32,
    props: &WriterProperties,
) -> Result<Merged> {
    let mut merged = Merged {
        dropped: 0,
        replaced: 0,
        removed: Vec::new(),
        rewritten: Vec::new(),
    };
    let parent = chain[0];
    let schema = parent.schema();
    let key_cols: Vec<&str> = key_columns(parent)
        .iter()
        .map(|i| schema.field(*i).name().as_str())
        .collect();
    let project = |b: RecordBatch| -> Result<RecordBatch> {
        // Dedup reads columns by the table's schema positions: widen back with nulls.
        let cols = schema
            .fields()
            .iter()
            .map(|f| match b.schema().index_of(f.name()) {
                Ok(i) => b.column(i).clone(),
                Err(_) => datafusion::arrow::array::new_null_array(f.data_type(), b.num_rows()),
            })
            .collect();
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    };
    // New versions first, so that a tie keeps the lake's version and leaves its file alone.
    let mut d = Dedup::default();
    let mut new_rows = 0u64;
    let flat_parent = flat.join(parent.file_name());
    if flat_parent.is_file() {
        for b in open_reader(&flat_parent, Some(&key_cols))? {
            let b = project(b.map_err(|e| Error::read(&flat_parent, e))?)?;
            new_rows += b.num_rows() as u64;
            d.offer_batch(parent, &b);
        }
    }
    if new_rows == 0 {
        return Ok(merged);
    }
    let mut ranges: Vec<(String, u64, u64)> = Vec::new();
    let mut ordinal = new_rows;
    let lake_parts = partitions(snap.table(parent));
    for (part, (_, files)) in &lake_parts {
        let start = ordinal;
        for add in files {
            let f = &snap.local_file(parent, add)?;
            for b in open_reader(f, Some(&key_cols))? {
                let b = project(b.map_err(|e| Error::read(f, e))?)?;
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
        drop_versions(flat, chain, &new_losers, &super::parquet::staging_props())?;
    }
    let child_parts: Vec<Partitions> = chain[1..]
        .iter()
        .map(|t| partitions(snap.table(*t)))
        .collect();
    for (part, start, end) in ranges {
        let local: HashSet<u64> = old_losers
            .iter()
            .filter(|o| **o >= start && **o < end)
            .map(|o| o - start)
            .collect();
        if local.is_empty() {
            continue;
        }
        walk_chain(chain, &local, |level, t, filter| -> Result<bool> {
            let files = if level == 0 {
                lake_parts.get(&part)
            } else {
                child_parts[level - 1].get(&part)
            };
            let Some((values, files)) = files else {
                return Ok(true);
            };
            let dir = staging.join(t.name()).join(&part);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let out = dir.join(part_name(run, 0));
            let mut w = TableWriter::create(&out, t, props.clone(), None)?;
            for add in files {
                let f = &snap.local_file(t, add)?;
                for b in open_reader(f, None)? {
                    let kept = filter.filter(&b.map_err(|e| Error::read(f, e))?)?;
                    if kept.num_rows() > 0 {
                        w.write(&kept, &out)?;
                    }
                }
                merged.removed.push((t, add.clone()));
            }
            let rows = w.close(&out)?;
            if rows == 0 {
                std::fs::remove_file(&out).map_err(|e| Error::io(&out, e))?;
            } else {
                merged.rewritten.push((
                    t,
                    WrittenFile {
                        table: t,
                        path: out,
                        rows,
                        seq: 0,
                        partition: values.clone(),
                    },
                ));
            }
            Ok(true)
        })?;
    }
    merged.dropped = new_losers.len() as u64;
    merged.replaced = old_losers.len() as u64;
    Ok(merged)
}
