//! `chatql convert`: exports in, a Parquet lake out, and the summary that reconciles them.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use chatql::lake::convert::{convert, ConvertOptions, ConvertReport};
use chatql::lake::partition::{parse_keys, Key};
use chatql::render::{bytes, grid};
use chatql::table::Table;
use comfy_table::{Cell, CellAlignment};

use super::progress::InputBar;
use super::{ReadArgs, RedactArgs};

/// Partition keys, parsed from `course,month`. (An alias, so that clap takes the whole
/// list from one value rather than one key per occurrence.)
type PartitionKeys = Vec<Key>;

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Export files, folders or glob patterns, in any mix; objects or prefixes in object
    /// storage (`s3://`, `gs://`, `az://`, with the features `s3`, `gcs`, `azure`).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output folder (created; must not exist unless --force), or a lake in object storage
    /// (`s3://bucket/prefix`, `gs://...`, `az://...`).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Replace the output folder if it exists.
    #[arg(long)]
    force: bool,
    /// Fail (exit 3, no output) on the first record that cannot be read.
    #[arg(long)]
    strict: bool,
    /// Keep every version of a conversation or document seen in several exports.
    #[arg(long)]
    keep_duplicates: bool,
    /// Decoder threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// zstd level of the Parquet files (1-22).
    #[arg(long, default_value_t = 3, value_name = "N")]
    zstd_level: i32,
    #[command(flatten)]
    redact: RedactArgs,
    #[command(flatten)]
    read: ReadArgs,
    /// Write a Hive-partitioned lake (`TABLE/course=X/month=YYYY-MM/part-*.parquet`).
    #[arg(long, value_name = "course,month", value_parser = |s: &str| parse_keys(s).map_err(|e| e.to_string()))]
    partition_by: Option<PartitionKeys>,
    /// Add this run to a lake as its next version (created if missing): versions the lake
    /// has are skipped, and only partitions with replaced versions are rewritten. Appends
    /// may run at once; they take turns on the lake.
    #[arg(long)]
    append: bool,
}

impl ConvertArgs {
    /// The inputs and the options of the run these flags ask for (`chatql.convert` in
    /// Python takes the same).
    pub(crate) fn options(&self) -> Result<(Vec<String>, ConvertOptions), chatql::Error> {
        let mut opts = ConvertOptions::new(&self.output);
        opts.force = self.force;
        opts.strict = self.strict;
        opts.keep_duplicates = self.keep_duplicates;
        opts.zstd_level = self.zstd_level;
        opts.redact_key = self.redact.key()?;
        opts.partition_by = self.partition_by.clone();
        opts.append = self.append;
        opts.ingest = self.read.ingest(self.threads);
        Ok((self.inputs.clone(), opts))
    }
}

pub async fn run(a: ConvertArgs) -> Result<()> {
    let (inputs, opts) = a.options()?;
    let bar = InputBar::start("convert", &opts.ingest.progress, !a.read.quiet);
    let report = tokio::task::spawn_blocking(move || convert(&inputs, &opts)).await??;
    drop(bar);
    if !a.read.quiet {
        let mut out = io::stdout().lock();
        summary(&report, &mut out).map_err(chatql::Error::Output)?;
        out.flush().map_err(chatql::Error::Output)?;
    }
    if report.reading.read.rejects > 0 {
        eprintln!(
            "chatql: {} record(s) rejected: see {}/rejects/",
            report.reading.read.rejects,
            a.output.display()
        );
    }
    Ok(())
}

/// The summary `convert` prints: rows per table, then how the input reconciles.
pub fn summary(r: &ConvertReport, w: &mut dyn Write) -> io::Result<()> {
    let mut g = grid(&["table", "rows", "file"]);
    for t in &r.tables {
        g.add_row(vec![
            Cell::new(&t.name),
            Cell::new(t.rows).set_alignment(CellAlignment::Right),
            Cell::new(t.file.as_deref().unwrap_or("-")),
        ]);
    }
    writeln!(w, "{g}")?;
    let s = &r.reading.read;
    writeln!(
        w,
        "read {} from {} input file(s): {} lines ({} blank)",
        bytes(s.bytes),
        r.reading.inputs.len(),
        s.lines,
        s.blank_lines
    )?;
    writeln!(
        w,
        "records: {} conversations + {} documents decoded, {} rejected",
        s.conversations, s.documents, s.rejects
    )?;
    writeln!(
        w,
        "duplicates dropped: {} conversations, {} documents (kept: {} conversations, {} documents)",
        r.reading.duplicates.conversations,
        r.reading.duplicates.documents,
        r.rows(Table::Conversations),
        r.rows(Table::Documents)
    )?;
    if !r.reading.skipped.is_empty() {
        writeln!(
            w,
            "skipped (not an export format): {}",
            r.reading.skipped.len()
        )?;
    }
    if let Some(p) = &r.partitioned {
        let keys: Vec<&str> = p.keys.iter().map(|k| k.name()).collect();
        writeln!(
            w,
            "run {} of a lake partitioned by {}: {} conversations and {} documents already \
             in it, {} and {} older versions replaced",
            p.run,
            keys.join(","),
            p.already_in_lake.conversations,
            p.already_in_lake.documents,
            p.replaced.conversations,
            p.replaced.documents
        )?;
        let totals: Vec<String> = p
            .lake_rows
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        writeln!(w, "lake now holds: {}", totals.join(", "))?;
    }
    writeln!(w, "wrote {} in {:.2} s", r.output.display(), r.seconds)?;
    Ok(())
}
