//! `chatql upgrade LAKE`: makes a lake written by chatql before Delta tables (a
//! `manifest.json` and its files) a Delta lake in place: a flat lake's files move into
//! their tables' folders, a partitioned lake's stay where they are, and every table gets a
//! version 0 naming its files, with the old manifest kept in the root's commit info. The
//! manifest is deleted last, so an upgrade that dies half-way is simply run again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::commit::{add_for, commit_run, TableChange};
use super::delta::log::log_dir;
use super::partition::{part_name, Key, PartitionValues, NULL_PARTITION};
use super::record::ROOT;
use super::record::{Manifest, PerFamily, Run, LEGACY_MANIFEST};
use super::snapshot::is_legacy;
use crate::error::{Error, Result};
use crate::table::Table;

/// What an upgrade did.
#[derive(Debug, Clone)]
pub struct Upgraded {
    /// Files now named by version 0 of their tables.
    pub files: u64,
    /// Files left by a crashed run or replaced by a later one, deleted.
    pub deleted: u64,
    /// Partition keys.
    pub keys: Vec<Key>,
}

/// Upgrades the older lake in `lake`.
pub fn upgrade(lake: &Path) -> Result<Upgraded> {
    if !is_legacy(lake) {
        return Err(Error::Usage(format!(
            "{}: not a lake of an older chatql (no manifest.json, or already upgraded)",
            lake.display()
        )));
    }
    let manifest = Manifest::read(lake)?;
    // A previous attempt may have committed some tables before dying (never the root).
    for t in Table::ALL {
        let log = log_dir(&lake.join(t.name()));
        if log.exists() && *t != ROOT {
            std::fs::remove_dir_all(&log).map_err(|e| Error::io(&log, e))?;
        }
    }
    let mut changes: HashMap<Table, TableChange> = HashMap::new();
    let mut files = 0;
    let mut deleted = 0;
    let (keys, run) = match &manifest {
        Manifest::Flat(m) => {
            for t in Table::ALL {
                let dir = lake.join(t.name());
                let from = lake.join(t.file_name());
                let to = dir.join(part_name(1, 1));
                if from.is_file() {
                    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                    std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
                }
                if to.is_file() {
                    let add = add_for(&dir, &to, *t, PartitionValues::new())?;
                    changes.entry(*t).or_default().adds.push(add);
                    files += 1;
                }
            }
            let run = Run {
                reading: super::record::Reading {
                    created_at: m.created_at.clone(),
                    inputs: m.inputs.clone(),
                    duplicates: m.duplicates,
                    read: m.read,
                    skipped: m.skipped.clone(),
                },
                run: 1,
                rows_added: m.tables.iter().map(|t| (t.name.clone(), t.rows)).collect(),
                already_in_lake: PerFamily::default(),
                replaced_in_lake: PerFamily::default(),
                operation: None,
            };
            (Vec::new(), run)
        }
        Manifest::Partitioned(m) => {
            let known = m.runs.len() as u32;
            let removed: std::collections::HashSet<PathBuf> = m
                .runs
                .iter()
                .flat_map(|r| &r.files_removed)
                .map(|f| lake.join(f))
                .collect();
            for t in Table::ALL {
                let dir = lake.join(t.name());
                for f in legacy_files(&dir)? {
                    let run_no = f
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix("part-r")?.get(..5)?.parse::<u32>().ok());
                    if removed.contains(&f) || run_no.is_some_and(|r| r > known) {
                        std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
                        deleted += 1;
                        continue;
                    }
                    let values = if *t == Table::Rejects {
                        PartitionValues::new()
                    } else {
                        values_of(&dir, &f)
                    };
                    let add = add_for(&dir, &f, *t, values)?;
                    changes.entry(*t).or_default().adds.push(add);
                    files += 1;
                }
            }
            let mut run = m
                .runs
                .last()
                .map(|r| r.run.clone())
                .ok_or_else(|| Error::read(lake.join(LEGACY_MANIFEST), "no runs"))?;
            run.run = 1;
            (m.partition_by.clone(), run)
        }
    };
    commit_run(lake, true, &keys, changes, run)?;
    let path = lake.join(LEGACY_MANIFEST);
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Upgraded {
        files,
        deleted,
        keys,
    })
}

/// The Parquet files under an older lake's table folder, in name order.
fn legacy_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.map_err(|e| Error::io(dir, e.into()))?;
        let name = e.file_name().to_string_lossy();
        if e.file_type().is_file()
            && name.ends_with(".parquet")
            && !name.starts_with('.')
            && !e.path().components().any(|c| c.as_os_str() == "_delta_log")
        {
            out.push(e.into_path());
        }
    }
    Ok(out)
}

/// A file's partition values, from its folder names (`course=ECE%20120/month=2024-03`).
fn values_of(table_dir: &Path, file: &Path) -> PartitionValues {
    let rel = file.strip_prefix(table_dir).unwrap_or(file);
    let mut values = PartitionValues::new();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        let seg = c.as_os_str().to_string_lossy();
        if let Some((k, v)) = seg.split_once('=') {
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned();
            values.insert(k.to_owned(), (v != NULL_PARTITION).then_some(v));
        }
    }
    values
}
