//! The line decoder: bytes of JSON lines in, rows of the six tables out. It does no I/O, so
//! files, zip members, gzip and zstd streams, CSV cells and unit tests all feed it the same way.
//!
//! Each record is parsed once, by serde visitors that write straight into the column
//! buffers of [`TableBuilders`]; only small values are looked at twice. Anything a column
//! cannot hold exactly goes to the row's `extra` JSON object (see [`Extra`]), so that the
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

use crate::columns::{Column, StrCol};
use crate::model::{format_timestamp_js, format_timestamp_pg, parse_timestamp, push_json_str};
use crate::schema::{Table, TableBuilders};

/// Longest snippet of a rejected record kept in `rejects`.
const SNIPPET_CHARS: usize = 200;

/// Counts of what a decoder saw; they add up (see [`DecodeStats::reconciles`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

    /// What was seen so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Bytes held in the tables, to decide when to cut a batch.
    pub fn buffered_bytes(&self) -> usize {
        self.tables.byte_size()
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
        let text = match std::str::from_utf8(bytes) {
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
        match std::str::from_utf8(bytes) {
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

// ---------------------------------------------------------------------------------------
// `extra`: the JSON object of everything without a column of its own.

/// A JSON object being written key by key.
#[derive(Default)]
pub(crate) struct Extra {
    buf: String,
    absent: Vec<&'static str>,
}

impl Extra {
    fn clear(&mut self) {
        self.buf.clear();
        self.absent.clear();
    }

    /// Adds `key` with `json` (already valid JSON text) as its value.
    fn raw(&mut self, key: &str, json: &str) {
        self.buf.push(if self.buf.is_empty() { '{' } else { ',' });
        push_json_str(&mut self.buf, key);
        self.buf.push(':');
        self.buf.push_str(json);
    }

    /// Notes that `key` was absent though its column was filled from another key.
    fn absent(&mut self, key: &'static str) {
        self.absent.push(key);
    }

    /// Closes the object and returns its text, or None when it has no key.
    fn close(&mut self) -> Option<&str> {
        if !self.absent.is_empty() {
            let mut list = String::from("[");
            for (i, k) in self.absent.iter().enumerate() {
                if i > 0 {
                    list.push(',');
                }
                push_json_str(&mut list, k);
            }
            list.push(']');
            self.absent.clear();
            self.raw("$absent", &list);
        }
        if self.buf.is_empty() {
            return None;
        }
        self.buf.push('}');
        Some(&self.buf)
    }

    /// Closes the object into `col` (null when empty) and clears it for the next row.
    fn close_into(&mut self, col: &mut StrCol) {
        col.push_opt(self.close());
        self.clear();
    }

    /// Closes the object and adds it as `key` of `parent`, even when empty.
    fn close_as(&mut self, parent: &mut Extra, key: &str) {
        let text = self.close().unwrap_or("{}").to_owned();
        parent.raw(key, &text);
        self.clear();
    }
}

// ---------------------------------------------------------------------------------------
// Scalar values and their columns.

/// A small JSON value looked at after the record was split into keys.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An object, an array, or a number beyond i64 and f64.
    Other,
}

fn scalar(raw: &RawValue) -> Scalar<'_> {
    let t = raw.get();
    match t.as_bytes().first() {
        Some(b'n') => Scalar::Null,
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'"') => match serde_json::from_str::<CowStr>(t) {
            Ok(CowStr(s)) => Scalar::Str(s),
            Err(_) => Scalar::Other,
        },
        Some(b'-' | b'0'..=b'9') => {
            if t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                // Beyond f64 (1e999) the text itself is kept, in `extra`.
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map_or(Scalar::Other, Scalar::Float)
            } else {
                t.parse()
                    .map(Scalar::Int)
                    .ok()
                    .or_else(|| {
                        t.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(Scalar::Float)
                    })
                    .unwrap_or(Scalar::Other)
            }
        }
        _ => Scalar::Other,
    }
}

/// A string that borrows from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Puts a string value in `col`; anything else goes to `extra` under `key`.
fn put_str(col: &mut StrCol, extra: &mut Extra, key: &str, raw: &RawValue) {
    match scalar(raw) {
        Scalar::Str(s) => col.push(&s),
        _ => {
            col.push_null();
            extra.raw(key, raw.get());
        }
    }
}

