//! The interactive SQL shell on a terminal: line editing and history (rustyline),
//! completion of table, view and column names, around the library's
//! [`chatql::query::session::Session`], which handles each line.

use std::borrow::Cow;
use std::io::Write;

use chatql::query::catalog::VIEWS;
use chatql::query::session::{Action, Session};
use chatql::table::Table;
use chatql::Error;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

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
pub async fn run_interactive(mut session: Session) -> Result<(), Error> {
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
    writeln!(
        std::io::stdout(),
        "chatql {} shell: SQL ending in ';', \\? for help, \\q to quit",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(Error::Output)?;
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
                session.clear_statement();
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
