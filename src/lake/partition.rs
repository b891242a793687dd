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

use std::collections::BTreeMap;
use std::path::PathBuf;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

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

/// Longest partition value kept verbatim in a folder name (encoded); a longer one is cut
/// and suffixed with a digest (path segments are limited to 255 bytes).
const VERBATIM_MAX: usize = 180;
/// Where a value too long to keep verbatim is cut (encoded bytes, before its digest).
const CUT_AT: usize = 160;

/// Whether a partition value's folder name is the value itself, so that a filter on it
/// can prune folders (not `""`, stored as the null folder, nor a value too long to keep).
pub fn is_verbatim(v: &str) -> bool {
    !v.is_empty() && escapes(v).iter().map(String::len).sum::<usize>() <= VERBATIM_MAX
}

/// Each character's escape in a folder name, so that a cut never splits a character or
/// an escape.
fn escapes(v: &str) -> Vec<String> {
    v.char_indices()
        .map(|(i, c)| {
            let c = &v[i..i + c.len_utf8()];
            // A leading dot or underscore would hide the folder from most readers.
            if i == 0 && (c == "." || c == "_") {
                format!("%{:02X}", c.as_bytes()[0])
            } else {
                utf8_percent_encode(c, ESCAPE).collect()
            }
        })
        .collect()
}

/// A partition value as a path segment value.
pub fn encode_value(v: Option<&str>) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return NULL_PARTITION.to_owned();
    };
    let mut pieces = escapes(v);
    let len: usize = pieces.iter().map(String::len).sum();
    if len > VERBATIM_MAX {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
        let mut kept = 0;
        let n = pieces
            .iter()
            .take_while(|p| {
                kept += p.len();
                kept <= CUT_AT
            })
            .count();
        pieces.truncate(n);
        pieces.push(format!("~{}", &digest[..16]));
    }
    pieces.concat()
}

/// Partition values of one file: column to value (`None`: null).
pub type PartitionValues = BTreeMap<String, Option<String>>;

/// The partition columns of table `t` in a lake split by `keys` (rejects are never split).
pub fn partition_columns(t: Table, keys: &[Key]) -> Vec<&'static str> {
    if t == Table::Rejects {
        Vec::new()
    } else {
        keys.iter().map(|k| k.name()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_cut_between_escapes_never_inside_one() {
        // "é" is `%C3%A9`: every padding puts the cut at another place inside one.
        for pad in 0..3 {
            let v = format!("{}{}", "a".repeat(pad), "é".repeat(100));
            let s = encode_value(Some(&v));
            let (kept, digest) = s.rsplit_once('~').unwrap();
            assert_eq!(digest.len(), 16);
            assert!(kept.len() <= CUT_AT && kept.len() > CUT_AT - 6, "{kept}");
            let decoded = percent_encoding::percent_decode_str(kept).decode_utf8();
            assert!(decoded.is_ok(), "{kept}");
            assert!(!kept.ends_with('%') && kept.as_bytes()[kept.len() - 2] != b'%');
            assert!(!is_verbatim(&v));
        }
        assert!(is_verbatim("ECE 120"));
        assert!(!is_verbatim(""));
        assert_eq!(encode_value(Some("_x")), "%5Fx");
        // ASCII names are cut where they always were.
        let long = "x".repeat(200);
        assert_eq!(
            encode_value(Some(&long)).split_once('~').unwrap().0.len(),
            CUT_AT
        );
    }
}
