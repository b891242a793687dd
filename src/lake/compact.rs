//! Compacting a lake (`chatql compact`): every partition that holds several files of a table
//! (one per run that touched it, after many appends) gets one file per table instead, in a
//! new version that changes no row. This is Delta's OPTIMIZE: the old files are `remove`d
//! and the new ones `add`ed with `dataChange: false`, so earlier versions still read the old
//! files (until `vacuum` deletes them) and readers that follow changes skip the version.
//!
//! The tables of a family (conversations → messages → contexts; documents → chunks) are
//! rewritten together, partition by partition, each by concatenating its files in read
//! order, so a partition's child rows stay in the order of their parents' rows, which the
//! deduplication of a later append relies on ([`super::append`]). The writer holds the
//! lake's lease, like an append, and a compaction that dies before committing leaves only
//! files no version names, which the next writer deletes. A lake in object storage is
//! compacted in a local mirror of its logs and published like an append.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use datafusion::parquet::file::properties::WriterProperties;

use super::append::{move_into_lake, partitions, repair, Partitions};
use super::commit::{commit_run, TableChange};
use super::delta::{now_ms, Remove};
use super::fs::TempDir;
use super::lease::{Lease, LEASE_WAIT};
use super::parquet::{open_reader, writer_props, TableWriter};
use super::partition::{part_name, WrittenFile};
use super::record::{Operation, Run};
use super::remote::write_mirrored;
use super::snapshot::{LakeSnapshot, RemoteLake};
use crate::error::{Error, Result};
use crate::store::Remote;
use crate::table::dedup::{CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::Table;

/// What a compaction did (or, dry, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The version committed; `None` when there was nothing to compact, or on a dry run.
    pub version: Option<u64>,
    /// Partitions (of a family, or of `rejects`) rewritten.
    pub partitions: usize,
    /// Files those partitions had.
    pub files_before: usize,
    /// Files they have now.
    pub files_after: usize,
    /// Rows rewritten (0 on a dry run).
    pub rows: u64,
}

/// The families rewritten together; `rejects` stands alone.
const FAMILIES: [&[Table]; 3] = [CONVERSATION_CHAIN, DOCUMENT_CHAIN, &[Table::Rejects]];

/// Compacts the lake at `lake` (a folder, or a lake in object storage), writing zstd
/// `level` files; with `dry_run`, only counts what it would rewrite.
pub fn compact(lake: &Path, level: i32, dry_run: bool) -> Result<Compacted> {
    if !super::is_lake(lake) {
        return Err(Error::Usage(format!(
            "{}: not a lake written by `chatql convert`",
            lake.display()
        )));
    }
    let props = writer_props(level)?;
    if crate::store::is_remote(lake) {
        return compact_remote(lake, &props, dry_run);
    }
    let _lease = Lease::acquire(lake, LEASE_WAIT)?;
    let snap = repair(lake)?;
    let tmp = TempDir::beside(lake)?;
    rewrite(&snap, lake, tmp.path(), &props, dry_run)
}

/// A lake in object storage: compacted in a local mirror of its logs (fetching the files
/// it rewrites), then published like an append ([`super::remote::publish`]).
fn compact_remote(lake: &Path, props: &WriterProperties, dry_run: bool) -> Result<Compacted> {
    let remote = Remote::open(lake)?;
    let _lease = Lease::acquire_remote(&remote, LEASE_WAIT)?;
    let tmp = TempDir::beside(&std::env::temp_dir().join("chatql-lake"))?;
    let mirror = tmp.path().join("mirror");
    write_mirrored(&remote, &mirror, lake, || {
        let mut snap = repair(&mirror)?;
        snap.remote = Some(Arc::new(RemoteLake::new(remote.clone())));
        rewrite(&snap, &mirror, tmp.path(), props, dry_run)
    })
}

/// Rewrites the partitions of `snap` (the lake, or the mirror of its logs, in `lake`) with
/// several files, staging under `tmp`, and commits the version.
fn rewrite(
    snap: &LakeSnapshot,
    lake: &Path,
    tmp: &Path,
    props: &WriterProperties,
    dry_run: bool,
) -> Result<Compacted> {
    let version = snap.version + 1;
    let run_no = version as u32 + 1;
    let staging = tmp.join("partitions");
    let mut done = Compacted::default();
    let mut staged: Vec<(Table, WrittenFile)> = Vec::new();
    let mut changes: HashMap<Table, TableChange> = HashMap::new();
    for family in FAMILIES {
        let parts: Vec<Partitions> = family.iter().map(|t| partitions(snap.table(*t))).collect();
        let folders: BTreeSet<&String> = parts.iter().flat_map(|p| p.keys()).collect();
        for folder in folders {
            if !parts
                .iter()
                .any(|p| p.get(folder).is_some_and(|(_, files)| files.len() > 1))
            {
                continue;
            }
            done.partitions += 1;
            for (t, p) in family.iter().zip(&parts) {
                let Some((values, files)) = p.get(folder) else {
                    continue;
                };
                done.files_before += files.len();
                done.files_after += 1;
                if dry_run {
                    continue;
                }
                let dir = staging.join(t.name()).join(folder);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let path = dir.join(part_name(run_no, 0));
                let mut w = TableWriter::create(&path, *t, props.clone(), None)?;
                for add in files {
                    let f = snap.local_file(*t, add)?;
                    for b in open_reader(&f, None)? {
                        w.write(&b.map_err(|e| Error::read(&f, e))?, &path)?;
                    }
                    changes
                        .entry(*t)
                        .or_default()
                        .removes
                        .push(Remove::of(add, now_ms(), false));
                }
                let rows = w.close(&path)?;
                done.rows += rows;
                staged.push((
                    *t,
                    WrittenFile {
                        table: *t,
                        path,
                        rows,
                        seq: 0,
                        partition: values.clone(),
                    },
                ));
            }
        }
    }
    if dry_run || done.partitions == 0 {
        return Ok(done);
    }
    move_into_lake(staged, &staging, lake, false, &mut changes)?;
    super::commit::crash_point("moved");
    let run = Run::reading_nothing(run_no, Some(Operation::Compact));
    commit_run(lake, false, snap.keys(), changes, run)?;
    done.version = Some(version);
    Ok(done)
}
