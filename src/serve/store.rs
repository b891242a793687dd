//! The questions the app lists, read once at start-up into memory: one row per user
//! question with its answer, feedback, conversation and the documents its contexts came
//! from; emails pseudonymized unless the user asked to see them. The search index is
//! built over them here too. Threads and documents are read on demand with SQL.

use std::collections::HashMap;
use std::sync::OnceLock;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, TimestampMicrosecondType};

use super::search::Index;
use crate::error::Result;
use crate::query::Catalog;
use crate::table::redact::Redactor;

/// One user question.
#[derive(Debug, Clone)]
pub struct Question {
    /// Its conversation.
    pub convo_id: String,
    /// Its message's index.
    pub message_index: i32,
    /// The answer's message index, if an answer followed.
    pub answer_index: Option<i32>,
    /// The conversation's time (µs, wall-clock in the zone served).
    pub created_at: Option<i64>,
    /// `YYYY-MM` of that time (the month facet, formatted once).
    pub month: Option<String>,
    /// Course.
    pub course: Option<String>,
    /// User (a pseudonym unless `--show-emails`).
    pub user: Option<String>,
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: Option<String>,
    /// The conversation's model.
    pub model: Option<String>,
    /// The answer's thumbs up (true) or down (false).
    pub feedback: Option<bool>,
    /// The feedback's category.
    pub category: Option<String>,
    /// The feedback's comment.
    pub comment: Option<String>,
    /// The documents of the contexts cited (or, without citations, of the first five).
    pub documents: Vec<String>,
}

impl Question {
    /// `up`, `down` or `none`.
    pub fn feedback_name(&self) -> &'static str {
        match self.feedback {
            Some(true) => "up",
            Some(false) => "down",
            None => "none",
        }
    }
}

/// Every question, in time order (newest first), and their index.
pub struct Store {
    /// The questions.
    pub questions: Vec<Question>,
    /// The full-text index, one document per question.
    pub index: Index,
    /// The facet values of every question, as codes.
    pub facets: FacetCodes,
    /// Each question's conversation as a number (in the questions' order, where a
    /// conversation's questions are next to each other): a thread page finds its neighbours
    /// in the list comparing numbers, not ids.
    pub convo_of: Vec<u32>,
    /// Per conversation number, its first question.
    pub convo_first: Vec<usize>,
    convo_number: HashMap<String, u32>,
    /// The facet counts of the whole list, once asked for (`list::select` makes them).
    pub whole_list_facets: OnceLock<Facets>,
}

