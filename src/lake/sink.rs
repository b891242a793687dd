//! Where a command's output goes, written as it is produced: a temporary file beside the
//! target, compressed by extension (`.gz`, `.zst`), flushed, synced and renamed into place
//! only when complete; a temporary file uploaded whole to an object (`s3://...`); or
//! standard output (`-`). A failure on the last bytes is an error, never a short file put
//! in place, and an output abandoned (an error, Ctrl-C) leaves no file behind.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::fs::{persist, temp_beside};
use crate::error::{Error, Result};

/// How an output is compressed, by its name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Plain,
    Gzip,
    Zstd,
}

impl Codec {
    fn of(path: &Path) -> Codec {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".gz") {
            Codec::Gzip
        } else if name.ends_with(".zst") {
            Codec::Zstd
        } else {
            Codec::Plain
        }
    }
}

/// A compressing writer whose end is explicit: [`Encoder::finish`] writes the last frame
/// (gzip's trailer, zstd's epilogue) and flushes, and every error on the way is returned,
/// never lost in a `drop`.
pub enum Encoder<W: Write> {
    /// Uncompressed.
    Plain(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    fn new(codec: Codec, w: W) -> std::io::Result<Encoder<W>> {
        Ok(match codec {
            Codec::Plain => Encoder::Plain(w),
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::default(),
            )),
            Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
        })
    }

    /// Ends the stream and flushes it: the inner writer, with every byte handed to it.
    pub fn finish(self) -> std::io::Result<W> {
        let mut w = match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(g) => g.finish()?,
            Encoder::Zstd(z) => z.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(g) => g.write(buf),
            Encoder::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(g) => g.flush(),
            Encoder::Zstd(z) => z.flush(),
        }
    }
}

/// Whether an output path means standard output (`-o -`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The error of a failed write to the output `path`, naming it (a closed standard output
/// is [`Error::Output`], so that `| head` is not a failure).
pub fn write_error(path: &Path, e: std::io::Error) -> Error {
    if is_stdout(path) {
        Error::Output(e)
    } else {
        Error::io(path, e)
    }
}

/// Where a finished output goes.
enum Place {
    /// Renamed into place beside the temporary file.
    File(tempfile::NamedTempFile),
    /// Uploaded from the temporary file.
    Remote(tempfile::NamedTempFile),
    /// Written as it goes.
    Stdout,
}

/// An output being written: see the module's documentation.
pub struct Sink {
    place: Place,
    writer: Encoder<BufWriter<Box<dyn Write + Send>>>,
    path: PathBuf,
}

impl Sink {
    /// Creates the temporary file beside `path` (for `s3://bucket/key`, in the temporary
    /// folder: it is uploaded by `commit`); `-` writes to standard output. With `compress`,
    /// a `.gz` or `.zst` name is compressed.
    pub fn create(path: &Path, compress: bool) -> Result<Sink> {
        let (place, sink): (Place, Box<dyn Write + Send>) = if is_stdout(path) {
            (Place::Stdout, Box::new(std::io::stdout()))
        } else {
            let remote = crate::store::is_remote(path);
            let tmp = if remote {
                crate::store::Remote::open(path)?;
                super::fs::temp_file()?
            } else {
                temp_beside(path)?
            };
            let file = tmp.reopen().map_err(|e| Error::io(path, e))?;
            let place = if remote {
                Place::Remote(tmp)
            } else {
                Place::File(tmp)
            };
            (place, Box::new(file))
        };
        let codec = if is_stdout(path) || !compress {
            Codec::Plain
        } else {
            Codec::of(path)
        };
        let buf = BufWriter::with_capacity(1 << 20, sink);
        let writer = Encoder::new(codec, buf).map_err(|e| Error::io(path, e))?;
        Ok(Sink {
            place,
            writer,
            path: path.to_owned(),
        })
    }

    /// The error of a failed write to this sink ([`write_error`]).
    pub fn error(&self, e: std::io::Error) -> Error {
        write_error(&self.path, e)
    }

    /// The path written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finishes compression, flushes and syncs the file, then renames it into place (or
    /// uploads it): a file whose last bytes failed to write is never put in place.
    pub fn commit(self) -> Result<PathBuf> {
        let Sink {
            place,
            writer,
            path,
        } = self;
        let io = |e: std::io::Error| write_error(&path, e);
        let buf = writer.finish().map_err(io)?;
        buf.into_inner().map_err(|e| io(e.into_error()))?;
        match place {
            Place::Stdout => {}
            Place::File(tmp) => {
                tmp.as_file().sync_all().map_err(|e| Error::io(&path, e))?;
                persist(tmp, &path)?;
            }
            Place::Remote(tmp) => {
                // A multipart upload: the object appears only complete, or not at all.
                let r = crate::store::Remote::open(&path)?;
                let bucket = crate::store::Remote::open(Path::new(&r.base))?;
                bucket.upload(tmp.path(), &r.prefix)?;
                super::fs::untrack(tmp.path());
            }
        }
        Ok(path)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `room` bytes, then fails: a nearly full disk.
    struct Full {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.taken.len() + buf.len() > self.room {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_trailer_that_does_not_fit_is_an_error_not_a_short_file() {
        let text = b"{\"messages\": []}\n".repeat(100);
        for codec in [Codec::Gzip, Codec::Zstd, Codec::Plain] {
            // How long the whole stream is.
            let full = Full {
                room: usize::MAX,
                taken: Vec::new(),
            };
            let mut e = Encoder::new(codec, BufWriter::new(full)).unwrap();
            e.write_all(&text).unwrap();
            let whole = e.finish().unwrap().into_inner().ok().unwrap().taken.len();
            // Everything but the last byte fits: finishing must say so.
            let short = Full {
                room: whole - 1,
                taken: Vec::new(),
            };
            let mut e = Encoder::new(codec, BufWriter::new(short)).unwrap();
            e.write_all(&text).unwrap();
            let err = e
                .finish()
                .err()
                .unwrap_or_else(|| panic!("{codec:?} lost an error"));
            assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{codec:?}");
        }
    }

    #[test]
    fn a_failed_sink_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.gz");
        let mut s = Sink::create(&path, true).unwrap();
        s.write_all(b"{}\n").unwrap();
        drop(s); // abandoned: an error elsewhere, say
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut s = Sink::create(&path, true).unwrap();
        s.write_all(b"{}\n").unwrap();
        assert_eq!(s.commit().unwrap(), path);
        let mut text = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{}\n");
    }

    #[test]
    fn codecs_by_extension() {
        assert_eq!(Codec::of(Path::new("a.jsonl.GZ")), Codec::Gzip);
        assert_eq!(Codec::of(Path::new("s3://b/a.zst")), Codec::Zstd);
        assert_eq!(Codec::of(Path::new("a.jsonl")), Codec::Plain);
        assert!(is_stdout(Path::new("-")) && !is_stdout(Path::new("./-")));
    }
}
