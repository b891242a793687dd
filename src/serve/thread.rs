//! One conversation read on demand (with SQL, or straight from a lake's files: see
//! [`super::rows`]): the conversation's fields, every message with its feedback, and every
//! context with its text, on the message it was retrieved for.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::prelude::SessionContext;

use super::rows::{self, RowIndex};
use super::store::citations;
use crate::error::Result;
use crate::model::Zone;
use crate::query::catalog::sql_str;
use crate::table::redact::Redactor;

/// A retrieved context.
#[derive(Debug, Clone)]
pub struct Context {
    /// Document name.
    pub name: Option<String>,
    /// Page.
    pub page: Option<i64>,
    /// Link.
    pub url: Option<String>,
    /// Text.
    pub text: Option<String>,
}

/// A message.
#[derive(Debug, Clone)]
pub struct ThreadMessage {
    /// Index.
    pub index: i32,
    /// Role.
    pub role: String,
    /// Content.
    pub content: String,
    /// Thumbs up or down.
    pub feedback: Option<bool>,
    /// Feedback category.
    pub category: Option<String>,
    /// Feedback comment.
    pub comment: Option<String>,
    /// Contexts retrieved for it.
    pub contexts: Vec<Context>,
    /// The context numbers its answer cites (its own content, or the next message's).
    pub cites: Vec<usize>,
}

impl ThreadMessage {
    /// The contexts shown first: the cited ones, or the first five without citations.
    pub fn cited(&self) -> Vec<usize> {
        let cited: Vec<usize> = self
            .cites
            .iter()
            .copied()
            .filter(|n| *n <= self.contexts.len())
            .collect();
        if cited.is_empty() {
            (1..=self.contexts.len().min(5)).collect()
        } else {
            cited
        }
    }
}

/// A conversation.
#[derive(Debug, Clone)]
pub struct Thread {
    /// Its id.
    pub convo_id: String,
    /// Name.
    pub name: Option<String>,
    /// Time (µs).
    pub created_at: Option<i64>,
    /// Course.
    pub course: Option<String>,
    /// User (pseudonymized unless shown).
    pub user: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// System prompt.
    pub prompt: Option<String>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Messages in order.
    pub messages: Vec<ThreadMessage>,
}

/// The columns of `b` as text, each cast once.
struct Texts(Vec<datafusion::arrow::array::ArrayRef>);

impl Texts {
    fn of(b: &RecordBatch) -> Result<Texts> {
        let cols = b
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Texts(cols))
    }

    /// Row `i` of column `c`, if not null.
    fn get(&self, c: usize, i: usize) -> Option<String> {
        let a = self.0[c].as_string::<i32>();
        a.is_valid(i).then(|| a.value(i).to_owned())
    }
}

async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Where a thread's rows come from.
pub enum Source<'a> {
    /// SQL over the session's tables (any input).
    Sql(&'a SessionContext),
    /// Straight from a local lake's files, whose timestamps are shown in this zone.
    Lake(&'a RowIndex, Zone),
}

const CONVERSATION: [&str; 8] = [
    "name",
    "created_at",
    "course_name",
    "user_email",
    "model_id",
    "model_name",
    "prompt",
    "temperature",
];
const MESSAGES: [&str; 6] = [
    "message_index",
    "role",
    "content",
    "feedback_positive",
    "feedback_category",
    "feedback_details",
];
const CONTEXTS: [&str; 6] = [
    "message_index",
    "context_index",
    "readable_filename",
    "pagenumber",
    "url",
    "text",
];

impl Source<'_> {
    /// The `columns` of conversation `id`'s rows of table `k` of [`rows::TABLES`].
    async fn read(&self, k: usize, id: &str, columns: &[&str]) -> Result<Vec<RecordBatch>> {
        match self {
            Source::Lake(index, _) => index.read(k, id, columns),
            Source::Sql(ctx) => {
                let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
                rows(
                    ctx,
                    &format!(
                        "SELECT {} FROM {} WHERE convo_id = {}",
                        cols.join(", "),
                        rows::TABLES[k].name(),
                        sql_str(id)
                    ),
                )
                .await
            }
        }
    }

    /// A stored time as the page shows it.
    fn time(&self, us: i64) -> i64 {
        match self {
            Source::Lake(_, tz) => tz.to_local(us),
            // The session's views show wall-clock times already.
            Source::Sql(_) => us,
        }
    }
}

