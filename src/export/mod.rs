//! `chatql export`: conversations and documents out again, as OpenAI fine-tuning JSONL,
//! ShareGPT, feedback datasets (KTO, DPO), annotation samples, or the original UIUC.chat
//! formats rebuilt from the tables.
//!
//! Export always reads a converted lake, walking the tables in order: a conversation row,
//! then its `message_count` message rows, each followed by its `context_count` context rows
//! (documents and `chunk_count` chunks likewise). Raw inputs are first converted into a
//! temporary lake, so deduplication and every ingest rule apply, and memory stays bounded.

pub mod annotation;
pub mod chatgpt;
pub mod cursor;
pub mod openai;
pub mod output;
pub mod preference;
pub mod uiuc;
pub mod vector;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

use crate::error::{Error, Result};
use crate::lake::{AsOf, LakeSnapshot};
use crate::table::col::{conversations as cv, documents as dc, messages as ms};
use crate::table::redact::Redactor;

pub use annotation::{Sampling, Stratum};
pub use cursor::{for_each_conversation, for_each_document, Conversation, Document, Row};
use output::{in_training, Output};
pub use output::{is_stdout, validation_path};
pub use uiuc::{conversation_json, document_json};
pub use vector::VectorSettings;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// OpenAI chat fine-tuning JSONL.
    #[value(name = "openai")]
    OpenAi,
    /// ShareGPT JSONL.
    #[value(name = "sharegpt")]
    ShareGpt,
    /// One line per rated answer: prompt, completion, label (TRL's KTO format).
    Kto,
    /// Preference pairs of the same question rated up and down: prompt, chosen, rejected
    /// (TRL's DPO format).
    Dpo,
    /// A stratified sample as a CSV to annotate (`--sample N`).
    Annotation,
    /// Format R rows (`{id, created_at, convo, convo_id, course_name, user_email}`).
    UiucRows,
    /// Format C conversation objects.
    UiucConvo,
    /// Document lines with their chunks and embeddings.
    UiucDocs,
    /// ChatGPT's `conversations.json` (Open WebUI and LibreChat import it).
    #[value(name = "chatgpt")]
    ChatGpt,
    /// PostgreSQL with pgvector (`-o postgresql://user@host:port/db`).
    Pgvector,
    /// A Chroma server (`-o http://host:port`).
    Chroma,
    /// A Qdrant server (`-o http://host:port`), with the platform's payload.
    Qdrant,
    /// Pinecone's bulk-import Parquet layout (`-o FOLDER`).
    Pinecone,
    /// Parquet tables with fixed-size vectors for LanceDB (`-o FOLDER`).
    #[value(name = "lancedb")]
    LanceDb,
}

impl Target {
    /// The vector store this target loads, if it is one.
    pub fn destination(self) -> Option<vector::Destination> {
        use vector::Destination as D;
        Some(match self {
            Target::Pgvector => D::Pgvector,
            Target::Chroma => D::Chroma,
            Target::Qdrant => D::Qdrant,
            Target::Pinecone => D::Pinecone,
            Target::LanceDb => D::LanceDb,
            _ => return None,
        })
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    /// The sample (annotation only).
    pub sampling: Option<Sampling>,
    /// How raw inputs are read (threads, longest record).
    pub ingest: crate::ingest::IngestOptions,
    /// The lake version to read (the latest when `None`).
    pub as_of: Option<AsOf>,
    /// Vector stores: collection, layout, batch size, Chroma's tenant and database.
    pub vector: VectorSettings,
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
    /// Conversations in the annotation sample.
    pub sampled: u64,
    /// Cells (strata) the annotation sample covers.
    pub cells: u64,
    /// Records that could not be made valid for the format, by reason.
    pub skipped: Vec<(String, u64)>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl ExportReport {
    pub(crate) fn skip(&mut self, reason: &str) {
        match self.skipped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason.to_owned(), 1)),
        }
    }
}