/// Returns a string value, or keeps a non-string value in `extra` and returns None.
fn take_str<'a>(extra: &mut Extra, key: &str, raw: &'a RawValue) -> Option<Cow<'a, str>> {
    match scalar(raw) {
        Scalar::Str(s) => Some(s),
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

/// Reads an integer value; `""`, numbers as strings and floats are kept in `extra` too.
fn take_int(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<i64> {
    match scalar(raw) {
        Scalar::Int(i) => Some(i),
        other => {
            extra.raw(key, raw.get());
            match other {
                Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
                Scalar::Str(s) => s.trim().parse().ok(),
                _ => None,
            }
        }
    }
}

/// Reads a number as f64; an integer literal is kept in `extra` too, since writing the
/// column back would print it with a decimal point.
fn take_f64(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<f64> {
    match scalar(raw) {
        Scalar::Float(f) => Some(f),
        Scalar::Int(i) => {
            extra.raw(key, raw.get());
            Some(i as f64)
        }
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

fn take_bool(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<bool> {
    match scalar(raw) {
        Scalar::Bool(b) => Some(b),
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

/// Reads a time (ISO text or epoch milliseconds). Unless `canonical` writes it back
/// character for character, the original is kept in `extra` too.
fn take_ts(
    extra: &mut Extra,
    key: &str,
    raw: &RawValue,
    canonical: fn(i64) -> String,
) -> Option<i64> {
    let v = match scalar(raw) {
        Scalar::Str(s) => parse_timestamp(&s)
            .filter(|us| canonical(*us) == *s)
            .or_else(|| {
                extra.raw(key, raw.get());
                parse_timestamp(&s)
            }),
        Scalar::Int(ms) => {
            extra.raw(key, raw.get());
            ms.checked_mul(1000)
        }
        _ => {
            extra.raw(key, raw.get());
            None
        }
    };
    v
}

// ---------------------------------------------------------------------------------------
// Keys.

/// An object key, borrowed when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        CowStr::deserialize(d).map(|c| c.0)
    }
}

use serde::Deserialize as _;

/// Re-serializes a value a visitor has already started reading, for `extra`.
fn any_to_json<'de, D: de::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.to_string())
}

fn map_to_json<'de, A: MapAccess<'de>>(map: A) -> Result<String, A::Error> {
    any_to_json(de::value::MapAccessDeserializer::new(map))
}

fn seq_to_json<'de, A: SeqAccess<'de>>(seq: A) -> Result<String, A::Error> {
    any_to_json(de::value::SeqAccessDeserializer::new(seq))
}

/// Implements the scalar `visit_*` methods of a visitor whose value is an object or array
/// by handing the scalar's JSON text to `self.other(text)`.
macro_rules! scalars_to_other {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(self.other(serde_json::Value::from(v).to_string()))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.other(crate::model::json_str(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(self.other("null".to_owned()))
        }
    };
}

// ---------------------------------------------------------------------------------------
// The top level of a record.

/// Keys of the top-level object that were not decoded on the way, with their raw values.
type Staged<'de> = Vec<(Cow<'de, str>, &'de RawValue)>;

/// What the top-level visitor found.
struct Top<'de> {
    staged: Staged<'de>,
    /// `convo` of a format-R row.
    convo: Option<Convo<'de>>,
    /// Number of `messages` decoded at the top level (format C); None if absent.
    messages: Option<Option<i32>>,
    /// Number of `contexts` decoded at the top level (documents); None if absent.
    chunks: Option<Option<i32>>,
    /// Non-array `messages` or `contexts`, kept for `extra`.
    odd: Vec<(&'static str, String)>,
}

enum Kind {
    Row,
    Convo,
    Document,
    Unknown(String),
}

impl Top<'_> {
    fn kind(&self) -> Kind {
        let has = |k: &str| self.staged.iter().any(|(key, _)| key == k);
        match (
            self.convo.is_some(),
            self.messages.is_some(),
            self.chunks.is_some(),
        ) {
            (true, false, false) => Kind::Row,
            (false, true, false) => Kind::Convo,
            (false, false, true) if has("readable_filename") || has("s3_path") || has("url") => {
                Kind::Document
            }
            (false, false, false) => {
                let keys: Vec<&str> = self.staged.iter().take(8).map(|(k, _)| &**k).collect();
                Kind::Unknown(format!(
                    "unrecognized record: no `convo`, `messages` or `contexts` key (keys: {})",
                    keys.join(", ")
                ))
            }
            _ => Kind::Unknown(
                "ambiguous record: more than one of `convo`, `messages`, `contexts`".into(),
            ),
        }
    }
}

struct TopSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top {
            staged: Vec::with_capacity(8),
            convo: None,
            messages: None,
            chunks: None,
            odd: Vec::new(),
        };
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "convo" if top.convo.is_none() => {
                    top.convo = Some(map.next_value_seed(ConvoSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?);
                }
                "messages" if top.messages.is_none() => {
                    let r = map.next_value_seed(MessagesSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?;
                    top.messages = Some(r.as_ref().ok().copied());
                    if let Err(text) = r {
                        top.odd.push(("messages", text));
                    }
                }
                "contexts" if top.chunks.is_none() => {
                    let r = map.next_value_seed(ChunksSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?;
                    top.chunks = Some(r.as_ref().ok().copied());
                    if let Err(text) = r {
                        top.odd.push(("contexts", text));
                    }
                }
                _ => {
                    let v: &RawValue = map.next_value()?;
                    top.staged.push((key, v));
                }
            }
        }
        Ok(top)
    }
}

// ---------------------------------------------------------------------------------------
// Conversations.

/// The `convo` object of a format-R row.
enum Convo<'de> {
    Object {
        staged: Staged<'de>,
        /// Number of messages; None if `messages` is absent; Err if not an array.
        messages: Option<Result<i32, String>>,
    },
    /// `null` or another non-object value, as JSON text.
    Other(String),
}

struct ConvoSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for ConvoSeed<'_> {
    type Value = Convo<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ConvoSeed<'_> {
    fn other<'de>(self, text: String) -> Convo<'de> {
        Convo::Other(text)
    }
}

impl<'de> Visitor<'de> for ConvoSeed<'_> {
    type Value = Convo<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a conversation object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(Convo::Other(seq_to_json(seq)?))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut staged = Vec::with_capacity(16);
        let mut messages = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "messages" && messages.is_none() {
                messages = Some(map.next_value_seed(MessagesSeed {
                    t: &mut *self.t,
                    cx: &mut *self.cx,
                })?);
            } else {
                staged.push((key, map.next_value()?));
            }
        }
        Ok(Convo::Object { staged, messages })
    }
}

