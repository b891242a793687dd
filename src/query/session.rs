//! The SQL shell's session apart from any terminal: multi-line statements ended by `;`,
//! and backslash commands, each line's output written to any `io::Write`, so that tests and
//! other front ends drive it. Line editing, history and completion (rustyline) are the
//! binary's (`src/cli/shell.rs`).

use std::io::Write;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::query::catalog::{Catalog, VIEWS};
use crate::query::run::{run_statements, QueryOptions};
use crate::table::Table;

const HELP: &str = "\
  SQL statements end with ';' and may span lines.
  \\d            list tables and views
  \\d NAME       columns of a table or view
  \\timing       toggle printing the time each statement takes
  \\q            quit (also Ctrl-D)";

/// What a shell line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep reading.
    Continue,
    /// Leave the shell.
    Quit,
}

/// The shell's state apart from the terminal.
pub struct Session {
    /// The catalog queries run against.
    pub catalog: Catalog,
    /// How results are shown.
    pub opts: QueryOptions,
    /// Print the time of each statement.
    pub timing: bool,
    buffer: String,
}

impl Session {
    /// A session over `catalog`.
    pub fn new(catalog: Catalog, opts: QueryOptions) -> Session {
        Session {
            catalog,
            opts,
            timing: false,
            buffer: String::new(),
        }
    }

    /// Forgets the statement being continued (Ctrl-C at the prompt).
    pub fn clear_statement(&mut self) {
        self.buffer.clear();
    }

    /// Whether a statement is being continued on the next line.
    pub fn in_statement(&self) -> bool {
        !self.buffer.trim().is_empty()
    }

    /// Handles one input line; results and errors are written to `out`.
    pub async fn line(&mut self, line: &str, out: &mut dyn Write) -> Result<Action> {
        let trimmed = line.trim();
        if !self.in_statement() && trimmed.starts_with('\\') {
            return self.command(trimmed, out).await;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if !trimmed.ends_with(';') {
            return Ok(Action::Continue);
        }
        let sql = std::mem::take(&mut self.buffer);
        let started = Instant::now();
        match run_statements(&mut self.catalog, &sql, &self.opts, out).await {
            Ok(r) => {
                if r.hidden > 0 {
                    writeln!(out, "({} rows, {} not shown)", r.rows, r.hidden)
                        .map_err(Error::Output)?;
                }
            }
            Err(e) if e.is_broken_pipe() => return Err(e),
            Err(e) => writeln!(out, "error: {e}").map_err(Error::Output)?,
        }
        if self.timing {
            writeln!(out, "time: {:.3} s", started.elapsed().as_secs_f64())
                .map_err(Error::Output)?;
        }
        Ok(Action::Continue)
    }

    async fn command(&mut self, cmd: &str, out: &mut dyn Write) -> Result<Action> {
        let mut parts = cmd.split_whitespace();
        let name = parts.next().unwrap_or("");
        let arg = parts.next();
        let w = |out: &mut dyn Write, s: &str| writeln!(out, "{s}").map_err(Error::Output);
        match (name, arg) {
            ("\\q" | "\\quit", _) => return Ok(Action::Quit),
            ("\\timing", _) => {
                self.timing = !self.timing;
                w(
                    out,
                    if self.timing {
                        "timing on"
                    } else {
                        "timing off"
                    },
                )?;
            }
            ("\\d", None) => {
                for t in Table::ALL {
                    w(out, &format!("table  {:<14} {}", t.name(), t.doc()))?;
                }
                for v in VIEWS {
                    w(out, &format!("view   {:<14} {}", v.name, v.doc))?;
                }
            }
            ("\\d", Some(rel)) => {
                let sql = format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_name = '{}' ORDER BY ordinal_position",
                    rel.replace('\'', "''")
                );
                let (schema, batches) = {
                    let stmt = self.catalog.parse(&sql)?.remove(0);
                    self.catalog.run(stmt).await?
                };
                if batches.iter().all(|b| b.num_rows() == 0) {
                    w(
                        out,
                        &format!(
                            "no table or view {rel:?}; there are: {}",
                            self.catalog.relation_names().join(", ")
                        ),
                    )?;
                } else {
                    crate::render::write_batches(&schema, &batches, &self.opts.render, out)
                        .map_err(Error::Output)?;
                }
            }
            ("\\?" | "\\h" | "\\help", _) => w(out, HELP)?,
            _ => w(out, &format!("unknown command {name}; \\? lists them"))?,
        }
        Ok(Action::Continue)
    }
}
