//! `chatql export`: conversations and documents out again, as OpenAI fine-tuning JSONL,
//! ShareGPT, or the original UIUC.chat formats rebuilt from the tables.
//!
//! Export always reads a converted lake, walking the tables in order: a conversation row,
//! then its `message_count` message rows, each followed by its `context_count` context rows
//! (documents and `chunk_count` chunks likewise). Raw inputs are first converted into a
//! temporary lake, so deduplication and every ingest rule apply, and memory stays bounded.

pub mod openai;
pub mod redact;
pub mod uiuc;

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use serde_json::Value;

use crate::catalog::is_lake;
use crate::error::{Error, Result};
use crate::schema::Table;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// OpenAI chat fine-tuning lines.
    OpenAi,
    /// ShareGPT lines.
    ShareGpt,
    /// Format R rows (`{id, created_at, convo, convo_id, course_name, user_email}`).
    UiucRows,
    /// Format C conversation objects.
    UiucConvo,
    /// Document lines with their chunks and embeddings.
    UiucDocs,
}

/// Where the system message comes from (OpenAI and ShareGPT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemMessage {
    /// No system message.
    None,
    /// The conversation's `prompt`.
    Prompt,
    /// This text.
    Text(String),
}

/// Where retrieved contexts are inlined (OpenAI and ShareGPT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextPlacement {
    /// Not at all.
    None,
    /// In a system message before each question.
    System,
    /// Before the question, in the user message.
    User,
}

/// Which conversations are exported.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Created at or after (microseconds, UTC).
    pub since: Option<i64>,
    /// Created before (microseconds, UTC).
    pub until: Option<i64>,
    /// Only these courses.
    pub courses: Vec<String>,
    /// Only these users.
    pub users: Vec<String>,
    /// At least this many user messages.
    pub min_turns: Option<usize>,
    /// Only conversations with feedback of this sign on some answer.
    pub feedback: Option<bool>,
    /// A SQL predicate on `conversations`.
    pub where_sql: Option<String>,
}

/// Options of `export`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Output format.
    pub target: Target,
    /// Output file (`.gz` / `.zst` compress).
    pub output: PathBuf,
    /// System message source.
    pub system: SystemMessage,
    /// Plain-text content instead of content parts.
    pub text_only: bool,
    /// Where contexts are inlined.
    pub contexts: ContextPlacement,
    /// Which conversations.
    pub filters: Filters,
    /// Fraction for the training file; the rest goes to the validation file.
    pub split: Option<f64>,
    /// Key for email pseudonyms; None keeps emails.
    pub redact_key: Option<String>,
    /// Keep every version of duplicated conversations (raw inputs).
    pub keep_duplicates: bool,
    /// Replace an existing output file.
    pub force: bool,
}

