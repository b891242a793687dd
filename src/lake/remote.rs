//! Lakes in object storage (`s3://bucket/lake`, feature `s3`). The lake code works on
//! local folders; a remote lake is handled through a local mirror of its Delta logs, which
//! every reader and writer reads versions from exactly as on disk:
//! - reading ([`mirror_logs`]): the logs are copied, data files are not; queries read them
//!   from the store, and a writer fetches only the files it must rewrite;
//! - writing ([`publish`]): a run is written into the mirror as into a local lake, then
//!   its data files are uploaded (multipart), then its commit files, each created only if
//!   absent (`If-None-Match: *`), children first and the root last. Until the root's commit
//!   is there, no reader sees the run; a writer that dies leaves only files no version names.

use std::collections::BTreeSet;
use std::path::Path;

use super::delta::log::{decode_path, log_dir, read_commit};
use super::delta::Action;
use super::record::ROOT;
use crate::error::{Error, Result};
use crate::store::Remote;
use crate::table::Table;

/// The commit files of every table under `lake` (a local lake or mirror), as paths
/// relative to it (`conversations/_delta_log/00000000000000000003.json`).
pub fn log_files(lake: &Path) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for t in Table::ALL {
        let dir = log_dir(&lake.join(t.name()));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if is_commit(&name) {
                out.insert(format!("{}/_delta_log/{name}", t.name()));
            }
        }
    }
    Ok(out)
}

/// Copies every table's Delta log of the lake at `remote` into `mirror` (commits an earlier
/// process copied to local disk come from there: a commit file never changes). False when
/// the root table has no commit there: not a lake, which this one listing tells without a
/// round trip of its own.
pub fn mirror_logs(remote: &Remote, mirror: &Path) -> Result<bool> {
    let logs: Vec<String> = Table::ALL
        .iter()
        .map(|t| format!("{}/_delta_log", t.name()))
        .collect();
    let root_log = format!("{}/_delta_log/", ROOT.name());
    let mut wanted = Vec::new();
    let mut is_lake = false;
    for file in remote.list_many(&logs)?.into_iter().flatten() {
        let to = mirror.join(&file.rel);
        if is_commit(&file.rel) {
            is_lake |= file.rel.starts_with(&root_log);
            if !to.exists() {
                wanted.push((file, to));
            }
        }
    }
    remote.download_many(&wanted)?;
    Ok(is_lake)
}

/// Whether a listed path in a Delta log is a commit (`.../00000000000000000003.json`; not a
/// temporary file, whose name starts with a dot).
pub fn is_commit(rel: &str) -> bool {
    rel.ends_with(".json") && !rel.rsplit('/').next().unwrap_or(rel).starts_with('.')
}

/// Writes to the lake at `remote` as to a local one: `write` commits into `mirror`, a fresh
/// copy of the lake's logs, and what it committed is then published. The caller holds the
/// lake's lease; an error naming `place` when another writer committed one of those
/// versions first.
pub fn write_mirrored<T>(
    remote: &Remote,
    mirror: &Path,
    place: &Path,
    write: impl FnOnce() -> Result<T>,
) -> Result<T> {
    mirror_logs(remote, mirror)?;
    let before = log_files(mirror)?;
    let done = write()?;
    if !publish(mirror, remote, &before)? {
        return Err(Error::Write {
            path: place.to_owned(),
            source: "another writer committed while this one held the lake's lease (a \
                      writer other than chatql?); nothing it wrote is visible"
                .into(),
        });
    }
    Ok(done)
}

/// Uploads what a run wrote into `mirror` since its logs were `before`: the data files its
/// new commits add, then the commit files, children first and the root last. `Ok(false)`
/// when another writer had committed one of these versions first (nothing of this run is
/// then visible).
pub fn publish(mirror: &Path, remote: &Remote, before: &BTreeSet<String>) -> Result<bool> {
    let now = log_files(mirror)?;
    let new: Vec<&String> = now.difference(before).collect();
    // Data files first.
    for rel in &new {
        let (table, rest) = rel.split_once('/').expect("table/_delta_log/N.json");
        let version: u64 = rest
            .trim_start_matches("_delta_log/")
            .trim_end_matches(".json")
            .parse()
            .map_err(|_| Error::Internal(format!("not a commit file: {rel}")))?;
        for a in read_commit(&mirror.join(table), version)? {
            if let Action::Add(add) = a {
                let file = format!("{table}/{}", decode_path(&add.path));
                let local = mirror.join(&file);
                if local.exists() {
                    remote.upload(&local, &file)?;
                }
            }
        }
    }
    // Commits: children before parents, the root last; a table's versions in order.
    for t in Table::ALL.iter().rev() {
        let prefix = format!("{}/", t.name());
        for rel in new.iter().filter(|r| r.starts_with(&prefix)) {
            let local = mirror.join(rel.as_str());
            let bytes = std::fs::read(&local).map_err(|e| Error::io(&local, e))?;
            if !remote.put_if_absent(rel, bytes)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