/// Writes the conversation row once its messages and contexts are in, and gives the child
/// rows their `convo_id`.
fn finish_conversation(
    t: &mut TableBuilders,
    cx: &mut Scratch,
    top: Top<'_>,
    marks: &crate::schema::Marks,
    src: &Source<'_>,
    format: RecordFormat,
) -> Result<(), serde_json::Error> {
    let mut extra = Extra::default();
    let mut row_extra = Extra::default();
    let Top {
        staged: top_staged,
        convo,
        messages: top_messages,
        odd,
        ..
    } = top;
    for (k, text) in &odd {
        extra.raw(k, text);
    }

    // The convo object: the top level in format C, `convo` in format R.
    let is_row = convo.is_some();
    let mut convo_is_object = true;
    let (convo_staged, row_staged, message_count) = match convo {
        Some(Convo::Object { staged, messages }) => {
            let count = match messages {
                Some(Ok(n)) => Some(n),
                Some(Err(text)) => {
                    extra.raw("messages", &text);
                    None
                }
                None => None,
            };
            (staged, top_staged, count)
        }
        Some(Convo::Other(text)) => {
            convo_is_object = false;
            row_extra.raw("convo", &text);
            (Vec::new(), top_staged, None)
        }
        // A non-array `messages` is already in `extra` through `odd`.
        None => (top_staged, Vec::new(), top_messages.flatten()),
    };

    let mut convo_id = None;
    let (mut name, mut model_id, mut model_name, mut prompt, mut folder_id) =
        (None, None, None, None, None);
    let (mut temperature, mut updated_at) = (None, None);
    let (mut project, mut user_email_new, mut user_email_old, mut created_js) =
        (None, None, None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (key, raw) in &convo_staged {
        let key: &str = key;
        if seen.contains(&key) {
            // A repeated key: the last one wins when the record is rebuilt.
            extra.raw(key, raw.get());
            continue;
        }
        seen.push(key);
        match key {
            "id" => convo_id = take_str(&mut extra, key, raw),
            "name" => name = take_str(&mut extra, key, raw),
            "prompt" => prompt = take_str(&mut extra, key, raw),
            "folderId" => folder_id = take_str(&mut extra, key, raw),
            "temperature" => temperature = take_f64(&mut extra, key, raw),
            "updatedAt" => updated_at = take_ts(&mut extra, key, raw, format_timestamp_js),
            "model" => {
                if let Ok(entries) = object_entries(raw) {
                    let mut rest = Extra::default();
                    let mut seen_model: Vec<&str> = Vec::new();
                    for (mk, mv) in &entries {
                        let mk: &str = mk;
                        if seen_model.contains(&mk) {
                            rest.raw(mk, mv.get());
                            continue;
                        }
                        seen_model.push(mk);
                        match mk {
                            "id" => model_id = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                            "name" => model_name = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                            _ => rest.raw(mk, mv.get()),
                        }
                    }
                    rest.close_as(&mut extra, "model");
                } else {
                    extra.raw(key, raw.get());
                }
            }
            _ => {
                // No column of its own; some feed derived columns.
                extra.raw(key, raw.get());
                match (key, scalar(raw)) {
                    ("projectName", Scalar::Str(s)) => project = Some(s),
                    ("userEmail", Scalar::Str(s)) => user_email_new = Some(s),
                    ("user_email", Scalar::Str(s)) => user_email_old = Some(s),
                    ("createdAt", Scalar::Str(s)) => created_js = parse_timestamp(&s),
                    _ => {}
                }
            }
        }
    }

    // The format-R row around it.
    let (mut row_id, mut row_created, mut row_convo_id, mut row_course, mut summary) =
        (None, None, None, None, None);
    let mut row_email: Option<Option<Cow<str>>> = None;
    if is_row {
        let mut seen_row: Vec<&str> = Vec::new();
        let mut row_keys_absent = vec!["id", "created_at", "convo_id", "course_name", "user_email"];
        for (key, raw) in &row_staged {
            let key: &str = key;
            if seen_row.contains(&key) {
                row_extra.raw(key, raw.get());
                continue;
            }
            seen_row.push(key);
            row_keys_absent.retain(|k| *k != key);
            match key {
                "id" => row_id = take_int(&mut row_extra, key, raw),
                "created_at" => {
                    row_created = take_ts(&mut row_extra, key, raw, format_timestamp_pg)
                }
                "convo_id" => row_convo_id = take_str(&mut row_extra, key, raw),
                "course_name" => row_course = take_str(&mut row_extra, key, raw),
                "user_email" => {
                    row_email = Some(match scalar(raw) {
                        Scalar::Str(s) => Some(s),
                        Scalar::Null => None,
                        _ => {
                            row_extra.raw(key, raw.get());
                            None
                        }
                    })
                }
                "summary" => summary = take_str(&mut row_extra, key, raw),
                _ => row_extra.raw(key, raw.get()),
            }
        }
        for k in row_keys_absent {
            row_extra.absent(k);
        }
    }

    // Derived columns.
    let voted = match &cx.course {
        CourseVote::One(c) => Some(c.as_str()),
        _ => None,
    };
    let course_name = row_course.as_deref().or(project.as_deref()).or(voted);
    let user_email = row_email
        .clone()
        .flatten()
        .or(user_email_new.clone())
        .or(user_email_old.clone());
    // A row `user_email` of null next to a convo-level email cannot be told from the column.
    if is_row && matches!(row_email, Some(None)) && user_email.is_some() {
        row_extra.raw("user_email", "null");
    }
    let created_at = row_created.or(created_js);
    let id = row_convo_id.as_deref().or(convo_id.as_deref());
    if is_row {
        if let (Some(r), Some(c)) = (&row_convo_id, &convo_id) {
            if r != c {
                // Both are emitted from the one column; keep the convo's own id.
                extra.raw("id", &crate::model::json_str(c));
            }
        }
        if row_convo_id.is_none() && convo_id.is_some() {
            row_extra.absent("convo_id");
        }
        if convo_is_object && convo_id.is_none() && id.is_some() {
            extra.absent("id");
        }
        if row_created.is_none() && created_at.is_some() {
            row_extra.absent("created_at");
        }
    }
    if is_row {
        if let Some(text) = row_extra.close() {
            let text = text.to_owned();
            extra.raw("$row", &text);
        }
    }

    let c = &mut t.conversations;
    c.convo_id.push_opt(id);
    c.row_id.push_opt(row_id);
    c.course_name.push_opt(course_name);
    c.user_email.push_opt(user_email.as_deref());
    c.created_at.push_opt(created_at);
    c.updated_at.push_opt(updated_at);
    c.name.push_opt(name.as_deref());
    c.model_id.push_opt(model_id.as_deref());
    c.model_name.push_opt(model_name.as_deref());
    c.prompt.push_opt(prompt.as_deref());
    c.temperature.push_opt(temperature);
    c.folder_id.push_opt(folder_id.as_deref());
    c.message_count.push_opt(message_count);
    c.summary.push_opt(summary.as_deref());
    c.source_format.push(match (format, is_row) {
        (RecordFormat::Csv, _) => "CSV",
        (_, true) => "R",
        (_, false) => "C",
    });
    c.source_file.push(src.file);
    c.source_line.push(src.line as i64);
    c.source_offset.push(src.offset as i64);
    extra.close_into(&mut c.extra);

    // The child rows were appended without their parent's id, which may come last.
    for _ in marks[1]..t.messages.message_index.len() {
        t.messages.convo_id.push_opt(id);
    }
    for _ in marks[2]..t.contexts.context_index.len() {
        t.contexts.convo_id.push_opt(id);
    }
    Ok(())
}

/// The keys and raw values of a small object, or Err if `raw` is not an object.
fn object_entries(raw: &RawValue) -> Result<Staged<'_>, serde_json::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Staged<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = map.next_key_seed(KeySeed)? {
                out.push((k, map.next_value()?));
            }
            Ok(out)
        }
    }
    serde_json::Deserializer::from_str(raw.get()).deserialize_map(V)
}

