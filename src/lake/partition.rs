//! Hive-partitioned layout: `convert --partition-by course,month`. How partition values
//! become folder names and files are named; rows are routed to them by [`super::split`]
//! (appending a run to an existing lake is [`super::append`]).
//!
//! A partitioned lake holds each table in a folder of its own, split by the conversation's
//! (or document's) course and month: `conversations/course=ECE120/month=2024-03/
//! part-r00001-00001.parquet`. DuckDB, Spark, Ballista and DataFusion read that layout as it
//! is, and prune partitions on `course` and `month` predicates.
//!
//! Files keep every column of the table (the partition values are also in the path, but the
//! columns stay the truth: a path cannot hold `NULL` apart from `""`), so a partitioned
//! table is the flat table plus the virtual columns `course` and `month`.
//!
//! Child rows follow their parent by the `*_count` columns (see [`crate::table::dedup`]); within a
//! partition, the files of every table of a family are in the same order, so reading them in
//! name order keeps children behind their parents. Each run writes files named after its
//! number, so names sort by run, and a run only adds files to the partitions it touches.
//! When an append brings a newer version of a conversation already in the lake, only the
//! partition holding the old version is rewritten; every other old file stays as it was.
//!
//! Each file's partition values also go into its Delta `add` action
//! ([`super::commit`]), which is what Delta readers and chatql take them from; the folder
//! names are for plain Parquet readers of the folder.

use std::path::PathBuf;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::commit::PartitionValues;
use crate::error::{Error, Result};
use crate::table::Table;

/// A column a lake can be partitioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Key {
    /// The conversation's (document's) `course_name`.
    Course,
    /// The month (`YYYY-MM`, UTC) of the conversation's (document's) `created_at`.
    Month,
}

impl Key {
    /// The partition column's name.
    pub fn name(self) -> &'static str {
        match self {
            Key::Course => "course",
            Key::Month => "month",
        }
    }
}

/// Parses `course,month` (any order, either alone) into partition keys.
pub fn parse_keys(s: &str) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let k = match part.to_ascii_lowercase().as_str() {
            "course" | "course_name" => Key::Course,
            "month" => Key::Month,
            other => {
                return Err(Error::Usage(format!(
                    "--partition-by: unknown key {other:?} (keys: course, month)"
                )))
            }
        };
        if keys.contains(&k) {
            return Err(Error::Usage(format!(
                "--partition-by: {} given twice",
                k.name()
            )));
        }
        keys.push(k);
    }
    if keys.is_empty() {
        return Err(Error::Usage(
            "--partition-by needs course, month or both".into(),
        ));
    }
    Ok(keys)
}

/// The value Hive, Spark and DuckDB use for a null partition; chatql also uses it for `""`.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Bytes that cannot stand in a path segment, or that readers treat specially (the set
/// Spark escapes, which DataFusion and DuckDB decode).
const ESCAPE: &AsciiSet = &CONTROLS
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'\'')
    .add(b'*')
    .add(b'/')
    .add(b':')
    .add(b'=')
    .add(b'?')
    .add(b'\\')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'<')
    .add(b'>')
    .add(b'|');

/// A partition value as a path segment value.
pub fn encode_value(v: Option<&str>) -> String {
    match v {
        None | Some("") => NULL_PARTITION.to_owned(),
        Some(v) => {
            let mut s: String = utf8_percent_encode(v, ESCAPE).collect();
            // A leading dot or underscore would hide the folder from most readers.
            if s.starts_with('.') || s.starts_with('_') {
                s = format!("%{:02X}{}", s.as_bytes()[0], &s[1..]);
            }
            // Path segments are limited to 255 bytes; course names are short, but be safe.
            if s.len() > 180 {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
                let mut cut = 160;
                while !s.is_char_boundary(cut) || s[..cut].ends_with('%') {
                    cut -= 1;
                }
                s = format!("{}~{}", &s[..cut], &digest[..16]);
            }
            s
        }
    }
}

/// The `month` partition value (`YYYY-MM`, UTC) of a timestamp in microseconds.
pub fn month_of(us: Option<i64>) -> Option<String> {
    us.map(crate::model::format_month)
}

/// The relative folder of one partition (`course=X/month=Y`) and its values (an empty
/// course is null, as its folder says).
pub(super) fn partition_of(
    keys: &[Key],
    course: Option<&str>,
    created: Option<i64>,
) -> (String, PartitionValues) {
    let month = month_of(created);
    let mut values = PartitionValues::new();
    let dir = keys
        .iter()
        .map(|k| {
            let v = match k {
                Key::Course => course.filter(|c| !c.is_empty()).map(str::to_owned),
                Key::Month => month.clone(),
            };
            let seg = format!("{}={}", k.name(), encode_value(v.as_deref()));
            values.insert(k.name().to_owned(), v);
            seg
        })
        .collect::<Vec<_>>()
        .join("/");
    (dir, values)
}

/// A file a run wrote, with what its `add` action needs.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// The table.
    pub table: Table,
    /// Where it is.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Its number in the run's files of its partition (0: a rewrite of older rows).
    pub seq: u32,
    /// Its partition values.
    pub partition: PartitionValues,
}

/// File name of the `seq`th file a run writes into a partition (0 is a rewrite of the
/// partition's older rows, which must sort before the run's new rows).
pub(super) fn part_name(run: u32, seq: u32) -> String {
    format!("part-r{run:05}-{seq:05}.parquet")
}
