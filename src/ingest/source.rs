//! Finding and opening inputs: paths, folders (recursive), globs, `.gz`/`.zst` files and the
//! members of `.zip` archives as downloaded. Everything ends up as a `Read` of decompressed
//! bytes; nothing is extracted to disk.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Progress;
use crate::error::{Error, Result};

/// How a source's bytes are laid out once decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// JSON lines (also a top-level array, or the array-then-lines quirk).
    Json,
    /// The 2023-24 CSV export with Python-repr `convo` cells.
    Csv,
}

/// How a file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain.
    None,
    /// gzip (several members allowed).
    Gzip,
    /// zstd.
    Zstd,
}

/// One stream of records: a file, or a member of a zip archive.
#[derive(Debug, Clone)]
pub struct Source {
    /// Name used in `source_file` and messages: the path, or `archive.zip!member`.
    pub name: Arc<str>,
    /// Index of the input file (in [`Inputs::files`]) it comes from.
    pub input: usize,
    /// Where its bytes are.
    pub location: Location,
    /// How its decompressed bytes are laid out.
    pub layout: Layout,
}

/// Where a source's bytes are.
#[derive(Debug, Clone)]
pub enum Location {
    /// A file, maybe compressed.
    File(PathBuf, Compression),
    /// A member (by index) of a zip archive, maybe compressed inside.
    ZipMember(PathBuf, usize, Compression),
}

/// One file named on the command line or found in a folder or glob.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputFile {
    /// Path as found.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
}

/// The result of expanding the command-line inputs.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Files, in order.
    pub files: Vec<InputFile>,
    /// Streams to decode, in order.
    pub sources: Vec<Source>,
    /// Files and zip members passed over (not an export format), for the summary.
    pub skipped: Vec<String>,
}

/// The extensions chatql reads, after removing `.gz` / `.zst`.
fn layout_of(name: &str) -> Option<Layout> {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".zst"))
        .unwrap_or(&lower);
    if base.ends_with(".jsonl") || base.ends_with(".ndjson") || base.ends_with(".json") {
        Some(Layout::Json)
    } else if base.ends_with(".csv") {
        Some(Layout::Csv)
    } else {
        None
    }
}

fn compression_of(name: &str) -> Compression {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".gz") {
        Compression::Gzip
    } else if lower.ends_with(".zst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn is_zip(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".zip")
}

impl Inputs {
    /// Expands paths, folders and globs, in the order given; folder contents sorted by name.
    ///
    /// A file named explicitly is read whatever its extension (as JSON lines unless it ends
    /// in `.csv`); in folders and globs only export extensions are taken.
    pub fn expand(args: &[String]) -> Result<Inputs> {
        let mut inputs = Inputs::default();
        for arg in args {
            let path = Path::new(arg);
            if crate::store::is_remote(path) {
                let found = crate::store::objects(path)?;
                let single = found.len() == 1;
                for (p, size) in found {
                    inputs.add_sized(&p, size, single)?;
                }
            } else if path.is_dir() {
                let mut found: Vec<PathBuf> = walkdir::WalkDir::new(path)
                    .follow_links(true)
                    .into_iter()
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_file())
                    .map(|e| e.into_path())
                    .collect();
                found.sort();
                for f in found {
                    inputs.add(&f, false)?;
                }
            } else if path.exists() {
                inputs.add(path, true)?;
            } else if arg.contains(['*', '?', '[']) {
                let paths = glob::glob(arg).map_err(|e| Error::Glob {
                    pattern: arg.clone(),
                    message: e.to_string(),
                })?;
                let mut found: Vec<PathBuf> = paths.filter_map(|p| p.ok()).collect();
                found.sort();
                if found.is_empty() {
                    return Err(Error::NotFound(arg.clone()));
                }
                for f in found {
                    if f.is_file() {
                        inputs.add(&f, false)?;
                    }
                }
            } else {
                return Err(Error::NotFound(arg.clone()));
            }
        }
        Ok(inputs)
    }

    fn add(&mut self, path: &Path, explicit: bool) -> Result<()> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        self.add_sized(path, size, explicit)
    }

    fn add_sized(&mut self, path: &Path, size: u64, explicit: bool) -> Result<()> {
        let name = path.to_string_lossy().into_owned();
        let input = self.files.len();
        if is_zip(&name) {
            self.files.push(InputFile {
                path: path.to_owned(),
                size,
            });
            let file = crate::store::open_read(path)?;
            let archive =
                zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::Archive {
                    path: path.to_owned(),
                    message: format!("not a readable zip archive: {e}"),
                })?;
            for i in 0..archive.len() {
                let Some(member) = archive.name_for_index(i) else {
                    continue;
                };
                let display = format!("{name}!{member}");
                let hidden = member.starts_with("__MACOSX/")
                    || member
                        .rsplit('/')
                        .next()
                        .is_some_and(|b| b.starts_with("._"));
                match layout_of(member) {
                    Some(layout) if !member.ends_with('/') && !hidden => {
                        self.sources.push(Source {
                            name: display.into(),
                            input,
                            location: Location::ZipMember(
                                path.to_owned(),
                                i,
                                compression_of(member),
                            ),
                            layout,
                        })
                    }
                    _ if member.ends_with('/') => {}
                    _ => self.skipped.push(display),
                }
            }
            return Ok(());
        }
        let layout = match layout_of(&name) {
            Some(l) => l,
            None if explicit => Layout::Json,
            None => {
                self.skipped.push(name);
                return Ok(());
            }
        };
        self.files.push(InputFile {
            path: path.to_owned(),
            size,
        });
        self.sources.push(Source {
            name: name.into(),
            input,
            location: Location::File(path.to_owned(), compression_of(&path.to_string_lossy())),
            layout,
        });
        Ok(())
    }
}