// ---------------------------------------------------------------------------------------
// Messages.

/// Decodes a `messages` array into `messages` (and `contexts`) rows. Returns the count, or
/// Err(json text) when the value is not an array.
struct MessagesSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for MessagesSeed<'_> {
    type Value = Result<i32, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl MessagesSeed<'_> {
    fn other(self, text: String) -> Result<i32, String> {
        Err(text)
    }
}

impl<'de> Visitor<'de> for MessagesSeed<'_> {
    type Value = Result<i32, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of messages")
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Err(map_to_json(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0i32;
        while seq
            .next_element_seed(MessageSeed {
                t: &mut *self.t,
                cx: &mut *self.cx,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(Ok(index))
    }
}

struct MessageSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
    index: i32,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl MessageSeed<'_> {
    /// A message that is not an object: a row of nulls with the value in `extra.$value`.
    fn other(self, text: String) {
        let m = &mut self.t.messages;
        m.message_index.push(self.index);
        m.role.push_null();
        m.content.push_null();
        m.image_count.push_null();
        m.file_count.push_null();
        m.message_id.push_null();
        m.created_at.push_null();
        m.feedback_positive.push_null();
        m.feedback_category.push_null();
        m.feedback_details.push_null();
        m.context_count.push_null();
        m.system_message.push_null();
        m.final_prompt.push_null();
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.close_into(&mut m.extra);
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut staged: Staged<'de> = Vec::with_capacity(8);
        let mut contexts: Option<Result<i32, String>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "contexts" && contexts.is_none() {
                contexts = Some(map.next_value_seed(ContextsSeed {
                    t: &mut *self.t,
                    cx: &mut *self.cx,
                    message_index: self.index,
                })?);
            } else {
                staged.push((key, map.next_value()?));
            }
        }
        let m = &mut self.t.messages;
        let mut extra = Extra::default();
        let (mut role, mut content, mut message_id, mut created_at) = (None, None, None, None);
        let (mut system_message, mut final_prompt) = (None, None);
        let (mut positive, mut category, mut details) = (None, None, None);
        let (mut images, mut files) = (None, None);
        let mut seen: Vec<&str> = Vec::new();
        for (key, raw) in &staged {
            let key: &str = key;
            if seen.contains(&key) {
                extra.raw(key, raw.get());
                continue;
            }
            seen.push(key);
            match key {
                "role" => role = take_str(&mut extra, key, raw),
                "id" => message_id = take_str(&mut extra, key, raw),
                "created_at" => created_at = take_ts(&mut extra, key, raw, format_timestamp_pg),
                "latestSystemMessage" => system_message = take_str(&mut extra, key, raw),
                "finalPromtEngineeredMessage" => final_prompt = take_str(&mut extra, key, raw),
                "content" => match scalar(raw) {
                    Scalar::Str(s) => content = Some(s.into_owned()),
                    Scalar::Other if raw.get().starts_with('[') => {
                        extra.raw(key, raw.get());
                        let parts = content_parts(raw);
                        content = parts.text;
                        images = Some(parts.images);
                        files = Some(parts.files);
                    }
                    _ => extra.raw(key, raw.get()),
                },
                "feedback" => match object_entries(raw) {
                    Ok(entries) => {
                        let mut rest = Extra::default();
                        let mut seen_fb: Vec<&str> = Vec::new();
                        for (fk, fv) in &entries {
                            let fk: &str = fk;
                            if seen_fb.contains(&fk) {
                                rest.raw(fk, fv.get());
                                continue;
                            }
                            seen_fb.push(fk);
                            match fk {
                                "isPositive" => positive = take_bool(&mut rest, fk, fv),
                                "category" => {
                                    category = take_str(&mut rest, fk, fv).map(Cow::into_owned)
                                }
                                "details" => {
                                    details = take_str(&mut rest, fk, fv).map(Cow::into_owned)
                                }
                                _ => rest.raw(fk, fv.get()),
                            }
                        }
                        rest.close_as(&mut extra, "feedback");
                    }
                    Err(_) => extra.raw(key, raw.get()),
                },
                _ => extra.raw(key, raw.get()),
            }
        }
        let context_count = match contexts {
            Some(Ok(n)) => Some(n),
            Some(Err(text)) => {
                extra.raw("contexts", &text);
                None
            }
            None => None,
        };
        m.message_index.push(self.index);
        m.role.push_opt(role.as_deref());
        m.content.push_opt(content.as_deref());
        m.image_count.push_opt(images);
        m.file_count.push_opt(files);
        m.message_id.push_opt(message_id.as_deref());
        m.created_at.push_opt(created_at);
        m.feedback_positive.push_opt(positive);
        m.feedback_category.push_opt(category.as_deref());
        m.feedback_details.push_opt(details.as_deref());
        m.context_count.push_opt(context_count);
        m.system_message.push_opt(system_message.as_deref());
        m.final_prompt.push_opt(final_prompt.as_deref());
        extra.close_into(&mut m.extra);
        Ok(())
    }
}

