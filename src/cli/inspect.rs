//! `chatql inspect`: what input files hold, as a text report or JSON.

use std::io::{self, Write};

use anyhow::Result;
use chatql::ingest::inspect::{inspect, FileReport};
use chatql::render::{bytes, grid};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Export files, folders or globs.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    format: InspectFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InspectFormat {
    Table,
    Json,
}

impl InspectArgs {
    /// The files to inspect.
    pub(crate) fn inputs(&self) -> Vec<String> {
        self.inputs.clone()
    }
}

pub async fn run(a: InspectArgs) -> Result<()> {
    let inputs = a.inputs();
    let files = tokio::task::spawn_blocking(move || inspect(&inputs)).await??;
    let mut out = io::stdout().lock();
    match a.format {
        InspectFormat::Table => print(&files, &mut out),
        InspectFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&files).expect("serializable")
        ),
    }
    .and_then(|_| out.flush())
    .map_err(chatql::Error::Output)?;
    Ok(())
}

/// `chatql inspect` as text: per file, kinds, eras, keys, conflicts and rejects.
pub fn print(files: &[FileReport], w: &mut dyn Write) -> io::Result<()> {
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        writeln!(w, "{}\n  {} lines, {}", f.file, f.lines, bytes(f.bytes))?;
        writeln!(
            w,
            "  kinds: {}",
            if f.kinds.is_empty() {
                "none".into()
            } else {
                join(&f.kinds)
            }
        )?;
        if !f.eras.is_empty() {
            writeln!(w, "  era signals: {}", join(&f.eras))?;
        }
        if !f.keys.is_empty() {
            let mut g = grid(&["level", "key", "count", "types", "first seen"]);
            for k in &f.keys {
                let types: Vec<String> = k.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
                g.add_row(vec![
                    k.level.clone(),
                    k.key.clone(),
                    k.count.to_string(),
                    types.join(", "),
                    k.first_seen.clone(),
                ]);
            }
            writeln!(w, "{g}")?;
        }
        for c in &f.conflicts {
            writeln!(w, "  type conflict: {c}")?;
        }
        for r in &f.rejects {
            writeln!(
                w,
                "  reject: {}:{} (byte {}): {}",
                f.file, r.line, r.byte_offset, r.reason
            )?;
        }
    }
    Ok(())
}
