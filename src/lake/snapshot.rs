//! A lake's consistent version. Every table of a lake is a Delta table of its own
//! (`LAKE/<table>/_delta_log`); a run commits the tables children first and
//! `conversations` (the root) last, and the root's commit records the version of every
//! table it saw ([`LakeCommit`](super::record::LakeCommit)). A lake version is therefore a version of the root: reading
//! it reads every other table at the version the root names, so a reader never sees half a
//! run, even while one is being committed or after a writer died mid-way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::delta::log::{decode_path, history, is_table};
use super::delta::{Add, CommitInfo, Snapshot};
use super::partition::Key;
use super::record::{LakeCommit, ROOT};
use super::remote::is_commit;
use crate::error::{Error, Result};
use crate::store::Remote;
use crate::table::Table;

/// Which version to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A lake version (0 is the conversion that created it).
    Version(u64),
    /// The last version committed at or before this time (ms since the epoch).
    Time(i64),
}

impl std::str::FromStr for AsOf {
    type Err = String;
    fn from_str(s: &str) -> Result<AsOf, String> {
        let s = s.trim();
        if let Ok(v) = s.parse::<u64>() {
            return Ok(AsOf::Version(v));
        }
        crate::model::parse_timestamp(s)
            .map(|us| AsOf::Time(us / 1000))
            .ok_or_else(|| {
                format!("{s:?}: expected a version number or a time like 2026-03-01T12:00:00Z")
            })
    }
}

/// Whether `path` is a lake chatql wrote (of this layout or the older one); for a place in
/// object storage, whether its root table has a commit (its log is listed: a reader that
/// goes on to read the lake uses [`InputKind::open`], whose listing also loads it).
pub fn is_lake(path: &Path) -> bool {
    if crate::store::is_remote(path) {
        let log = format!("{}/_delta_log", ROOT.name());
        return Remote::open(path)
            .and_then(|r| r.list(&log))
            .is_ok_and(|files| files.iter().any(|(f, _)| is_commit(f)));
    }
    is_table(&path.join(ROOT.name())) || is_legacy(path)
}

/// What the inputs of a command are: every one a lake, or every one a raw export (a file,
/// folder or glob). One place decides it, with the one error for a mix of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// No inputs.
    Nothing,
    /// Folders (or prefixes) written by `chatql convert`.
    Lakes,
    /// Raw exports.
    Raw,
}

/// A command's inputs, opened: lakes loaded at one version each, or raw exports.
#[derive(Debug)]
pub enum Opened {
    /// No inputs.
    Nothing,
    /// Every input a lake, loaded.
    Lakes(Vec<LakeSnapshot>),
    /// Every input a raw export (read by the caller).
    Raw,
}

impl InputKind {
    /// Opens `args`: each lake at `as_of`, or nothing when they are raw exports. A lake in
    /// object storage is told from a raw export by the same listing of its logs that loads
    /// it (a fresh process's first query waits on one round trip fewer than a probe and then
    /// a load).
    pub fn open(args: &[String], as_of: Option<AsOf>) -> Result<Opened> {
        let mut lakes = Vec::new();
        for a in args {
            if let Some(l) = LakeSnapshot::probe(Path::new(a), as_of)? {
                lakes.push(l);
            }
        }
        Ok(match Self::decide(args.len(), lakes.len())? {
            InputKind::Nothing => Opened::Nothing,
            InputKind::Lakes => Opened::Lakes(lakes),
            InputKind::Raw => Opened::Raw,
        })
    }

    /// The kind of `inputs` of which `lakes` are lakes, or a usage error when lakes and raw
    /// exports are mixed.
    fn decide(inputs: usize, lakes: usize) -> Result<InputKind> {
        match (inputs, lakes) {
            (0, _) => Ok(InputKind::Nothing),
            (n, l) if n == l => Ok(InputKind::Lakes),
            (_, 0) => Ok(InputKind::Raw),
            _ => Err(Error::Usage(
                "give either folders written by `chatql convert` or raw exports, not both".into(),
            )),
        }
    }
}

