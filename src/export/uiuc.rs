//! Rebuilding the original UIUC.chat records from the tables: format R rows, format C
//! conversation objects and document lines. Each rebuilt record equals the input record as
//! a JSON value (embeddings at float32 precision): this is the proof that ingest loses
//! nothing.
//!
//! It is the decoder's rule run backwards (see [`crate::ingest::decode`]): a modeled key is
//! emitted from its column when the column is not null; whatever `extra` holds under the
//! same key wins; keys listed in `$absent` are left out; `$value` replaces a whole element
//! that was not an object.

use serde_json::{Map, Number, Value};

use super::cursor::{Conversation, Document, Row};
use crate::model::{format_timestamp_js, format_timestamp_pg};
use crate::table::col::{
    chunks as ck, contexts as cx, conversations as cv, documents as dc, messages as ms,
};

/// Builds a JSON object from (key, column value) pairs and an `extra` object.
pub(crate) struct Obj {
    map: Map<String, Value>,
    extra: Map<String, Value>,
    absent: Vec<String>,
}

/// Parses an `extra` cell (JSON object text, or null).
pub(crate) fn parse_extra(text: Option<&str>) -> Map<String, Value> {
    match text.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    }
}

impl Obj {
    pub(crate) fn new(mut extra: Map<String, Value>) -> Obj {
        let absent = match extra.remove("$absent") {
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Obj {
            map: Map::new(),
            extra,
            absent,
        }
    }

    /// Whether the record was not an object at all (`$value`), and what it was.
    pub(crate) fn take_value(&mut self) -> Option<Value> {
        self.extra.remove("$value")
    }

    /// Removes and returns an `extra` entry (e.g. a partly modeled object like `model`).
    pub(crate) fn take_extra(&mut self, key: &str) -> Option<Value> {
        self.extra.remove(key)
    }

    /// Sets `key` from a column value; None (a null column) leaves the key out.
    pub(crate) fn put(&mut self, key: &str, v: Option<Value>) {
        if let Some(v) = v {
            if !self.absent.iter().any(|a| a == key) {
                self.map.insert(key.to_owned(), v);
            }
        }
    }

    /// Sets `key` to `v` even when null (keys every record of a format has).
    pub(crate) fn put_always(&mut self, key: &str, v: Option<Value>) {
        if !self.absent.iter().any(|a| a == key) {
            self.map.insert(key.to_owned(), v.unwrap_or(Value::Null));
        }
    }

    /// The object: column keys, then `extra` keys, which win.
    pub(crate) fn finish(mut self) -> Value {
        for (k, v) in std::mem::take(&mut self.extra) {
            self.map.insert(k, v);
        }
        Value::Object(self.map)
    }
}

/// A string value.
pub(crate) fn s(v: Option<&str>) -> Option<Value> {
    v.map(|s| Value::String(s.to_owned()))
}

/// An integer value.
pub(crate) fn i(v: Option<i64>) -> Option<Value> {
    v.map(|n| Value::Number(n.into()))
}

/// A float value (NaN and infinities, which JSON has not, become null).
pub(crate) fn f(v: Option<f64>) -> Option<Value> {
    v.map(|x| Number::from_f64(x).map_or(Value::Null, Value::Number))
}

/// A bool value.
pub(crate) fn b(v: Option<bool>) -> Option<Value> {
    v.map(Value::Bool)
}

/// A time as PostgreSQL writes it (row and document `created_at`).
pub(crate) fn ts_pg(v: Option<i64>) -> Option<Value> {
    v.map(|us| Value::String(format_timestamp_pg(us)))
}

/// A time as JavaScript writes it (`updatedAt`).
pub(crate) fn ts_js(v: Option<i64>) -> Option<Value> {
    v.map(|us| Value::String(format_timestamp_js(us)))
}

/// An embedding: f32 values written at f32 precision.
pub(crate) fn embedding(v: Option<&[f32]>) -> Option<Value> {
    v.map(|xs| {
        Value::Array(
            xs.iter()
                .map(|x| {
                    // The shortest text that reads back as the same f32.
                    let text = format!("{x}");
                    let as_f64: f64 = text.parse().unwrap_or(f64::from(*x));
                    Number::from_f64(as_f64).map_or(Value::Null, Value::Number)
                })
                .collect(),
        )
    })
}

/// Merges column values into a partly modeled object kept in `extra` (`model`, `feedback`):
/// an object there gets the columns added; any other value stands as it is.
pub(crate) fn merge_partial(
    kept: Option<Value>,
    columns: &[(&str, Option<Value>)],
) -> Option<Value> {
    match kept {
        Some(Value::Object(mut rest)) => {
            let mut m = Map::new();
            for (k, v) in columns {
                if let Some(v) = v {
                    m.insert((*k).to_owned(), v.clone());
                }
            }
            for (k, v) in std::mem::take(&mut rest) {
                m.insert(k, v);
            }
            Some(Value::Object(m))
        }
        Some(other) => Some(other),
        None => {
            // Not seen as an object: only columns (should not happen with decoded data).
            let m: Map<String, Value> = columns
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Records from rows.

fn context_json(r: &Row) -> Value {
    let mut o = Obj::new(parse_extra(r.str(cx::extra)));
    if let Some(v) = o.take_value() {
        return v;
    }
    o.put("text", s(r.str(cx::text)));
    o.put("readable_filename", s(r.str(cx::readable_filename)));
    o.put("course_name ", s(r.str(cx::course_name)));
    o.put("s3_path", s(r.str(cx::s3_path)));
    o.put("pagenumber", i(r.i64(cx::pagenumber)));
    o.put("url", s(r.str(cx::url)));
    o.put("base_url", s(r.str(cx::base_url)));
    o.put(
        "doc_groups",
        r.strs(cx::doc_groups)
            .map(|g| Value::Array(g.into_iter().map(Value::String).collect())),
    );
    o.put("chunk_index", s(r.str(cx::chunk_ref)));
    o.finish()
}

fn message_json(m: &Row, contexts: &[Row]) -> Value {
    let mut o = Obj::new(parse_extra(m.str(ms::extra)));
    if let Some(v) = o.take_value() {
        return v;
    }
    o.put("id", s(m.str(ms::message_id)));
    o.put("role", s(m.str(ms::role)));
    o.put("content", s(m.str(ms::content)));
    if m.i32(ms::context_count).is_some() {
        o.put(
            "contexts",
            Some(Value::Array(contexts.iter().map(context_json).collect())),
        );
    }
    o.put("created_at", ts_pg(m.ts(ms::created_at)));
    o.put("latestSystemMessage", s(m.str(ms::system_message)));
    o.put("finalPromtEngineeredMessage", s(m.str(ms::final_prompt)));
    let kept = o.take_extra("feedback");
    let feedback = merge_partial(
        kept,
        &[
            ("isPositive", b(m.bool(ms::feedback_positive))),
            ("category", s(m.str(ms::feedback_category))),
            ("details", s(m.str(ms::feedback_details))),
        ],
    );
    o.put("feedback", feedback);
    o.finish()
}

/// The conversation as a format-C object; with `row`, wrapped in its format-R row.
pub fn conversation_json(c: &Conversation, as_row: bool) -> Value {
    let r = &c.row;
    let mut extra = parse_extra(r.str(cv::extra));
    let row_extra = match extra.remove("$row") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut o = Obj::new(extra);
    o.put("id", s(r.str(cv::convo_id)));
    o.put("name", s(r.str(cv::name)));
    if r.i32(cv::message_count).is_some() {
        let msgs = c
            .messages
            .iter()
            .map(|(m, ctx)| message_json(m, ctx))
            .collect();
        o.put("messages", Some(Value::Array(msgs)));
    }
    let kept = o.take_extra("model");
    let model = merge_partial(
        kept,
        &[
            ("id", s(r.str(cv::model_id))),
            ("name", s(r.str(cv::model_name))),
        ],
    );
    o.put("model", model);
    o.put("prompt", s(r.str(cv::prompt)));
    o.put("temperature", f(r.f64(cv::temperature)));
    o.put("folderId", s(r.str(cv::folder_id)));
    o.put("updatedAt", ts_js(r.ts(cv::updated_at)));
    let mut convo = o.finish();
    if !as_row {
        return convo;
    }
    let mut row = Obj::new(row_extra);
    row.put_always("id", i(r.i64(cv::row_id)));
    row.put_always("created_at", ts_pg(r.ts(cv::created_at)));
    if let Some(v) = row.take_extra("convo") {
        convo = v;
    }
    row.put_always("convo", Some(convo));
    row.put_always("convo_id", s(r.str(cv::convo_id)));
    row.put_always("course_name", s(r.str(cv::course_name)));
    row.put_always("user_email", s(r.str(cv::user_email)));
    row.put("summary", s(r.str(cv::summary)));
    row.finish()
}

/// The document line with its chunks.
pub fn document_json(d: &Document) -> Value {
    let r = &d.row;
    let mut o = Obj::new(parse_extra(r.str(dc::extra)));
    o.put("id", i(r.i64(dc::doc_id)));
    o.put("created_at", ts_pg(r.ts(dc::created_at)));
    o.put("s3_path", s(r.str(dc::s3_path)));
    o.put("readable_filename", s(r.str(dc::readable_filename)));
    o.put("course_name", s(r.str(dc::course_name)));
    o.put("url", s(r.str(dc::url)));
    if r.i32(dc::chunk_count).is_some() {
        let chunks = d
            .chunks
            .iter()
            .map(|k| {
                let mut c = Obj::new(parse_extra(k.str(ck::extra)));
                if let Some(v) = c.take_value() {
                    return v;
                }
                c.put("text", s(k.str(ck::text)));
                c.put("embedding", embedding(k.f32s(ck::embedding).as_deref()));
                c.put("timestamp", i(k.i64(ck::timestamp)));
                c.put("pagenumber", i(k.i64(ck::pagenumber)));
                c.put("chunk_index", i(k.i64(ck::chunk_index)));
                c.finish()
            })
            .collect();
        o.put("contexts", Some(Value::Array(chunks)));
    }
    o.put("base_url", s(r.str(dc::base_url)));
    o.finish()
}
