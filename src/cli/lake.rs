//! `chatql history`, `vacuum` and `upgrade`: the commands that look after a lake rather
//! than read it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chatql::lake::history::History;
use chatql::render::grid;
use comfy_table::{Cell, CellAlignment};

/// Arguments of `chatql history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The lake (a folder written by `chatql convert`).
    lake: PathBuf,
    /// Print the history as JSON (every run's inputs, counts and files).
    #[arg(long)]
    json: bool,
}

pub fn history(a: HistoryArgs) -> Result<()> {
    let h = chatql::lake::history::history(&a.lake)?;
    let mut out = io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &h)?;
        writeln!(out).map_err(chatql::Error::Output)?;
    } else {
        print_history(&h, &mut out).map_err(chatql::Error::Output)?;
    }
    out.flush().map_err(chatql::Error::Output)?;
    Ok(())
}

fn print_history(h: &History, w: &mut dyn Write) -> io::Result<()> {
    let keys: Vec<&str> = h.partition_by.iter().map(|k| k.name()).collect();
    writeln!(
        w,
        "version {} · {}",
        h.version,
        if keys.is_empty() {
            "one folder per table".to_owned()
        } else {
            format!("partitioned by {}", keys.join(","))
        }
    )?;
    let mut g = grid(&[
        "version",
        "committed (UTC)",
        "inputs",
        "conversations",
        "documents",
        "already in lake",
        "replaced",
        "files +/-",
    ]);
    for v in &h.runs {
        let added = |t: &str| v.run.rows_added.get(t).copied().unwrap_or(0);
        let inputs = match v.run.reading.inputs.len() {
            _ if v.run.operation.is_some() => "(compacted)".to_owned(),
            0 => "-".to_owned(),
            1 => v.run.reading.inputs[0].path.clone(),
            n => format!("{} files", n),
        };
        g.add_row(vec![
            Cell::new(v.version).set_alignment(CellAlignment::Right),
            Cell::new(&v.committed_at),
            Cell::new(inputs),
            Cell::new(added("conversations")).set_alignment(CellAlignment::Right),
            Cell::new(added("documents")).set_alignment(CellAlignment::Right),
            Cell::new(v.run.already_in_lake.conversations + v.run.already_in_lake.documents)
                .set_alignment(CellAlignment::Right),
            Cell::new(v.run.replaced_in_lake.conversations + v.run.replaced_in_lake.documents)
                .set_alignment(CellAlignment::Right),
            Cell::new(format!(
                "+{} -{}",
                v.files_added.len(),
                v.files_removed.len()
            )),
        ]);
    }
    writeln!(w, "{g}")?;
    let mut t = grid(&["table", "rows", "files"]);
    for x in &h.tables {
        t.add_row(vec![
            Cell::new(&x.name),
            Cell::new(x.rows).set_alignment(CellAlignment::Right),
            Cell::new(x.files).set_alignment(CellAlignment::Right),
        ]);
    }
    writeln!(w, "{t}")
}

/// Arguments of `chatql compact`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql compact lake/ --dry-run     (what would be rewritten)
  chatql compact lake/ && chatql vacuum lake/ --retain-hours 0")]
pub struct CompactArgs {
    /// The lake (written by `chatql convert`; a folder, or `s3://`, `gs://`, `az://`).
    lake: PathBuf,
    /// zstd level of the rewritten files (1-22).
    #[arg(long, default_value_t = 3, value_name = "N")]
    zstd_level: i32,
    /// Say what would be rewritten, write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn compact(a: CompactArgs) -> Result<()> {
    let c = chatql::lake::compact::compact(&a.lake, a.zstd_level, a.dry_run)?;
    let mut out = io::stdout().lock();
    let what = format!(
        "{} partition(s): {} file(s) into {}",
        c.partitions, c.files_before, c.files_after
    );
    match c.version {
        _ if c.partitions == 0 => writeln!(
            out,
            "{}: nothing to compact (no partition has more than one file)",
            a.lake.display()
        ),
        None => writeln!(out, "would rewrite {what}"),
        Some(v) => writeln!(
            out,
            "version {v}: rewrote {what}, {} rows; the old files stay for earlier \
             versions until `chatql vacuum`",
            c.rows
        ),
    }
    .map_err(chatql::Error::Output)?;
    Ok(())
}

/// Arguments of `chatql vacuum`.
#[derive(Debug, clap::Args)]
pub struct VacuumArgs {
    /// The lake.
    lake: PathBuf,
    /// Keep files removed less than this many hours ago: queries started before, and time
    /// travel to the versions that had them, still read them.
    #[arg(long, value_name = "HOURS", default_value_t = 168.0)]
    retain_hours: f64,
    /// List what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn vacuum(a: VacuumArgs) -> Result<()> {
    if a.retain_hours.is_nan() || a.retain_hours < 0.0 {
        return Err(chatql::Error::Usage("--retain-hours must be 0 or more".into()).into());
    }
    let retention = Duration::from_secs_f64(a.retain_hours * 3600.0);
    let v = chatql::lake::vacuum::vacuum(&a.lake, retention, a.dry_run)?;
    let mut out = io::stdout().lock();
    for f in &v.files {
        writeln!(out, "{}", f.display()).map_err(chatql::Error::Output)?;
    }
    writeln!(
        out,
        "{} {} file(s), {} bytes; kept {} removed within the last {} h",
        if a.dry_run { "would delete" } else { "deleted" },
        v.files.len(),
        v.bytes,
        v.kept_recent,
        a.retain_hours
    )
    .map_err(chatql::Error::Output)?;
    Ok(())
}

/// Arguments of `chatql upgrade`.
#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// The lake written by an older chatql.
    lake: PathBuf,
}

pub fn upgrade(a: UpgradeArgs) -> Result<()> {
    let u = chatql::lake::upgrade::upgrade(&a.lake)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: now a Delta lake (version 0 with {} file(s){}); deleted {} file(s) no run kept",
        a.lake.display(),
        u.files,
        if u.keys.is_empty() {
            String::new()
        } else {
            format!(
                ", partitioned by {}",
                u.keys
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        },
        u.deleted
    )
    .map_err(chatql::Error::Output)?;
    Ok(())
}