/// What was written and skipped.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Lines written (to the training file when splitting).
    pub written: u64,
    /// Lines written to the validation file.
    pub validation: u64,
    /// Records left out by the filters.
    pub filtered: u64,
    /// Records that could not be made valid for the format, by reason.
    pub skipped: Vec<(String, u64)>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl ExportReport {
    fn skip(&mut self, reason: &str) {
        match self.skipped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason.to_owned(), 1)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading a lake in order.

/// Reads one table of a lake row by row, across its files in order (one file for a flat
/// lake, every partition's files for a partitioned one).
struct Cursor {
    files: std::vec::IntoIter<PathBuf>,
    reader: Option<ParquetRecordBatchReader>,
    batch: Option<RecordBatch>,
    row: usize,
    path: PathBuf,
}

impl Cursor {
    fn open(dir: &Path, t: Table) -> Result<Cursor> {
        let files = crate::partition::table_files(dir, t)?;
        let mut c = Cursor {
            files: files.into_iter(),
            reader: None,
            batch: None,
            row: 0,
            path: dir.join(t.name()),
        };
        c.open_next()?;
        Ok(c)
    }

    /// Moves to the next file; false when there is none.
    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.next() else {
            self.reader = None;
            return Ok(false);
        };
        self.reader = Some(crate::partition::open_reader(&path, None)?);
        self.path = path;
        Ok(true)
    }

    /// The next row, as (batch, index).
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(b) = &self.batch {
                if self.row < b.num_rows() {
                    self.row += 1;
                    return Ok(Some(Row {
                        b: b.clone(),
                        i: self.row - 1,
                    }));
                }
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            match reader.next() {
                Some(b) => {
                    self.batch = Some(b?);
                    self.row = 0;
                }
                None => {
                    if !self.open_next()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The next `n` rows; an error if the table ends first (an inconsistent lake).
    fn take(&mut self, n: usize) -> Result<Vec<Row>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.next()? {
                Some(r) => out.push(r),
                None => {
                    return Err(Error::Write {
                        path: self.path.clone(),
                        message: "fewer rows than the parent table's counts say".into(),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// One row of a batch, with typed access by column name.
#[derive(Clone)]
pub struct Row {
    b: RecordBatch,
    i: usize,
}

impl Row {
    fn col(&self, name: &str) -> &dyn Array {
        let idx = self.b.schema().index_of(name).expect("known column");
        self.b.column(idx).as_ref()
    }
    /// A string column.
    pub fn str(&self, name: &str) -> Option<&str> {
        let a = self.col(name).as_string::<i32>();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    fn prim<T: ArrowPrimitiveType>(&self, name: &str) -> Option<T::Native> {
        let a = self.col(name).as_primitive::<T>();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    /// An Int64 column.
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.prim::<Int64Type>(name)
    }
    /// An Int32 column.
    pub fn i32(&self, name: &str) -> Option<i32> {
        self.prim::<Int32Type>(name)
    }
    /// A Float64 column.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.prim::<Float64Type>(name)
    }
    /// A Boolean column.
    pub fn bool(&self, name: &str) -> Option<bool> {
        let a = self.col(name).as_boolean();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    /// A timestamp column, in microseconds.
    pub fn ts(&self, name: &str) -> Option<i64> {
        self.prim::<TimestampMicrosecondType>(name)
    }
    /// A `List<Float32>` column.
    pub fn f32s(&self, name: &str) -> Option<Vec<f32>> {
        let a = self.col(name).as_list::<i32>();
        a.is_valid(self.i).then(|| {
            a.value(self.i)
                .as_primitive::<Float32Type>()
                .values()
                .to_vec()
        })
    }
    /// A `List<Utf8>` column.
    pub fn strs(&self, name: &str) -> Option<Vec<String>> {
        let a = self.col(name).as_list::<i32>();
        a.is_valid(self.i).then(|| {
            let v = a.value(self.i);
            let s = v.as_string::<i32>();
            (0..s.len()).map(|j| s.value(j).to_owned()).collect()
        })
    }
}

/// A conversation with its messages and their contexts.
pub struct Conversation {
    /// The `conversations` row.
    pub row: Row,
    /// Each `messages` row with its `contexts` rows.
    pub messages: Vec<(Row, Vec<Row>)>,
}

/// A document with its chunks.
pub struct Document {
    /// The `documents` row.
    pub row: Row,
    /// Its `chunks` rows.
    pub chunks: Vec<Row>,
}

/// Walks the conversations of a lake in order, calling `f` for each.
pub fn for_each_conversation(
    dir: &Path,
    mut f: impl FnMut(Conversation) -> Result<()>,
) -> Result<()> {
    let mut convos = Cursor::open(dir, Table::Conversations)?;
    let mut messages = Cursor::open(dir, Table::Messages)?;
    let mut contexts = Cursor::open(dir, Table::Contexts)?;
    while let Some(row) = convos.next()? {
        let n = row.i32("message_count").unwrap_or(0).max(0) as usize;
        let mut msgs = Vec::with_capacity(n);
        for m in messages.take(n)? {
            let k = m.i32("context_count").unwrap_or(0).max(0) as usize;
            let ctx = contexts.take(k)?;
            msgs.push((m, ctx));
        }
        f(Conversation {
            row,
            messages: msgs,
        })?;
    }
    Ok(())
}

/// Walks the documents of a lake in order, calling `f` for each.
pub fn for_each_document(dir: &Path, mut f: impl FnMut(Document) -> Result<()>) -> Result<()> {
    let mut docs = Cursor::open(dir, Table::Documents)?;
    let mut chunks = Cursor::open(dir, Table::Chunks)?;
    while let Some(row) = docs.next()? {
        let n = row.i32("chunk_count").unwrap_or(0).max(0) as usize;
        let c = chunks.take(n)?;
        f(Document { row, chunks: c })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rebuilding UIUC records.

fn context_json(r: &Row) -> Value {
    let mut o = uiuc::Obj::new(uiuc::parse_extra(r.str("extra")));
    if let Some(v) = o.take_value() {
        return v;
    }
    o.put("text", uiuc::s(r.str("text")));
    o.put("readable_filename", uiuc::s(r.str("readable_filename")));
    o.put("course_name ", uiuc::s(r.str("course_name")));
    o.put("s3_path", uiuc::s(r.str("s3_path")));
    o.put("pagenumber", uiuc::i(r.i64("pagenumber")));
    o.put("url", uiuc::s(r.str("url")));
    o.put("base_url", uiuc::s(r.str("base_url")));
    o.put(
        "doc_groups",
        r.strs("doc_groups")
            .map(|g| Value::Array(g.into_iter().map(Value::String).collect())),
    );
    o.put("chunk_index", uiuc::s(r.str("chunk_ref")));
    o.finish()
}

fn message_json(m: &Row, contexts: &[Row]) -> Value {
    let mut o = uiuc::Obj::new(uiuc::parse_extra(m.str("extra")));
    if let Some(v) = o.take_value() {
        return v;
    }
    o.put("id", uiuc::s(m.str("message_id")));
    o.put("role", uiuc::s(m.str("role")));
    o.put("content", uiuc::s(m.str("content")));
    if m.i32("context_count").is_some() {
        o.put(
            "contexts",
            Some(Value::Array(contexts.iter().map(context_json).collect())),
        );
    }
    o.put("created_at", uiuc::ts_pg(m.ts("created_at")));
    o.put("latestSystemMessage", uiuc::s(m.str("system_message")));
    o.put(
        "finalPromtEngineeredMessage",
        uiuc::s(m.str("final_prompt")),
    );
    let kept = o.take_extra("feedback");
    let feedback = uiuc::merge_partial(
        kept,
        &[
            ("isPositive", uiuc::b(m.bool("feedback_positive"))),
            ("category", uiuc::s(m.str("feedback_category"))),
            ("details", uiuc::s(m.str("feedback_details"))),
        ],
    );
    o.put("feedback", feedback);
    o.finish()
}

/// The conversation as a format-C object; with `row`, wrapped in its format-R row.
pub fn conversation_json(c: &Conversation, as_row: bool) -> Value {
    let r = &c.row;
    let mut extra = uiuc::parse_extra(r.str("extra"));
    let row_extra = match extra.remove("$row") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut o = uiuc::Obj::new(extra);
    o.put("id", uiuc::s(r.str("convo_id")));
    o.put("name", uiuc::s(r.str("name")));
    if r.i32("message_count").is_some() {
        let msgs = c
            .messages
            .iter()
            .map(|(m, ctx)| message_json(m, ctx))
            .collect();
        o.put("messages", Some(Value::Array(msgs)));
    }
    let kept = o.take_extra("model");
    let model = uiuc::merge_partial(
        kept,
        &[
            ("id", uiuc::s(r.str("model_id"))),
            ("name", uiuc::s(r.str("model_name"))),
        ],
    );
    o.put("model", model);
    o.put("prompt", uiuc::s(r.str("prompt")));
    o.put("temperature", uiuc::f(r.f64("temperature")));
    o.put("folderId", uiuc::s(r.str("folder_id")));
    o.put("updatedAt", uiuc::ts_js(r.ts("updated_at")));
    let mut convo = o.finish();
    if !as_row {
        return convo;
    }
    let mut row = uiuc::Obj::new(row_extra);
    row.put_always("id", uiuc::i(r.i64("row_id")));
    row.put_always("created_at", uiuc::ts_pg(r.ts("created_at")));
    if let Some(v) = row.take_extra("convo") {
        convo = v;
    }
    row.put_always("convo", Some(convo));
    row.put_always("convo_id", uiuc::s(r.str("convo_id")));
    row.put_always("course_name", uiuc::s(r.str("course_name")));
    row.put_always("user_email", uiuc::s(r.str("user_email")));
    row.put("summary", uiuc::s(r.str("summary")));
    row.finish()
}

/// The document line with its chunks.
pub fn document_json(d: &Document) -> Value {
    let r = &d.row;
    let mut o = uiuc::Obj::new(uiuc::parse_extra(r.str("extra")));
    o.put("id", uiuc::i(r.i64("doc_id")));
    o.put("created_at", uiuc::ts_pg(r.ts("created_at")));
    o.put("s3_path", uiuc::s(r.str("s3_path")));
    o.put("readable_filename", uiuc::s(r.str("readable_filename")));
    o.put("course_name", uiuc::s(r.str("course_name")));
    o.put("url", uiuc::s(r.str("url")));
    if r.i32("chunk_count").is_some() {
        let chunks = d
            .chunks
            .iter()
            .map(|k| {
                let mut c = uiuc::Obj::new(uiuc::parse_extra(k.str("extra")));
                if let Some(v) = c.take_value() {
                    return v;
                }
                c.put("text", uiuc::s(k.str("text")));
                c.put("embedding", uiuc::embedding(k.f32s("embedding").as_deref()));
                c.put("timestamp", uiuc::i(k.i64("timestamp")));
                c.put("pagenumber", uiuc::i(k.i64("pagenumber")));
                c.put("chunk_index", uiuc::i(k.i64("chunk_index")));
                c.finish()
            })
            .collect();
        o.put("contexts", Some(Value::Array(chunks)));
    }
    o.put("base_url", uiuc::s(r.str("base_url")));
    o.finish()
}

// ---------------------------------------------------------------------------------------
// Filters, split, output.

fn passes(c: &Conversation, f: &Filters, allowed: Option<&HashSet<(String, i64)>>) -> bool {
    let r = &c.row;
    let created = r.ts("created_at");
    if f.since.is_some_and(|s| created.is_none_or(|t| t < s)) {
        return false;
    }
    if f.until.is_some_and(|u| created.is_none_or(|t| t >= u)) {
        return false;
    }
    if !f.courses.is_empty()
        && !r
            .str("course_name")
            .is_some_and(|x| f.courses.iter().any(|c| c == x))
    {
        return false;
    }
    if !f.users.is_empty()
        && !r
            .str("user_email")
            .is_some_and(|x| f.users.iter().any(|u| u.eq_ignore_ascii_case(x)))
    {
        return false;
    }
    if let Some(n) = f.min_turns {
        let users = c
            .messages
            .iter()
            .filter(|(m, _)| m.str("role") == Some("user"))
            .count();
        if users < n {
            return false;
        }
    }
    if let Some(sign) = f.feedback {
        if !c
            .messages
            .iter()
            .any(|(m, _)| m.bool("feedback_positive") == Some(sign))
        {
            return false;
        }
    }
    if let Some(set) = allowed {
        let key = (
            r.str("source_file").unwrap_or("").to_owned(),
            r.i64("source_offset").unwrap_or(-1),
        );
        if !set.contains(&key) {
            return false;
        }
    }
    true
}

/// Whether a conversation goes to the training file: a stable hash of its id.
fn in_training(id: &str, fraction: f64) -> bool {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("chatql-split-v1:{id}").as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) as f64 / u64::MAX as f64;
    x < fraction
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
struct Output {
    tmp: tempfile::NamedTempFile,
    writer: Box<dyn Write>,
    path: PathBuf,
}

impl Output {
    fn create(path: &Path) -> Result<Output> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, e))?;
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

    fn line(&mut self, text: &str) -> Result<()> {
        self.writer
            .write_all(text.as_bytes())
            .and_then(|_| self.writer.write_all(b"\n"))
            .map_err(|e| Error::io(&self.path, e))
    }

    fn commit(self) -> Result<PathBuf> {
        let Output {
            tmp,
            mut writer,
            path,
        } = self;
        writer.flush().map_err(|e| Error::io(&path, e))?;
        drop(writer); // finishes gzip / zstd frames
        crate::query::persist(tmp, &path)?;
        Ok(path)
    }
}

/// Exports the inputs (raw exports, or folders written by `chatql convert`).
pub fn export(args: &[String], opts: &ExportOptions) -> Result<ExportReport> {
    for p in std::iter::once(opts.output.clone())
        .chain(opts.split.map(|_| validation_path(&opts.output)))
    {
        if p.exists() && !opts.force {
            return Err(Error::OutputExists(p));
        }
    }
    // Raw inputs go through a temporary lake (removed on return).
    let (lakes, _tmp): (Vec<PathBuf>, Option<tempfile::TempDir>) =
        if !args.is_empty() && args.iter().all(|a| is_lake(Path::new(a))) {
            (args.iter().map(PathBuf::from).collect(), None)
        } else if args.iter().any(|a| is_lake(Path::new(a))) {
            return Err(Error::Usage(
                "give either folders written by `chatql convert` or raw exports, not both".into(),
            ));
        } else {
            let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let lake = tmp.path().join("lake");
            let mut copts = crate::convert::ConvertOptions::new(&lake);
            copts.keep_duplicates = opts.keep_duplicates;
            crate::convert::convert(args, &copts)?;
            (vec![lake], Some(tmp))
        };

    let allowed = match &opts.filters.where_sql {
        Some(pred) => Some(where_set(&lakes, pred)?),
        None => None,
    };
    let redactor = opts.redact_key.as_deref().map(redact::Redactor::new);
    let mut report = ExportReport::default();
    let mut train = Output::create(&opts.output)?;
    let mut val = match opts.split {
        Some(_) => Some(Output::create(&validation_path(&opts.output))?),
        None => None,
    };
    let mut emit = |line: String, id: &str, report: &mut ExportReport| -> Result<()> {
        let line = match &redactor {
            Some(r) => r.redact_text(&line),
            None => line,
        };
        match (&mut val, opts.split) {
            (Some(v), Some(frac)) if !in_training(id, frac) => {
                v.line(&line)?;
                report.validation += 1;
            }
            _ => {
                train.line(&line)?;
                report.written += 1;
            }
        }
        Ok(())
    };
    for lake in &lakes {
        if opts.target == Target::UiucDocs {
            for_each_document(lake, |d| {
                let id = format!("{:?}", d.row.i64("doc_id"));
                let v = document_json(&d);
                emit(v.to_string(), &id, &mut report)
            })?;
            continue;
        }
        for_each_conversation(lake, |c| {
            if !passes(&c, &opts.filters, allowed.as_ref()) {
                report.filtered += 1;
                return Ok(());
            }
            let id = c.row.str("convo_id").unwrap_or("").to_owned();
            let line = match opts.target {
                Target::UiucRows => Ok(conversation_json(&c, true)),
                Target::UiucConvo => Ok(conversation_json(&c, false)),
                Target::OpenAi => openai::openai_line(&c, opts),
                Target::ShareGpt => openai::sharegpt_line(&c, opts),
                Target::UiucDocs => unreachable!("handled above"),
            };
            match line {
                Ok(v) => emit(v.to_string(), &id, &mut report),
                Err(reason) => {
                    report.skip(reason);
                    Ok(())
                }
            }
        })?;
    }
    report.files.push(train.commit()?);
    if let Some(v) = val {
        report.files.push(v.commit()?);
    }
    Ok(report)
}

/// The (source_file, source_offset) of the conversations a SQL predicate selects.
fn where_set(lakes: &[PathBuf], pred: &str) -> Result<HashSet<(String, i64)>> {
    let args: Vec<String> = lakes
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let sql = format!("SELECT source_file, source_offset FROM conversations WHERE {pred}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let mut cat = crate::catalog::Catalog::open(&args, &Default::default()).await?;
        let mut out = HashSet::new();
        for (_, batches) in cat.run_sql(&sql).await? {
            for b in batches {
                let f = b.column(0).as_string::<i32>();
                let o = b.column(1).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    out.insert((f.value(i).to_owned(), o.value(i)));
                }
            }
        }
        Ok(out)
    })
}
