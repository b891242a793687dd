//! `--to annotation`: a reproducible, stratified sample of conversations as a CSV to code by
//! hand, one row per question with its answer, sources and feedback, and empty columns to
//! fill in. `chatql sql` reads the filled file back as the table `annotations`.
//!
//! The sample takes two passes over the lake: the first notes each conversation that passes
//! the filters with its cell (course × month × feedback, as `--stratify` asks) and a seeded
//! hash of its id; then the sample size is spread over the cells (one per cell first when the
//! size allows, the rest in proportion to the cells' sizes, by largest remainder), and each
//! cell takes its conversations of lowest hash. The same lake, filters and seed give the same
//! sample whatever the order of the input.
//!
//! The file is UTF-8 with a byte-order mark, so spreadsheet programs read accents and emoji
//! right. A free-text cell that starts with `=`, `+`, `-` or `@` gets a leading `'`, so a
//! spreadsheet shows it as text instead of running it as a formula.

use std::collections::{BTreeMap, HashSet};

use super::cursor::Conversation;
use crate::model::time::format_timestamp_pg;
use crate::table::col::{contexts as cx, conversations as cv, messages as ms};

/// What the sample is stratified by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stratum {
    /// The conversation's course.
    Course,
    /// The month it was created in (UTC).
    Month,
    /// Its feedback: `negative` if any answer was rated down, else `positive` if any was
    /// rated up, else `none`.
    Feedback,
}

/// How to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampling {
    /// Conversations to take.
    pub size: usize,
    /// Seed of the hash that orders conversations within a cell.
    pub seed: u64,
    /// Cell dimensions (none: a simple random sample).
    pub stratify: Vec<Stratum>,
}

/// The columns a coder fills in.
pub const CODING_COLUMNS: [&str; 4] = ["correct", "helpful", "question_type", "notes"];

/// The columns chatql fills, before the coding columns.
pub const HEADER: [&str; 13] = [
    "convo_id",
    "message_index",
    "sample_cell",
    "course_name",
    "created_at",
    "user_email",
    "model",
    "question",
    "answer",
    "sources",
    "feedback",
    "feedback_category",
    "feedback_details",
];

/// A conversation's cell under `dims`, e.g. `ECE120 / 2024-03 / negative`.
pub(crate) fn cell(c: &Conversation, dims: &[Stratum]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Stratum::Course => c.row.str(cv::course_name).unwrap_or("(none)").to_owned(),
            Stratum::Month => c
                .row
                .ts(cv::created_at)
                .map(crate::model::time::format_month)
                .unwrap_or_else(|| "(no date)".into()),
            Stratum::Feedback => {
                let signs: Vec<bool> = c
                    .messages
                    .iter()
                    .filter_map(|(m, _)| m.bool(ms::feedback_positive))
                    .collect();
                if signs.contains(&false) {
                    "negative".into()
                } else if signs.contains(&true) {
                    "positive".into()
                } else {
                    "none".into()
                }
            }
        })
        .collect();
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" / ")
    }
}

/// The seeded hash that orders conversations within a cell.
pub(crate) fn rank(seed: u64, convo_id: &str) -> u64 {
    super::output::stable_hash(&format!("chatql-sample-v1:{seed}:{convo_id}"))
}

/// Picks `size` conversations from `(cell, rank, convo_id)` as the module text says.
pub(crate) fn choose(mut seen: Vec<(String, u64, String)>, size: usize) -> HashSet<String> {
    let mut cells: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (cell, rank, id) in seen.drain(..) {
        cells.entry(cell).or_default().push((rank, id));
    }
    for members in cells.values_mut() {
        members.sort();
    }
    let total: usize = cells.values().map(Vec::len).sum();
    let mut quota: BTreeMap<&String, usize> = BTreeMap::new();
    if size >= total {
        quota.extend(cells.iter().map(|(k, v)| (k, v.len())));
    } else if size < cells.len() {
        // Fewer than one per cell: the cells whose best-ranked member ranks best.
        let mut firsts: Vec<(u64, &String)> = cells.iter().map(|(k, v)| (v[0].0, k)).collect();
        firsts.sort();
        quota.extend(firsts.into_iter().take(size).map(|(_, k)| (k, 1)));
    } else {
        // One per cell, then the rest in proportion to what each cell has left.
        let rest = (size - cells.len()) as f64;
        let spare = (total - cells.len()) as f64;
        let mut shares: Vec<(f64, &String)> = Vec::new();
        let mut given = cells.len();
        for (k, v) in &cells {
            let exact = if spare > 0.0 {
                rest * (v.len() - 1) as f64 / spare
            } else {
                0.0
            };
            let whole = exact.floor() as usize;
            quota.insert(k, 1 + whole);
            given += whole;
            shares.push((exact - whole as f64, k));
        }
        shares.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        for (_, k) in shares.into_iter().take(size - given) {
            *quota.get_mut(k).expect("every cell has a quota") += 1;
        }
    }
    let mut out = HashSet::new();
    for (k, n) in quota {
        out.extend(cells[k].iter().take(n).map(|(_, id)| id.clone()));
    }
    out
}

