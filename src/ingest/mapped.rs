//! A local, uncompressed JSON-lines file cut into chunks of whole lines by mapping its pages,
//! the fast path beside [`super::lines::read_json_chunks`] (which every other stream takes).
//! Reading a file copies it out of the page cache into freshly zeroed buffers; a window of
//! mapped pages hands the decoder the page cache itself, and is unmapped when the decoder
//! drops its chunk, so no more of the file is resident than the chunks in flight. The chunks,
//! line numbers, offsets, rejects and hash are those the stream path gives for the same
//! bytes (tests in `pipeline.rs` compare the two).
//!
//! A file another process truncates while it is mapped is the one hazard (the kernel stops a
//! read of a page past the new end with SIGBUS); exports are downloaded files, not logs being
//! rotated, and ripgrep takes the same trade for the same gain.

use std::fs::File;
use std::path::Path;

use memmap2::MmapOptions;

use super::lines::{is_multiline_document, too_long, Limits};
use super::progress::Progress;
use super::work::{Bytes, Work};
use crate::error::{Error, Result};

/// Offsets of mappings are multiples of this (every page size Linux uses divides it).
const ALIGN: u64 = 64 << 10;

/// The file's bytes from `from` to `to`, mapped.
fn window(file: &File, from: u64, to: u64) -> std::io::Result<Bytes> {
    let base = from - from % ALIGN;
    // SAFETY: the mapping is read-only and private to this process; the file is an export
    // that nothing writes while chatql reads it (see the module's note).
    let map = unsafe {
        MmapOptions::new()
            .offset(base)
            .len((to - base) as usize)
            .map(file)?
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Bytes::Mapped {
        map,
        start: (from - base) as usize,
        len: (to - from) as usize,
    })
}

/// What [`map_json_chunks`] did.
pub(super) enum Mapped {
    /// Every chunk was sent (`true`), or the consumer stopped (`false`); with the file's
    /// BLAKE3 when asked for.
    Read(bool, Option<String>),
    /// Not mapped (not a regular file, or a pretty-printed array, which is one document):
    /// read it as a stream instead.
    NotMapped,
}

/// Cuts the local, uncompressed file `path` into chunks of whole lines, as
/// `read_json_chunks` would.
pub(super) fn map_json_chunks(
    path: &Path,
    name: &str,
    limits: Limits,
    source: usize,
    progress: &Progress,
    hash: bool,
    send: &mut dyn FnMut(Work) -> bool,
) -> Result<Mapped> {
    let Ok(file) = File::open(path) else {
        return Ok(Mapped::NotMapped); // the stream path words the error
    };
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => return Ok(Mapped::NotMapped),
    };
    let mut cut = Cutter {
        file: &file,
        len,
        limits,
        source,
        progress,
        hasher: hash.then(blake3::Hasher::new),
        at: 0,
        line: 1,
    };
    if len > 0 {
        let Ok(head) = window(&file, 0, len.min(limits.chunk.max(1) as u64)) else {
            return Ok(Mapped::NotMapped);
        };
        if is_multiline_document(&head) {
            return Ok(Mapped::NotMapped);
        }
    }
    let more = cut.run(send).map_err(|e| Error::ReadFailed {
        file: name.to_owned(),
        line: cut.line,
        offset: cut.at,
        message: format!("input unreadable from byte {} on: {e}", cut.at),
    })?;
    let hash = cut.hasher.map(|h| h.finalize().to_hex().to_string());
    Ok(Mapped::Read(more, hash.filter(|_| more)))
}

/// A line longer than a chunk.
enum Long {
    /// Through its newline (or the end of the file).
    Line(Bytes),
    /// Longer than any record: rejected and passed over.
    Skipped,
    /// Rejected, and the consumer stopped.
    Stopped,
}

/// The state of one file being cut: where the next chunk starts.
struct Cutter<'a> {
    file: &'a File,
    len: u64,
    limits: Limits,
    source: usize,
    progress: &'a Progress,
    hasher: Option<blake3::Hasher>,
    /// Offset and line number of the next chunk.
    at: u64,
    line: u64,
}

impl Cutter<'_> {
    /// Sends every chunk; false if the consumer stopped or the run was cancelled.
    fn run(&mut self, send: &mut dyn FnMut(Work) -> bool) -> std::io::Result<bool> {
        let max_record = self.limits.max_record;
        // The stream path never holds more than one byte past the longest record, so a line
        // longer than that never shares a chunk: the same cut here.
        let chunk = self.limits.chunk.clamp(1, max_record.saturating_add(1)) as u64;
        while self.at < self.len {
            if self.progress.check().is_err() {
                return Ok(false);
            }
            let end = (self.at + chunk).min(self.len);
            let w = window(self.file, self.at, end)?;
            let newline = memchr::memrchr(b'\n', &w);
            let bytes = match newline {
                // The rest of the file, unless it is one line longer than any record.
                _ if end == self.len && (newline.is_some() || w.len() <= max_record) => w,
                Some(i) => w.truncated(i + 1),
                None => match self.long_line(w.len(), send)? {
                    Long::Line(bytes) => bytes,
                    Long::Skipped => continue,
                    Long::Stopped => return Ok(false),
                },
            };
            self.consumed(&bytes);
            let (at, len) = (self.at, bytes.len() as u64);
            let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
            let work = Work::Lines {
                source: self.source,
                bytes,
                first_line: self.line,
                offset: at,
                last: at + len == self.len,
            };
            if !send(work) {
                return Ok(false);
            }
            self.line += lines;
            self.at += len;
        }
        Ok(true)
    }

    /// The line at `self.at`, which has no end within its first `searched` bytes (more than a
    /// chunk).
    fn long_line(
        &mut self,
        searched: usize,
        send: &mut dyn FnMut(Work) -> bool,
    ) -> std::io::Result<Long> {
        let max_record = self.limits.max_record;
        let limit = (self.at + max_record as u64 + 1).min(self.len);
        let long = window(self.file, self.at, limit)?;
        match memchr::memchr(b'\n', &long[searched..]) {
            Some(i) => Ok(Long::Line(long.truncated(searched + i + 1))),
            None if limit == self.len && long.len() <= max_record => Ok(Long::Line(long)),
            None if self.skip_long_line(&long, send)? => Ok(Long::Skipped),
            None => Ok(Long::Stopped),
        }
    }

    /// Hashes and counts bytes passed over.
    fn consumed(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
        self.progress.read(bytes.len() as u64);
    }

    /// Rejects the line at `self.at`, longer than any record may be (`head` holds its first
    /// `max_record + 1` bytes), and moves past it a window at a time.
    fn skip_long_line(
        &mut self,
        head: &[u8],
        send: &mut dyn FnMut(Work) -> bool,
    ) -> std::io::Result<bool> {
        let (start, line) = (self.at, self.line);
        self.consumed(head);
        let mut pos = start + head.len() as u64;
        let (size, newline) = loop {
            if pos >= self.len {
                break (self.len - start, false);
            }
            let to = (pos + self.limits.chunk.max(1) as u64).min(self.len);
            let w = window(self.file, pos, to)?;
            if let Some(i) = memchr::memchr(b'\n', &w) {
                self.consumed(&w[..=i]);
                break (pos + i as u64 - start, true);
            }
            self.consumed(&w);
            pos = to;
        };
        let max = self.limits.max_record;
        if !send(too_long(self.source, line, start, size, head, max)) {
            return Ok(false);
        }
        self.line += 1;
        self.at = start + size + u64::from(newline);
        Ok(true)
    }
}
