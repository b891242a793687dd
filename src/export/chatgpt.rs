//! Conversations as ChatGPT's `conversations.json`, the file Open WebUI and LibreChat import:
//! a JSON array of conversations, each with `title`, `create_time`, `update_time` (seconds),
//! a `mapping` of nodes `{id, message, parent, children}` and `current_node`.
//!
//! The shape follows what the importers read, not only what ChatGPT writes:
//! - Open WebUI's `convertOpenAIChats` walks `mapping` in key order, skips a first node
//!   without a message, takes `content.parts[0]` as the text, treats every role but `user`
//!   as the assistant, and drops a chat whose first message has a parent or whose last has
//!   children. So the mapping is one chain in order: a root node without a message, then the
//!   messages, each the only child of the one before; the system prompt is not a node (it
//!   would become an assistant message) but stays in the conversation's `chatql` object.
//! - LibreChat's `importChatGptConvo` takes every node with a message and a
//!   `content.content_type`, skips system messages, links each to its nearest parent with a
//!   message, joins `content.parts` with spaces, and reads `metadata.model_slug` (so every
//!   message has a `metadata` object; the assistant's names the conversation's model, as
//!   ChatGPT's exports do) and the conversation's `create_time`.
//!
//! Feedback and the retrieved sources, which neither importer maps, ride in each message's
//! `metadata` (`feedback`, `sources`) so the file stays a faithful copy.

use serde_json::{json, Value};

use super::cursor::{Conversation, Row};
use crate::table::col::{contexts as cx, conversations as cv, messages as ms};

/// Microseconds to ChatGPT's float seconds.
fn seconds(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |t| json!(t as f64 / 1e6))
}

fn source(r: &Row) -> Value {
    json!({
        "title": r.str(cx::readable_filename),
        "s3_path": r.str(cx::s3_path),
        "url": r.str(cx::url).filter(|u| !u.is_empty()),
        "pagenumber": r.i64(cx::pagenumber),
    })
}

/// One conversation in ChatGPT's shape; `Err` when it has no message to import.
pub fn conversation(c: &Conversation) -> Result<Value, &'static str> {
    let r = &c.row;
    let id = r.str(cv::convo_id).unwrap_or("");
    // A conversation without a time of its own takes its first message's (importers date
    // the conversation by it; with no time at all LibreChat shows 1970-01-01).
    let created = r
        .ts(cv::created_at)
        .or_else(|| c.messages.iter().find_map(|(m, _)| m.ts(ms::created_at)));
    let root = format!("{id}-root");
    let mut mapping = serde_json::Map::new();
    let mut order = vec![root.clone()];
    let mut nodes = Vec::new();
    for (i, (m, contexts)) in c.messages.iter().enumerate() {
        let role = m.str(ms::role).unwrap_or("user");
        if role == "system" {
            continue;
        }
        let node_id = m
            .str(ms::message_id)
            .map_or_else(|| format!("{id}-{i}"), str::to_owned);
        let mut metadata = serde_json::Map::new();
        if let Some(up) = m.bool(ms::feedback_positive) {
            metadata.insert(
                "feedback".into(),
                json!({"rating": if up { "thumbsUp" } else { "thumbsDown" },
                       "category": m.str(ms::feedback_category), "details": m.str(ms::feedback_details)}),
            );
        }
        if !contexts.is_empty() {
            metadata.insert("sources".into(), contexts.iter().map(source).collect());
        }
        if role == "assistant" {
            if let Some(model) = r.str(cv::model_id) {
                metadata.insert("model_slug".into(), json!(model));
            }
        }
        let message = json!({
            "id": node_id,
            "author": {"role": role, "name": null, "metadata": {}},
            "create_time": seconds(m.ts(ms::created_at).or(created)),
            "update_time": null,
            "content": {"content_type": "text", "parts": [m.str(ms::content).unwrap_or("")]},
            "status": "finished_successfully",
            "end_turn": (role == "assistant").then_some(true),
            "weight": 1.0,
            "metadata": metadata,
            "recipient": "all",
        });
        order.push(node_id.clone());
        nodes.push((node_id, message));
    }
    if nodes.is_empty() {
        return Err("conversation without messages");
    }
    mapping.insert(
        root.clone(),
        json!({"id": root, "message": null, "parent": null, "children": [order[1]]}),
    );
    for (k, (node_id, message)) in nodes.into_iter().enumerate() {
        let children: Vec<&String> = order.get(k + 2).into_iter().collect();
        mapping.insert(
            node_id.clone(),
            json!({"id": node_id, "message": message, "parent": order[k], "children": children}),
        );
    }
    Ok(json!({
        "id": id,
        "conversation_id": id,
        "title": r.str(cv::name).unwrap_or("Untitled"),
        "create_time": seconds(created),
        "update_time": seconds(r.ts(cv::updated_at).or(created)),
        "mapping": mapping,
        "current_node": order.last(),
        "default_model_slug": r.str(cv::model_id),
        "chatql": {"course_name": r.str(cv::course_name), "user_email": r.str(cv::user_email),
                   "prompt": r.str(cv::prompt)},
    }))
}
