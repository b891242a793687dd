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

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use datafusion::arrow::record_batch::RecordBatch;

use super::csv;
use super::decode::{DecodeStats, Decoder};
use super::lines::{read_json_chunks, Limits};
use super::mapped::{map_json_chunks, Mapped};
use super::source::{Inputs, Layout};
use super::work::Work;
use crate::error::{Error, Result};
use crate::table::Table;

/// How ingest runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Decoder threads.
    pub threads: usize,
    /// Bytes per chunk handed to a decoder thread. 2 MiB by default: a chunk in flight
    /// holds its input's pages and its decoded rows, and `2 × threads + 1` are in flight;
    /// against 8 MiB, a conversion's peak fell by a quarter to a third (320-340 to 210-220
    /// MiB on the 501 MB export, 285-355 to 255 MiB on 3.1 GB) at the same speed
    /// (docs/performance.md).
    pub chunk_bytes: usize,
    /// The longest record (a JSON line, a whole JSON document) read; longer ones are
    /// rejected and skipped.
    pub max_record_bytes: usize,
    /// Where the bytes read are counted.
    pub progress: super::Progress,
    /// Compute each input file's BLAKE3 (for a lake's run record; a query does not
    /// need it).
    pub hash: bool,
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
            chunk_bytes: 2 << 20,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            progress: super::Progress::default(),
            hash: true,
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
    /// BLAKE3 of each input file (lowercase hex), in [`Inputs::files`] order.
    pub blake3: Vec<String>,
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
        blake3: vec![String::new(); inputs.files.len()],
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
                    if opts.progress.check().is_err() {
                        return Err(Error::Interrupted);
                    }
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
            summary.blake3[i] = h;
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
    // Past the bound one batch's text could pass Arrow's 2 GiB of offsets.
    let max_record = opts
        .max_record_bytes
        .clamp(1, crate::table::columns::MAX_RECORD_BYTES);
    let limits = Limits {
        chunk: opts.chunk_bytes,
        max_record,
    };
    for (index, src) in inputs.sources.iter().enumerate() {
        let mapped = match (src.layout, src.plain_local_file()) {
            (Layout::Json, Some(path)) => {
                let (progress, hash) = (&opts.progress, opts.hash);
                map_json_chunks(path, &src.name, limits, index, progress, hash, &mut send)
            }
            _ => Ok(Mapped::NotMapped),
        };
        let read = match mapped {
            Ok(Mapped::Read(more, hash)) => Ok((Ok(more), hash)),
            Err(e) => Err(e),
            Ok(Mapped::NotMapped) => {
                src.read_with(&opts.progress, opts.hash, |r| match src.layout {
                    Layout::Json => Ok(read_json_chunks(r, limits, index, &src.name, &mut send)),
                    Layout::Csv => Ok(csv::read_csv_chunks(
                        r,
                        opts.chunk_bytes,
                        max_record,
                        index,
                        &mut send,
                    )),
                })
            }
        };
        match read {
            Ok((Ok(true), hash)) => {
                if hash.is_some() {
                    hashes[src.input] = hash;
                }
            }
            Ok((Ok(false), _)) => return Ok(Vec::new()),
            Ok((Err(e), _)) | Err(e) if super::lines::fatal_store_error(&e).is_some() => {
                return Err(super::lines::fatal_store_error(&e).expect("checked"));
            }
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
            h.or_else(|| {
                opts.hash
                    .then(|| super::source::blake3_file(&f.path).ok())
                    .flatten()
            })
            .unwrap_or_default()
        })
        .collect())
}

