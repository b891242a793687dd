//! `chatql inspect`: what a user runs first when a file looks odd. Per input file: the
//! record kinds and era signals found, line and byte counts, every key seen at each level
//! of the records (with counts, JSON types, and the first file:line it appeared on, keys
//! JSON-quoted so that `"course_name "` shows its trailing space), type conflicts, and the
//! rejects the decoder would write.
//!
//! Keys are gathered from a `serde_json::Value` of each record: slower than the decoder, and
//! fine for a diagnostic pass.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::ingest::{ingest, IngestOptions, Inputs, Layout};
use crate::table::Table;

/// One key at one level.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyStat {
    /// Level of the record (`row`, `convo`, `message`, `context`, ...).
    pub level: String,
    /// The key, exactly as written.
    pub key: String,
    /// Records at that level with the key.
    pub count: u64,
    /// JSON types seen, with counts.
    pub types: BTreeMap<String, u64>,
    /// Where it first appeared (`file:line`).
    pub first_seen: String,
}

/// A rejected record.
#[derive(Debug, Clone, Serialize)]
pub struct RejectInfo {
    /// Line.
    pub line: u64,
    /// Byte offset.
    pub byte_offset: u64,
    /// Why.
    pub reason: String,
}

/// What one input stream holds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FileReport {
    /// The source (`archive.zip!member` for zip members).
    pub file: String,
    /// Physical lines.
    pub lines: u64,
    /// Decompressed bytes.
    pub bytes: u64,
    /// Records per kind: `format R row`, `format C conversation`, `document`, `unrecognized`.
    pub kinds: BTreeMap<String, u64>,
    /// Era signals with counts (what in the records dates them).
    pub eras: BTreeMap<String, u64>,
    /// Keys per level.
    pub keys: Vec<KeyStat>,
    /// Keys seen with more than one non-null JSON type.
    pub conflicts: Vec<String>,
    /// Records the decoder rejects.
    pub rejects: Vec<RejectInfo>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(s) if s.is_empty() => "\"\"",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[derive(Default)]
struct Walker {
    keys: BTreeMap<(String, String), KeyStat>,
    kinds: BTreeMap<String, u64>,
    eras: BTreeMap<String, u64>,
}

impl Walker {
    fn object(&mut self, level: &str, v: &Value, at: &str) {
        let Value::Object(m) = v else {
            return;
        };
        for (k, x) in m {
            let e = self
                .keys
                .entry((level.to_owned(), k.clone()))
                .or_insert_with(|| KeyStat {
                    level: level.to_owned(),
                    key: crate::model::json_str(k),
                    count: 0,
                    types: BTreeMap::new(),
                    first_seen: at.to_owned(),
                });
            e.count += 1;
            *e.types.entry(type_name(x).to_owned()).or_default() += 1;
        }
        for (child, level) in [("model", "model"), ("feedback", "feedback")] {
            if let Some(x) = m.get(child) {
                self.object(level, x, at);
            }
        }
    }

    fn era(&mut self, s: &str) {
        *self.eras.entry(s.to_owned()).or_default() += 1;
    }

    fn convo(&mut self, c: &Value, at: &str) {
        self.object("convo", c, at);
        if c.get("projectName").is_some() {
            self.era("projectName (2024-09 on)");
        }
        if c.get("agentModeEnabled").is_some() {
            self.era("agent mode (2025-11 on)");
        }
        let Some(Value::Array(msgs)) = c.get("messages") else {
            return;
        };
        for m in msgs {
            self.object("message", m, at);
            if let Some(Value::Array(parts)) = m.get("content") {
                if m.get("role").and_then(Value::as_str) == Some("user") {
                    self.era("user content parts (2023-12 on)");
                }
                for p in parts {
                    self.object("content part", p, at);
                }
            }
            if m.get("feedback").is_some() {
                self.era("feedback (2024-11 on)");
            }
            if let Some(Value::Array(tools)) = m.get("tools") {
                for t in tools {
                    self.object("tool", t, at);
                }
            }
            if let Some(Value::Array(ctx)) = m.get("contexts") {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                if !ctx.is_empty() {
                    self.era(if role == "assistant" {
                        "contexts on the answer (2023)"
                    } else {
                        "contexts on the question (2024-01-30 on)"
                    });
                }
                for x in ctx {
                    self.object("context", x, at);
                    if x.get("text").is_none()
                        && (x.get("chunk_index").is_some() || x.get("url_chunk_index").is_some())
                    {
                        self.era("reloaded contexts without text (2024-09 to 2025-02)");
                    }
                }
            }
        }
    }

    fn record(&mut self, v: &Value, at: &str) {
        let kind = if v.get("convo").is_some() {
            self.object("row", v, at);
            if v.get("created_at").is_some_and(Value::is_i64) {
                self.era("epoch-ms created_at (2025-09 backend)");
            }
            if let Some(c) = v.get("convo") {
                self.convo(c, at);
            }
            "format R row"
        } else if v.get("messages").is_some() {
            self.convo(v, at);
            "format C conversation"
        } else if v.get("contexts").is_some() {
            self.object("document", v, at);
            if let Some(Value::Array(chunks)) = v.get("contexts") {
                for k in chunks {
                    self.object("chunk", k, at);
                    match k.get("embedding") {
                        Some(Value::Array(e)) => self.era(&format!("{}-d embeddings", e.len())),
                        Some(Value::String(_)) => {
                            self.era("\"\" embedding placeholder (2025-10 worker)")
                        }
                        _ => {}
                    }
                }
            }
            "document"
        } else {
            "unrecognized"
        };
        *self.kinds.entry(kind.to_owned()).or_default() += 1;
    }
}

