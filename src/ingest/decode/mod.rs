//! The line decoder: bytes of JSON lines in, rows of the six tables out. It does no I/O, so
//! files, zip members, gzip and zstd streams, CSV cells and unit tests all feed it the same way.
//!
//! Each record is parsed once, by serde visitors that write straight into the column
//! buffers of [`TableBuilders`]; only small values are looked at twice. Anything a column
//! cannot hold exactly goes to the row's `extra` JSON object (see `Extra`), so that the
//! original record can be rebuilt. A record that fails to parse is rolled back from every
//! table and becomes one row of `rejects`.
//!
//! The rule that makes `extra` enough to rebuild a record: a modeled key is emitted from its
//! column when the column is not null, is absent when the column is null, and whatever
//! `extra` holds under the same key wins over both. `$absent` lists keys that were absent
//! although their column was filled from another key (e.g. `chunk_index` taken from
//! `url_chunk_index`); `$value` holds an array element that was not an object.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

#[macro_use]
mod extra;
mod array;
mod context;
mod conversation;
mod document;
mod message;

use array::*;
use context::*;
use conversation::*;
use document::*;
use extra::*;
use message::*;

use crate::model::{format_timestamp_js, format_timestamp_pg, parse_timestamp, push_json_str};
use crate::table::columns::{Column, StrCol};
use crate::table::{Table, TableBuilders};

/// Longest snippet of a rejected record kept in `rejects`.
const SNIPPET_CHARS: usize = 200;

/// Counts of what a decoder saw: every record it met is counted as a conversation, a
/// document or a reject, so the counts reconcile with what the tables and `rejects` hold.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecodeStats {
    /// Physical lines read.
    pub lines: u64,
    /// Lines holding only whitespace.
    pub blank_lines: u64,
    /// Bytes read (of the decompressed stream).
    pub bytes: u64,
    /// Conversation records decoded (format R, C and CSV).
    pub conversations: u64,
    /// Document records decoded.
    pub documents: u64,
    /// Records or lines rejected.
    pub rejects: u64,
}

impl DecodeStats {
    /// Adds another decoder's counts.
    pub fn add(&mut self, o: &DecodeStats) {
        self.lines += o.lines;
        self.blank_lines += o.blank_lines;
        self.bytes += o.bytes;
        self.conversations += o.conversations;
        self.documents += o.documents;
        self.rejects += o.rejects;
    }
}

/// The format a conversation record was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// Detect from the keys.
    Json,
    /// A row of the 2023-24 CSV export, rewritten as a format-R JSON row.
    Csv,
}

/// Decodes JSON-lines bytes into table rows.
///
/// Feed it with [`Decoder::decode`] (whole lines only; returns how much it consumed) and end
/// with [`Decoder::finish`]; take rows out with [`Decoder::take_batches`] at any line boundary.
pub struct Decoder {
    tables: TableBuilders,
    cx: Scratch,
    source: Arc<str>,
    line: u64,
    offset: u64,
    stats: DecodeStats,
}

/// Reusable buffers of one decoder.
#[derive(Default)]
struct Scratch {
    ctx_extra: Extra,
    chunk_extra: Extra,
    /// The `"course_name "` of the current conversation's contexts, while they agree.
    course: CourseVote,
}

#[derive(Default)]
enum CourseVote {
    #[default]
    None,
    One(String),
    Conflict,
}

impl CourseVote {
    fn vote(&mut self, s: &str) {
        match self {
            CourseVote::None => *self = CourseVote::One(s.to_owned()),
            CourseVote::One(c) if c != s => *self = CourseVote::Conflict,
            _ => {}
        }
    }
}

impl Decoder {
    /// A decoder for `source` whose first byte is at `first_line` (1-based) and `offset`.
    pub fn new(source: Arc<str>, first_line: u64, offset: u64) -> Decoder {
        Decoder {
            tables: TableBuilders::default(),
            cx: Scratch::default(),
            source,
            line: first_line,
            offset,
            stats: DecodeStats::default(),
        }
    }

    /// Starts decoding another piece (`source` from `first_line` and `offset`) with the
    /// same buffers, once the last piece's batches were taken: their columns start at the
    /// size the last piece needed.
    pub fn restart(&mut self, source: Arc<str>, first_line: u64, offset: u64) {
        self.source = source;
        self.line = first_line;
        self.offset = offset;
        self.stats = DecodeStats::default();
    }