/// Whether `path` is a lake of chatql before Delta tables (a `manifest.json`, no log).
pub fn is_legacy(path: &Path) -> bool {
    path.join(super::record::LEGACY_MANIFEST).is_file() && !is_table(&path.join(ROOT.name()))
}

/// A lake in object storage and the local mirror of its logs.
#[derive(Debug)]
pub struct RemoteLake {
    /// Where the lake is.
    pub remote: Remote,
    /// The mirror, when this snapshot made it (removed with the last snapshot using it).
    _mirror: Option<super::fs::Scratch>,
}

impl RemoteLake {
    /// The lake at `remote`, read through a mirror its caller keeps.
    pub fn new(remote: Remote) -> RemoteLake {
        RemoteLake {
            remote,
            _mirror: None,
        }
    }
}

/// One version of every table of a lake.
#[derive(Debug, Clone)]
pub struct LakeSnapshot {
    /// The lake's folder (for a lake in object storage: the local mirror of its logs).
    pub dir: PathBuf,
    /// The lake in object storage this snapshot reads, if it is one.
    pub remote: Option<Arc<RemoteLake>>,
    /// The lake version (the root's).
    pub version: u64,
    /// When it was committed (ms since the epoch).
    pub timestamp: i64,
    /// chatql's record of it.
    pub record: LakeCommit,
    tables: HashMap<Table, Snapshot>,
}

impl LakeSnapshot {
    /// Reads the lake in `dir` (a folder or `s3://bucket/prefix`) at `as_of` (the latest
    /// version when `None`).
    pub fn load(dir: &Path, as_of: Option<AsOf>) -> Result<LakeSnapshot> {
        if !crate::store::is_remote(dir) {
            return Self::load_local(dir, as_of);
        }
        Self::probe(dir, as_of)?.ok_or_else(|| {
            Error::Usage(format!(
                "{} is not a lake written by `chatql convert` (no {}/_delta_log)",
                dir.display(),
                ROOT.name()
            ))
        })
    }

    /// The lake in `dir` at `as_of`, or `None` when `dir` is not a lake. For a lake in
    /// object storage, its logs are listed and fetched first, and whether the root has a
    /// commit is read from that listing: no round trip of its own.
    pub fn probe(dir: &Path, as_of: Option<AsOf>) -> Result<Option<LakeSnapshot>> {
        if !crate::store::is_remote(dir) {
            if !is_lake(dir) {
                return Ok(None);
            }
            return Self::load_local(dir, as_of).map(Some);
        }
        let remote = Remote::open(dir)?;
        let mirror = super::fs::Scratch::new("chatql-logs-")?;
        if !super::remote::mirror_logs(&remote, mirror.path())? {
            return Ok(None);
        }
        let path = mirror.path().to_owned();
        let lake = Arc::new(RemoteLake {
            remote,
            _mirror: Some(mirror),
        });
        Self::load_mirror(&path, as_of, lake).map(Some)
    }

    /// Reads a lake in object storage through the mirror of its logs in `mirror`.
    pub fn load_mirror(
        mirror: &Path,
        as_of: Option<AsOf>,
        remote: Arc<RemoteLake>,
    ) -> Result<LakeSnapshot> {
        let mut s = Self::load_local(mirror, as_of)?;
        s.remote = Some(remote);
        Ok(s)
    }

