//! Committing a version: the commit file is written whole under a temporary name and then
//! linked to its version's name, which fails if that name exists. So a version is either
//! absent or complete, and of two writers racing for one version exactly one wins; the
//! other learns it from [`Committed::Conflict`] (a hard link is the put-if-absent of a local
//! file system, as `If-None-Match: *` is of S3).

use std::io::Write;
use std::path::Path;

use super::action::{encode, Action};
use super::log::{commit_path, log_dir};
use crate::error::{Error, Result};

/// The outcome of a commit attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The version is now the table's.
    Done,
    /// Another writer committed this version first.
    Conflict,
}

/// Writes `actions` as version `version` of the table in `table_dir`, if no one has.
pub fn commit(table_dir: &Path, version: u64, actions: &[Action]) -> Result<Committed> {
    let dir = log_dir(table_dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let target = commit_path(table_dir, version);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-commit-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    tmp.write_all(encode(actions).as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(&target, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    match std::fs::hard_link(tmp.path(), &target) {
        Ok(()) => Ok(Committed::Done),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Committed::Conflict),
        Err(e) => Err(Error::io(&target, e)),
    }
    // The temporary name goes when `tmp` drops.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::delta::action::Protocol;

    #[test]
    fn a_version_is_committed_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = [Action::Protocol(Protocol::chatql())];
        assert_eq!(commit(dir.path(), 0, &p).unwrap(), Committed::Done);
        assert_eq!(commit(dir.path(), 0, &p).unwrap(), Committed::Conflict);
        assert_eq!(commit(dir.path(), 1, &p).unwrap(), Committed::Done);
        let names: Vec<String> = std::fs::read_dir(log_dir(dir.path()))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }
}
