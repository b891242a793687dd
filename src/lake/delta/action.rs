//! The actions of a Delta log, typed: one commit file is one JSON action per line
//! (`{"add": {...}}`). Only what chatql writes and must read back is modelled; a field
//! another writer adds is kept in `extra` so that nothing read is dropped, and an action
//! chatql does not know (`cdc`, `domainMetadata`, ...) is carried as [`Action::Other`].
//!
//! Field names and meanings follow the Delta protocol (PROTOCOL.md, "Actions").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The reader and writer versions a table needs. chatql writes plain tables: 1 and 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protocol {
    /// Lowest reader protocol version that reads the table.
    pub min_reader_version: u32,
    /// Lowest writer protocol version that writes it.
    pub min_writer_version: u32,
    /// Table features a reader must know (reader version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_features: Option<Vec<String>>,
    /// Table features a writer must know (writer version 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_features: Option<Vec<String>>,
}

impl Protocol {
    /// The protocol of the tables chatql creates.
    pub fn chatql() -> Protocol {
        Protocol {
            min_reader_version: 1,
            min_writer_version: 2,
            reader_features: None,
            writer_features: None,
        }
    }
}

/// The storage format of the data files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    /// Always `parquet`.
    pub provider: String,
    /// Format options (none).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// A table's identity, schema and partitioning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// A unique id of the table.
    pub id: String,
    /// Name (chatql: the table's name).
    #[serde(default)]
    pub name: Option<String>,
    /// What the table holds.
    #[serde(default)]
    pub description: Option<String>,
    /// Data file format.
    pub format: Format,
    /// The schema as Delta's JSON schema, serialized into a string.
    pub schema_string: String,
    /// Partition columns, in folder order.
    pub partition_columns: Vec<String>,
    /// Table properties.
    #[serde(default)]
    pub configuration: BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    #[serde(default)]
    pub created_time: Option<i64>,
}

/// A data file that is part of the table from this version on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// URI-encoded path relative to the table's folder.
    pub path: String,
    /// Partition column name to value (`None`: null).
    pub partition_values: BTreeMap<String, Option<String>>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub modification_time: i64,
    /// Whether the file adds data (false for a rewrite of the same rows).
    pub data_change: bool,
    /// Column statistics as a JSON string (`numRecords`, `minValues`, `maxValues`,
    /// `nullCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    /// Fields of other writers (tags, deletion vectors, ...), kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A data file that is no longer part of the table from this version on (still on disk
/// until vacuumed, for readers of older versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    /// URI-encoded path relative to the table's folder.
    pub path: String,
    /// When it was removed, ms since the epoch.
    #[serde(default)]
    pub deletion_timestamp: Option<i64>,
    /// Whether rows left the table.
    pub data_change: bool,
    /// Whether the fields below are given.
    #[serde(default)]
    pub extended_file_metadata: Option<bool>,
    /// Partition values of the file.
    #[serde(default)]
    pub partition_values: Option<BTreeMap<String, Option<String>>>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Fields of other writers, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Remove {
    /// The remove of `add`'s file at `now` (ms).
    pub fn of(add: &Add, now: i64, data_change: bool) -> Remove {
        Remove {
            path: add.path.clone(),
            deletion_timestamp: Some(now),
            data_change,
            extended_file_metadata: Some(true),
            partition_values: Some(add.partition_values.clone()),
            size: Some(add.size),
            extra: Map::new(),
        }
    }
}

/// The latest version an application committed (idempotent writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Txn {
    /// Application id.
    pub app_id: String,
    /// The application's version.
    pub version: i64,
    /// When, ms since the epoch.
    #[serde(default)]
    pub last_updated: Option<i64>,
}

/// Who made a commit, when and how. chatql adds a `chatql` object ([`crate::lake::record::LakeCommit`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    /// Commit time, ms since the epoch.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Operation name (`WRITE`, `CREATE TABLE`, ...).
    #[serde(default)]
    pub operation: Option<String>,
    /// Operation parameters.
    #[serde(default)]
    pub operation_parameters: Option<Map<String, Value>>,
    /// The engine that committed (`chatql/0.1.0`).
    #[serde(default)]
    pub engine_info: Option<String>,
    /// Whether the commit only appended files.
    #[serde(default)]
    pub is_blind_append: Option<bool>,
    /// Everything else, kept as read (chatql's own record is `chatql`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One line of a commit file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
    /// `protocol`.
    #[serde(rename = "protocol")]
    Protocol(Protocol),
    /// `metaData`.
    #[serde(rename = "metaData")]
    Metadata(Metadata),
    /// `add`.
    #[serde(rename = "add")]
    Add(Add),
    /// `remove`.
    #[serde(rename = "remove")]
    Remove(Remove),
    /// `txn`.
    #[serde(rename = "txn")]
    Txn(Txn),
    /// `commitInfo`.
    #[serde(rename = "commitInfo")]
    CommitInfo(CommitInfo),
    /// Any other action, as read.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

/// A commit file's text: one action per line, each line ending in a newline.
pub fn encode(actions: &[Action]) -> String {
    let mut out = String::new();
    for a in actions {
        out.push_str(&serde_json::to_string(a).expect("actions serialize"));
        out.push('\n');
    }
    out
}

/// Parses one line: a known action must have its required fields; any other is kept.
fn decode_line(line: &str) -> Result<Action, String> {
    let map: Map<String, Value> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Some((kind, body)) = map.iter().next().filter(|_| map.len() == 1) else {
        return Ok(Action::Other(map));
    };
    let body = body.clone();
    let typed = |e: serde_json::Error| format!("{kind}: {e}");
    Ok(match kind.as_str() {
        "protocol" => Action::Protocol(serde_json::from_value(body).map_err(typed)?),
        "metaData" => Action::Metadata(serde_json::from_value(body).map_err(typed)?),
        "add" => Action::Add(serde_json::from_value(body).map_err(typed)?),
        "remove" => Action::Remove(serde_json::from_value(body).map_err(typed)?),
        "txn" => Action::Txn(serde_json::from_value(body).map_err(typed)?),
        "commitInfo" => Action::CommitInfo(serde_json::from_value(body).map_err(typed)?),
        _ => Action::Other(map),
    })
}

/// Parses a commit file's text; the error names the 1-based line.
pub fn decode(text: &str) -> Result<Vec<Action>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| decode_line(l).map_err(|e| (i + 1, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_in_the_protocol_shape() {
        let add = Add {
            path: "course=ECE%20120/part-r00001-00001.parquet".into(),
            partition_values: [("course".to_owned(), Some("ECE 120".to_owned()))].into(),
            size: 812,
            modification_time: 1_700_000_000_000,
            data_change: true,
            stats: Some(r#"{"numRecords":3}"#.into()),
            extra: Map::new(),
        };
        let text = encode(&[
            Action::Protocol(Protocol::chatql()),
            Action::Add(add.clone()),
        ]);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#
        );
        assert!(
            text.contains(r#""partitionValues":{"course":"ECE 120"}"#),
            "{text}"
        );
        let back = decode(&text).unwrap();
        assert_eq!(back[1], Action::Add(add));
        // Another writer's action and fields survive.
        let other = r#"{"domainMetadata":{"domain":"x","configuration":"{}","removed":false}}"#;
        let actions = decode(other).unwrap();
        assert!(matches!(&actions[0], Action::Other(m) if m.contains_key("domainMetadata")));
        assert_eq!(encode(&actions).trim(), other);
        let err = decode("{\"add\":{}}\nnot json").unwrap_err();
        assert_eq!(err.0, 1);
    }
}