    fn load_local(dir: &Path, as_of: Option<AsOf>) -> Result<LakeSnapshot> {
        if is_legacy(dir) {
            return Err(Error::Usage(format!(
                "{} was written by an older chatql (manifest.json, no Delta log); \
                 run `chatql upgrade {}` once to make it a Delta lake",
                dir.display(),
                dir.display()
            )));
        }
        let root_dir = dir.join(ROOT.name());
        if !is_table(&root_dir) {
            return Err(Error::Usage(format!(
                "{} is not a folder written by `chatql convert` (no {}/_delta_log)",
                dir.display(),
                ROOT.name()
            )));
        }
        let version = match as_of {
            None => None,
            Some(AsOf::Version(v)) => Some(v),
            Some(AsOf::Time(ms)) => Some(version_at(&root_dir, ms)?),
        };
        let root = Snapshot::load(&root_dir, version)?;
        let info = root.commit.clone().unwrap_or(CommitInfo {
            timestamp: None,
            operation: None,
            operation_parameters: None,
            engine_info: None,
            is_blind_append: None,
            extra: Default::default(),
        });
        let record = match LakeCommit::of(&info) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                return Err(Error::read(
                    super::delta::log::commit_path(&root_dir, root.version),
                    format!("chatql's record: {e}"),
                ))
            }
            None => {
                return Err(Error::read(
                    super::delta::log::commit_path(&root_dir, root.version),
                    "this version was not committed by chatql, so the versions of the \
                     other tables that go with it are unknown",
                ))
            }
        };
        let mut tables = HashMap::new();
        for t in Table::ALL {
            if *t == ROOT {
                continue;
            }
            let v = record.tables.get(t.name()).copied().ok_or_else(|| {
                Error::read(
                    super::delta::log::commit_path(&root_dir, root.version),
                    format!("chatql's record names no version of {}", t.name()),
                )
            })?;
            tables.insert(*t, Snapshot::load(&dir.join(t.name()), Some(v))?);
        }
        let version = root.version;
        tables.insert(ROOT, root);
        Ok(LakeSnapshot {
            dir: dir.to_owned(),
            remote: None,
            version,
            timestamp: info.timestamp.unwrap_or(0),
            record,
            tables,
        })
    }

    /// The partition keys.
    pub fn keys(&self) -> &[Key] {
        &self.record.partition_by
    }

    /// The snapshot of table `t`.
    pub fn table(&self, t: Table) -> &Snapshot {
        &self.tables[&t]
    }

    /// Rows of table `t`, from the files' statistics (or footers, where a writer gave none).
    pub fn rows(&self, t: Table) -> u64 {
        let s = self.table(t);
        s.files
            .iter()
            .map(|a| {
                a.stats
                    .as_deref()
                    .and_then(|st| serde_json::from_str::<serde_json::Value>(st).ok())
                    .and_then(|v| v["numRecords"].as_u64())
                    .or_else(|| super::parquet::file_rows(&s.file_path(a)).ok())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Where the lake is, as given (a folder, or `s3://bucket/prefix`).
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.remote.url.clone(),
            None => self.dir.display().to_string(),
        }
    }

    /// A local path of data file `add` of table `t` (fetched into the mirror, for a lake in
    /// object storage).
    pub fn local_file(&self, t: Table, add: &Add) -> Result<PathBuf> {
        match &self.remote {
            Some(r) => {
                let rel = format!("{}/{}", t.name(), decode_path(&add.path));
                let to = self.dir.join(&rel);
                if !to.exists() {
                    r.remote.download(&rel, &to)?;
                }
                Ok(to)
            }
            None => Ok(self.table(t).file_path(add)),
        }
    }

    /// Local paths of table `t`'s files, in read order (fetched, for a lake in object
    /// storage).
    pub fn files(&self, t: Table) -> Result<Vec<PathBuf>> {
        self.table(t)
            .files
            .iter()
            .map(|a| self.local_file(t, a))
            .collect()
    }
}

/// The last root version committed at or before `ms`.
fn version_at(root_dir: &Path, ms: i64) -> Result<u64> {
    let mut found = None;
    let mut first = None;
    for (v, info) in history(root_dir)? {
        let at = info.and_then(|i| i.timestamp).unwrap_or(0);
        first.get_or_insert(at);
        if at <= ms {
            found = Some(v);
        }
    }
    found.ok_or_else(|| {
        Error::Usage(format!(
            "the lake has no version at or before {} (its first is from {})",
            crate::model::format_timestamp_pg(ms * 1000),
            crate::model::format_timestamp_pg(first.unwrap_or(0) * 1000)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_a_version_or_a_time() {
        assert_eq!("3".parse::<AsOf>(), Ok(AsOf::Version(3)));
        assert_eq!(
            "2026-03-01T00:00:01Z".parse::<AsOf>(),
            Ok(AsOf::Time(1_772_323_201_000))
        );
        assert!("yesterday".parse::<AsOf>().is_err());
    }
}
