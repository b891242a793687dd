//! Command-line arguments (clap types stay in the binary) and their translation into the
//! library's options.
//!
//! Exit codes, a contract documented in the README:
//! 0 success; 1 error (unreadable input, write failure, bad query); 2 usage error;
//! 3 data rejected under `--strict`; 4 the output exists (no `--force`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use chatql::convert::{convert, ConvertOptions};
use chatql::ingest::IngestOptions;
use chatql::render;
use chatql::schema::Table;

/// chatql: SQL, reports and Parquet from UIUC.chat / Illinois Chat exports.
#[derive(Debug, Parser)]
#[command(name = "chatql", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert exports (.jsonl, .json, .csv, .zip, .gz, .zst, folders, globs) into a Parquet lake.
    Convert(ConvertArgs),
    /// Print the tables and their columns.
    Schema(SchemaArgs),
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    /// Export files, folders or glob patterns, in any mix.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output folder (created; must not exist unless --force).
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
    /// Print nothing on success.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaFormat {
    Table,
    Markdown,
}

#[derive(Debug, clap::Args)]
struct SchemaArgs {
    /// Only these tables.
    #[arg(value_name = "TABLE")]
    tables: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Table)]
    format: SchemaFormat,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Convert(a) => {
            let mut opts = ConvertOptions::new(&a.output);
            opts.force = a.force;
            opts.strict = a.strict;
            opts.keep_duplicates = a.keep_duplicates;
            opts.zstd_level = a.zstd_level;
            opts.ingest = IngestOptions {
                threads: a.threads.unwrap_or(IngestOptions::default().threads),
                ..IngestOptions::default()
            };
            let report = convert(&a.inputs, &opts)?;
            if !a.quiet {
                render::convert_summary(&report, &mut out).map_err(chatql::Error::Output)?;
            }
            if report.read.rejects > 0 {
                eprintln!(
                    "chatql: {} record(s) rejected: see {}/rejects.parquet",
                    report.read.rejects,
                    a.output.display()
                );
            }
        }
        Command::Schema(a) => {
            let tables = if a.tables.is_empty() {
                Table::ALL.to_vec()
            } else {
                a.tables
                    .iter()
                    .map(|n| {
                        Table::from_name(n).ok_or_else(|| {
                            let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
                            chatql::Error::Usage(format!(
                                "no table {n:?}; tables are: {}",
                                names.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            render::schema(
                &tables,
                matches!(a.format, SchemaFormat::Markdown),
                &mut out,
            )
            .map_err(chatql::Error::Output)?;
        }
    }
    out.flush().map_err(chatql::Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// The exit code of an error (see the module documentation).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<chatql::Error>() {
        Some(chatql::Error::Rejected { .. }) => 3,
        Some(chatql::Error::OutputExists(_)) => 4,
        Some(chatql::Error::Usage(_)) => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn convert_needs_inputs_and_output() {
        assert!(Cli::try_parse_from(["chatql", "convert", "-o", "x"]).is_err());
        assert!(Cli::try_parse_from(["chatql", "convert", "a.jsonl"]).is_err());
        let ok = Cli::try_parse_from([
            "chatql", "convert", "a.jsonl", "b.zip", "-o", "x", "--strict",
        ]);
        assert!(ok.is_ok());
    }
}
