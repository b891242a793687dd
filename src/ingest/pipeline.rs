//! Ingest: any mix of export files in, batches of the six tables out, in input order.
//!
//! One reader thread walks the sources and cuts their decompressed bytes into chunks at
//! newlines (counting lines as it goes, so line numbers stay exact); worker threads decode
//! chunks in parallel; the caller's sink receives the batches in input order, so outputs and
//! errors are deterministic. A fixed number of chunks is in flight at any time, which bounds
//! memory whatever the input size. A line longer than a chunk makes its chunk larger, up to
//! [`IngestOptions::max_record_bytes`]: a longer record (a line without end, a runaway
//! document) becomes a reject with its line, offset and size, is skipped without being held,
//! and reading goes on after it.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use datafusion::arrow::record_batch::RecordBatch;

use super::csv;
use super::decode::{DecodeStats, Decoder};
use super::source::{Inputs, Layout};
use crate::error::{Error, Result};
use crate::table::Table;

/// How ingest runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Decoder threads.
    pub threads: usize,
    /// Bytes per chunk handed to a decoder thread.
    pub chunk_bytes: usize,
    /// The longest record (a JSON line, a whole JSON document) read; longer ones are
    /// rejected and skipped.
    pub max_record_bytes: usize,
    /// Where the bytes read are counted.
    pub progress: super::Progress,
}

/// The default longest record: 512 MiB. A document line holds every chunk of one file with
/// its embedding (about 20 KB a chunk in pandas' decimals), so a textbook of some thousands
/// of pages makes a line of 100-200 MB; twice the largest seen, and small enough that
/// holding one such line while it is decoded stays under 1 GiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 512 << 20;

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            chunk_bytes: 8 << 20,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            progress: super::Progress::default(),
        }
    }
}

/// Decoded rows of one chunk of one source.
#[derive(Debug)]
pub struct Decoded {
    /// Index of the source in [`Inputs::sources`].
    pub source: usize,
    /// Batches, at most one per table.
    pub batches: Vec<(Table, RecordBatch)>,
    /// What the chunk held.
    pub stats: DecodeStats,
}

/// What an ingest run read.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    /// Totals over all sources.
    pub stats: DecodeStats,
    /// SHA-256 of each input file, in [`Inputs::files`] order.
    pub sha256: Vec<String>,
}

/// Work for a decoder thread.
pub(crate) enum Work {
    Lines {
        source: usize,
        bytes: Vec<u8>,
        first_line: u64,
        offset: u64,
        last: bool,
    },
    /// A whole file holding one multi-line JSON document (a pretty-printed array).
    Document { source: usize, bytes: Vec<u8> },
    /// The rest of a source could not be read (vanished file, truncated or corrupt
    /// compression, zip bomb): one reject, and ingest goes on with the next source.
    Unreadable {
        source: usize,
        line: u64,
        offset: u64,
        reason: String,
    },
    Csv {
        source: usize,
        rows: Vec<csv::CsvRow>,
        header: Arc<csv::CsvHeader>,
    },
    /// A record longer than the limit, skipped: one reject (with its first bytes), counted
    /// as a line read.
    TooLong {
        source: usize,
        line: u64,
        offset: u64,
        reason: String,
        head: Vec<u8>,
    },
}

/// Reads every source of `inputs` and hands the decoded batches to `sink` in input order.
///
/// Stops at the first error of a source or of the sink, and returns it.
pub fn ingest(
    inputs: &Inputs,
    opts: &IngestOptions,
    mut sink: impl FnMut(Decoded) -> Result<()>,
) -> Result<IngestSummary> {
    opts.progress
        .expect(inputs.files.iter().map(|f| f.size).sum());
    let threads = opts.threads.max(1);
    let in_flight = threads * 2 + 1;
    let (work_tx, work_rx) = bounded::<(u64, Work)>(in_flight);
    let (done_tx, done_rx) = unbounded::<(u64, Result<Decoded>)>();
    // Tokens bound the chunks between the reader and the sink, including those waiting to
    // be put back in order.
    let (token_tx, token_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = token_tx.send(());
    }
    let mut summary = IngestSummary {
        sha256: vec![String::new(); inputs.files.len()],
        ..Default::default()
    };

    let outcome = std::thread::scope(|scope| -> Result<()> {
        let reader = {
            let done_tx = done_tx.clone();
            scope.spawn(move || read_sources(inputs, opts, work_tx, done_tx, token_rx))
        };
        for _ in 0..threads {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || decode_worker(inputs, work_rx, done_tx));
        }
        drop(work_rx);
        drop(done_tx);

        let mut pending: BTreeMap<u64, Result<Decoded>> = BTreeMap::new();
        let mut next = 0u64;
        let result = (|| -> Result<()> {
            for (seq, item) in done_rx.iter() {
                pending.insert(seq, item);
                while let Some(item) = pending.remove(&next) {
                    next += 1;
                    let decoded = item?;
                    summary.stats.add(&decoded.stats);
                    sink(decoded)?;
                    let _ = token_tx.send(());
                }
            }
            Ok(())
        })();
        // On error, closing the channels makes the reader and workers stop.
        drop(done_rx);
        drop(token_tx);
        let hashes = reader
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the reader thread panicked".into())));
        result?;
        for (i, h) in hashes?.into_iter().enumerate() {
            summary.sha256[i] = h;
        }
        if !pending.is_empty() {
            return Err(Error::Internal("chunks lost in ingest".into()));
        }
        Ok(())
    });
    outcome?;
    Ok(summary)
}

