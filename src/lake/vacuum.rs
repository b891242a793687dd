//! `chatql vacuum LAKE`: deletes the data files no current version needs: files a run
//! replaced (removed from the table more than the retention period ago: a query started
//! before may still read them, and time travel to older versions needs them) and files of
//! runs that never committed. Runs under the writer lease, after a [`repair`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::append::repair;
use super::delta::log::{decode_path, read_commit, versions};
use super::delta::{now_ms, Action, Snapshot};
use super::lease::Lease;
use crate::error::{Error, Result};
use crate::table::Table;

/// The retention period unless told otherwise: a week, as Delta's default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

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

/// Vacuums the lake in `lake`.
pub fn vacuum(lake: &Path, retention: Duration, dry_run: bool) -> Result<Vacuumed> {
    let _lease = Lease::acquire(lake, Duration::from_secs(15 * 60))?;
    if !dry_run {
        repair(lake)?;
    }
    let cutoff = now_ms() - retention.as_millis() as i64;
    let mut out = Vacuumed::default();
    for t in Table::ALL {
        let dir = lake.join(t.name());
        let live: HashSet<String> = Snapshot::load(&dir, None)?
            .files
            .iter()
            .map(|a| decode_path(&a.path))
            .collect();
        let mut removed_at: HashMap<String, i64> = HashMap::new();
        for v in versions(&dir)? {
            for a in read_commit(&dir, v)? {
                if let Action::Remove(r) = a {
                    removed_at.insert(decode_path(&r.path), r.deletion_timestamp.unwrap_or(0));
                }
            }
        }
        for entry in walkdir::WalkDir::new(&dir).min_depth(1) {
            let entry = entry.map_err(|e| Error::io(&dir, e.into()))?;
            let rel = entry.path().strip_prefix(&dir).unwrap_or(entry.path());
            let rel_s = rel.to_string_lossy().into_owned();
            if !entry.file_type().is_file()
                || rel_s.starts_with("_delta_log")
                || !rel_s.ends_with(".parquet")
                || live.contains(&rel_s)
            {
                continue;
            }
            if removed_at.get(&rel_s).is_some_and(|at| *at > cutoff) {
                out.kept_recent += 1;
                continue;
            }
            out.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.files.push(Path::new(t.name()).join(rel));
            if !dry_run {
                std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
        if !dry_run {
            remove_empty_dirs(&dir);
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
