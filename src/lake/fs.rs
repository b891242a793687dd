//! File-system primitives every writer of chatql shares: a file is written under a
//! temporary name beside its target and renamed into place when complete; a folder is built
//! under a temporary name and swapped in. A failure (or a kill) leaves the old output, never
//! a half-written one. Nothing here knows what the files hold.
//!
//! Every temporary file and folder of the process is also in one registry
//! ([`remove_staging`]), so that an interrupted command (Ctrl-C, SIGTERM: the binary's
//! signal handler calls it) leaves none of them behind; a folder a killed process left
//! (`.NAME.tmp-PID` of a PID no longer running) is removed by the next writer beside it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The temporary files and folders this process has made and not yet renamed or removed.
static STAGING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn track(path: &Path) {
    if let Ok(mut s) = STAGING.lock() {
        s.insert(path.to_owned());
    }
}

/// Takes a finished or removed temporary path out of the registry.
pub(crate) fn untrack(path: &Path) {
    if let Ok(mut s) = STAGING.lock() {
        s.remove(path);
    }
}

/// Removes every temporary file and folder this process has made and not finished: what an
/// interrupted command does before it exits. Returns how many were removed.
pub fn remove_staging() -> usize {
    let paths = match STAGING.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(_) => return 0,
    };
    paths
        .iter()
        .filter(|p| {
            let removed = if p.is_dir() {
                std::fs::remove_dir_all(p)
            } else {
                std::fs::remove_file(p)
            };
            removed.is_ok()
        })
        .count()
}

/// A temporary folder in the system's temporary folder (a mirror of a remote lake's logs,
/// a spool, a lake of raw exports), removed on drop, or by [`remove_staging`].
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    /// Creates one, named `PREFIX...`.
    pub fn new(prefix: &str) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        track(dir.path());
        Ok(Scratch(dir))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        untrack(self.0.path());
    }
}

/// The folder a new file or folder named `path` is created in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A temporary file beside `path`, to be [`persist`]ed there.
pub fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, e))?;
    track(tmp.path());
    Ok(tmp)
}

/// A temporary file in the system's temporary folder (an object's content before its
/// upload), removed on drop or by [`remove_staging`].
pub fn temp_file() -> Result<tempfile::NamedTempFile> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    track(tmp.path());
    Ok(tmp)
}

/// Writes `bytes` to `path` through a temporary file renamed into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    persist(tmp, path)
}

/// Renames a finished temporary file to `path`, with the usual `rw-r--r--` permissions
/// (temporary files are created private).
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    let staged = tmp.path().to_owned();
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    untrack(&staged);
    Ok(())
}

/// A folder being written under a temporary name beside its target; removed on drop
/// unless [`TempDir::commit`]ted.
pub struct TempDir {
    path: PathBuf,
    committed: bool,
}

impl TempDir {
    /// Creates `.NAME.tmp-PID` beside `target` (and `target`'s parent folders), empty.
    pub fn beside(target: &Path) -> Result<TempDir> {
        let parent = parent_dir(target);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let base = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        remove_dead_staging(&parent, &base);
        let tmp = TempDir {
            path: parent.join(format!(".{base}.tmp-{}", std::process::id())),
            committed: false,
        };
        if tmp.path.exists() {
            std::fs::remove_dir_all(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
        }
        std::fs::create_dir(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
        track(&tmp.path);
        Ok(tmp)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the finished folder to `out`, replacing what is there (the caller decides
    /// whether replacing is allowed).
    pub fn commit(mut self, out: &Path) -> Result<()> {
        if out.exists() {
            let old = self.path.with_extension("old");
            std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
            std::fs::rename(&self.path, out).map_err(|e| Error::io(out, e))?;
            let _ = if old.is_dir() {
                std::fs::remove_dir_all(&old)
            } else {
                std::fs::remove_file(&old)
            };
        } else {
            std::fs::rename(&self.path, out).map_err(|e| Error::io(out, e))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl TempDir {
    /// Renames the finished folder to `out` unless something is there (another writer
    /// was first): then the folder is dropped and `false` returned.
    pub fn commit_new(mut self, out: &Path) -> Result<bool> {
        if out.exists() {
            return Ok(false);
        }
        // A rename onto a folder that is not empty fails, so of two racing writers one wins.
        match std::fs::rename(&self.path, out) {
            Ok(()) => {
                self.committed = true;
                Ok(true)
            }
            Err(_) if out.exists() => Ok(false),
            Err(e) => Err(Error::io(out, e)),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        untrack(&self.path);
    }
}

/// Removes the staging folders `.BASE.tmp-PID` (and `.BASE.tmp-PID.old`) in `parent` of
/// processes no longer running (killed, or their machine restarted): what a writer left
/// when it could not clean up. Only where the process table can be read (Linux).
fn remove_dead_staging(parent: &Path, base: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{base}.tmp-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid = rest.strip_suffix(".old").unwrap_or(rest);
        let dead = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        });
        if dead {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