fn passes(c: &Conversation, f: &Filters, allowed: Option<&HashSet<(String, i64)>>) -> bool {
    let r = &c.row;
    let created = r.ts(cv::created_at);
    if f.since.is_some_and(|s| created.is_none_or(|t| t < s)) {
        return false;
    }
    if f.until.is_some_and(|u| created.is_none_or(|t| t >= u)) {
        return false;
    }
    if !f.courses.is_empty()
        && !r
            .str(cv::course_name)
            .is_some_and(|x| f.courses.iter().any(|c| c == x))
    {
        return false;
    }
    if !f.users.is_empty()
        && !r
            .str(cv::user_email)
            .is_some_and(|x| f.users.iter().any(|u| u.eq_ignore_ascii_case(x)))
    {
        return false;
    }
    if let Some(n) = f.min_turns {
        let users = c
            .messages
            .iter()
            .filter(|(m, _)| m.str(ms::role) == Some("user"))
            .count();
        if users < n {
            return false;
        }
    }
    if let Some(sign) = f.feedback {
        if !c
            .messages
            .iter()
            .any(|(m, _)| m.bool(ms::feedback_positive) == Some(sign))
        {
            return false;
        }
    }
    if let Some(set) = allowed {
        let key = (
            r.str(cv::source_file).unwrap_or("").to_owned(),
            r.i64(cv::source_offset).unwrap_or(-1),
        );
        if !set.contains(&key) {
            return false;
        }
    }
    true
}

/// The lakes an export reads: the inputs themselves, or a temporary lake converted from
/// raw inputs (removed when the second value drops), each pinned at one version.
async fn open_lakes(
    args: &[String],
    opts: &ExportOptions,
) -> Result<(Vec<LakeSnapshot>, Option<crate::lake::fs::Scratch>)> {
    // Pinned here, so that the filter and the walk read the same version of each lake.
    if let crate::lake::Opened::Lakes(lakes) = crate::lake::InputKind::open(args, opts.as_of)? {
        return Ok((lakes, None));
    }
    let tmp = crate::lake::fs::Scratch::new("chatql-export-")?;
    let lake = tmp.path().join("lake");
    let mut copts = crate::lake::convert::ConvertOptions::new(&lake);
    copts.keep_duplicates = opts.keep_duplicates;
    copts.ingest = opts.ingest.clone();
    let args = args.to_vec();
    tokio::task::spawn_blocking(move || crate::lake::convert::convert(&args, &copts))
        .await
        .map_err(|e| Error::Internal(format!("convert task failed: {e}")))??;
    let lakes = vec![LakeSnapshot::load(&lake, None)?];
    Ok((lakes, Some(tmp)))
}

/// Exports the inputs (raw exports, or folders written by `chatql convert`) to a file.
pub async fn export(args: &[String], opts: &ExportOptions) -> Result<ExportReport> {
    if opts.target.destination().is_some() {
        return Err(Error::Usage(format!(
            "--to {:?} loads a vector store: use export_vectors",
            opts.target
        )));
    }
    if output::is_stdout(&opts.output) && opts.split.is_some() {
        return Err(Error::Usage(
            "--split writes two files: give -o FILE, not standard output".into(),
        ));
    }
    for p in std::iter::once(opts.output.clone())
        .chain(opts.split.map(|_| validation_path(&opts.output)))
        .filter(|p| !output::is_stdout(p))
    {
        if crate::store::exists(&p)? && !opts.force {
            return Err(Error::OutputExists(p));
        }
    }
    let (lakes, tmp) = open_lakes(args, opts).await?;
    let allowed = match &opts.filters.where_sql {
        Some(pred) => Some(where_set(&lakes, pred).await?),
        None => None,
    };
    // Reading the lake and writing the file is blocking I/O: off the async workers.
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || {
        let report = write_lakes(&lakes, &opts, allowed.as_ref());
        drop(tmp);
        report
    })
    .await
    .map_err(|e| Error::Internal(format!("export task failed: {e}")))?
}