/// Wraps a reader of a whole input file and hashes every byte read through it.
pub struct HashingReader<'a, R> {
    inner: R,
    /// None: count the bytes, hash nothing.
    hasher: Option<blake3::Hasher>,
    progress: &'a Progress,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.progress.check()?;
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.progress.read(n as u64);
        Ok(n)
    }
}

/// BLAKE3 of a whole file, as lowercase hex (what `b3sum FILE` prints).
pub fn blake3_file(path: &Path) -> Result<String> {
    let mut f = crate::store::open_read(path)?;
    let mut hasher = blake3::Hasher::new();
    io::copy(&mut f, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn decompress<'a, R: Read + 'a>(r: R, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(r))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    })
}

/// Largest decompressed size a zip member may reach per compressed byte before it is
/// treated as a zip bomb (real exports compress about 3 to 30 times).
pub const MAX_ZIP_RATIO: u64 = 250;

/// Fails a read once more than `limit` bytes came through.
struct Limited<'a, R> {
    inner: R,
    read: u64,
    limit: u64,
    progress: &'a Progress,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.progress.check()?;
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "zip member expands past {} bytes, over {MAX_ZIP_RATIO} times its compressed size: refusing a possible zip bomb",
                self.limit
            )));
        }
        Ok(n)
    }
}

impl Source {
    /// The path of a source that is a whole local file, not compressed (which ingest maps
    /// instead of reading).
    pub fn plain_local_file(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p, Compression::None) if !crate::store::is_remote(p) => Some(p),
            _ => None,
        }
    }

    /// Opens the source and hands its decompressed bytes to `f`. Returns what `f` returned
    /// and, when the source is a whole file read to its end, the file's BLAKE3 (a zip
    /// archive is hashed apart with [`blake3_file`]); without `hash`, no hash.
    pub fn read_with<T>(
        &self,
        progress: &Progress,
        hash: bool,
        f: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<(T, Option<String>)> {
        match &self.location {
            Location::File(path, c) => {
                let file = crate::store::open_read(path)?;
                let mut hashed = HashingReader {
                    inner: file,
                    hasher: hash.then(blake3::Hasher::new),
                    progress,
                };
                let mut reader = decompress(&mut hashed, *c).map_err(|e| Error::io(path, e))?;
                let out = f(&mut reader)?;
                drop(reader);
                // Hash any bytes a decompressor left unread (trailing garbage, padding).
                io::copy(&mut hashed, &mut io::sink()).map_err(|e| Error::io(path, e))?;
                Ok((
                    out,
                    hashed.hasher.map(|h| h.finalize().to_hex().to_string()),
                ))
            }
            Location::ZipMember(path, index, c) => {
                let file = crate::store::open_read(path)?;
                let mut archive =
                    zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::Archive {
                        path: path.to_owned(),
                        message: e.to_string(),
                    })?;
                let member = archive.by_index(*index).map_err(|e| Error::Archive {
                    path: path.to_owned(),
                    message: format!("{}: {e}", self.name),
                })?;
                let limit = member
                    .compressed_size()
                    .max(64 << 10)
                    .saturating_mul(MAX_ZIP_RATIO);
                let limited = Limited {
                    inner: member,
                    read: 0,
                    limit,
                    progress,
                };
                let compressed = limited.inner.compressed_size();
                let mut reader = decompress(limited, *c).map_err(|e| Error::io(path, e))?;
                let out = f(&mut reader)?;
                progress.read(compressed);
                Ok((out, None))
            }
        }
    }
}