    /// What was seen so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Decodes every complete line of `buf` and returns the bytes consumed (through the last
    /// newline). The caller passes the rest again with more bytes, or to [`Decoder::finish`].
    pub fn decode(&mut self, buf: &[u8]) -> usize {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', buf) {
            self.line_bytes(&buf[start..nl], nl + 1 - start);
            start = nl + 1;
        }
        start
    }

    /// Decodes `buf` to its end, the last line having no newline.
    pub fn finish(&mut self, buf: &[u8]) {
        let used = self.decode(buf);
        if used < buf.len() {
            self.line_bytes(&buf[used..], buf.len() - used);
        }
    }

    /// Moves the decoded rows out as record batches, one per non-empty table.
    pub fn take_batches(&mut self) -> Vec<(Table, datafusion::arrow::record_batch::RecordBatch)> {
        // Cannot fail: every column has its table's type and all have equal length (checked
        // after each record).
        self.tables.finish().expect("consistent columns")
    }

    /// Decodes one record given as JSON text (used for CSV rows rewritten as JSON).
    pub fn decode_json_record(&mut self, text: &str, line: u64, offset: u64, format: RecordFormat) {
        self.stats.lines += 1;
        self.record(text, line, offset, format);
    }

    /// Rejects the rest of a stream that could not be read (no line of its own is counted).
    pub fn reject_stream(&mut self, line: u64, offset: u64, reason: &str) {
        self.reject(line, offset, reason, b"");
    }

    /// Rejects a record found unreadable before it reached the decoder (e.g. a bad CSV cell).
    pub fn reject_record(&mut self, line: u64, offset: u64, reason: &str, snippet: &[u8]) {
        self.stats.lines += 1;
        self.reject(line, offset, reason, snippet);
    }

    fn line_bytes(&mut self, raw: &[u8], consumed: usize) {
        let (line, offset) = (self.line, self.offset);
        self.line += 1;
        self.offset += consumed as u64;
        self.stats.lines += 1;
        self.stats.bytes += consumed as u64;
        let mut bytes = raw;
        let mut skipped = 0;
        if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
            bytes = rest;
            skipped = 3;
        }
        let trimmed_start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(lead) = trimmed_start else {
            self.stats.blank_lines += 1;
            return;
        };
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap_or(lead)
            + 1;
        let bytes = &bytes[lead..end];
        let offset = offset + (skipped + lead) as u64;
        let text = match simdutf8::compat::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let reason = format!("invalid UTF-8 at byte {} of the line", e.valid_up_to());
                return self.reject(line, offset, &reason, bytes);
            }
        };
        if text.starts_with('{') {
            if let Err(e) = self.try_record(text, line, offset, RecordFormat::Json) {
                if e.to_string().starts_with("trailing characters") {
                    // `{…}{…}` on one line: read it as a stream of values.
                    self.values(text, line, offset, false);
                } else {
                    self.reject_err(text, line, offset, &e);
                }
            }
        } else if text.starts_with('[') {
            // The 2024-02/03 "array then lines on the same physical line" quirk, or a
            // top-level array file.
            self.values(text, line, offset, false);
        } else {
            let reason = "not a JSON object or array";
            self.reject(line, offset, reason, bytes);
        }
    }

    /// Decodes a whole multi-line JSON document (a pretty-printed array file); records get
    /// the line they start on.
    pub fn decode_document(&mut self, bytes: &[u8]) {
        self.stats.bytes += bytes.len() as u64;
        self.stats.lines += memchr::memchr_iter(b'\n', bytes).count() as u64
            + u64::from(!bytes.ends_with(b"\n") && !bytes.is_empty());
        let (bytes, skipped) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => (rest, 3),
            None => (bytes, 0),
        };
        match simdutf8::compat::from_utf8(bytes) {
            Ok(text) => self.values(text, 1, skipped, true),
            Err(e) => {
                let reason = format!(
                    "invalid UTF-8 at byte {}",
                    e.valid_up_to() + skipped as usize
                );
                self.reject(1, 0, &reason, bytes);
            }
        }
    }

    /// Decodes text holding several top-level values, arrays of records among them. With
    /// `multiline`, each record's line is counted from `line` at the start of `text`.
    fn values(&mut self, text: &str, line: u64, offset: u64, multiline: bool) {
        let base = text.as_ptr() as usize;
        let at = |s: &str| offset + (s.as_ptr() as usize - base) as u64;
        let mut lines = LineIndex { pos: 0, line };
        let mut line_of = |s: &str| {
            if multiline {
                lines.line_at(text, s.as_ptr() as usize - base)
            } else {
                line
            }
        };
        // Split into values first, so that a line with garbage anywhere is rejected whole.
        let mut values = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        loop {
            let pos = stream.byte_offset();
            match stream.next() {
                None => break,
                Some(Ok(v)) => values.push(v),
                Some(Err(e)) => {
                    let l = line_of(&text[pos..]);
                    let reason = format!("JSON: {e} (after {} complete value(s))", values.len());
                    self.reject(l, offset + pos as u64, &reason, text.as_bytes());
                    return;
                }
            }
        }
        for v in values {
            let v = v.get();
            if v.starts_with('[') {
                match serde_json::from_str::<Vec<&RawValue>>(v) {
                    Ok(items) => {
                        for item in items {
                            let item = item.get();
                            let l = line_of(item);
                            self.record(item, l, at(item), RecordFormat::Json)
                        }
                    }
                    Err(e) => {
                        let l = line_of(v);
                        self.reject_err(v, l, at(v), &e)
                    }
                }
            } else {
                let l = line_of(v);
                self.record(v, l, at(v), RecordFormat::Json);
            }
        }
    }

    fn record(&mut self, text: &str, line: u64, offset: u64, format: RecordFormat) {
        if let Err(e) = self.try_record(text, line, offset, format) {
            self.reject_err(text, line, offset, &e);
        }
    }

    /// Decodes one record; on error every table is as it was before.
    fn try_record(
        &mut self,
        text: &str,
        line: u64,
        offset: u64,
        format: RecordFormat,
    ) -> Result<(), serde_json::Error> {
        let marks = self.tables.marks();
        let result = self.record_inner(text, line, offset, format);
        if result.is_err() {
            self.tables.truncate(&marks);
        }
        debug_assert!(self.tables.is_consistent());
        result
    }

    fn record_inner(
        &mut self,
        text: &str,
        line: u64,
        offset: u64,
        format: RecordFormat,
    ) -> Result<(), serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let marks = self.tables.marks();
        self.cx.course = CourseVote::None;
        let top = (&mut de).deserialize_any(TopSeed {
            t: &mut self.tables,
            cx: &mut self.cx,
        })?;
        de.end()?;
        let src = Source {
            file: &self.source,
            line,
            offset,
        };
        match top.kind() {
            Kind::Row => {
                finish_conversation(&mut self.tables, &mut self.cx, top, &marks, &src, format)?;
                self.stats.conversations += 1;
            }
            Kind::Convo => {
                finish_conversation(&mut self.tables, &mut self.cx, top, &marks, &src, format)?;
                self.stats.conversations += 1;
            }
            Kind::Document => {
                finish_document(&mut self.tables, top, &marks, &src);
                self.stats.documents += 1;
            }
            Kind::Unknown(why) => return Err(de::Error::custom(why)),
        }
        if !self.tables.is_consistent() {
            return Err(de::Error::custom("internal: unequal column lengths"));
        }
        Ok(())
    }

    fn reject_err(&mut self, text: &str, line: u64, offset: u64, e: &serde_json::Error) {
        let reason = match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ => format!("JSON: {e}"),
        };
        self.reject(line, offset, &reason, text.as_bytes());
    }

    fn reject(&mut self, line: u64, offset: u64, reason: &str, snippet: &[u8]) {
        self.stats.rejects += 1;
        let r = &mut self.tables.rejects;
        r.source_file.push(&self.source);
        r.source_line.push(line as i64);
        r.byte_offset.push(offset as i64);
        r.reason.push(reason);
        let text = String::from_utf8_lossy(&snippet[..snippet.len().min(SNIPPET_CHARS * 4)]);
        let cut: String = text.chars().take(SNIPPET_CHARS).collect();
        r.snippet.push(&cut);
    }
}

/// Line numbers of positions in a text, counted forward from the last position asked.
struct LineIndex {
    pos: usize,
    line: u64,
}

impl LineIndex {
    fn line_at(&mut self, text: &str, pos: usize) -> u64 {
        if pos > self.pos {
            self.line += memchr::memchr_iter(b'\n', &text.as_bytes()[self.pos..pos]).count() as u64;
            self.pos = pos;
        }
        self.line
    }
}

/// Where a record came from.
struct Source<'a> {
    file: &'a str,
    line: u64,
    offset: u64,
}
