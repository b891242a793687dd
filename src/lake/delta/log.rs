//! Reading a Delta table's log: the commit files `_delta_log/00000000000000000000.json`,
//! ... replayed in order into a [`Snapshot`] (the files of one version, with the table's
//! schema and partitioning), and each commit's `commitInfo` for history.
//!
//! chatql writes no checkpoints, so every version is in the JSON commits. A log another
//! engine checkpointed and cleaned up (no commit 0) is refused with that reason rather than
//! read wrong, and so is a table that needs reader features chatql lacks (deletion vectors,
//! column mapping).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::action::{decode, Action, Add, CommitInfo, Metadata, Protocol};
use crate::error::{Error, Result};

/// The log folder of the table in `table_dir`.
pub fn log_dir(table_dir: &Path) -> PathBuf {
    table_dir.join("_delta_log")
}

/// The commit file of `version`.
pub fn commit_path(table_dir: &Path, version: u64) -> PathBuf {
    log_dir(table_dir).join(format!("{version:020}.json"))
}

/// Whether `dir` holds a Delta table.
pub fn is_table(dir: &Path) -> bool {
    log_dir(dir).is_dir()
}

/// The versions committed, in order (0, 1, ...). An empty log is an error.
pub fn versions(table_dir: &Path) -> Result<Vec<u64>> {
    let dir = log_dir(table_dir);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut versions = Vec::new();
    let mut checkpointed = false;
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(v) = name.strip_suffix(".json") {
            if v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()) {
                versions.push(v.parse::<u64>().expect("20 digits"));
            }
        } else if name.contains(".checkpoint") {
            checkpointed = true;
        }
    }
    versions.sort_unstable();
    if versions.first() != Some(&0) {
        let why = if checkpointed {
            "its early commits were replaced by a checkpoint, which chatql does not read"
        } else {
            "it has no commit 0"
        };
        return Err(Error::read(
            &dir,
            format!("not a table chatql can read: {why}"),
        ));
    }
    if let Some(gap) = versions.windows(2).find(|w| w[1] != w[0] + 1) {
        return Err(Error::read(
            &dir,
            format!("commits {} to {} are missing", gap[0] + 1, gap[1] - 1),
        ));
    }
    Ok(versions)
}

/// The actions of one commit.
pub fn read_commit(table_dir: &Path, version: u64) -> Result<Vec<Action>> {
    let path = commit_path(table_dir, version);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    decode(&text).map_err(|(line, e)| Error::read(format!("{}:{line}", path.display()), e))
}

/// One version of a table.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The table's folder.
    pub dir: PathBuf,
    /// The version.
    pub version: u64,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its metadata.
    pub metadata: Metadata,
    /// Its data files, in read order (path components in name order).
    pub files: Vec<Add>,
    /// The files earlier versions named and this one no longer does (decoded relative
    /// paths), with when they were removed (ms since the epoch; 0 when not recorded).
    pub removed: BTreeMap<String, i64>,
    /// The commit info of this version's commit.
    pub commit: Option<CommitInfo>,
}

/// The reader features chatql can read a table with.
const READABLE: &[&str] = &["timestampNtz"];

impl Snapshot {
    /// Replays the log of the table in `dir` up to `version` (the latest when `None`).
    pub fn load(dir: &Path, version: Option<u64>) -> Result<Snapshot> {
        let versions = versions(dir)?;
        let last = *versions.last().expect("versions are never empty");
        let target = match version {
            Some(v) if v > last => {
                return Err(Error::Usage(format!(
                    "{}: no version {v} (the latest is {last})",
                    dir.display()
                )))
            }
            Some(v) => v,
            None => last,
        };
        let mut protocol = None;
        let mut metadata = None;
        let mut files: BTreeMap<String, Add> = BTreeMap::new();
        let mut removed: BTreeMap<String, i64> = BTreeMap::new();
        let mut commit = None;
        for v in 0..=target {
            for a in read_commit(dir, v)? {
                match a {
                    Action::Protocol(p) => protocol = Some(p),
                    Action::Metadata(m) => metadata = Some(m),
                    Action::Add(a) => {
                        removed.remove(&decode_path(&a.path));
                        files.insert(a.path.clone(), a);
                    }
                    Action::Remove(r) => {
                        files.remove(&r.path);
                        removed.insert(decode_path(&r.path), r.deletion_timestamp.unwrap_or(0));
                    }
                    Action::CommitInfo(c) if v == target => commit = Some(c),
                    _ => {}
                }
            }
        }
        let log = log_dir(dir);
        let protocol = protocol.ok_or_else(|| Error::read(&log, "no protocol action"))?;
        if protocol.min_reader_version > 3
            || protocol
                .reader_features
                .iter()
                .flatten()
                .any(|f| !READABLE.contains(&f.as_str()))
        {
            return Err(Error::read(
                &log,
                format!(
                    "the table needs reader features chatql lacks ({:?}, reader version {})",
                    protocol.reader_features.unwrap_or_default(),
                    protocol.min_reader_version
                ),
            ));
        }
        let metadata = metadata.ok_or_else(|| Error::read(&log, "no metaData action"))?;
        let mut files: Vec<Add> = files.into_values().collect();
        files.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
        Ok(Snapshot {
            dir: dir.to_owned(),
            version: target,
            protocol,
            metadata,
            files,
            removed,
            commit,
        })
    }

    /// The local path of a data file.
    pub fn file_path(&self, add: &Add) -> PathBuf {
        self.dir.join(decode_path(&add.path))
    }
}

/// Every commit's info, by version.
pub fn history(dir: &Path) -> Result<Vec<(u64, Option<CommitInfo>)>> {
    let mut out = Vec::new();
    for v in versions(dir)? {
        let info = read_commit(dir, v)?.into_iter().find_map(|a| match a {
            Action::CommitInfo(c) => Some(c),
            _ => None,
        });
        out.push((v, info));
    }
    Ok(out)
}

/// Characters a relative path keeps as they are in an `add` path (a URI path): the
/// unreserved ones and `/`; everything else is percent-encoded.
const PATH_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'=');

/// A relative file path as an `add` path.
pub fn encode_path(rel: &str) -> String {
    percent_encoding::utf8_percent_encode(rel, PATH_ESCAPE).collect()
}

/// The relative file path of an `add` path.
pub fn decode_path(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_uri_encoded_and_back() {
        let rel = "course=ECE 120%2F/month=2024-03/part-r00001-00001.parquet";
        let enc = encode_path(rel);
        assert_eq!(
            enc,
            "course=ECE%20120%252F/month=2024-03/part-r00001-00001.parquet"
        );
        assert_eq!(decode_path(&enc), rel);
        assert_eq!(decode_path(&encode_path("kurs=Ü")), "kurs=Ü");
    }
}
