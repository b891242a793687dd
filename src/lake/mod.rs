//! Lakes: folders of Parquet files that `chatql convert` writes and every later stage reads.
//!
//! [`fs`] holds the atomic-write primitives, [`parquet`] the one writer and reader,
//! [`manifest`] the typed `manifest.json`. One file per operation: [`convert`] (exports in,
//! a flat or partitioned lake out), [`partition`] (the Hive layout and the split into it),
//! [`append`] (a run added to a partitioned lake). A lake knows nothing of SQL or reports.

pub mod append;
pub mod convert;
pub mod fs;
pub mod manifest;
pub mod parquet;
pub mod partition;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::table::Table;

/// Whether `path` is a folder written by `chatql convert`.
pub fn is_lake(path: &Path) -> bool {
    path.is_dir() && path.join(manifest::FILE).is_file()
}

/// The Parquet files of one table of a lake, in the order rows must be read for children to
/// follow their parents: the flat file, or every partition's files in name order.
pub fn table_files(lake: &Path, t: Table) -> Result<Vec<PathBuf>> {
    let flat = lake.join(t.file_name());
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
