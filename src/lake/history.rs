//! `chatql history LAKE`: the lake's versions, each with what its run read and did and the
//! files it added and removed, from the tables' Delta logs. What `manifest.json` used to
//! hold, now read from the commits themselves.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::delta::log::{decode_path, history as log_history, read_commit};
use super::delta::Action;
use super::partition::Key;
use super::record::Run;
use super::record::{LakeCommit, ROOT};
use super::snapshot::LakeSnapshot;
use crate::error::Result;
use crate::table::Table;

/// One lake version.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// The lake version (the root table's).
    pub version: u64,
    /// When it was committed (UTC).
    pub committed_at: String,
    /// The run's record.
    #[serde(flatten)]
    pub run: Run,
    /// Each table's Delta version in this lake version.
    pub table_versions: BTreeMap<String, u64>,
    /// Files added (relative to the lake).
    pub files_added: Vec<String>,
    /// Files removed (relative to the lake; on disk until vacuumed).
    pub files_removed: Vec<String>,
}

/// Rows and files of one table in the latest version.
#[derive(Debug, Clone, Serialize)]
pub struct TableTotals {
    /// Table name.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// Files.
    pub files: u64,
}

/// A lake's history.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Table layout version of the latest version.
    pub schema_version: u32,
    /// chatql version that committed the latest version.
    pub tool_version: String,
    /// Partition keys (empty: one folder per table).
    pub partition_by: Vec<Key>,
    /// The latest version.
    pub version: u64,
    /// Rows and files per table in the latest version.
    pub tables: Vec<TableTotals>,
    /// Every version, oldest first.
    pub runs: Vec<Version>,
}

/// Reads the history of the lake in `lake`.
pub fn history(lake: &Path) -> Result<History> {
    let latest = LakeSnapshot::load(lake, None)?;
    // A lake in object storage is read from the mirror of its logs.
    let lake = latest.dir.as_path();
    let mut runs = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (v, info) in log_history(&lake.join(ROOT.name()))? {
        let Some(info) = info else { continue };
        let Some(Ok(record)) = LakeCommit::of(&info) else {
            continue;
        };
        let mut files_added = Vec::new();
        let mut files_removed = Vec::new();
        for t in Table::ALL {
            let dir = lake.join(t.name());
            let to = record.tables.get(t.name()).copied().unwrap_or(0);
            let from = seen.get(t.name()).map_or(0, |v| v + 1);
            for tv in from..=to {
                for a in read_commit(&dir, tv)? {
                    match a {
                        Action::Add(a) => {
                            files_added.push(format!("{}/{}", t.name(), decode_path(&a.path)))
                        }
                        Action::Remove(r) => {
                            files_removed.push(format!("{}/{}", t.name(), decode_path(&r.path)))
                        }
                        _ => {}
                    }
                }
            }
            seen.insert(t.name().to_owned(), to);
        }
        files_added.sort();
        files_removed.sort();
        runs.push(Version {
            version: v,
            committed_at: crate::model::format_timestamp_pg(info.timestamp.unwrap_or(0) * 1000),
            run: record.run,
            table_versions: record.tables,
            files_added,
            files_removed,
        });
    }
    let tables = Table::ALL
        .iter()
        .map(|t| TableTotals {
            name: t.name().to_owned(),
            rows: latest.rows(*t),
            files: latest.table(*t).files.len() as u64,
        })
        .collect();
    Ok(History {
        schema_version: latest.record.schema_version,
        tool_version: latest.record.tool_version.clone(),
        partition_by: latest.keys().to_vec(),
        version: latest.version,
        tables,
        runs,
    })
}
