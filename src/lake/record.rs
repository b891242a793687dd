//! What a run read and did, typed: the record chatql keeps in each lake version's commit
//! info ([`LakeCommit`], in the root table's commits) and prints after `convert`.
//!
//! Lakes of chatql before Delta tables kept it in a `manifest.json` ([`Manifest`]), which
//! is still read, to upgrade such a lake ([`super::upgrade`]). Both read and write through
//! these types, never a JSON tree edited by key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::delta::CommitInfo;
use super::partition::Key;
use crate::error::{Error, Result};
use crate::ingest::DecodeStats;
use crate::table::Table;

/// The table whose versions are the lake's.
pub const ROOT: Table = Table::Conversations;

/// The key of chatql's record in a root commit's `commitInfo`.
pub const RECORD_KEY: &str = "chatql";

/// chatql's record of a lake version, in the root table's `commitInfo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LakeCommit {
    /// chatql version that committed.
    pub tool_version: String,
    /// Table layout version ([`crate::table::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Partition keys, in folder order (empty: one folder per table).
    pub partition_by: Vec<Key>,
    /// The version of every table (the root's own included) this lake version reads.
    pub tables: BTreeMap<String, u64>,
    /// What the run that made this version read and did.
    pub run: Run,
}

impl LakeCommit {
    /// The record in a commit info, if chatql wrote it.
    pub fn of(info: &CommitInfo) -> Option<Result<LakeCommit, serde_json::Error>> {
        info.extra
            .get(RECORD_KEY)
            .map(|v| serde_json::from_value(v.clone()))
    }
}

/// The file name of an older lake's manifest.
pub const LEGACY_MANIFEST: &str = "manifest.json";

/// One input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputReport {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 of the file (lowercase hex, as `b3sum` prints it); empty in runs recorded
    /// before chatql switched to it, or when the file could not be read again.
    #[serde(default)]
    pub blake3: String,
    /// SHA-256 (hex), which runs recorded before BLAKE3 hold instead; empty in newer runs,
    /// but still written: chatql before BLAKE3 requires the key (and reads "" as "no hash",
    /// as for a file that could not be read again), so it still opens newer lakes.
    #[serde(default)]
    pub sha256: String,
}

/// One table of a flat lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableReport {
    /// Table name.
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// File name in the output folder, when rows > 0.
    pub file: Option<String>,
}

/// Counts per family: conversations and documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerFamily {
    /// Conversation versions.
    pub conversations: u64,
    /// Document versions.
    pub documents: u64,
}

/// What one conversion read: the part of a run every lake records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reading {
    /// When the conversion finished (UTC).
    pub created_at: String,
    /// Input files with size and hash.
    pub inputs: Vec<InputReport>,
    /// Duplicate versions dropped within the inputs.
    pub duplicates: PerFamily,
    /// Lines, bytes and records read, and rejects.
    pub read: DecodeStats,
    /// Files and zip members passed over as not being exports.
    pub skipped: Vec<String>,
}

/// The manifest of a flat lake (one file per table).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlatManifest {
    /// chatql version.
    pub tool_version: String,
    /// Table layout version ([`crate::table::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// When the conversion finished (UTC).
    pub created_at: String,
    /// Input files with size and hash.
    pub inputs: Vec<InputReport>,
    /// Rows per table (every table listed, 0 when no file was written).
    pub tables: Vec<TableReport>,
    /// Duplicate versions dropped.
    pub duplicates: PerFamily,
    /// Lines, bytes and records read, and rejects.
    pub read: DecodeStats,
    /// Files and zip members passed over as not being exports.
    pub skipped: Vec<String>,
}

/// One run of a partitioned lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// What the run read.
    #[serde(flatten)]
    pub reading: Reading,
    /// The run's number, from 1.
    pub run: u32,
    /// Rows the run added per table.
    pub rows_added: BTreeMap<String, u64>,
    /// Versions of the run already in the lake, same or newer (not written again).
    pub already_in_lake: PerFamily,
    /// Older versions in the lake the run replaced.
    pub replaced_in_lake: PerFamily,
    /// What the version did if it read no export: `compact` rewrote small files into
    /// larger ones and changed no row. Absent for a conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

impl Run {
    /// Run `run` of a version that read no export: the creation of an empty lake, or
    /// `operation`.
    pub fn reading_nothing(run: u32, operation: Option<Operation>) -> Run {
        Run {
            reading: Reading {
                created_at: crate::model::format_timestamp_pg(crate::model::now_us()),
                inputs: Vec::new(),
                duplicates: PerFamily::default(),
                read: DecodeStats::default(),
                skipped: Vec::new(),
            },
            run,
            rows_added: BTreeMap::new(),
            already_in_lake: PerFamily::default(),
            replaced_in_lake: PerFamily::default(),
            operation,
        }
    }
}

/// A version that is not a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `chatql compact`: the same rows in fewer files (Delta's OPTIMIZE).
    Compact,
}

/// One run of an older partitioned lake's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LegacyRun {
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// Files the run added (relative to the lake).
    pub files_added: Vec<String>,
    /// Files the run removed (relative to the lake).
    pub files_removed: Vec<String>,
}

/// Rows and files of one table of a partitioned lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableTotals {
    /// Table name.
    pub name: String,
    /// Rows in the lake.
    pub rows: u64,
    /// Files in the lake.
    pub files: u64,
}

/// The manifest of a partitioned lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionedManifest {
    /// chatql version that created the lake.
    pub tool_version: String,
    /// Table layout version.
    pub schema_version: u32,
    /// The partition keys, in folder order.
    pub partition_by: Vec<Key>,
    /// Every run, in order.
    pub runs: Vec<LegacyRun>,
    /// Totals after the last run.
    #[serde(default)]
    pub tables: Vec<TableTotals>,
    /// When the last run finished (UTC).
    #[serde(default)]
    pub updated_at: String,
}

/// An older lake's manifest, of either layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Manifest {
    /// Hive-partitioned, with runs.
    Partitioned(PartitionedManifest),
    /// One file per table.
    Flat(FlatManifest),
}

impl Manifest {
    /// Reads the manifest of the older lake folder `lake`.
    pub fn read(lake: &Path) -> Result<Manifest> {
        let path = lake.join(LEGACY_MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::read(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::InputReport;

    #[test]
    fn input_hashes_old_and_new() {
        // A run recorded before BLAKE3 keeps its SHA-256 and reads with an empty BLAKE3.
        let old: InputReport =
            serde_json::from_str(r#"{"path": "a.jsonl", "size": 3, "sha256": "ab"}"#).unwrap();
        assert_eq!((old.sha256.as_str(), old.blake3.as_str()), ("ab", ""));
        // A new run writes BLAKE3, and an empty SHA-256 for older readers.
        let new = InputReport {
            path: "a.jsonl".into(),
            size: 3,
            blake3: blake3::hash(b"abc").to_hex().to_string(),
            sha256: String::new(),
        };
        let json = serde_json::to_string(&new).unwrap();
        // chatql before BLAKE3 reads it (its record required `sha256`).
        #[derive(serde::Deserialize)]
        struct Before {
            sha256: String,
        }
        let before: Before = serde_json::from_str(&json).unwrap();
        assert_eq!(before.sha256, "");
        assert_eq!(
            json,
            r#"{"path":"a.jsonl","size":3,"blake3":"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85","sha256":""}"#
        );
    }
}
