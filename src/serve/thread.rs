//! One conversation read on demand with SQL: the conversation's fields, every message with
//! its feedback, and every context with its text, on the message it was retrieved for.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::prelude::SessionContext;

use super::store::citations;
use crate::error::Result;
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

impl Thread {
    /// Reads conversation `id`; `None` when there is none.
    pub async fn load(
        ctx: &SessionContext,
        id: &str,
        redactor: Option<&Redactor>,
    ) -> Result<Option<Thread>> {
        let id_sql = sql_str(id);
        let convo = rows(
            ctx,
            &format!(
                "SELECT name, created_at, course_name, user_email, coalesce(model_id, model_name), \
                 prompt, temperature FROM conversations WHERE convo_id = {id_sql} LIMIT 1"
            ),
        )
        .await?;
        let Some(b) = convo.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let tx = Texts::of(b)?;
        let at = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let temp = b.column(6).as_primitive::<Float64Type>();
        let mut t = Thread {
            convo_id: id.to_owned(),
            name: tx.get(0, 0),
            created_at: at.is_valid(0).then(|| at.value(0)),
            course: tx.get(2, 0),
            user: tx.get(3, 0).map(|u| match redactor {
                Some(r) => r.pseudonym(&u),
                None => u,
            }),
            model: tx.get(4, 0),
            prompt: tx.get(5, 0),
            temperature: temp.is_valid(0).then(|| temp.value(0)),
            messages: Vec::new(),
        };
        for b in rows(
            ctx,
            &format!(
                "SELECT message_index, role, content, feedback_positive, feedback_category, \
                 feedback_details FROM messages WHERE convo_id = {id_sql} ORDER BY message_index"
            ),
        )
        .await?
        {
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
        t.read_contexts(ctx, &id_sql).await?;
        Ok(Some(t))
    }

    async fn read_contexts(&mut self, ctx: &SessionContext, id_sql: &str) -> Result<()> {
        for b in rows(
            ctx,
            &format!(
                "SELECT message_index, readable_filename, pagenumber, url, text FROM contexts \
                 WHERE convo_id = {id_sql} ORDER BY message_index, context_index"
            ),
        )
        .await?
        {
            let tx = Texts::of(&b)?;
            let mi = b.column(0).as_primitive::<Int32Type>();
            let page = cast(b.column(2), &DataType::Int64)?;
            let page = page.as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                let c = Context {
                    name: tx.get(1, i),
                    page: page.is_valid(i).then(|| page.value(i)),
                    url: tx.get(3, i),
                    text: tx.get(4, i),
                };
                if let Some(m) = self.messages.iter_mut().find(|m| m.index == mi.value(i)) {
                    m.contexts.push(c);
                }
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
