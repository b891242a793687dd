//! JSON lines cut into chunks of whole lines for the decoder threads: the reader thread's
//! half of [`super::pipeline`]. Lines are counted as they pass, so every chunk knows its first
//! line and byte offset; a pretty-printed array is handed over as one document; a record
//! longer than the limit is skipped in blocks without being held and becomes a reject
//! ([`Work::TooLong`]); a stream that breaks mid-way sends the whole lines read and reports
//! where it broke.

use std::io::Read;

use super::work::Work;
use crate::error::{Error, Result};

/// Chunk size and longest record of [`read_json_chunks`].
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) chunk: usize,
    pub(crate) max_record: usize,
}

/// Cuts a JSON-lines stream into chunks of whole lines. A line longer than
/// `limits.max_record` is skipped up to its newline and rejected. Returns Ok(false) if the
/// consumer stopped.
pub(crate) fn read_json_chunks(
    r: &mut dyn Read,
    limits: Limits,
    source: usize,
    name: &str,
    send: &mut dyn FnMut(Work) -> bool,
) -> Result<bool> {
    let Limits { chunk, max_record } = limits;
    let mut buf: Vec<u8> = Vec::with_capacity(chunk.min(max_record + 1));
    let (mut line, mut offset) = (1u64, 0u64);
    let mut first = true;
    // Bytes of `buf` known to hold no newline (a line longer than a chunk is being read).
    let mut searched = 0;
    loop {
        // Read a chunk's worth; while inside one long line, double the read each time, but
        // never hold more than one byte past the longest record.
        let want = chunk
            .saturating_sub(buf.len())
            .max(buf.len())
            .max(chunk.clamp(1, 64 << 10))
            .min((max_record + 1).saturating_sub(buf.len()).max(1));
        if buf.len() + want > buf.capacity() {
            // Inside a line longer than a chunk, grow once to the longest record allowed:
            // pages are only touched as they fill, and the line is never copied into a
            // bigger buffer again (doubling a 256 MiB buffer held both, over 1 GiB at peak).
            let target = if buf.len() >= chunk {
                max_record + 1
            } else {
                buf.len() + want
            };
            buf.reserve_exact(target - buf.len());
        }
        let got = match r.take(want as u64).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                // Decode the whole lines read so far, then report where the stream broke.
                let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
                let lines = memchr::memchr_iter(b'\n', &buf[..whole]).count() as u64;
                if whole > 0 {
                    buf.truncate(whole);
                    let work = Work::Lines {
                        source,
                        bytes: std::mem::take(&mut buf).into(),
                        first_line: line,
                        offset,
                        last: false,
                    };
                    if !send(work) {
                        return Ok(false);
                    }
                }
                let at = offset + whole as u64;
                if let Some(store) = store_error(&e) {
                    return Err(store);
                }
                return Err(Error::ReadFailed {
                    file: name.to_owned(),
                    line: line + lines,
                    offset: at,
                    message: format!("input unreadable from byte {at} on: {e}"),
                });
            }
        };
        if first {
            first = false;
            if is_multiline_document(&buf) {
                let cap = (max_record + 1).saturating_sub(buf.len()) as u64;
                r.take(cap)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(name, e))?;
                if buf.len() > max_record {
                    let size = buf.len() as u64 + drain(r, name, false, max_record)?.skipped;
                    return Ok(send(too_long(source, 1, 0, size, &buf, max_record)));
                }
                return Ok(send(Work::Document { source, bytes: buf }));
            }
        }
        if got < want {
            if buf.is_empty() {
                return Ok(true);
            }
            return Ok(send(Work::Lines {
                source,
                bytes: buf.into(),
                first_line: line,
                offset,
                last: true,
            }));
        }
        let Some(nl) = memchr::memrchr(b'\n', &buf[searched..]).map(|i| searched + i) else {
            searched = buf.len();
            if buf.len() > max_record {
                // One line (whatever came before it was sent) longer than any record may
                // be: skip to its end without holding it, reject it, go on after it.
                let rest = drain(r, name, true, max_record)?;
                let size = buf.len() as u64 + rest.skipped;
                if !send(too_long(source, line, offset, size, &buf, max_record)) {
                    return Ok(false);
                }
                line += 1;
                offset += size + u64::from(rest.newline);
                buf = rest.after;
                searched = 0;
            }
            continue; // a line longer than the chunk: read on
        };
        searched = 0;
        let mut rest = buf.split_off(nl + 1);
        rest.reserve(chunk.saturating_sub(rest.len()));
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let len = buf.len() as u64;
        let bytes = std::mem::replace(&mut buf, rest);
        if !send(Work::Lines {
            source,
            bytes: bytes.into(),
            first_line: line,
            offset,
            last: false,
        }) {
            return Ok(false);
        }
        line += lines;
        offset += len;
    }
}

