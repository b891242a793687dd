//! `chatql vacuum LAKE`: deletes the data files no current version needs: files a run
//! replaced (removed from the table more than the retention period ago: a query started
//! before may still read them, and time travel to older versions needs them) and files of
//! runs that never committed. Runs under the writer lease, after a [`repair`]; a lake in
//! object storage is vacuumed the same way, through the mirror of its logs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::append::repair;
use super::delta::log::decode_path;
use super::delta::{now_ms, Snapshot};
use super::lease::Lease;
use crate::error::{Error, Result};
use crate::store::{is_remote, Remote};
use crate::table::Table;

/// The retention period unless told otherwise: a week, as Delta's default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long vacuum waits for a writer.
const WAIT: Duration = Duration::from_secs(15 * 60);

/// What vacuum deleted (or, with `dry_run`, would delete).
#[derive(Debug, Clone, Default)]
pub struct Vacuumed {
    /// The files, relative to the lake.
    pub files: Vec<PathBuf>,
    /// Their bytes.
    pub bytes: u64,
    /// Files removed from the tables within the retention period, kept.
    pub kept_recent: u64,
}

/// Where the lake's data files are, to list and delete.
enum Files<'a> {
    Local(&'a Path),
    Remote(&'a Remote),
}

impl Files<'_> {
    /// The data files of table `t`: path relative to the table, and size.
    fn list(&self, t: Table) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        match self {
            Files::Local(lake) => {
                let dir = lake.join(t.name());
                for entry in walkdir::WalkDir::new(&dir).min_depth(1) {
                    let entry = entry.map_err(|e| Error::io(&dir, e.into()))?;
                    if entry.file_type().is_file() {
                        let rel = entry.path().strip_prefix(&dir).unwrap_or(entry.path());
                        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                        out.push((rel.to_string_lossy().into_owned(), size));
                    }
                }
            }
            Files::Remote(r) => {
                let prefix = format!("{}/", t.name());
                for (path, size) in r.list(t.name())? {
                    out.push((path.strip_prefix(&prefix).unwrap_or(&path).to_owned(), size));
                }
            }
        }
        out.retain(|(rel, _)| !rel.starts_with("_delta_log") && rel.ends_with(".parquet"));
        Ok(out)
    }

    fn delete(&self, t: Table, rel: &str) -> Result<()> {
        match self {
            Files::Local(lake) => {
                let p = lake.join(t.name()).join(rel);
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))
            }
            Files::Remote(r) => r.delete(&format!("{}/{rel}", t.name())),
        }
    }
}

/// Vacuums the lake in `lake` (a folder or `s3://bucket/prefix`).
pub fn vacuum(lake: &Path, retention: Duration, dry_run: bool) -> Result<Vacuumed> {
    if is_remote(lake) {
        let remote = Remote::open(lake)?;
        let _lease = Lease::acquire_remote(&remote, WAIT)?;
        let mirror = super::fs::Scratch::new("chatql-logs-")?;
        super::remote::mirror_logs(&remote, mirror.path())?;
        if !dry_run {
            let before = super::remote::log_files(mirror.path())?;
            repair(mirror.path())?;
            super::remote::publish(mirror.path(), &remote, &before)?;
        }
        return sweep(mirror.path(), &Files::Remote(&remote), retention, dry_run);
    }
    let _lease = Lease::acquire(lake, WAIT)?;
    if !dry_run {
        repair(lake)?;
    }
    let out = sweep(lake, &Files::Local(lake), retention, dry_run)?;
    if !dry_run {
        for t in Table::ALL {
            remove_empty_dirs(&lake.join(t.name()));
        }
    }
    Ok(out)
}

/// Deletes the files of `files` the logs in `logs` no longer need.
fn sweep(logs: &Path, files: &Files, retention: Duration, dry_run: bool) -> Result<Vacuumed> {
    let cutoff = now_ms() - retention.as_millis() as i64;
    let mut out = Vacuumed::default();
    for t in Table::ALL {
        let dir = logs.join(t.name());
        let latest = Snapshot::load(&dir, None)?;
        let live: HashSet<String> = latest.files.iter().map(|a| decode_path(&a.path)).collect();
        let removed_at = &latest.removed;
        for (rel, size) in files.list(*t)? {
            if live.contains(&rel) {
                continue;
            }
            if removed_at.get(&rel).is_some_and(|at| *at > cutoff) {
                out.kept_recent += 1;
                continue;
            }
            out.bytes += size;
            out.files.push(Path::new(t.name()).join(&rel));
            if !dry_run {
                files.delete(*t, &rel)?;
            }
        }
    }
    out.files.sort();
    Ok(out)
}

/// Removes the empty partition folders under `dir` (never `dir` itself or the log).
fn remove_empty_dirs(dir: &Path) {
    let mut dirs: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir() && !e.path().ends_with("_delta_log"))
        .map(|e| e.into_path())
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(&d);
    }
}
