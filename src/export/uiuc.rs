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

use crate::model::{format_timestamp_js, format_timestamp_pg};

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
