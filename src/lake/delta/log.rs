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

/// What a file in a log folder is, by its name (PROTOCOL.md, "Delta Log Entries"): a
/// commit `NNNNNNNNNNNNNNNNNNNN.json` (20 digits), a checkpoint, or anything else, which a
/// reader ignores (`.crc` files, `_last_checkpoint`, temporary files of other writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEntry {
    /// A commit of this version.
    Commit(u64),
    /// A checkpoint (chatql writes none and reads none).
    Checkpoint,
    /// A file the protocol has readers skip.
    Other,
}

impl LogEntry {
    /// Classifies a log file's name; a commit name whose number does not fit a version
    /// (20 digits past 2^64) is an error naming the file, never a panic.
    pub fn of(dir: &Path, name: &str) -> Result<LogEntry> {
        if let Some(v) = name.strip_suffix(".json") {
            if v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()) {
                return v.parse::<u64>().map(LogEntry::Commit).map_err(|_| {
                    Error::read(
                        dir.join(name),
                        "a commit file whose version is past the largest chatql reads (2^64 - 1): \
                         the log is damaged",
                    )
                });
            }
        } else if name.contains(".checkpoint") {
            return Ok(LogEntry::Checkpoint);
        }
        Ok(LogEntry::Other)
    }
}

/// The versions committed, in order (0, 1, ...). An empty log is an error.
pub fn versions(table_dir: &Path) -> Result<Vec<u64>> {
    let dir = log_dir(table_dir);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    versions_of(&dir, names.iter().map(String::as_str))
}

/// The versions of a log folder `dir` holding files with these names: every commit from 0
/// to the latest, or an error saying what is missing.
pub fn versions_of<'a>(dir: &Path, names: impl Iterator<Item = &'a str>) -> Result<Vec<u64>> {
    let mut versions = Vec::new();
    let mut checkpointed = false;
    for name in names {
        match LogEntry::of(dir, name)? {
            LogEntry::Commit(v) => versions.push(v),
            LogEntry::Checkpoint => checkpointed = true,
            LogEntry::Other => {}
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
            dir,
            format!("not a table chatql can read: {why}"),
        ));
    }
    if let Some(gap) = versions.windows(2).find(|w| w[1] != w[0] + 1) {
        return Err(Error::read(
            dir,
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
        let Some(&last) = versions.last() else {
            return Err(Error::read(log_dir(dir), "no commits"));
        };
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
        let commits = (0..=target).map(|v| read_commit(dir, v));
        Snapshot::replay(dir, target, commits)
    }

    /// The snapshot at version `target` of the commits 0..=target given in order: a pure
    /// function of the actions, so that damaged logs can be fuzzed without a disk.
    pub fn replay(
        dir: &Path,
        target: u64,
        commits: impl Iterator<Item = Result<Vec<Action>>>,
    ) -> Result<Snapshot> {
        let mut protocol = None;
        let mut metadata = None;
        let mut files: BTreeMap<String, Add> = BTreeMap::new();
        let mut removed: BTreeMap<String, i64> = BTreeMap::new();
        let mut commit = None;
        for (v, actions) in (0u64..).zip(commits) {
            for a in actions? {
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
        check_readable(&log, &protocol)?;
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

/// Refuses a table that needs reader features chatql lacks.
fn check_readable(log: &Path, protocol: &Protocol) -> Result<()> {
    if protocol.min_reader_version > 3
        || protocol
            .reader_features
            .iter()
            .flatten()
            .any(|f| !READABLE.contains(&f.as_str()))
    {
        return Err(Error::read(
            log,
            format!(
                "the table needs reader features chatql lacks ({:?}, reader version {})",
                protocol.reader_features.clone().unwrap_or_default(),
                protocol.min_reader_version
            ),
        ));
    }
    Ok(())
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
    fn a_damaged_log_is_an_error_naming_the_file_never_a_panic() {
        let dir = Path::new("lake/conversations/_delta_log");
        let names = ["00000000000000000000.json", "99999999999999999999.json"];
        let e = versions_of(dir, names.into_iter()).unwrap_err().to_string();
        assert!(e.contains("99999999999999999999.json"), "{e}");
        assert!(e.contains("damaged"), "{e}");
        // Files the protocol has readers skip are skipped.
        let names = [
            "00000000000000000000.json",
            "00000000000000000001.json",
            "00000000000000000001.crc",
            "_last_checkpoint",
            ".00000000000000000002.json.tmp",
            "1.json",
        ];
        assert_eq!(versions_of(dir, names.into_iter()).unwrap(), vec![0, 1]);
        let e = versions_of(dir, ["00000000000000000001.json"].into_iter()).unwrap_err();
        assert!(e.to_string().contains("no commit 0"), "{e}");
    }

    #[test]
    fn a_log_without_protocol_or_metadata_is_refused() {
        let dir = Path::new("t");
        let meta = r#"{"metaData":{"id":"x","format":{"provider":"parquet"},"schemaString":"{}","partitionColumns":[],"configuration":{}}}"#;
        let commits = [decode(meta).map_err(|(_, e)| Error::read("t", e))];
        let e = Snapshot::replay(dir, 0, commits.into_iter()).unwrap_err();
        assert!(e.to_string().contains("no protocol action"), "{e}");
        let e = Snapshot::replay(dir, 0, std::iter::empty()).unwrap_err();
        assert!(e.to_string().contains("no protocol action"), "{e}");
    }

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
