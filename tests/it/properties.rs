//! Property tests: random conversations and documents, written as JSON lines, decoded into
//! tables and rebuilt (the `uiuc-*` export), equal the input as JSON values; and decoding
//! does not depend on how the input is cut into reads and batches.

use std::sync::Arc;

use chatql::ingest::Decoder;
use chatql::table::Table;
use proptest::prelude::*;
use serde_json::{json, Value};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,12}",
        "\\PC{0,16}",
        Just("quote \" back \\ slash / nul \u{0} tab \t nl \n".to_owned()),
        Just("🚀 café — Thévenin".to_owned()),
        Just(String::new()),
    ]
}

/// Any small JSON value, for unknown keys and wrong types.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value that is usually of the expected kind, sometimes anything.
fn mostly(expected: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![8 => expected, 1 => any_json()]
}

fn context() -> impl Strategy<Value = Value> {
    (
        mostly(text().prop_map(Value::String).boxed()),
        mostly(prop_oneof![(1i64..400).prop_map(|p| json!(p)), Just(json!(""))].boxed()),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::option::of(any_json()),
        any::<bool>(),
    )
        .prop_map(|(t, page, groups, unknown, reloaded)| {
            if reloaded {
                return json!({"chunk_index": format!("courses/x/a.pdf_{}", page)});
            }
            let mut c = json!({"text": t, "readable_filename": "a.pdf", "course_name ": "ECE",
                               "s3_path": "courses/ECE/a.pdf", "pagenumber": page, "url": "", "base_url": ""});
            if let Some(g) = groups {
                c["doc_groups"] = json!(g);
            }
            if let Some(u) = unknown {
                c["mystery"] = u;
            }
            c
        })
}

fn message() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("user"), Just("assistant"), Just("system")],
        mostly(
            prop_oneof![
                text().prop_map(Value::String),
                text().prop_map(|t| json!([{"type": "text", "text": t}])),
            ]
            .boxed(),
        ),
        prop::option::of(prop::collection::vec(context(), 0..4)),
        prop::option::of((prop::option::of(any::<bool>()), prop::option::of(text()))),
        prop::option::of(any_json()),
    )
        .prop_map(|(role, content, contexts, feedback, unknown)| {
            let mut m = json!({"role": role, "content": content});
            if let Some(c) = contexts {
                m["contexts"] = json!(c);
            }
            if let Some((pos, cat)) = feedback {
                m["feedback"] = json!({"isPositive": pos, "category": cat, "details": null});
            }
            if let Some(u) = unknown {
                m["tools"] = u;
            }
            m
        })
}

fn conversation() -> impl Strategy<Value = Value> {
    (
        "[0-9a-f]{8}",
        mostly(text().prop_map(Value::String).boxed()),
        prop::collection::vec(message(), 0..4),
        mostly(
            prop_oneof![
                (0.0f64..2.0).prop_map(|f| json!(f)),
                (0i64..3).prop_map(|i| json!(i))
            ]
            .boxed(),
        ),
        prop::option::of(any_json()),
        prop::option::of("[a-z]{3,8}@illinois\\.edu"),
        0u8..3,
    )
        .prop_map(|(id, name, messages, temp, unknown, email, shape)| {
            let mut c = json!({"id": id, "name": name, "messages": messages,
                               "model": {"id": "gpt-4o", "name": "GPT-4o", "tokenLimit": 128000},
                               "prompt": "p", "temperature": temp, "folderId": null});
            if let Some(u) = unknown {
                c["linkParameters"] = u;
            }
            match (shape, email) {
                (0, Some(e)) => c["userEmail"] = json!(e),
                (1, Some(e)) => c["user_email"] = json!(e),
                _ => {}
            }
            c
        })
}

fn row(convo: Value, n: u64, epoch: bool) -> Value {
    let id = convo["id"].clone();
    let email = convo
        .get("userEmail")
        .or(convo.get("user_email"))
        .cloned()
        .unwrap_or(Value::Null);
    let created = if epoch {
        json!(1_761_340_896_123u64 + n)
    } else {
        json!("2024-06-26T17:26:27.5+00:00")
    };
    json!({"id": n, "created_at": created, "convo": convo, "convo_id": id, "course_name": "ECE", "user_email": email})
}

