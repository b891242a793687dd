//! Reading a remote object as a file: ranged GETs of a few MiB, so a sequential read
//! streams it and a seek (a zip's central directory) costs one request.

use super::Remote;

/// A remote object read in ranges of a few MiB: sequential reads stream it, seeks (a zip's
/// central directory) cost one request.
pub struct RangeReader {
    remote: Remote,
    rel: String,
    size: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl RangeReader {
    /// A reader of `rel` (a key under `remote`), `size` bytes long.
    pub fn new(remote: Remote, rel: &str, size: u64) -> RangeReader {
        RangeReader {
            remote,
            rel: rel.to_owned(),
            size,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

const RANGE: u64 = 8 << 20;

impl std::io::Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let in_buf =
            self.pos >= self.buf_start && self.pos < self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let end = (self.pos + RANGE).min(self.size);
            self.buf = self
                .remote
                .get_range(&self.rel, self.pos..end)
                .map_err(std::io::Error::other)?;
            // (the io::Error carries the Error::Store, which ingest treats as fatal)
            self.buf_start = self.pos;
            if self.buf.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{}: the object ended early", self.rel),
                ));
            }
        }
        let off = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for RangeReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            std::io::SeekFrom::Start(p) => p as i128,
            std::io::SeekFrom::End(d) => self.size as i128 + d as i128,
            std::io::SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if p < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = p as u64;
        Ok(self.pos)
    }
}
