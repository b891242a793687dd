//! Deterministic synthetic exports for benchmarks: conversation rows of every era's shape
//! and document lines with 1536-d embeddings, written the way the real writers write them
//! (pandas: compact, `\/`, `\uXXXX`; Python `json.dumps` for format C). The same seed and
//! size give the same bytes.

use std::io::{self, Write};

pub mod topics;

use serde_json::{json, Value};

/// xorshift64*: small, fast and reproducible everywhere.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `[lo, hi)`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.float(0.0, 1.0) < p
    }
}

const WORDS: &[&str] = &[
    "the",
    "state",
    "machine",
    "circuit",
    "voltage",
    "current",
    "resistor",
    "transistor",
    "finite",
    "model",
    "input",
    "output",
    "clock",
    "signal",
    "logic",
    "gate",
    "memory",
    "register",
    "counter",
    "binary",
    "decimal",
    "value",
    "lecture",
    "homework",
    "exam",
    "équation",
    "naïve",
    "Thévenin",
    "—",
    "“quoted”",
    "a/b",
    "x≥0",
    "🚀",
];

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n * 8);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

/// JSON text as pandas writes it: `/` escaped and everything non-ASCII as `\uXXXX`.
pub fn pandas_style(compact_json: &str) -> String {
    let mut out = String::with_capacity(compact_json.len() + compact_json.len() / 16);
    for c in compact_json.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

/// Which conversation layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvoLayout {
    /// Format R rows (the 2024 Analysis page and the API).
    Rows,
    /// Format C objects (the current Analysis page).
    Objects,
    /// Both, line by line.
    Mixed,
}

fn context(rng: &mut Rng, course: &str, era: u8) -> Value {
    let doc = rng.below(200);
    let text = {
        let n = 120 + rng.below(60) as usize;
        words(rng, n)
    };
    let mut c = json!({
        "text": text,
        "readable_filename": format!("Lecture_{doc:03}.pdf"),
        "course_name ": course,
        "s3_path": format!("courses/{course}/{doc:08x}-Lecture_{doc:03}.pdf"),
        "pagenumber": if rng.chance(0.1) { json!("") } else { json!(1 + rng.below(300)) },
        "url": "",
        "base_url": "",
    });
    if era >= 2 {
        c["doc_groups"] = json!(["All Documents"]);
    }
    c
}

/// One conversation (the `convo` object) and its row fields.
fn conversation(rng: &mut Rng, n: u64) -> (Value, String, Option<String>, u8) {
    let era = match rng.below(100) {
        0..=24 => 1u8, // 2023
        25..=59 => 2,  // 2024
        _ => 3,        // 2025
    };
    let course = format!("course{:02}", rng.below(12));
    let email = (!rng.chance(0.3)).then(|| format!("user{}@illinois.edu", rng.below(2000)));
    let id = format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        n,
        rng.below(0xffff),
        rng.next_u64() & 0xffff_ffff_ffff
    );
    let questions = 1 + rng.below(5);
    let mut messages = Vec::new();
    for q in 0..questions {
        let k = if rng.chance(0.15) { 0 } else { rng.below(81) };
        let ctxs: Vec<Value> = (0..k).map(|_| context(rng, &course, era)).collect();
        let question = {
            let n = 8 + rng.below(30) as usize;
            words(rng, n)
        };
        let answer = {
            let n = 60 + rng.below(200) as usize;
            words(rng, n)
        };
        match era {
            1 => {
                messages.push(json!({"role": "user", "content": question, "contexts": []}));
                messages.push(json!({"role": "assistant", "content": answer, "contexts": ctxs}));
            }
            _ => {
                let mut parts = vec![json!({"type": "text", "text": question})];
                if era == 3 && rng.chance(0.1) {
                    parts.push(json!({"type": "image_url", "image_url": {"url": format!("https://bucket.s3.amazonaws.com/{n}/{q}.png")}}));
                    parts.push(json!({"type": "text", "text": format!("Image description: {}", words(rng, 20))}));
                }
                let mut user =
                    json!({"role": "user", "content": parts, "contexts": ctxs, "tools": []});
                let mut asst = json!({"role": "assistant", "content": answer});
                if era == 3 {
                    user["id"] = json!(format!("u-{n}-{q}"));
                    asst["id"] = json!(format!("a-{n}-{q}"));
                    if rng.chance(0.2) {
                        asst["feedback"] = json!({"isPositive": rng.chance(0.7), "category": null, "details": null});
                    }
                    asst["wasQueryRewritten"] = json!(false);
                    asst["queryRewriteText"] = Value::Null;
                }
                if q + 1 == questions {
                    user["latestSystemMessage"] = json!(words(rng, 150));
                }
                messages.push(user);
                messages.push(asst);
            }
        }
    }
    let temperature = [0.1, 0.3, 0.5, 0.7][rng.below(4) as usize];
    let mut convo = json!({
        "id": id,
        "name": words(rng, 4),
        "messages": messages,
        "model": if era == 1 {
            json!({"id": "gpt-4", "name": "GPT-4", "maxLength": 24000, "tokenLimit": 8192})
        } else {
            json!({"id": "gpt-4o", "name": "GPT-4o", "tokenLimit": 128000, "enabled": true})
        },
        "prompt": "You are a helpful teaching assistant.",
        "temperature": temperature,
        "folderId": null,
    });
    if let Some(e) = &email {
        convo[if era == 3 { "userEmail" } else { "user_email" }] = json!(e);
    }
    if era == 3 {
        convo["projectName"] = json!(course);
        convo["createdAt"] = json!("2025-10-24T21:21:30.000Z");
    }
    (convo, course, email, era)
}

