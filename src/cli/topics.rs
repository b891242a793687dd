//! `chatql topics`: a topic map of what students ask, in the terminal, Markdown, JSON, CSV or
//! a page with the map; `--assignments` writes each question's topic for joins in SQL.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chatql::query::{CatalogOptions, Restriction};
use chatql::render::{write_batches, Format, RenderOptions};
use chatql::topics::{table, TopicFormat, TopicMap, TopicOptions};

use super::progress::InputBar;
use super::{emit, parse_date, terminal_width, DateArg, ReadArgs, TzArgs};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql topics lake/                              (topics in the terminal, k chosen)
  chatql topics convos.jsonl documents.jsonl -k 8 --format html -o topics.html
  chatql topics lake/ --assignments topics.parquet (then: chatql sql ... lake/ and read_parquet)")]
pub struct TopicsArgs {
    /// Raw exports (with the document export, questions are placed by what they retrieved),
    /// or folders written by `chatql convert`.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Number of topics (default: the best of 2 to 12 by silhouette).
    #[arg(short, value_name = "N")]
    k: Option<usize>,
    /// Seed of the clustering: the same input and seed give the same topics.
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TopicFormat::Table)]
    format: TopicFormat,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write one row per question with its topic (`.csv` or `.parquet`).
    #[arg(long, value_name = "FILE")]
    assignments: Option<PathBuf>,
    /// Only conversations created on or after this date (in --tz).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    since: Option<DateArg>,
    /// Only conversations created before this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    until: Option<DateArg>,
    /// Only this course (questions and documents).
    #[arg(long, value_name = "NAME")]
    course: Option<String>,
    /// Only this user's conversations.
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    #[command(flatten)]
    tz: TzArgs,
    #[command(flatten)]
    read: ReadArgs,
}

/// One line on the map: how many topics in how many questions, placed how, how well.
pub(crate) fn summary(m: &TopicMap) -> String {
    format!(
        "{} topic(s) in {} question(s) ({} distinct), placed by {}; silhouette {:.2}",
        m.topics.len(),
        m.questions.len(),
        m.distinct,
        if m.by_retrieval {
            "the chunks they retrieved"
        } else {
            "their words"
        },
        m.silhouette
    )
}

fn render(m: &TopicMap, a: &TopicsArgs) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let summary = summary(m);
    match a.format {
        TopicFormat::Html => {
            let subtitle = format!("{} · {summary}", a.inputs.join(", "));
            out.extend_from_slice(chatql::topics::html::page(m, &subtitle).as_bytes());
        }
        TopicFormat::Json => {
            let topics: Vec<serde_json::Value> = m
                .topics
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "topic": t.id, "label": t.label, "questions": t.questions,
                        "share": t.share, "conversations": t.conversations, "users": t.users,
                        "rated": t.rated, "negative_rate": t.negative_rate,
                        "per_month": t.months,
                        "documents": t.documents.iter()
                            .map(|(d, n)| serde_json::json!({"document": d, "questions": n}))
                            .collect::<Vec<_>>(),
                        "examples": t.examples,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "questions": m.questions.len(), "distinct_questions": m.distinct,
                "placed_by": if m.by_retrieval { "retrieval" } else { "text" },
                "silhouette": m.silhouette, "notes": m.notes, "topics": topics,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            out.push(b'\n');
        }
        TopicFormat::Csv => {
            let b = table::topics_batch(m)?;
            let opts = RenderOptions {
                format: Format::Csv,
                ..Default::default()
            };
            write_batches(&b.schema(), &[b], &opts, &mut out)?;
        }
        TopicFormat::Table | TopicFormat::Markdown => {
            let md = a.format == TopicFormat::Markdown;
            let opts = RenderOptions {
                format: if md { Format::Markdown } else { Format::Table },
                width: if a.output.is_none() && std::io::stdout().is_terminal() {
                    terminal_width()
                } else {
                    None
                },
                ..Default::default()
            };
            let head = |t: &str| {
                if md {
                    format!("## {t}\n\n")
                } else {
                    format!("{t}\n")
                }
            };
            out.extend_from_slice(head("Topics").as_bytes());
            out.extend_from_slice(format!("{summary}\n").as_bytes());
            for n in &m.notes {
                out.extend_from_slice(format!("note: {n}\n").as_bytes());
            }
            out.push(b'\n');
            let b = table::topics_batch(m)?;
            let b = b.project(&[0, 1, 2, 3, 4, 5, 6, 8])?;
            write_batches(&b.schema(), &[b], &opts, &mut out)?;
            out.push(b'\n');
            out.extend_from_slice(head("Representative questions").as_bytes());
            let e = table::examples_batch(m)?;
            write_batches(&e.schema(), &[e], &opts, &mut out)?;
        }
    }
    Ok(out)
}

fn write_assignments(m: &TopicMap, path: &Path) -> Result<()> {
    let b = table::assignments_batch(m)?;
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        chatql::lake::encode::write_results(&b.schema(), &[b], path)?;
    } else {
        let mut out = Vec::new();
        let opts = RenderOptions {
            format: Format::Csv,
            ..Default::default()
        };
        write_batches(&b.schema(), &[b], &opts, &mut out)?;
        emit(&out, Some(path))?;
    }
    Ok(())
}

/// What a topic map is made from and how: the catalog, the questions looked at, the
/// clustering.
pub(crate) struct TopicsPlan {
    pub inputs: Vec<String>,
    pub catalog: CatalogOptions,
    pub restriction: Restriction,
    pub opts: TopicOptions,
}

impl TopicsArgs {
    /// The map these flags ask for (`chatql.topics` in Python takes the same).
    pub(crate) fn plan(&self) -> TopicsPlan {
        TopicsPlan {
            inputs: self.inputs.clone(),
            catalog: CatalogOptions {
                ingest: self.read.ingest(None),
                tz: self.tz.tz,
                ..Default::default()
            },
            restriction: Restriction {
                since: self.since.map(|d| d.at(self.tz.tz)),
                until: self.until.map(|d| d.at(self.tz.tz)),
                course: self.course.clone(),
                user: self.user.clone(),
            },
            opts: TopicOptions {
                k: self.k,
                seed: self.seed,
                ..Default::default()
            },
        }
    }
}

pub async fn run(a: TopicsArgs) -> Result<()> {
    let TopicsPlan {
        inputs,
        catalog,
        restriction,
        opts,
    } = a.plan();
    let bar = InputBar::start("read", &catalog.ingest.progress, !a.read.quiet);
    let map = chatql::topics::from_inputs(&inputs, &catalog, &restriction, &opts).await?;
    drop(bar);
    let Some(map) = map else {
        eprintln!("chatql: no user questions in the inputs; nothing written");
        return Ok(());
    };
    let text = render(&map, &a)?;
    if let Some(p) = &a.assignments {
        write_assignments(&map, p)?;
    }
    emit(&text, a.output.as_deref())?;
    Ok(())
}