/// What a content-part array holds.
struct Parts {
    /// Text parts joined by a newline; None when there is none.
    text: Option<String>,
    images: i32,
    files: i32,
}

fn content_parts(raw: &RawValue) -> Parts {
    #[derive(serde::Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        text: Option<Cow<'a, str>>,
    }
    let mut out = Parts {
        text: None,
        images: 0,
        files: 0,
    };
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
        return out;
    };
    for item in items {
        let Ok(part) = serde_json::from_str::<Part>(item.get()) else {
            continue;
        };
        match part.kind.as_deref() {
            Some("text") => {
                if let Some(t) = &part.text {
                    let buf = out.text.get_or_insert_with(String::new);
                    if !buf.is_empty() {
                        buf.push('\n');
                    }
                    buf.push_str(t);
                }
            }
            Some("image_url") => out.images += 1,
            Some("file") => out.files += 1,
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Contexts: the bulk of a conversation export, decoded straight into the columns.

struct ContextsSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
    message_index: i32,
}

impl<'de> DeserializeSeed<'de> for ContextsSeed<'_> {
    type Value = Result<i32, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ContextsSeed<'_> {
    fn other(self, text: String) -> Result<i32, String> {
        Err(text)
    }
}

impl<'de> Visitor<'de> for ContextsSeed<'_> {
    type Value = Result<i32, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of contexts")
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Err(map_to_json(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0i32;
        while seq
            .next_element_seed(ContextSeed {
                t: &mut *self.t,
                cx: &mut *self.cx,
                message_index: self.message_index,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(Ok(index))
    }
}

struct ContextSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
    message_index: i32,
    index: i32,
}

impl<'de> DeserializeSeed<'de> for ContextSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Bits of `ContextSeed`'s seen set, one per modeled key.
mod ctx_key {
    pub const TEXT: u16 = 1;
    pub const FILE: u16 = 2;
    pub const COURSE: u16 = 4;
    pub const S3: u16 = 8;
    pub const URL: u16 = 16;
    pub const BASE: u16 = 32;
    pub const PAGE: u16 = 64;
    pub const CHUNK: u16 = 128;
    pub const GROUPS: u16 = 256;
}

impl ContextSeed<'_> {
    fn other(self, text: String) {
        let c = &mut self.t.contexts;
        c.message_index.push(self.message_index);
        c.context_index.push(self.index);
        fill_context_nulls(c, 0);
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.close_into(&mut c.extra);
    }
}