/// Writes conversation lines until `target_bytes`; returns the number written.
pub fn write_conversations(
    w: &mut dyn Write,
    target_bytes: u64,
    seed: u64,
    layout: ConvoLayout,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let (mut bytes, mut n) = (0u64, 0u64);
    while bytes < target_bytes {
        let (convo, course, email, era) = conversation(&mut rng, n);
        let as_row = match layout {
            ConvoLayout::Rows => true,
            ConvoLayout::Objects => false,
            ConvoLayout::Mixed => n % 2 == 0,
        };
        let line = if as_row {
            let created = if era == 3 {
                json!(1_761_340_896_123u64 + n * 1000)
            } else {
                json!(format!(
                    "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                    1 + n % 12,
                    1 + n % 28,
                    n % 24,
                    n % 60,
                    n % 60,
                    n % 999_999
                ))
            };
            let id = convo["id"].clone();
            let row = json!({"id": n + 1, "created_at": created, "convo": convo, "convo_id": id,
                              "course_name": course, "user_email": email});
            pandas_style(&row.to_string())
        } else {
            // Python json.dumps: ", " and ": " separators, \uXXXX for non-ASCII.
            let mut buf = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, PyFormatter);
            serde::Serialize::serialize(&convo, &mut ser).map_err(io::Error::other)?;
            let text = String::from_utf8(buf).map_err(io::Error::other)?;
            pandas_style(&text).replace("\\/", "/")
        };
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
        bytes += line.len() as u64 + 1;
        n += 1;
    }
    Ok(n)
}

/// Python `json.dumps` spacing.
struct PyFormatter;

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Writes document lines until `target_bytes`; returns the number written.
pub fn write_documents(
    w: &mut dyn Write,
    target_bytes: u64,
    seed: u64,
    dims: usize,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let (mut bytes, mut n) = (0u64, 0u64);
    let mut line = String::new();
    while bytes < target_bytes {
        line.clear();
        let course = format!("course{:02}", rng.below(12));
        let placeholder = rng.chance(0.02);
        let head = json!({"id": 1_000_000 + n, "created_at": format!("2024-05-{:02}T15:40:44.{:06}+00:00", 1 + n % 28, n % 999_999),
                          "s3_path": format!("courses/{course}/{n:08x}-doc{n}.pdf"), "readable_filename": format!("doc{n}.pdf"),
                          "course_name": course, "url": ""});
        let head = pandas_style(&head.to_string());
        line.push_str(&head[..head.len() - 1]);
        line.push_str(",\"contexts\":[");
        let chunks = if placeholder { 1 } else { 1 + rng.below(60) };
        for c in 0..chunks {
            if c > 0 {
                line.push(',');
            }
            if placeholder {
                line.push_str(r#"{"text":"","embedding":"","timestamp":"","pagenumber":""}"#);
                continue;
            }
            line.push_str(&pandas_style(&format!(
                "{{\"text\":{}",
                Value::from(words(&mut rng, 140))
            )));
            line.push_str(",\"embedding\":[");
            for d in 0..dims {
                if d > 0 {
                    line.push(',');
                }
                let v = rng.float(-0.06, 0.06);
                let s = format!("{v:.10}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                line.push_str(if s == "-0" { "-0.0" } else { s });
            }
            line.push_str(&format!(
                "],\"timestamp\":\"\",\"pagenumber\":{},\"chunk_index\":{c}}}",
                1 + c / 3
            ));
        }
        line.push_str("],\"base_url\":\"\"}\n");
        w.write_all(line.as_bytes())?;
        bytes += line.len() as u64;
        n += 1;
    }
    Ok(n)
}
