//! `chatql sql`: run statements against a [`Catalog`] and render each result.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::render::{self, Format, RenderOptions};

/// Where results go.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// How results are rendered.
    pub render: RenderOptions,
    /// Write results to this file (atomically) instead of the writer.
    pub output: Option<PathBuf>,
}

/// What a run of statements produced, for footers.
#[derive(Debug, Clone, Default)]
pub struct QueryReport {
    /// Statements run.
    pub statements: usize,
    /// Rows of the last result.
    pub rows: usize,
    /// Rows of the last result left out of a `table`/`markdown` rendering.
    pub hidden: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Runs every statement of `sql` and renders each result to `out` (or to the output file).
pub async fn run_statements(
    cat: &mut Catalog,
    sql: &str,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> Result<QueryReport> {
    let started = Instant::now();
    let stmts = cat.parse(sql)?;
    if stmts.is_empty() {
        return Err(Error::Usage("no SQL statement given".into()));
    }
    let mut report = QueryReport::default();
    let mut file_buf: Vec<u8> = Vec::new();
    let mut last = None;
    for (i, stmt) in stmts.into_iter().enumerate() {
        let (schema, batches) = cat.run(stmt).await?;
        report.statements += 1;
        if schema.fields().is_empty() {
            continue; // DDL and the like: nothing to show
        }
        if opts.render.format == Format::Parquet {
            last = Some((schema, batches));
            continue;
        }
        let w: &mut dyn Write = if opts.output.is_some() {
            &mut file_buf
        } else {
            &mut *out
        };
        if i > 0 && matches!(opts.render.format, Format::Table | Format::Markdown) {
            writeln!(w).map_err(Error::Output)?;
        }
        let r = render::write_batches(&schema, &batches, &opts.render, w).map_err(Error::Output)?;
        report.rows = r.rows;
        report.hidden = r.hidden;
    }
    match (&opts.output, last) {
        (Some(path), Some((schema, batches))) => {
            report.rows = render::write_parquet(&schema, &batches, path)?;
        }
        (None, Some(_)) => return Err(Error::Usage("--format parquet needs -o FILE".into())),
        (Some(path), None) => write_atomic(path, &file_buf)?,
        (None, None) => {}
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Writes `bytes` to `path` through a temporary file renamed into place.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    persist(tmp, path)
}

/// Renames a finished temporary file to `path`, with the usual `rw-r--r--` permissions
/// (temporary files are created private).
pub fn persist(tmp: tempfile::NamedTempFile, path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Parses a size like `512M`, `2G`, `1.5GiB` or `1000000` into bytes.
pub fn parse_size(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("bad size {s:?}: expected e.g. 512M or 2G")))?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024f64.powi(4),
        _ => {
            return Err(Error::Usage(format!(
                "bad size unit in {s:?}: use K, M, G or T"
            )))
        }
    };
    Ok((n * mult) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
    }
}
