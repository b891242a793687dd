//! `chatql export`: conversations and documents out again, in training or original formats.

use std::path::PathBuf;

use anyhow::Result;
use chatql::export::vector::{PgLayout, VectorReport};
use chatql::export::{
    export, export_vectors, ContextPlacement, ExportOptions, Filters, Sampling, Stratum,
    SystemMessage, Target, VectorSettings,
};

use super::progress::InputBar;
use super::{emit, parse_date, AsOfArgs, DateArg, ReadArgs, RedactArgs};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FeedbackArg {
    Positive,
    Negative,
}

/// `--system`: `none`, `prompt`, or the text itself.
fn parse_system(s: &str) -> Result<SystemMessage, String> {
    Ok(match s {
        "none" => SystemMessage::None,
        "prompt" => SystemMessage::Prompt,
        text => SystemMessage::Text(text.to_owned()),
    })
}

/// `--split`: a fraction strictly between 0 and 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err("--split takes a fraction between 0 and 1, e.g. 0.9".into()),
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Raw exports, or folders written by `chatql convert` (local, or `s3://`, `gs://`,
    /// `az://`).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long = "to", value_enum)]
    to: Target,
    /// Output file, or an object (`s3://`, `gs://`, `az://`, uploaded whole at the end);
    /// `.gz` or `.zst` compresses; `-` writes to standard output (the summary then goes to
    /// standard error). Vector stores: `postgresql://user@host:port/db` (pgvector; password
    /// from the URL or PGPASSWORD), `http://host:port` (chroma, qdrant), a folder (pinecone,
    /// lancedb).
    #[arg(short, long, value_name = "FILE|URL")]
    output: PathBuf,
    /// System message: `none`, `prompt` (the conversation's), or a text.
    #[arg(long, default_value = "prompt", value_name = "none|prompt|TEXT", value_parser = parse_system)]
    system: SystemMessage,
    /// Plain-text content instead of OpenAI content parts.
    #[arg(long)]
    text_only: bool,
    /// Inline each question's retrieved contexts.
    #[arg(long, value_enum, default_value_t = ContextPlacement::None)]
    contexts: ContextPlacement,
    /// Only conversations created on or after this date (YYYY-MM-DD or ISO time, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    since: Option<DateArg>,
    /// Only conversations created before this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    until: Option<DateArg>,
    /// Only this course (repeatable).
    #[arg(long = "course", value_name = "NAME")]
    courses: Vec<String>,
    /// Only this user's conversations (repeatable).
    #[arg(long = "user", value_name = "EMAIL")]
    users: Vec<String>,
    /// Only conversations with at least N questions.
    #[arg(long, value_name = "N")]
    min_turns: Option<usize>,
    /// Only conversations with an answer rated this way.
    #[arg(long, value_enum)]
    feedback: Option<FeedbackArg>,
    /// Only conversations matching this SQL predicate on `conversations`.
    #[arg(long = "where", value_name = "SQL")]
    where_sql: Option<String>,
    /// Write this fraction to FILE and the rest to FILE's `.val` sibling, split by conversation.
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction)]
    split: Option<f64>,
    #[command(flatten)]
    redact: RedactArgs,
    /// Annotation: conversations to sample.
    #[arg(long, value_name = "N", help_heading = "Annotation sample")]
    sample: Option<usize>,
    /// Annotation: the seed of the sample (the same seed gives the same sample).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 1,
        help_heading = "Annotation sample"
    )]
    seed: u64,
    /// Annotation: spread the sample over these cells (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "course,month,feedback",
        help_heading = "Annotation sample"
    )]
    stratify: Vec<Stratum>,
    /// Vector stores: one collection (pgvector table, Qdrant collection) for every course,
    /// instead of one per course (Qdrant's default: `uiuc-chat`, as on the platform).
    #[arg(long, value_name = "NAME", help_heading = "Vector stores")]
    collection: Option<String>,
    /// pgvector: LangChain's tables, or one plain table (`--collection` names it).
    #[arg(long, value_enum, default_value_t = PgLayout::Langchain, help_heading = "Vector stores")]
    layout: PgLayout,
    /// Vector stores: points per COPY or request (Chroma's `max_batch_size` caps it).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Vector stores"
    )]
    batch: usize,
    /// pgvector: leave the HNSW indexes out (build them yourself, or another kind, later).
    #[arg(long, help_heading = "Vector stores")]
    no_index: bool,
    /// Chroma: tenant.
    #[arg(long, default_value = "default_tenant", help_heading = "Vector stores")]
    tenant: String,
    /// Chroma: database (created when missing).
    #[arg(
        long,
        default_value = "default_database",
        help_heading = "Vector stores"
    )]
    database: String,
    /// Keep every version of a conversation seen in several raw exports.
    #[arg(long)]
    keep_duplicates: bool,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    as_of: AsOfArgs,
}