fn decode_worker(
    inputs: &Inputs,
    work_rx: Receiver<(u64, Work)>,
    done_tx: Sender<(u64, Result<Decoded>)>,
) {
    // One decoder per thread, restarted for each piece: its column buffers keep the size
    // the last piece needed, so they are not grown again from nothing every time.
    let mut kept: Option<Decoder> = None;
    for (seq, work) in work_rx.iter() {
        let mut start = |source: usize, line: u64, offset: u64| -> Decoder {
            let name = inputs.sources[source].name.clone();
            match kept.take() {
                Some(mut d) => {
                    d.restart(name, line, offset);
                    d
                }
                None => Decoder::new(name, line, offset),
            }
        };
        // A decoder that panics (a bug) must not leave ingest waiting for this piece
        // forever: the panic becomes this piece's error, and the thread goes on.
        let place = work.place(inputs);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
            Work::Lines {
                source,
                bytes,
                first_line,
                offset,
                last,
            } => {
                let mut d = start(source, first_line, offset);
                if last {
                    d.finish(&bytes);
                } else {
                    d.decode(&bytes);
                }
                (source, d)
            }
            Work::Document { source, bytes } => {
                let mut d = start(source, 1, 0);
                d.decode_document(&bytes);
                (source, d)
            }
            Work::Unreadable {
                source,
                line,
                offset,
                reason,
            } => {
                let mut d = start(source, line, offset);
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
                let mut d = start(source, line, offset);
                d.reject_record(line, offset, &reason, &head);
                (source, d)
            }
            Work::Csv {
                source,
                rows,
                header,
            } => {
                let mut d = start(source, 1, 0);
                csv::decode_rows(&mut d, &header, rows);
                (source, d)
            }
        }));
        let (source, mut decoder) = match outcome {
            Ok(done) => done,
            Err(_) => {
                let e = Error::Internal(format!(
                    "the decoder panicked on the piece of input at {place} (a bug: please \
                     report it with that record)"
                ));
                if done_tx.send((seq, Err(e))).is_err() {
                    return;
                }
                continue;
            }
        };
        let decoded = Decoded {
            source,
            stats: decoder.stats(),
            batches: decoder.take_batches(),
        };
        kept = Some(decoder);
        if done_tx.send((seq, Ok(decoded))).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder that panics on a piece (here: a piece naming an input that does not exist,
    /// as a bug would) becomes that piece's error, naming where it was, and the same thread
    /// decodes the next piece.
    #[test]
    fn a_panicking_decoder_becomes_an_error_and_the_thread_goes_on() {
        let path = format!(
            "{}/testdata/convos-2023-r.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let inputs = Inputs::expand(std::slice::from_ref(&path)).unwrap();
        let text = std::fs::read(&path).unwrap();
        let first = text
            .split_inclusive(|b| *b == b'\n')
            .next()
            .unwrap()
            .to_vec();
        let (work_tx, work_rx) = crossbeam_channel::unbounded();
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let lines = |source: usize, bytes: Vec<u8>, first_line: u64| Work::Lines {
            source,
            bytes: bytes.into(),
            first_line,
            offset: 0,
            last: true,
        };
        work_tx.send((0, lines(99, first.clone(), 7))).unwrap();
        work_tx.send((1, lines(0, first, 1))).unwrap();
        drop(work_tx);
        decode_worker(&inputs, work_rx, done_tx);
        let done: Vec<(u64, Result<Decoded>)> = done_rx.iter().collect();
        assert_eq!(done.len(), 2);
        let Err(err) = &done[0].1 else {
            panic!("the first piece decoded")
        };
        let err = err.to_string();
        assert!(
            err.contains("panicked on the piece of input at input #99, line 7"),
            "{err}"
        );
        let ok = done[1].1.as_ref().expect("decoded");
        assert_eq!(ok.stats.conversations, 1);
        assert_eq!(ok.stats.rejects, 0);
    }

    /// Every row and reject, and the counts, that ingest gives `path`, with `source_file`
    /// left out (so that a file and its gzip compare).
    fn ingested(path: &std::path::Path, opts: &IngestOptions) -> (Vec<String>, DecodeStats) {
        use datafusion::arrow::util::display::array_value_to_string;
        let inputs = Inputs::expand(&[path.display().to_string()]).unwrap();
        let mut rows = Vec::new();
        let summary = ingest(&inputs, opts, |d| {
            for (table, batch) in &d.batches {
                for r in 0..batch.num_rows() {
                    let cells: Vec<String> = (0..batch.num_columns())
                        .filter(|&c| batch.schema().field(c).name() != "source_file")
                        .map(|c| array_value_to_string(batch.column(c), r).unwrap())
                        .collect();
                    rows.push(format!("{table:?} {}", cells.join(" | ")));
                }
            }
            Ok(())
        })
        .unwrap();
        // Rows of a table in order; chunks may cut the file at other lines.
        rows.sort_by_key(|r| r.split(' ').next().unwrap_or("").to_owned());
        (rows, summary.stats)
    }

    /// Ingests `body` as a plain local file (mapped) and as a gzip file (read as a stream),
    /// requires both to give the same rows, rejects (with their lines and offsets) and
    /// counts, and returns the counts.
    fn mapped_agrees_with_streamed(body: &str, chunk: usize, max_record: usize) -> DecodeStats {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("x.jsonl");
        std::fs::write(&plain, body).unwrap();
        let gz = dir.path().join("x.jsonl.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, body.as_bytes()).unwrap();
        std::fs::write(&gz, e.finish().unwrap()).unwrap();
        let opts = IngestOptions {
            chunk_bytes: chunk,
            max_record_bytes: max_record,
            ..IngestOptions::default()
        };
        let (mapped, mapped_stats) = ingested(&plain, &opts);
        let (streamed, streamed_stats) = ingested(&gz, &opts);
        assert_eq!(mapped_stats, streamed_stats);
        assert!(
            mapped == streamed,
            "the mapped file's rows differ from the stream's"
        );
        mapped_stats
    }

    fn record(i: usize, pad: usize) -> String {
        format!(
            r#"{{"convo": {{"id": "c{i}", "messages": [{{"role": "user", "content": "{}"}}]}}, "course_name": "ECE"}}"#,
            "x".repeat(pad)
        )
    }

    /// Chunks and records small enough that lines longer than a chunk, and than any record,
    /// occur in the middle and at the end of the file.
    #[test]
    fn mapped_and_streamed_inputs_agree() {
        let mut text = String::new();
        for i in 0..40 {
            let pad = match i % 7 {
                0 => 5_000, // longer than a chunk, shorter than the longest record
                3 => 9_000, // longer than any record
                _ => 10 + i,
            };
            text.push_str(&record(i, pad));
            text.push_str(if i % 5 == 0 { "\r\n\n" } else { "\n" });
        }
        for tail in [record(98, 20), record(99, 9_000)] {
            let stats = mapped_agrees_with_streamed(&format!("{text}{tail}"), 4_096, 8_192);
            // 41 records: 35 (or 34) read, the rest too long.
            let too_long = if tail.len() > 8_192 { 7 } else { 6 };
            assert_eq!(stats.rejects, too_long);
            assert_eq!(stats.conversations, 41 - too_long);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// The same for any lengths of lines, blank lines, chunk and record limits.
        #[test]
        fn mapped_and_streamed_agree_on_any_lines(
            pads in proptest::collection::vec(0usize..6_000, 1..24),
            blanks in proptest::collection::vec(0usize..3, 24),
            chunk in 256usize..4_096,
            max_record in 512usize..5_000,
            end_newline in proptest::bool::ANY,
        ) {
            let mut body = String::new();
            for (i, pad) in pads.iter().enumerate() {
                body.push_str(&record(i, *pad));
                for _ in 0..=blanks[i] {
                    body.push('\n');
                }
            }
            if !end_newline {
                body.truncate(body.trim_end().len());
            }
            let stats = mapped_agrees_with_streamed(&body, chunk, max_record);
            proptest::prop_assert_eq!(stats.conversations + stats.rejects, pads.len() as u64);
        }
    }
}