/// What [`drain`] skipped.
struct Drained {
    /// Bytes of the record skipped (without its newline).
    skipped: u64,
    /// Whether a newline ended it (else the stream did).
    newline: bool,
    /// What followed the newline in the last block read.
    after: Vec<u8>,
}

/// Reads on to the end of the current line (`until_newline`) or of the stream, a block at a
/// time, holding nothing. A block is at most a record long, so that what follows the line
/// (`after`, where reading goes on) never holds a whole line longer than a record.
fn drain(r: &mut dyn Read, name: &str, until_newline: bool, max_record: usize) -> Result<Drained> {
    let mut block = vec![0u8; (1 << 20).min(max_record.max(1))];
    let mut skipped = 0u64;
    loop {
        let n = match r.read(&mut block) {
            Ok(0) => {
                return Ok(Drained {
                    skipped,
                    newline: false,
                    after: Vec::new(),
                })
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(name, e)),
        };
        if until_newline {
            if let Some(i) = memchr::memchr(b'\n', &block[..n]) {
                return Ok(Drained {
                    skipped: skipped + i as u64,
                    newline: true,
                    after: block[i + 1..n].to_vec(),
                });
            }
        }
        skipped += n as u64;
    }
}

/// The reject of a record longer than the limit.
pub(super) fn too_long(
    source: usize,
    line: u64,
    offset: u64,
    size: u64,
    head: &[u8],
    max_record: usize,
) -> Work {
    Work::TooLong {
        source,
        line,
        offset,
        reason: format!(
            "record of {size} bytes is longer than --max-record-size ({max_record} bytes): skipped"
        ),
        head: head[..head.len().min(200)].to_vec(),
    }
}

/// Whether a stream starts with a JSON array that its first line does not close: a
/// pretty-printed `.json` file, which must be read as one document rather than line by line.
pub(super) fn is_multiline_document(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    if head[start] != b'[' {
        return false;
    }
    let end = memchr::memchr(b'\n', &head[start..]).map_or(head.len(), |i| start + i);
    let mut stream = serde_json::Deserializer::from_slice(&head[start..end])
        .into_iter::<serde::de::IgnoredAny>();
    matches!(stream.next(), Some(Err(e)) if e.is_eof())
}

/// The object-storage failure an I/O error carries, if it is one (a read of a remote input
/// that failed: fatal, not a reject).
pub fn store_error(e: &std::io::Error) -> Option<Error> {
    match e.get_ref()?.downcast_ref::<Error>()? {
        Error::Store { url, message } => Some(Error::Store {
            url: url.clone(),
            message: message.clone(),
        }),
        _ => None,
    }
}

/// The object-storage failure behind `e`, however it was wrapped on the way up: fatal,
/// where other read failures are rejects.
pub fn fatal_store_error(e: &Error) -> Option<Error> {
    match e {
        Error::Store { url, message } => Some(Error::Store {
            url: url.clone(),
            message: message.clone(),
        }),
        Error::Io { source, .. } => store_error(source),
        _ => None,
    }
}
