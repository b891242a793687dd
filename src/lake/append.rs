//! Appending a run to a partitioned lake (`convert --append`), and writing a new
//! partitioned lake as its first run.
//!
//! The run is deduplicated against the lake by the usual rule ([`crate::table::dedup`]),
//! except that a tie keeps the lake's version. A version already in the lake is not written
//! again; a newer version (a conversation that grew) rewrites only the partition that holds
//! the old one, as file 0 of the run; every other file stays byte-identical.
//!
//! Crash safety: a run's files are staged beside the lake, moved in, and only then is the
//! manifest (which lists every run) replaced. Files of a run the manifest does not list are
//! the remains of a crash and are deleted by the next append; files a listed run replaced but
//! could not yet delete are deleted then too.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::file::properties::WriterProperties;

use super::manifest::{Manifest, PartitionedManifest, PerFamily, Reading, Run, TableTotals};
use super::parquet::{drop_versions, file_rows, open_reader, TableWriter};
use super::partition::{part_name, run_of, split_flat, Key};
use super::table_files;
use crate::error::{Error, Result};
use crate::table::dedup::{key_columns, Dedup, LevelFilter, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::Table;

/// Lays out a finished flat conversion (`flat`, the staging folder of `convert`) as a run of
/// a partitioned lake. For a new lake (`lake` = None) the partitions are written into `flat`
/// itself, which then becomes the lake (the caller writes the manifest and renames it). For
/// an append, they are staged in `flat` and moved into `lake`, and the lake's manifest gets
/// the run. Returns the manifest after the run.
pub fn write_run(
    flat: &Path,
    lake: Option<&Path>,
    keys: &[Key],
    keep_duplicates: bool,
    props: &WriterProperties,
    reading: Reading,
) -> Result<PartitionedManifest> {
    let mut manifest = match lake {
        None => PartitionedManifest {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version: crate::table::SCHEMA_VERSION,
            partition_by: keys.to_vec(),
            runs: Vec::new(),
            tables: Vec::new(),
            updated_at: String::new(),
        },
        Some(l) => match Manifest::read(l)? {
            Manifest::Partitioned(m) => {
                recover(l, &m)?;
                m
            }
            Manifest::Flat(_) => {
                return Err(Error::Usage(format!(
                    "--append: {} is a flat lake; only a lake written with --partition-by \
                     can be appended to",
                    l.display()
                )))
            }
        },
    };
    let run = manifest.runs.len() as u32 + 1;
    let mut already_in_lake = PerFamily::default();
    let mut replaced_in_lake = PerFamily::default();
    let staging = flat.join("partitions");
    let mut removed: Vec<PathBuf> = Vec::new();
    if let (Some(l), false) = (lake, keep_duplicates) {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            let (present, replaced, gone) = merge_family(flat, l, &staging, chain, run, props)?;
            let (a, r) = if chain[0] == Table::Conversations {
                (
                    &mut already_in_lake.conversations,
                    &mut replaced_in_lake.conversations,
                )
            } else {
                (
                    &mut already_in_lake.documents,
                    &mut replaced_in_lake.documents,
                )
            };
            *a = present;
            *r = replaced;
            removed.extend(gone);
        }
    }
    let written = split_flat(flat, &staging, keys, run, props)?;
    for t in Table::ALL {
        let d = staging.join(t.name());
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
    }
    let target = lake.unwrap_or(flat);
    let rel = |p: &Path, base: &Path| -> String {
        p.strip_prefix(base)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let mut rows_added: BTreeMap<String, u64> = BTreeMap::new();
    for (p, rows) in &written {
        let path = rel(p, &staging);
        let table = path.split('/').next().unwrap_or_default();
        if let Some(t) = Table::from_name(table) {
            *rows_added.entry(t.name().to_owned()).or_default() += rows;
        }
    }
    // Everything staged: the split run, and the partitions merge_family rewrote (file 0).
    let mut files_added = Vec::new();
    for t in Table::ALL {
        files_added.extend(table_files(&staging, *t)?.iter().map(|f| rel(f, &staging)));
    }
    files_added.sort();
    let files_removed = removed.iter().map(|p| rel(p, target)).collect();

    // Move the staged files into place.
    for f in &files_added {
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
        let flat_file = target.join(t.file_name());
        if lake.is_none() && flat_file.exists() {
            std::fs::remove_file(&flat_file).map_err(|e| Error::io(&flat_file, e))?;
        }
    }
    let _ = std::fs::remove_dir_all(&staging);

    manifest.runs.push(Run {
        reading,
        run,
        rows_added,
        already_in_lake,
        replaced_in_lake,
        files_added,
        files_removed,
    });
    // Totals from the files themselves (the removed files are about to go).
    manifest.tables.clear();
    for t in Table::ALL {
        let mut totals = TableTotals {
            name: t.name().to_owned(),
            rows: 0,
            files: 0,
        };
        for f in table_files(target, *t)? {
            if removed.contains(&f) {
                continue;
            }
            totals.rows += file_rows(&f)?;
            totals.files += 1;
        }
        manifest.tables.push(totals);
    }
    manifest.updated_at = crate::model::format_timestamp_pg(crate::model::now_us());
    if lake.is_some() {
        Manifest::Partitioned(manifest.clone()).write(target)?;
        for f in &removed {
            std::fs::remove_file(f).map_err(|e| Error::io(f, e))?;
        }
    }
    Ok(manifest)
}

/// Deletes what a crashed append left: files of runs the manifest does not list, and files
/// a listed run replaced but had not deleted yet.
fn recover(lake: &Path, manifest: &PartitionedManifest) -> Result<()> {
    let known = manifest.runs.len() as u32;
    for t in Table::ALL {
        for f in table_files(lake, *t)? {
            if run_of(&f).is_some_and(|r| r > known) {
                std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
            }
        }
    }
    for f in manifest.runs.iter().flat_map(|r| &r.files_removed) {
        let p = lake.join(f);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
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
        return Ok((0, 0, Vec::new()));
    }
    let mut ranges: Vec<(String, u64, u64)> = Vec::new();
    let mut ordinal = new_rows;
    let lake_parts = partition_files(lake, parent)?;
    for (part, files) in &lake_parts {
        let start = ordinal;
        for f in files {
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
            let mut w = TableWriter::create(&out, *t, props.clone())?;
            for f in files {
                for b in open_reader(f, None)? {
                    let kept = filter.filter(&b.map_err(|e| Error::read(f, e))?)?;
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