/// Appends nulls to the modeled columns not in `seen`.
fn fill_context_nulls(c: &mut crate::schema::ContextsBuilder, seen: u16) {
    use ctx_key::*;
    let cols: [(u16, &mut StrCol); 7] = [
        (TEXT, &mut c.text),
        (FILE, &mut c.readable_filename),
        (COURSE, &mut c.course_name),
        (S3, &mut c.s3_path),
        (URL, &mut c.url),
        (BASE, &mut c.base_url),
        (CHUNK, &mut c.chunk_ref),
    ];
    for (bit, col) in cols {
        if seen & bit == 0 {
            col.push_null();
        }
    }
    if seen & PAGE == 0 {
        c.pagenumber.push_null();
    }
    if seen & GROUPS == 0 {
        c.doc_groups.push_null();
    }
}

impl<'de> Visitor<'de> for ContextSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a context object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use ctx_key::*;
        let c = &mut self.t.contexts;
        let extra = &mut self.cx.ctx_extra;
        extra.clear();
        let mut seen = 0u16;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let (bit, col) = match &*key {
                "text" => (TEXT, &mut c.text),
                "readable_filename" => (FILE, &mut c.readable_filename),
                "course_name " => (COURSE, &mut c.course_name),
                "s3_path" => (S3, &mut c.s3_path),
                "url" => (URL, &mut c.url),
                "base_url" => (BASE, &mut c.base_url),
                "pagenumber" if seen & PAGE == 0 => {
                    seen |= PAGE;
                    let raw: &RawValue = map.next_value()?;
                    let v = match raw.get() {
                        "\"\"" => {
                            extra.raw("pagenumber", "\"\"");
                            None
                        }
                        _ => take_int(extra, "pagenumber", raw),
                    };
                    c.pagenumber.push_opt(v);
                    continue;
                }
                "doc_groups" if seen & GROUPS == 0 => {
                    seen |= GROUPS;
                    let raw: &RawValue = map.next_value()?;
                    match serde_json::from_str::<Vec<CowStr>>(raw.get()) {
                        Ok(groups) => {
                            for g in &groups {
                                c.doc_groups.push_item(&g.0);
                            }
                            c.doc_groups.end_row(true);
                        }
                        Err(_) => {
                            extra.raw("doc_groups", raw.get());
                            c.doc_groups.push_null();
                        }
                    }
                    continue;
                }
                "chunk_index" | "url_chunk_index" if seen & CHUNK == 0 => {
                    seen |= CHUNK;
                    let raw: &RawValue = map.next_value()?;
                    if key == "url_chunk_index" {
                        // Column filled from the alternate key, kept as is for the rebuild.
                        extra.raw(&key, raw.get());
                        extra.absent("chunk_index");
                        match scalar(raw) {
                            Scalar::Str(s) => c.chunk_ref.push(&s),
                            _ => c.chunk_ref.push_null(),
                        }
                    } else {
                        put_str(&mut c.chunk_ref, extra, &key, raw);
                    }
                    continue;
                }
                _ => {
                    let raw: &RawValue = map.next_value()?;
                    extra.raw(&key, raw.get());
                    continue;
                }
            };
            if seen & bit != 0 {
                let raw: &RawValue = map.next_value()?;
                extra.raw(&key, raw.get());
                continue;
            }
            seen |= bit;
            let before = col.len();
            map.next_value_seed(StrInto {
                col: &mut *col,
                extra: &mut *extra,
                key: &key,
            })?;
            debug_assert_eq!(col.len(), before + 1);
            if bit == COURSE {
                if let Some(s) = col.get(before) {
                    self.cx.course.vote(s);
                }
            }
        }
        c.message_index.push(self.message_index);
        c.context_index.push(self.index);
        fill_context_nulls(c, seen);
        extra.close_into(&mut c.extra);
        Ok(())
    }
}

