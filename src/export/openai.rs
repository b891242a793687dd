//! Chat fine-tuning lines: OpenAI's `{"messages": [...]}` and ShareGPT's
//! `{"conversations": [...]}`. Every line written is valid for fine-tuning: an optional
//! system message, then user and assistant messages in turn, none empty, ending with an
//! assistant answer. A conversation that cannot be made so is skipped with a reason.

use serde_json::{json, Value};

use super::cursor::{Conversation, Row};
use super::{uiuc, ContextPlacement, ExportOptions, SystemMessage};
use crate::table::col::{contexts as cx, conversations as cv, messages as ms};

/// A message on its way out: role, text or content parts, and for questions and answers the
/// message row it came from.
pub(crate) struct Msg {
    pub(crate) role: &'static str,
    pub(crate) content: Value,
    /// `message_index` of the row (none for system messages).
    pub(crate) index: Option<i32>,
    /// The answer's thumbs (`feedback_positive`).
    pub(crate) positive: Option<bool>,
}

impl Msg {
    /// `{"role", "content"}`.
    pub(crate) fn json(&self) -> Value {
        json!({"role": self.role, "content": self.content})
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

/// OpenAI content parts from UIUC parts: text and images are kept, other kinds dropped.
fn openai_parts(parts: &[Value]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => p
                .get("text")
                .and_then(Value::as_str)
                .map(|t| json!({"type": "text", "text": t})),
            Some("image_url") => p
                .pointer("/image_url/url")
                .and_then(Value::as_str)
                .map(|u| json!({"type": "image_url", "image_url": {"url": u}})),
            _ => None,
        })
        .collect()
}

/// The contexts of a question as one block of text.
fn contexts_text(ctx: &[&Row]) -> Option<String> {
    let mut out = String::new();
    for (n, r) in ctx.iter().enumerate() {
        let Some(text) = r.str(cx::text).filter(|t| !t.is_empty()) else {
            continue;
        };
        let name = r.str(cx::readable_filename).unwrap_or("unknown");
        match r.i64(cx::pagenumber) {
            Some(p) => out.push_str(&format!("[{}] {name}, page {p}:\n{text}\n\n", n + 1)),
            None => out.push_str(&format!("[{}] {name}:\n{text}\n\n", n + 1)),
        }
    }
    (!out.is_empty()).then(|| out.trim_end().to_owned())
}

/// The conversation's system message, questions and answers in order, with the options'
/// system message and contexts applied; empty messages and other roles left out. Not yet
/// checked for turn order (see [`alternates`]).
pub(crate) fn messages(c: &Conversation, opts: &ExportOptions, parts: bool) -> Vec<Msg> {
    let mut out = Vec::new();
    let system = match &opts.system {
        SystemMessage::None => None,
        SystemMessage::Prompt => c.row.str(cv::prompt).map(str::to_owned),
        SystemMessage::Text(t) => Some(t.clone()),
    };
    if let Some(s) = system.filter(|s| !s.trim().is_empty()) {
        out.push(Msg {
            role: "system",
            content: Value::String(s),
            index: None,
            positive: None,
        });
    }
    let msgs = &c.messages;
    for (i, (m, ctx)) in msgs.iter().enumerate() {
        let role = match m.str(ms::role) {
            Some("user") => "user",
            Some("assistant") => "assistant",
            _ => continue,
        };
        let extra = uiuc::parse_extra(m.str(ms::extra));
        let mut content = match (parts && !opts.text_only, extra.get("content")) {
            (true, Some(Value::Array(p))) => {
                let p = openai_parts(p);
                if p.iter().all(|x| x["type"] == "text") {
                    Value::String(m.str(ms::content).unwrap_or("").to_owned())
                } else {
                    Value::Array(p)
                }
            }
            _ => Value::String(m.str(ms::content).unwrap_or("").to_owned()),
        };
        if is_empty(&content) {
            continue;
        }
        if role == "user" && opts.contexts != ContextPlacement::None {
            // This question's contexts: on it (2024+) or on the answer after it (2023).
            let mut turn: Vec<&Row> = ctx.iter().collect();
            if let Some((next, next_ctx)) = msgs.get(i + 1) {
                if next.str(ms::role) == Some("assistant") {
                    turn.extend(next_ctx.iter());
                }
            }
            if let Some(text) = contexts_text(&turn) {
                if opts.contexts == ContextPlacement::System {
                    out.push(Msg {
                        role: "system",
                        content: Value::String(format!("Retrieved context:\n\n{text}")),
                        index: None,
                        positive: None,
                    });
                } else {
                    let prefix = format!("Context:\n\n{text}\n\nQuestion: ");
                    content = match content {
                        Value::String(s) => Value::String(prefix + &s),
                        Value::Array(mut p) => {
                            p.insert(0, json!({"type": "text", "text": prefix}));
                            Value::Array(p)
                        }
                        other => other,
                    };
                }
            }
        }
        out.push(Msg {
            role,
            content,
            index: m.i32(ms::message_index),
            positive: m.bool(ms::feedback_positive),
        });
    }
    out
}

/// Whether the questions and answers of `msgs` (system messages aside) start with a
/// question and alternate; the reason if not.
pub(crate) fn alternates(msgs: &[Msg]) -> Result<(), &'static str> {
    let mut expect = "user";
    for m in msgs.iter().filter(|m| m.role != "system") {
        if m.role != expect {
            return Err("roles do not alternate");
        }
        expect = if expect == "user" {
            "assistant"
        } else {
            "user"
        };
    }
    Ok(())
}

/// The conversation's messages, valid for fine-tuning, or the reason it cannot be.
fn chat(c: &Conversation, opts: &ExportOptions, parts: bool) -> Result<Vec<Msg>, &'static str> {
    let mut out = messages(c, opts, parts);
    // An unanswered last question is dropped; what remains must alternate.
    while out.last().is_some_and(|m| m.role != "assistant") {
        if out.last().is_some_and(|m| m.role == "system") && out.iter().all(|m| m.role == "system")
        {
            break;
        }
        out.pop();
    }
    if !out.iter().any(|m| m.role == "user") {
        return Err("no question");
    }
    if !out.iter().any(|m| m.role == "assistant") {
        return Err("no answer");
    }
    alternates(&out)?;
    Ok(out)
}

/// One OpenAI fine-tuning line.
pub(crate) fn openai_line(c: &Conversation, opts: &ExportOptions) -> Result<Value, &'static str> {
    let msgs = chat(c, opts, true)?;
    let messages: Vec<Value> = msgs.iter().map(Msg::json).collect();
    Ok(json!({ "messages": messages }))
}

/// One ShareGPT line.
pub(crate) fn sharegpt_line(c: &Conversation, opts: &ExportOptions) -> Result<Value, &'static str> {
    let msgs = chat(c, opts, false)?;
    let conv: Vec<Value> = msgs
        .into_iter()
        .map(|m| {
            let from = match m.role {
                "user" => "human",
                "assistant" => "gpt",
                other => other,
            };
            json!({"from": from, "value": m.content})
        })
        .collect();
    Ok(json!({ "conversations": conv }))
}