/// The reader thread: cuts every source into chunks. Returns each input file's SHA-256.
fn read_sources(
    inputs: &Inputs,
    opts: &IngestOptions,
    work_tx: Sender<(u64, Work)>,
    done_tx: Sender<(u64, Result<Decoded>)>,
    tokens: Receiver<()>,
) -> Result<Vec<String>> {
    let seq = std::cell::Cell::new(0u64);
    let mut hashes: Vec<Option<String>> = vec![None; inputs.files.len()];
    // Sends one piece of work; false when the consumer has stopped.
    let mut send = |work: Work| -> bool {
        if tokens.recv().is_err() {
            return false;
        }
        let ok = work_tx.send((seq.get(), work)).is_ok();
        seq.set(seq.get() + 1);
        ok
    };
    for (index, src) in inputs.sources.iter().enumerate() {
        let read = src.read_with(&opts.progress, |r| match src.layout {
            Layout::Json => Ok(read_json_chunks(
                r,
                Limits {
                    chunk: opts.chunk_bytes,
                    max_record: opts.max_record_bytes.max(1),
                },
                index,
                &src.name,
                &mut send,
            )),
            Layout::Csv => Ok(csv::read_csv_chunks(r, opts.chunk_bytes, index, &mut send)),
        });
        match read {
            Ok((Ok(true), hash)) => {
                if hash.is_some() {
                    hashes[src.input] = hash;
                }
            }
            Ok((Ok(false), _)) => return Ok(Vec::new()),
            Ok((Err(e), _)) | Err(e) => {
                // Where reading stopped is in the error when the stream broke mid-way.
                let (line, offset, reason) = match e {
                    Error::ReadFailed {
                        line,
                        offset,
                        message,
                        ..
                    } => (line, offset, message),
                    other => (0, 0, other.to_string()),
                };
                let work = Work::Unreadable {
                    source: index,
                    line,
                    offset,
                    reason,
                };
                if !send(work) {
                    return Ok(Vec::new());
                }
            }
        }
    }
    drop(work_tx);
    drop(done_tx);
    // A file that cannot be read again has no hash; its reject already says why.
    Ok(inputs
        .files
        .iter()
        .zip(hashes)
        .map(|(f, h)| {
            h.or_else(|| super::source::sha256_file(&f.path).ok())
                .unwrap_or_default()
        })
        .collect())
}

/// Chunk size and longest record of [`read_json_chunks`].
#[derive(Clone, Copy)]
struct Limits {
    chunk: usize,
    max_record: usize,
}

/// Cuts a JSON-lines stream into chunks of whole lines. A line longer than
/// `limits.max_record` is skipped up to its newline and rejected. Returns Ok(false) if the
/// consumer stopped.
fn read_json_chunks(
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
                        bytes: std::mem::take(&mut buf),
                        first_line: line,
                        offset,
                        last: false,
                    };
                    if !send(work) {
                        return Ok(false);
                    }
                }
                let at = offset + whole as u64;
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
                    let size = buf.len() as u64 + drain(r, name, false)?.skipped;
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
                bytes: buf,
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
                let rest = drain(r, name, true)?;
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
            bytes,
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
/// time, holding nothing.
fn drain(r: &mut dyn Read, name: &str, until_newline: bool) -> Result<Drained> {
    let mut block = vec![0u8; 1 << 20];
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
fn too_long(
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
fn is_multiline_document(head: &[u8]) -> bool {
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

fn decode_worker(
    inputs: &Inputs,
    work_rx: Receiver<(u64, Work)>,
    done_tx: Sender<(u64, Result<Decoded>)>,
) {
    for (seq, work) in work_rx.iter() {
        let (source, decoder) = match work {
            Work::Lines {
                source,
                bytes,
                first_line,
                offset,
                last,
            } => {
                let mut d = Decoder::new(inputs.sources[source].name.clone(), first_line, offset);
                if last {
                    d.finish(&bytes);
                } else {
                    d.decode(&bytes);
                }
                (source, d)
            }
            Work::Document { source, bytes } => {
                let mut d = Decoder::new(inputs.sources[source].name.clone(), 1, 0);
                d.decode_document(&bytes);
                (source, d)
            }
            Work::Unreadable {
                source,
                line,
                offset,
                reason,
            } => {
                let mut d = Decoder::new(inputs.sources[source].name.clone(), line, offset);
                d.reject_stream(line, offset, &reason);
                (source, d)
            }
            Work::TooLong {
                source,
                line,
                offset,
                reason,
                head,
            } => {
                let mut d = Decoder::new(inputs.sources[source].name.clone(), line, offset);
                d.reject_record(line, offset, &reason, &head);
                (source, d)
            }
            Work::Csv {
                source,
                rows,
                header,
            } => {
                let mut d = Decoder::new(inputs.sources[source].name.clone(), 1, 0);
                csv::decode_rows(&mut d, &header, rows);
                (source, d)
            }
        };
        let mut decoder = decoder;
        let decoded = Decoded {
            source,
            stats: decoder.stats(),
            batches: decoder.take_batches(),
        };
        if done_tx.send((seq, Ok(decoded))).is_err() {
            return;
        }
    }
}