/// Decodes a string value straight into a column; other values become null with the
/// value in `extra`.
struct StrInto<'a> {
    col: &'a mut StrCol,
    extra: &'a mut Extra,
    key: &'a str,
}

impl<'de> DeserializeSeed<'de> for StrInto<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl StrInto<'_> {
    fn other(self, text: String) {
        self.col.push_null();
        self.extra.raw(self.key, &text);
    }
}

impl<'de> Visitor<'de> for StrInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.other(serde_json::Value::from(v).to_string());
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.other("null".into());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.col.push(v);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let text = map_to_json(map)?;
        self.other(text);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Documents and their chunks.

struct ChunksSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for ChunksSeed<'_> {
    type Value = Result<i32, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ChunksSeed<'_> {
    fn other(self, text: String) -> Result<i32, String> {
        Err(text)
    }
}

impl<'de> Visitor<'de> for ChunksSeed<'_> {
    type Value = Result<i32, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of chunks")
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Err(map_to_json(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0i32;
        while seq
            .next_element_seed(ChunkSeed {
                t: &mut *self.t,
                cx: &mut *self.cx,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(Ok(index))
    }
}

struct ChunkSeed<'a> {
    t: &'a mut TableBuilders,
    cx: &'a mut Scratch,
    index: i32,
}

impl<'de> DeserializeSeed<'de> for ChunkSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ChunkSeed<'_> {
    fn other(self, text: String) {
        let k = &mut self.t.chunks;
        k.chunk_index.push(i64::from(self.index));
        k.text.push_null();
        k.pagenumber.push_null();
        k.timestamp.push_null();
        k.embedding.push_null();
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.absent("chunk_index");
        extra.close_into(&mut k.extra);
    }
}