impl ExportArgs {
    /// The options these flags ask for (`chatql.export` in Python takes the same).
    pub(crate) fn options(&self) -> Result<ExportOptions, chatql::Error> {
        let annotation = self.to == Target::Annotation;
        if !annotation && (self.sample.is_some() || !self.stratify.is_empty()) {
            return Err(chatql::Error::Usage(
                "--sample and --stratify are for --to annotation".into(),
            ));
        }
        let sampling = match self.sample {
            Some(0) => return Err(chatql::Error::Usage("--sample takes at least 1".into())),
            Some(size) => Some(Sampling {
                size,
                seed: self.seed,
                stratify: {
                    let mut dims = self.stratify.clone();
                    dims.dedup();
                    dims
                },
            }),
            None if annotation => {
                return Err(chatql::Error::Usage(
                    "--to annotation needs --sample N (how many conversations to take)".into(),
                ))
            }
            None => None,
        };
        Ok(ExportOptions {
            target: self.to,
            output: self.output.clone(),
            system: self.system.clone(),
            text_only: self.text_only,
            contexts: self.contexts,
            filters: Filters {
                since: self.since.map(|d| d.at(chatql::model::Zone::UTC)),
                until: self.until.map(|d| d.at(chatql::model::Zone::UTC)),
                courses: self.courses.clone(),
                users: self.users.clone(),
                min_turns: self.min_turns,
                feedback: self.feedback.map(|f| matches!(f, FeedbackArg::Positive)),
                where_sql: self.where_sql.clone(),
            },
            split: self.split,
            redact_key: self.redact.key()?,
            keep_duplicates: self.keep_duplicates,
            force: self.force,
            sampling,
            ingest: self.read.ingest(None),
            as_of: self.as_of.as_of,
            vector: VectorSettings {
                collection: self.collection.clone(),
                layout: self.layout,
                batch: self.batch,
                index: !self.no_index,
                tenant: self.tenant.clone(),
                database: self.database.clone(),
                progress: Default::default(),
            },
        })
    }
}

pub async fn run(a: ExportArgs) -> Result<()> {
    let opts = a.options()?;
    let bar = InputBar::start("read", &opts.ingest.progress, !a.read.quiet);
    if a.to.destination().is_some() {
        // Raw inputs are read first (the bytes bar), then the chunks loaded (a count).
        let points = InputBar::items("chunks", &opts.vector.progress, !a.read.quiet);
        let report = export_vectors(&a.inputs, &opts).await?;
        drop((bar, points));
        return Ok(emit(vector_summary(&report, &a.output).as_bytes(), None)?);
    }
    let report = export(&a.inputs, &opts).await?;
    drop(bar);
    let unit = match a.to {
        Target::Dpo => "pair(s)",
        Target::Annotation => "row(s)",
        Target::ChatGpt => "conversation(s)",
        _ => "line(s)",
    };
    let mut line = format!(
        "wrote {} {unit} to {}",
        report.written,
        if chatql::export::is_stdout(&report.files[0]) {
            "standard output".into()
        } else {
            report.files[0].display().to_string()
        }
    );
    if let Some(v) = report.files.get(1) {
        line.push_str(&format!(" and {} to {}", report.validation, v.display()));
    }
    if a.to == Target::Annotation {
        line.push_str(&format!(
            " for {} sampled conversation(s) in {} cell(s)",
            report.sampled, report.cells
        ));
    }
    if report.filtered > 0 {
        line.push_str(&format!("; {} filtered out", report.filtered));
    }
    for (reason, n) in &report.skipped {
        line.push_str(&format!("; {n} left out ({reason})"));
    }
    line.push('\n');
    if chatql::export::is_stdout(&opts.output) {
        // Standard output carries the lines themselves.
        eprint!("{line}");
    } else {
        emit(line.as_bytes(), None)?;
    }
    Ok(())
}

/// The summary of a vector export: what was written where, what was skipped and why.
fn vector_summary(r: &VectorReport, out: &std::path::Path) -> String {
    let p = &r.put;
    let total = p.inserted + p.updated + p.unchanged;
    let dest = chatql::export::vector::pg::redact_url(&out.to_string_lossy());
    let mut s = format!(
        "{total} point(s) to {dest}: {} new, {} updated, {} unchanged",
        p.inserted, p.updated, p.unchanged
    );
    if r.no_embedding > 0 {
        s.push_str(&format!(
            "; {} chunk(s) without an embedding skipped",
            r.no_embedding
        ));
    }
    if r.filtered > 0 {
        s.push_str(&format!("; {} document(s) filtered out", r.filtered));
    }
    s.push('\n');
    for (g, n) in &r.groups {
        let course = g
            .course
            .as_deref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {}: {n} point(s), {} dimensions{course}\n",
            g.name, g.dims
        ));
    }
    for note in &r.notes {
        s.push_str(&format!("  {note}\n"));
    }
    s
}