/// One CSV field: quoted when it holds a comma, quote or line break; free text that a
/// spreadsheet would take for a formula gets a leading `'`.
fn field(out: &mut String, value: &str, free_text: bool) {
    let guarded;
    let value = if free_text && value.starts_with(['=', '+', '-', '@']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// The header line, with the byte-order mark.
pub fn header_line() -> String {
    let mut out = String::from("\u{feff}");
    let cols: Vec<&str> = HEADER.iter().chain(&CODING_COLUMNS).copied().collect();
    out.push_str(&cols.join(","));
    out
}

/// Which of [`HEADER`]'s columns are free text (guarded against formulas).
const FREE_TEXT: [bool; 13] = [
    false, false, false, false, false, false, false, true, true, true, false, true, true,
];

/// One row's line from its values in [`HEADER`]'s order, free text guarded, followed by the
/// empty coding columns. `chatql serve`'s "annotate these" writes its rows with it too.
pub fn line(values: [&str; 13]) -> String {
    let mut line = String::new();
    for (n, v) in values.iter().enumerate() {
        if n > 0 {
            line.push(',');
        }
        field(&mut line, v, FREE_TEXT[n]);
    }
    line.push_str(&",".repeat(CODING_COLUMNS.len()));
    line
}

/// The rows of one sampled conversation: one per question (the answer's `message_index`,
/// the question's when it was not answered).
pub(crate) fn rows(c: &Conversation, cell: &str) -> Vec<String> {
    let r = &c.row;
    let convo_id = r.str(cv::convo_id).unwrap_or("");
    let course = r.str(cv::course_name).unwrap_or("");
    let email = r.str(cv::user_email).unwrap_or("");
    let model = r.str(cv::model_id).unwrap_or("");
    let mut out = Vec::new();
    let msgs = &c.messages;
    for (i, (m, ctx)) in msgs.iter().enumerate() {
        if m.str(ms::role) != Some("user") {
            continue;
        }
        let answer = msgs
            .get(i + 1)
            .filter(|(a, _)| a.str(ms::role) == Some("assistant"));
        let at = m
            .ts(ms::created_at)
            .or_else(|| r.ts(cv::created_at))
            .map(format_timestamp_pg)
            .unwrap_or_default();
        // Sources: the documents retrieved for the question (and, in 2023 exports, on the
        // answer), in order, once each.
        let mut sources: Vec<String> = Vec::new();
        for x in ctx.iter().chain(answer.iter().flat_map(|(_, c)| c.iter())) {
            let name = x.str(cx::readable_filename).unwrap_or("unknown");
            let s = match x.i64(cx::pagenumber) {
                Some(p) => format!("{name} p.{p}"),
                None => name.to_owned(),
            };
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        let (index, text, feedback, category, details) = match answer {
            Some((a, _)) => (
                a.i32(ms::message_index),
                a.str(ms::content).unwrap_or(""),
                match a.bool(ms::feedback_positive) {
                    Some(true) => "up",
                    Some(false) => "down",
                    None => "",
                },
                a.str(ms::feedback_category).unwrap_or(""),
                a.str(ms::feedback_details).unwrap_or(""),
            ),
            None => (m.i32(ms::message_index), "", "", "", ""),
        };
        let line = line([
            convo_id,
            &index.map(|i| i.to_string()).unwrap_or_default(),
            cell,
            course,
            &at,
            email,
            model,
            m.str(ms::content).unwrap_or(""),
            text,
            &sources.join("; "),
            feedback,
            category,
            details,
        ]);
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(cells: &[(&str, usize)]) -> Vec<(String, u64, String)> {
        let mut out = Vec::new();
        for (c, n) in cells {
            for i in 0..*n {
                let id = format!("{c}-{i}");
                out.push((c.to_string(), rank(7, &id), id));
            }
        }
        out
    }

    fn per_cell(chosen: &HashSet<String>) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for id in chosen {
            *out.entry(id.split('-').next().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        out
    }

    #[test]
    fn every_cell_first_then_in_proportion() {
        // 3 cells of 1, 11 and 41: 9 = 3 + 6 spread over the 0, 10 and 40 spare.
        let chosen = choose(seen(&[("a", 1), ("b", 11), ("c", 41)]), 9);
        assert_eq!(chosen.len(), 9);
        let got = per_cell(&chosen);
        assert_eq!(got["a"], 1);
        assert_eq!(got["b"], 1 + 1); // 6 * 10/50 = 1.2
        assert_eq!(got["c"], 1 + 5); // 6 * 40/50 = 4.8, the larger remainder
    }

    #[test]
    fn all_when_the_size_covers_everything_and_some_cells_when_it_is_small() {
        assert_eq!(choose(seen(&[("a", 2), ("b", 3)]), 10).len(), 5);
        let two = choose(seen(&[("a", 2), ("b", 3), ("c", 4)]), 2);
        assert_eq!(two.len(), 2);
        assert!(per_cell(&two).values().all(|&n| n == 1));
    }

    #[test]
    fn the_same_seed_gives_the_same_sample_whatever_the_order() {
        let mut input = seen(&[("a", 5), ("b", 20)]);
        let first = choose(input.clone(), 6);
        input.reverse();
        assert_eq!(choose(input, 6), first);
    }

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut s = String::new();
        field(&mut s, "a, \"b\"\nc", true);
        assert_eq!(s, "\"a, \"\"b\"\"\nc\"");
        let mut s = String::new();
        field(&mut s, "=SUM(A1)", true);
        assert_eq!(s, "'=SUM(A1)");
        let mut s = String::new();
        field(&mut s, "-3", false);
        assert_eq!(s, "-3");
    }
}