/// Per facet, in [`super::list::FACETS`] order: its name, and value → questions with it,
/// most first.
pub type Facets = Vec<(&'static str, Vec<(String, usize)>)>;

/// No value for a facet.
pub const NONE: u32 = u32::MAX;

/// Facet values interned once at load, so that filtering and counting a selection is
/// comparing and counting small integers (the list's facets: course, model, month,
/// feedback, comment, then document, which a question holds several of).
#[derive(Debug, Default)]
pub struct FacetCodes {
    /// Per facet, in [`super::list::FACETS`] order, its distinct values.
    pub names: Vec<Vec<String>>,
    /// Per question, the codes of its one value of each of the first five facets ([`NONE`]
    /// when it has none).
    pub codes: Vec<[u32; 5]>,
    /// The codes of every question's documents, one after another (question `i`'s are
    /// `doc_codes[doc_start[i]..doc_start[i + 1]]`): one array read in order when a selection
    /// is counted, not a separate allocation per question.
    doc_codes: Vec<u32>,
    doc_start: Vec<u32>,
    lookup: Vec<HashMap<String, u32>>,
}

impl FacetCodes {
    fn build(questions: &[Question]) -> FacetCodes {
        let mut f = FacetCodes {
            names: vec![Vec::new(); 6],
            lookup: vec![HashMap::new(); 6],
            doc_start: vec![0],
            ..Default::default()
        };
        for q in questions {
            let one = [
                q.course.as_deref(),
                q.model.as_deref(),
                q.month.as_deref(),
                Some(q.feedback_name()),
                Some(if q.comment.is_some() { "yes" } else { "no" }),
            ];
            let mut codes = [NONE; 5];
            for (k, v) in one.into_iter().enumerate() {
                if let Some(v) = v {
                    codes[k] = f.intern(k, v);
                }
            }
            f.codes.push(codes);
            for d in &q.documents {
                let c = f.intern(5, d);
                f.doc_codes.push(c);
            }
            f.doc_start.push(f.doc_codes.len() as u32);
        }
        f
    }

    /// The codes of question `i`'s documents.
    pub fn docs(&self, i: usize) -> &[u32] {
        &self.doc_codes[self.doc_start[i] as usize..self.doc_start[i + 1] as usize]
    }

    fn intern(&mut self, facet: usize, v: &str) -> u32 {
        if let Some(&c) = self.lookup[facet].get(v) {
            return c;
        }
        let c = self.names[facet].len() as u32;
        self.names[facet].push(v.to_owned());
        self.lookup[facet].insert(v.to_owned(), c);
        c
    }

    /// The code of `value` in facet number `facet`, if any question has it.
    pub fn code(&self, facet: usize, value: &str) -> Option<u32> {
        self.lookup.get(facet)?.get(value).copied()
    }

    /// Whether question `i` has code `c` in facet number `facet`.
    pub fn has(&self, i: usize, facet: usize, c: u32) -> bool {
        match facet {
            0..=4 => self.codes[i][facet] == c,
            _ => self.docs(i).contains(&c),
        }
    }
}

/// The questions with their answers, in the order the list shows by default.
const QUESTIONS: &str = "
SELECT q.convo_id, q.message_index, a.message_index AS answer_index, c.created_at,
       c.course_name, c.user_email, q.content AS question, a.content AS answer,
       coalesce(c.model_id, c.model_name) AS model, a.feedback_positive,
       a.feedback_category, a.feedback_details
FROM messages q
JOIN conversations c ON c.convo_id = q.convo_id
LEFT JOIN messages a ON a.convo_id = q.convo_id AND a.message_index = q.message_index + 1
     AND a.role = 'assistant'
WHERE q.role = 'user'
ORDER BY c.created_at DESC NULLS LAST, q.convo_id, q.message_index";

/// Where each question's contexts came from.
const SOURCES: &str = "
SELECT convo_id, message_index, context_index, readable_filename FROM contexts
WHERE readable_filename IS NOT NULL AND readable_filename <> ''
ORDER BY convo_id, message_index, context_index";

impl Store {
    /// Reads the questions of `cat` (its tables loaded), pseudonymizing emails with
    /// `redactor` when given.
    pub async fn load(cat: &mut Catalog, redactor: Option<&Redactor>) -> Result<Store> {
        let mut questions = Vec::new();
        for (_, batches) in cat.run_sql(QUESTIONS).await? {
            for b in &batches {
                read_questions(b, redactor, &mut questions)?;
            }
        }
        let mut sources: HashMap<(String, i32), Vec<String>> = HashMap::new();
        for (_, batches) in cat.run_sql(SOURCES).await? {
            for b in &batches {
                let convo = b.column(0).as_string::<i32>();
                let mi = b.column(1).as_primitive::<Int32Type>();
                let name = b.column(3).as_string::<i32>();
                for i in 0..b.num_rows() {
                    sources
                        .entry((convo.value(i).to_owned(), mi.value(i)))
                        .or_default()
                        .push(name.value(i).to_owned());
                }
            }
        }
        for q in &mut questions {
            q.documents = cited_documents(q, &sources);
        }
        let index = Index::build(questions.iter().map(|q| {
            vec![
                q.question.as_str(),
                q.answer.as_deref().unwrap_or(""),
                q.comment.as_deref().unwrap_or(""),
            ]
        }));
        let facets = FacetCodes::build(&questions);
        let (mut convo_of, mut convo_first) = (Vec::with_capacity(questions.len()), Vec::new());
        let mut convo_number = HashMap::new();
        for (i, q) in questions.iter().enumerate() {
            let n = *convo_number.entry(q.convo_id.clone()).or_insert_with(|| {
                convo_first.push(i);
                (convo_first.len() - 1) as u32
            });
            convo_of.push(n);
        }
        Ok(Store {
            questions,
            index,
            facets,
            convo_of,
            convo_first,
            convo_number,
            whole_list_facets: OnceLock::new(),
        })
    }

    /// The number of the conversation `id`, if it has a question.
    pub fn convo_number(&self, id: &str) -> Option<u32> {
        self.convo_number.get(id).copied()
    }
}

/// The documents a question's answer cites: its `<cite>n</cite>` tags (1-based, over the
/// question's and the answer's contexts in order), else the first five contexts; each once.
fn cited_documents(q: &Question, sources: &HashMap<(String, i32), Vec<String>>) -> Vec<String> {
    let mut all: Vec<&String> = Vec::new();
    for mi in std::iter::once(q.message_index).chain(q.answer_index) {
        if let Some(s) = sources.get(&(q.convo_id.clone(), mi)) {
            all.extend(s);
        }
    }
    let cites = citations(q.answer.as_deref().unwrap_or(""));
    let chosen: Vec<&String> = if cites.is_empty() {
        all.into_iter().take(5).collect()
    } else {
        cites
            .iter()
            .filter_map(|n| all.get(n - 1).copied())
            .collect()
    };
    let mut out: Vec<String> = Vec::new();
    for d in chosen {
        if !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

/// The context numbers an answer cites with `<cite>n</cite>` (or `<cite>1, 2</cite>`), in
/// order of first citation.
pub fn citations(answer: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = answer;
    while let Some(i) = rest.find("<cite>") {
        rest = &rest[i + 6..];
        let Some(end) = rest.find("</cite>") else {
            break;
        };
        for n in rest[..end]
            .split(',')
            .filter_map(|n| n.trim().parse::<usize>().ok())
        {
            if n > 0 && !out.contains(&n) {
                out.push(n);
            }
        }
        rest = &rest[end..];
    }
    out
}

fn read_questions(
    b: &RecordBatch,
    redactor: Option<&Redactor>,
    out: &mut Vec<Question>,
) -> Result<()> {
    let text = |c: usize| cast(b.column(c), &DataType::Utf8);
    let (convo, course, user) = (text(0)?, text(4)?, text(5)?);
    let (question, answer, model) = (text(6)?, text(7)?, text(8)?);
    let (category, comment) = (text(10)?, text(11)?);
    let s = |a: &dyn Array, i: usize| -> Option<String> {
        let a = a.as_string::<i32>();
        a.is_valid(i).then(|| a.value(i).to_owned())
    };
    let mi = b.column(1).as_primitive::<Int32Type>();
    let ai = b.column(2).as_primitive::<Int32Type>();
    let at = b.column(3).as_primitive::<TimestampMicrosecondType>();
    let fb = b.column(9).as_boolean();
    for i in 0..b.num_rows() {
        let user = s(&user, i).map(|u| match redactor {
            Some(r) => r.pseudonym(&u),
            None => u,
        });
        let created_at = at.is_valid(i).then(|| at.value(i));
        out.push(Question {
            convo_id: s(&convo, i).unwrap_or_default(),
            message_index: mi.value(i),
            answer_index: ai.is_valid(i).then(|| ai.value(i)),
            created_at,
            month: created_at.map(|us| crate::model::format_timestamp_pg(us)[..7].to_owned()),
            course: s(&course, i),
            user,
            question: s(&question, i).unwrap_or_default(),
            answer: s(&answer, i),
            model: s(&model, i),
            feedback: fb.is_valid(i).then(|| fb.value(i)),
            category: s(&category, i),
            comment: s(&comment, i).filter(|c| !c.trim().is_empty()),
            documents: Vec::new(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn citations_in_order_once() {
        assert_eq!(
            super::citations("A <cite>2</cite> and <cite>1, 2</cite>, <cite>x</cite>"),
            [2, 1]
        );
        assert!(super::citations("none").is_empty());
    }
}
