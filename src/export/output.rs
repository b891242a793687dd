//! Export files: lines written to a [`Sink`] (a temporary file compressed by extension and
//! renamed into place when complete, an object, or standard output); and the stable
//! train/validation split.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Result;
pub use crate::lake::sink::is_stdout;
use crate::lake::sink::Sink;

/// A hash of `text` that is the same on every machine and in every version (the first
/// 8 bytes of its SHA-256): what the split and the annotation sample order by.
pub fn stable_hash(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(text.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

/// Whether a conversation goes to the training file: a stable hash of its id.
pub fn in_training(id: &str, fraction: f64) -> bool {
    stable_hash(&format!("chatql-split-v1:{id}")) as f64 / (u64::MAX as f64) < fraction
}

/// The validation file next to `path`: `out.jsonl` → `out.val.jsonl`.
pub fn validation_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.find('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}.val{ext}"))
}

/// A line-oriented export file.
pub struct Output(Sink);

impl Output {
    /// Starts the file at `path` (compressed by its extension; `-` is standard output).
    pub fn create(path: &Path) -> Result<Output> {
        Ok(Output(Sink::create(path, true)?))
    }

    /// Writes one line.
    pub fn line(&mut self, text: &str) -> Result<()> {
        self.0
            .write_all(text.as_bytes())
            .and_then(|_| self.0.write_all(b"\n"))
            .map_err(|e| self.0.error(e))
    }

    /// Finishes the file and puts it in place.
    pub fn commit(self) -> Result<PathBuf> {
        self.0.commit()
    }
}