/// Writes `records` as JSON lines, converts, exports as `to`, and returns the lines read back.
fn round_trip(records: &[Value], to: chatql::export::Target) -> Vec<Value> {
    let dir = crate::common::scratch("prop");
    let input = dir.join("in.jsonl");
    let text: String = records.iter().map(|r| r.to_string() + "\n").collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.join("out.jsonl");
    let opts = chatql::export::ExportOptions {
        target: to,
        output: out.clone(),
        system: chatql::export::SystemMessage::Prompt,
        text_only: false,
        contexts: chatql::export::ContextPlacement::None,
        filters: Default::default(),
        split: None,
        redact_key: None,
        keep_duplicates: true,
        force: true,
        sampling: None,
        ingest: Default::default(),
        as_of: None,
        vector: Default::default(),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(chatql::export::export(
        &[input.to_string_lossy().into_owned()],
        &opts,
    ))
    .unwrap();
    let back = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    back.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn format_c_conversations_round_trip(convos in prop::collection::vec(conversation(), 1..4)) {
        let back = round_trip(&convos, chatql::export::Target::UiucConvo);
        prop_assert_eq!(back, convos);
    }

    #[test]
    fn format_r_rows_round_trip(convos in prop::collection::vec(conversation(), 1..4), epoch in any::<bool>()) {
        let rows: Vec<Value> = convos.into_iter().enumerate().map(|(i, c)| row(c, i as u64 + 1, epoch)).collect();
        let back = round_trip(&rows, chatql::export::Target::UiucRows);
        prop_assert_eq!(back, rows);
    }

    #[test]
    fn documents_round_trip(chunks in prop::collection::vec((text(), prop::collection::vec(-1.0f32..1.0, 0..8), prop::option::of(0i64..99)), 0..4)) {
        let contexts: Vec<Value> = chunks.iter().enumerate().map(|(i, (t, e, ts))| {
            json!({"text": t, "embedding": e, "timestamp": ts.map_or(json!(""), |v| json!(v)), "pagenumber": i + 1, "chunk_index": i})
        }).collect();
        let doc = json!({"id": 7, "created_at": "2024-05-01T15:40:44.123456+00:00", "s3_path": "courses/X/a.pdf",
                         "readable_filename": "a.pdf", "course_name": "X", "url": "", "contexts": contexts, "base_url": ""});
        let back = round_trip(std::slice::from_ref(&doc), chatql::export::Target::UiucDocs);
        // Embeddings compare at f32 precision.
        prop_assert_eq!(f32_embeddings(back), f32_embeddings(vec![doc]));
    }

    #[test]
    fn mutated_exports_never_panic_and_every_line_is_accounted_for(
        file in 0usize..5,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let name = ["convos-2023-r.jsonl", "convos-2024-r-windows.jsonl", "convos-2024-03-array.json",
                    "ECE120_documents.jsonl", "broken.jsonl"][file];
        let mut bytes = std::fs::read(crate::common::testdata(name)).unwrap();
        for (at, b) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        let mut d = Decoder::new(Arc::from("m"), 1, 0);
        d.finish(&bytes);
        let s = d.stats();
        let lines = bytes.split(|b| *b == b'\n').count() as u64 - u64::from(bytes.ends_with(b"\n"));
        prop_assert_eq!(s.lines, lines);
        // Every non-blank line gave at least one record or one reject.
        prop_assert!(s.conversations + s.documents + s.rejects >= s.lines - s.blank_lines);
        let batches = d.take_batches();
        let rejects = batches.iter().find(|(t, _)| *t == Table::Rejects).map_or(0, |(_, b)| b.num_rows());
        prop_assert_eq!(rejects as u64, s.rejects);
    }

    #[test]
    fn python_reprs_never_panic_and_convert_to_json(src in "\\PC{0,40}|[{}\\[\\]'\",:a-zA-Z0-9 \\\\]{0,60}") {
        if let Ok(json) = chatql::ingest::pyrepr::to_json(&src) {
            prop_assert!(serde_json::from_str::<Value>(&json).is_ok(), "{} -> {}", src, json);
        }
    }

    #[test]
    fn decoding_is_independent_of_read_and_batch_sizes(read in 1usize..4000, cut in 1usize..50, file in 0usize..4) {
        let name = ["convos-2023-r.jsonl", "convos-2024-r-windows.jsonl", "convos-2024-03-array.json", "broken.jsonl"][file];
        let bytes = std::fs::read(crate::common::testdata(name)).unwrap();
        prop_assert_eq!(crate::common::decode_in_pieces(&bytes, read, cut), crate::common::decode_in_pieces(&bytes, bytes.len(), usize::MAX));
    }
}

/// Documents with their embedding values rounded to f32.
fn f32_embeddings(mut docs: Vec<Value>) -> Vec<Value> {
    for d in &mut docs {
        if let Some(Value::Array(chunks)) = d.get_mut("contexts") {
            for c in chunks {
                if let Some(Value::Array(e)) = c.get_mut("embedding") {
                    for x in e.iter_mut() {
                        *x = json!(x.as_f64().unwrap() as f32);
                    }
                }
            }
        }
    }
    docs
}