/// Loads the documents of the inputs, with their embeddings, into a vector store.
pub async fn export_vectors(args: &[String], opts: &ExportOptions) -> Result<vector::VectorReport> {
    let Some(destination) = opts.target.destination() else {
        return Err(Error::Usage(format!(
            "--to {:?} is not a vector store",
            opts.target
        )));
    };
    let f = &opts.filters;
    if !f.users.is_empty() || f.min_turns.is_some() || f.feedback.is_some() || f.where_sql.is_some()
    {
        return Err(Error::Usage(
            "--user, --min-turns, --feedback and --where select conversations; documents take \
             --course, --since and --until"
                .into(),
        ));
    }
    let vopts = vector::VectorOptions {
        destination,
        url: opts.output.to_string_lossy().into_owned(),
        settings: opts.vector.clone(),
        courses: f.courses.clone(),
        since: f.since,
        until: f.until,
        redact_key: opts.redact_key.clone(),
        force: opts.force,
    };
    let (lakes, tmp) = open_lakes(args, opts).await?;
    tokio::task::spawn_blocking(move || {
        let report = vector::load(&lakes, &vopts);
        drop(tmp);
        report
    })
    .await
    .map_err(|e| Error::Internal(format!("export task failed: {e}")))?
}

/// Writes the conversations (or documents) of `lakes` that pass the filters.
fn write_lakes(
    lakes: &[LakeSnapshot],
    opts: &ExportOptions,
    allowed: Option<&HashSet<(String, i64)>>,
) -> Result<ExportReport> {
    let redactor = opts.redact_key.as_deref().map(Redactor::new);
    let mut report = ExportReport::default();
    let sample = match (&opts.sampling, opts.target) {
        (Some(s), Target::Annotation) => choose_sample(lakes, opts, allowed, s, &mut report)?,
        (None, Target::Annotation) => {
            return Err(Error::Usage(
                "--to annotation needs --sample N (conversations to take)".into(),
            ))
        }
        _ => HashMap::new(),
    };
    let mut train = Output::create(&opts.output)?;
    let mut val = match opts.split {
        Some(_) => Some(Output::create(&validation_path(&opts.output))?),
        None => None,
    };
    if opts.target == Target::ChatGpt {
        train.line("[")?;
        if let Some(v) = &mut val {
            v.line("[")?;
        }
    }
    let mut first = (true, true);
    if opts.target == Target::Annotation {
        let header = annotation::header_line();
        train.line(&header)?;
        if let Some(v) = &mut val {
            v.line(&header)?;
        }
    }
    let mut emit = |line: String, id: &str, report: &mut ExportReport| -> Result<()> {
        let line = match &redactor {
            Some(r) => r.redact_text(&line),
            None => line,
        };
        // conversations.json is one array: items after the first take a comma.
        let sep = |first: &mut bool| match (opts.target, std::mem::replace(first, false)) {
            (Target::ChatGpt, false) => ",",
            _ => "",
        };
        match (&mut val, opts.split) {
            (Some(v), Some(frac)) if !in_training(id, frac) => {
                v.line(&format!("{}{line}", sep(&mut first.1)))?;
                report.validation += 1;
            }
            _ => {
                train.line(&format!("{}{line}", sep(&mut first.0)))?;
                report.written += 1;
            }
        }
        Ok(())
    };
    let mut pairs = preference::Pairs::default();
    for lake in lakes {
        if opts.target == Target::UiucDocs {
            for_each_document(lake, |d| {
                let id = format!("{:?}", d.row.i64(dc::doc_id));
                let v = document_json(&d);
                emit(v.to_string(), &id, &mut report)
            })?;
            continue;
        }
        for_each_conversation(lake, |c| {
            if !passes(&c, &opts.filters, allowed) {
                report.filtered += 1;
                return Ok(());
            }
            let id = c.row.str(cv::convo_id).unwrap_or("").to_owned();
            let line = match opts.target {
                Target::UiucRows => Ok(conversation_json(&c, true)),
                Target::UiucConvo => Ok(conversation_json(&c, false)),
                Target::OpenAi => openai::openai_line(&c, opts),
                Target::ShareGpt => openai::sharegpt_line(&c, opts),
                Target::Kto => {
                    for v in preference::kto_lines(&c, opts, &mut report) {
                        emit(v.to_string(), &id, &mut report)?;
                    }
                    return Ok(());
                }
                Target::Dpo => {
                    pairs.add(&c, opts, &mut report);
                    return Ok(());
                }
                Target::Annotation => {
                    if let Some(cell) = sample.get(&id) {
                        report.sampled += 1;
                        for row in annotation::rows(&c, cell) {
                            emit(row, &id, &mut report)?;
                        }
                    }
                    return Ok(());
                }
                Target::ChatGpt => chatgpt::conversation(&c),
                Target::UiucDocs
                | Target::Pgvector
                | Target::Chroma
                | Target::Qdrant
                | Target::Pinecone
                | Target::LanceDb => unreachable!("handled above and in export_vectors"),
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
    for (id, line) in std::mem::take(&mut pairs).finish(&mut report) {
        emit(line.to_string(), &id, &mut report)?;
    }
    if opts.target == Target::ChatGpt {
        train.line("]")?;
        if let Some(v) = &mut val {
            v.line("]")?;
        }
    }
    report.files.push(train.commit()?);
    if let Some(v) = val {
        report.files.push(v.commit()?);
    }
    Ok(report)
}

/// The annotation sample: each chosen conversation's id with its cell (a first pass over the
/// lakes; see [`annotation`]).
fn choose_sample(
    lakes: &[LakeSnapshot],
    opts: &ExportOptions,
    allowed: Option<&HashSet<(String, i64)>>,
    s: &Sampling,
    report: &mut ExportReport,
) -> Result<HashMap<String, String>> {
    let mut seen = Vec::new();
    let mut cells = HashMap::new();
    for lake in lakes {
        for_each_conversation(lake, |c| {
            if passes(&c, &opts.filters, allowed) {
                let id = c.row.str(cv::convo_id).unwrap_or("").to_owned();
                let cell = annotation::cell(&c, &s.stratify);
                seen.push((cell.clone(), annotation::rank(s.seed, &id), id.clone()));
                cells.insert(id, cell);
            }
            Ok(())
        })?;
    }
    let chosen = annotation::choose(seen, s.size);
    cells.retain(|id, _| chosen.contains(id));
    report.cells = {
        let mut distinct: Vec<&String> = cells.values().collect();
        distinct.sort();
        distinct.dedup();
        distinct.len() as u64
    };
    Ok(cells)
}

/// The (source_file, source_offset) of the conversations a SQL predicate selects.
async fn where_set(lakes: &[LakeSnapshot], pred: &str) -> Result<HashSet<(String, i64)>> {
    let mut out = HashSet::new();
    // One catalog per lake, at the version the walk reads.
    for lake in lakes {
        let args = vec![lake.dir.to_string_lossy().into_owned()];
        let opts = crate::query::CatalogOptions {
            as_of: Some(AsOf::Version(lake.version)),
            ..Default::default()
        };
        out.extend(where_set_of(&args, &opts, pred).await?);
    }
    Ok(out)
}

async fn where_set_of(
    args: &[String],
    opts: &crate::query::CatalogOptions,
    pred: &str,
) -> Result<HashSet<(String, i64)>> {
    let sql = format!("SELECT source_file, source_offset FROM conversations WHERE {pred}");
    let mut cat = crate::query::Catalog::open(args, opts).await?;
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
}
