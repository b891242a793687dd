//! Export files: written under a temporary name, compressed by extension (`.gz`, `.zst`),
//! renamed into place only when complete; and the stable train/validation split.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::fs::{persist, temp_beside};

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

/// A line-oriented output file written to a temporary name, compressed by extension, and
/// renamed into place by `commit`.
pub struct Output {
    tmp: tempfile::NamedTempFile,
    writer: Box<dyn Write>,
    path: PathBuf,
}

impl Output {
    /// Creates the temporary file beside `path` (for `s3://bucket/key`, in the temporary
    /// folder: it is uploaded by `commit`).
    pub fn create(path: &Path) -> Result<Output> {
        let tmp = if crate::store::is_remote(path) {
            crate::store::Remote::open(path)?;
            tempfile::NamedTempFile::new().map_err(|e| Error::io(std::env::temp_dir(), e))?
        } else {
            temp_beside(path)?
        };
        let file = tmp.reopen().map_err(|e| Error::io(path, e))?;
        let buf = BufWriter::with_capacity(1 << 20, file);
        let name = path.to_string_lossy().to_ascii_lowercase();
        let writer: Box<dyn Write> = if name.ends_with(".gz") {
            Box::new(flate2::write::GzEncoder::new(
                buf,
                flate2::Compression::default(),
            ))
        } else if name.ends_with(".zst") {
            Box::new(
                zstd::stream::write::Encoder::new(buf, 3)
                    .map_err(|e| Error::io(path, e))?
                    .auto_finish(),
            )
        } else {
            Box::new(buf)
        };
        Ok(Output {
            tmp,
            writer,
            path: path.to_owned(),
        })
    }

    /// Writes one line.
    pub fn line(&mut self, text: &str) -> Result<()> {
        self.writer
            .write_all(text.as_bytes())
            .and_then(|_| self.writer.write_all(b"\n"))
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Finishes compression and renames the file into place.
    pub fn commit(self) -> Result<PathBuf> {
        let Output {
            tmp,
            mut writer,
            path,
        } = self;
        writer.flush().map_err(|e| Error::io(&path, e))?;
        drop(writer); // finishes gzip / zstd frames
        if crate::store::is_remote(&path) {
            // A multipart upload: the object appears only complete, or not at all.
            let r = crate::store::Remote::open(&path)?;
            let bucket = crate::store::Remote::open(Path::new(&r.base))?;
            bucket.upload(tmp.path(), &r.prefix)?;
        } else {
            persist(tmp, &path)?;
        }
        Ok(path)
    }
}