/// Inspects every source of `args`.
pub fn inspect(args: &[String]) -> Result<Vec<FileReport>> {
    let inputs = Inputs::expand(args)?;
    let mut reports: Vec<FileReport> = Vec::new();
    for src in &inputs.sources {
        let mut w = Walker::default();
        let name = src.name.to_string();
        let ((lines, bytes), _) = src.read_with(&Default::default(), false, |r| {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf)
                .map_err(|e| crate::Error::io(&*name, e))?;
            let lines = memchr::memchr_iter(b'\n', &buf).count() as u64
                + u64::from(!buf.is_empty() && !buf.ends_with(b"\n"));
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_start_matches('\u{feff}');
            match src.layout {
                Layout::Csv => {
                    let mut rdr = ::csv::ReaderBuilder::new()
                        .flexible(true)
                        .from_reader(text.as_bytes());
                    let header: Vec<String> = rdr
                        .headers()
                        .map(|h| h.iter().map(str::to_owned).collect())
                        .unwrap_or_default();
                    w.era("CSV with Python-repr convo (2023-11 to 2024-02)");
                    for rec in rdr.records().flatten() {
                        let line = rec.position().map_or(0, |p| p.line());
                        let at = format!("{name}:{line}");
                        let mut row = serde_json::Map::new();
                        for (h, cell) in header.iter().zip(rec.iter()) {
                            let v = if h == "convo" {
                                crate::ingest::pyrepr::to_json(cell)
                                    .ok()
                                    .and_then(|j| serde_json::from_str(&j).ok())
                                    .unwrap_or(Value::Null)
                            } else {
                                Value::String(cell.to_owned())
                            };
                            if !h.is_empty() {
                                row.insert(h.clone(), v);
                            }
                        }
                        w.record(&Value::Object(row), &at);
                    }
                }
                Layout::Json => {
                    let mut record = |v: &Value, at: &str| match v {
                        Value::Array(items) => {
                            w.era("array then lines (2024-02 to 2024-03)");
                            items.iter().for_each(|x| w.record(x, at));
                        }
                        _ => w.record(v, at),
                    };
                    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    let pretty = first.trim_start().starts_with('[')
                        && serde_json::from_str::<serde::de::IgnoredAny>(first.trim()).is_err();
                    if pretty {
                        // One multi-line document: a record's line is where its value starts.
                        let mut stream =
                            serde_json::Deserializer::from_str(text).into_iter::<Value>();
                        let mut start = 0;
                        while let Some(Ok(v)) = stream.next() {
                            let ws = text[start..].len() - text[start..].trim_start().len();
                            let line = 1 + text[..start + ws].matches('\n').count();
                            record(&v, &format!("{name}:{line}"));
                            start = stream.byte_offset();
                        }
                    } else {
                        for (n, l) in text.lines().enumerate() {
                            let at = format!("{name}:{}", n + 1);
                            for v in serde_json::Deserializer::from_str(l).into_iter::<Value>() {
                                match v {
                                    Ok(v) => record(&v, &at),
                                    Err(_) => break, // the decoder's rejects say why
                                }
                            }
                        }
                    }
                }
            }
            Ok((lines, buf.len() as u64))
        })?;
        let conflicts = w
            .keys
            .values()
            .filter(|k| {
                // "" is a string and int a number like float: only real kind changes count.
                let mut kinds: Vec<&str> = k
                    .types
                    .keys()
                    .filter(|t| *t != "null")
                    .map(|t| match t.as_str() {
                        "\"\"" => "string",
                        "int" => "float",
                        other => other,
                    })
                    .collect();
                kinds.dedup();
                kinds.len() > 1
            })
            .map(|k| {
                let types: Vec<String> = k.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
                format!("{} {}: {}", k.level, k.key, types.join(", "))
            })
            .collect();
        reports.push(FileReport {
            file: name,
            lines,
            bytes,
            kinds: w.kinds,
            eras: w.eras,
            keys: w.keys.into_values().collect(),
            conflicts,
            rejects: Vec::new(),
        });
    }
    // The decoder's own verdict on each record, with its reasons.
    ingest(&inputs, &IngestOptions::default(), |d| {
        for (t, b) in &d.batches {
            if *t != Table::Rejects {
                continue;
            }
            use datafusion::arrow::array::AsArray;
            use datafusion::arrow::datatypes::Int64Type;
            let line = b.column(1).as_primitive::<Int64Type>();
            let off = b.column(2).as_primitive::<Int64Type>();
            let reason = b.column(3).as_string::<i32>();
            for i in 0..b.num_rows() {
                reports[d.source].rejects.push(RejectInfo {
                    line: line.value(i) as u64,
                    byte_offset: off.value(i) as u64,
                    reason: reason.value(i).to_owned(),
                });
            }
        }
        Ok(())
    })?;
    Ok(reports)
}