/// Parses a JSON array of numbers into `out` as f32; false (with `out` as it was) if the
/// text is anything else.
fn parse_f32_array(text: &str, out: &mut Vec<f32>) -> bool {
    let start = out.len();
    let b = text.as_bytes();
    let mut i = 1; // after '['
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if b.get(i) == Some(&b']') {
        return i + 1 == b.len();
    }
    loop {
        skip_ws(&mut i);
        // JSON numbers only: fast-float also reads `inf`/`nan`, which JSON has not.
        if !matches!(b.get(i), Some(b'-' | b'0'..=b'9')) {
            out.truncate(start);
            return false;
        }
        match fast_float2::parse_partial::<f32, _>(&b[i..]) {
            Ok((v, n)) => {
                out.push(v);
                i += n;
            }
            Err(_) => {
                out.truncate(start);
                return false;
            }
        }
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') if i + 1 == b.len() => return true,
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
}

impl<'de> Visitor<'de> for ChunkSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a chunk object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        const TEXT: u8 = 1;
        const PAGE: u8 = 2;
        const TIME: u8 = 4;
        const EMB: u8 = 8;
        const INDEX: u8 = 16;
        let k = &mut self.t.chunks;
        let extra = &mut self.cx.chunk_extra;
        extra.clear();
        let mut seen = 0u8;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let bit = match &*key {
                "text" => TEXT,
                "pagenumber" => PAGE,
                "timestamp" => TIME,
                "embedding" => EMB,
                "chunk_index" => INDEX,
                _ => 0,
            };
            if bit == 0 || seen & bit != 0 {
                let raw: &RawValue = map.next_value()?;
                extra.raw(&key, raw.get());
                continue;
            }
            seen |= bit;
            match bit {
                TEXT => map.next_value_seed(StrInto {
                    col: &mut k.text,
                    extra: &mut *extra,
                    key: &key,
                })?,
                EMB => {
                    let raw: &RawValue = map.next_value()?;
                    let t = raw.get();
                    if t.starts_with('[') && parse_f32_array(t, k.embedding.values()) {
                        k.embedding.end_row(true);
                    } else {
                        // The `""` placeholder of the 2025-10 worker, or anything else.
                        extra.raw(&key, t);
                        k.embedding.push_null();
                    }
                }
                _ => {
                    let raw: &RawValue = map.next_value()?;
                    let v = take_int(extra, &key, raw);
                    match bit {
                        PAGE => k.pagenumber.push_opt(v),
                        TIME => k.timestamp.push_opt(v),
                        _ => {
                            if v.is_none() {
                                // Not a number: the position stands in, the value is in extra.
                                k.chunk_index.push(i64::from(self.index));
                            } else {
                                k.chunk_index.push_opt(v);
                            }
                        }
                    }
                }
            }
        }
        if seen & TEXT == 0 {
            k.text.push_null();
        }
        if seen & PAGE == 0 {
            k.pagenumber.push_null();
        }
        if seen & TIME == 0 {
            k.timestamp.push_null();
        }
        if seen & EMB == 0 {
            k.embedding.push_null();
        }
        if seen & INDEX == 0 {
            k.chunk_index.push(i64::from(self.index));
            extra.absent("chunk_index");
        }
        extra.close_into(&mut k.extra);
        Ok(())
    }
}

fn finish_document(
    t: &mut TableBuilders,
    top: Top<'_>,
    marks: &crate::schema::Marks,
    src: &Source<'_>,
) {
    let d = &mut t.documents;
    let mut extra = Extra::default();
    for (k, text) in &top.odd {
        extra.raw(k, text);
    }
    let (mut id, mut created, mut course, mut s3, mut file, mut url, mut base) =
        (None, None, None, None, None, None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (key, raw) in &top.staged {
        let key: &str = key;
        if seen.contains(&key) {
            extra.raw(key, raw.get());
            continue;
        }
        seen.push(key);
        match key {
            "id" => id = take_int(&mut extra, key, raw),
            "created_at" => created = take_ts(&mut extra, key, raw, format_timestamp_pg),
            "course_name" => course = take_str(&mut extra, key, raw),
            "s3_path" => s3 = take_str(&mut extra, key, raw),
            "readable_filename" => file = take_str(&mut extra, key, raw),
            "url" => url = take_str(&mut extra, key, raw),
            "base_url" => base = take_str(&mut extra, key, raw),
            _ => extra.raw(key, raw.get()),
        }
    }
    d.doc_id.push_opt(id);
    d.created_at.push_opt(created);
    d.course_name.push_opt(course.as_deref());
    d.s3_path.push_opt(s3.as_deref());
    d.readable_filename.push_opt(file.as_deref());
    d.url.push_opt(url.as_deref());
    d.base_url.push_opt(base.as_deref());
    d.chunk_count.push_opt(top.chunks.flatten());
    d.source_file.push(src.file);
    d.source_line.push(src.line as i64);
    d.source_offset.push(src.offset as i64);
    extra.close_into(&mut d.extra);
    let k = &mut t.chunks;
    for _ in marks[4]..k.chunk_index.len() {
        k.doc_id.push_opt(id);
        k.course_name.push_opt(course.as_deref());
        k.s3_path.push_opt(s3.as_deref());
        k.url.push_opt(url.as_deref());
    }
}
