//! The interactive SQL shell: line editing and history (rustyline), completion of table,
//! view and column names, multi-line statements ended by `;`, and backslash commands.
//! Command handling is separate from the terminal so that tests can drive it.

use std::borrow::Cow;
use std::io::Write;
use std::time::Instant;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

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

/// Completion of SQL keywords, table, view and column names.
struct ShellHelper {
    words: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "COUNT",
    "DISTINCT",
    "HAVING",
    "WITH",
    "DESC",
    "ASC",
    "date_trunc",
    "cosine_similarity",
    "l2_distance",
    "dot_product",
    "vector_norm",
    "email_domain",
    "json_get_str",
    "json_get_int",
    "json_get",
    "json_as_text",
];

impl Completer for ShellHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\\'))
            .map_or(0, |i| i + 1);
        let prefix = line[start..pos].to_ascii_lowercase();
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let mut out: Vec<Pair> = self
            .words
            .iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&prefix))
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        out.dedup_by(|a, b| a.display == b.display);
        Ok((start, out))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

fn completion_words() -> Vec<String> {
    let mut words: Vec<String> = KEYWORDS.iter().map(|s| s.to_string()).collect();
    for t in Table::ALL {
        words.push(t.name().to_owned());
        words.extend(t.schema().fields().iter().map(|f| f.name().clone()));
    }
    words.extend(VIEWS.iter().map(|v| v.name.to_owned()));
    words.extend(["\\d", "\\q", "\\timing", "\\?"].map(String::from));
    words.sort();
    words.dedup();
    words
}

/// Runs the shell on the terminal until `\q` or end of input.
pub async fn run_interactive(mut session: Session) -> Result<()> {
    let mut editor: Editor<ShellHelper, rustyline::history::FileHistory> =
        Editor::new().map_err(|e| Error::io("<terminal>", std::io::Error::other(e.to_string())))?;
    editor.set_helper(Some(ShellHelper {
        words: completion_words(),
    }));
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".chatql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "chatql {} shell: SQL ending in ';', \\? for help, \\q to quit",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        let prompt = if session.in_statement() {
            "   -> "
        } else {
            "chatql> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                if session.line(&line, &mut out).await? == Action::Quit {
                    break;
                }
                out.flush().map_err(Error::Output)?;
            }
            Err(ReadlineError::Interrupted) => {
                session.buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                return Err(Error::io(
                    "<terminal>",
                    std::io::Error::other(e.to_string()),
                ))
            }
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