impl Thread {
    /// Reads conversation `id`; `None` when there is none.
    pub async fn load(
        src: &Source<'_>,
        id: &str,
        redactor: Option<&Redactor>,
    ) -> Result<Option<Thread>> {
        let convo = src.read(0, id, &CONVERSATION).await?;
        let Some(b) = convo.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let tx = Texts::of(b)?;
        let at = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let temp = cast(b.column(7), &DataType::Float64)?;
        let temp = temp.as_primitive::<Float64Type>();
        let mut t = Thread {
            convo_id: id.to_owned(),
            name: tx.get(0, 0),
            created_at: at.is_valid(0).then(|| src.time(at.value(0))),
            course: tx.get(2, 0),
            user: tx.get(3, 0).map(|u| match redactor {
                Some(r) => r.pseudonym(&u),
                None => u,
            }),
            model: tx.get(4, 0).or_else(|| tx.get(5, 0)),
            prompt: tx.get(6, 0),
            temperature: temp.is_valid(0).then(|| temp.value(0)),
            messages: Vec::new(),
        };
        for b in src.read(1, id, &MESSAGES).await? {
            let tx = Texts::of(&b)?;
            let mi = b.column(0).as_primitive::<Int32Type>();
            let fb = b.column(3).as_boolean();
            for i in 0..b.num_rows() {
                t.messages.push(ThreadMessage {
                    index: mi.value(i),
                    role: tx.get(1, i).unwrap_or_default(),
                    content: tx.get(2, i).unwrap_or_default(),
                    feedback: fb.is_valid(i).then(|| fb.value(i)),
                    category: tx.get(4, i),
                    comment: tx.get(5, i).filter(|c| !c.trim().is_empty()),
                    contexts: Vec::new(),
                    cites: Vec::new(),
                });
            }
        }
        t.messages.sort_by_key(|m| m.index);
        t.read_contexts(src).await?;
        Ok(Some(t))
    }

    async fn read_contexts(&mut self, src: &Source<'_>) -> Result<()> {
        let mut found: Vec<(i32, i32, Context)> = Vec::new();
        for b in src.read(2, &self.convo_id, &CONTEXTS).await? {
            let tx = Texts::of(&b)?;
            let mi = b.column(0).as_primitive::<Int32Type>();
            let ci = cast(b.column(1), &DataType::Int32)?;
            let ci = ci.as_primitive::<Int32Type>();
            let page = cast(b.column(3), &DataType::Int64)?;
            let page = page.as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                let c = Context {
                    name: tx.get(2, i),
                    page: page.is_valid(i).then(|| page.value(i)),
                    url: tx.get(4, i),
                    text: tx.get(5, i),
                };
                found.push((mi.value(i), ci.value(i), c));
            }
        }
        found.sort_by_key(|(m, c, _)| (*m, *c));
        for (mi, _, c) in found {
            if let Some(m) = self.messages.iter_mut().find(|m| m.index == mi) {
                m.contexts.push(c);
            }
        }
        // A question's contexts are cited by the answer that follows it.
        for k in 0..self.messages.len() {
            let answer = match self.messages[k].role.as_str() {
                "assistant" => Some(k),
                _ => self
                    .messages
                    .get(k + 1)
                    .filter(|n| n.role == "assistant")
                    .map(|_| k + 1),
            };
            if let Some(a) = answer {
                self.messages[k].cites = citations(&self.messages[a].content);
            }
        }
        Ok(())
    }

    /// The thread as the API gives it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "convo_id": self.convo_id,
            "name": self.name,
            "created_at": self.created_at.map(crate::model::format_timestamp_pg),
            "course_name": self.course,
            "user": self.user,
            "model": self.model,
            "prompt": self.prompt,
            "temperature": self.temperature,
            "messages": self.messages.iter().map(|m| serde_json::json!({
                "message_index": m.index,
                "role": m.role,
                "content": m.content,
                "feedback": match m.feedback { Some(true) => "up", Some(false) => "down", None => "none" },
                "feedback_category": m.category,
                "feedback_comment": m.comment,
                "cited": m.cited(),
                "contexts": m.contexts.iter().map(|c| serde_json::json!({
                    "readable_filename": c.name, "pagenumber": c.page, "url": c.url, "text": c.text,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}
