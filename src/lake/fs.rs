//! File-system primitives every writer of chatql shares: a file is written under a
//! temporary name beside its target and renamed into place when complete; a folder is built
//! under a temporary name and swapped in. A failure (or a kill) leaves the old output, never
//! a half-written one. Nothing here knows what the files hold.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
    tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, e))
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
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
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
        let tmp = TempDir {
            path: parent.join(format!(".{base}.tmp-{}", std::process::id())),
            committed: false,
        };
        if tmp.path.exists() {
            std::fs::remove_dir_all(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
        }
        std::fs::create_dir(&tmp.path).map_err(|e| Error::io(&tmp.path, e))?;
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
    }
}
