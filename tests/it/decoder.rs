//! The line decoder on its own: exact values per era, and output that does not depend on
//! how the bytes are cut into reads or the rows into batches.

use std::collections::BTreeMap;

use crate::common::decode_in_pieces;
use std::sync::Arc;

use chatql::ingest::{Decoder, RecordFormat};
use chatql::table::Table;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float32Type, Int32Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;

fn decode(bytes: &[u8]) -> BTreeMap<Table, RecordBatch> {
    decode_in_pieces(bytes, bytes.len().max(1), 0)
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Column `name` of `t` as display strings (null as "NULL").
fn col(tables: &BTreeMap<Table, RecordBatch>, t: Table, name: &str) -> Vec<String> {
    let b = &tables[&t];
    let a = b.column(b.schema().index_of(name).unwrap());
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                "NULL".to_owned()
            } else {
                array_value_to_string(a, i).unwrap()
            }
        })
        .collect()
}

#[test]
fn output_is_independent_of_read_and_batch_sizes() {
    for file in [
        "convos-2023-r.jsonl",
        "convos-2024-r-windows.jsonl",
        "convos-2024-03-array.json",
        "broken.jsonl",
        "reexport/ECE120-convos-2023-11.jsonl",
    ] {
        let bytes = testdata(file);
        let whole = decode(&bytes);
        for read in [1, 3, 5, 64, 1000] {
            for cut in [1, 3, 100] {
                let pieces = decode_in_pieces(&bytes, read, cut);
                assert_eq!(whole, pieces, "{file}: read {read}, cut every {cut}");
            }
        }
    }
    let docs = testdata("ECE120_documents.jsonl");
    assert_eq!(decode(&docs), decode_in_pieces(&docs, 4096, 1));
}

#[test]
fn format_r_2023_values() {
    let t = decode(&testdata("convos-2023-r.jsonl"));
    assert_eq!(t[&Table::Conversations].num_rows(), 3);
    assert_eq!(
        col(&t, Table::Conversations, "row_id"),
        ["101", "102", "103"]
    );
    assert_eq!(
        col(&t, Table::Conversations, "user_email"),
        ["alice@illinois.edu", "NULL", "bob@gmail.com"]
    );
    // -07:00 is converted to UTC.
    assert_eq!(
        col(&t, Table::Conversations, "created_at")[0],
        "2023-08-14T23:35:40.508062Z"
    );
    assert_eq!(
        col(&t, Table::Conversations, "temperature"),
        ["0.3", "-0.0", "1.0"]
    );
    assert_eq!(
        col(&t, Table::Conversations, "message_count"),
        ["2", "2", "0"]
    );
    assert_eq!(
        col(&t, Table::Conversations, "source_line"),
        ["1", "2", "3"]
    );
    // 2023: contexts sit on the assistant message; the user message has `[]`.
    assert_eq!(
        col(&t, Table::Messages, "context_count"),
        ["0", "2", "0", "1"]
    );
    assert_eq!(col(&t, Table::Contexts, "message_index"), ["1", "1", "1"]);
    // Surrogate-pair emoji, \u2014 and \u0000 survive decoding.
    assert_eq!(
        col(&t, Table::Messages, "content")[1],
        "A K-map simplifies boolean expressions 🚀."
    );
    assert_eq!(
        col(&t, Table::Contexts, "text")[0],
        "Karnaugh maps — a visual method.\u{0}"
    );
    assert_eq!(
        col(&t, Table::Contexts, "s3_path")[0],
        "courses/ECE120/kmap-ECE120_Notes.pdf"
    );
    assert_eq!(col(&t, Table::Contexts, "pagenumber"), ["42", "NULL", "3"]);
    assert_eq!(
        col(&t, Table::Contexts, "extra"),
        [
            r#"{"pagenumber_or_timestamp":42}"#,
            r#"{"pagenumber":""}"#,
            "NULL"
        ]
    );
    // Children carry their conversation's id.
    assert_eq!(
        col(&t, Table::Contexts, "convo_id"),
        ["0a000000-0000-4000-8000-000000000101"; 2]
            .iter()
            .chain(&["0a000000-0000-4000-8000-000000000102"])
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn format_r_2024_windows_file_with_parts_and_tools() {
    let t = decode(&testdata("convos-2024-r-windows.jsonl"));
    assert_eq!(t[&Table::Conversations].num_rows(), 2);
    // BOM and CRLF: offsets still point at the record.
    assert_eq!(col(&t, Table::Conversations, "source_offset")[0], "3");
    assert_eq!(col(&t, Table::Conversations, "source_line"), ["1", "3"]);
    assert_eq!(
        col(&t, Table::Messages, "role"),
        [
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ]
    );
    assert_eq!(
        col(&t, Table::Messages, "content")[0],
        "What is a finite state machine?"
    );
    assert_eq!(
        col(&t, Table::Messages, "context_count"),
        ["3", "NULL", "1", "NULL", "0", "NULL"]
    );
    assert!(col(&t, Table::Messages, "final_prompt")[0]
        .ends_with("Question: What is a finite state machine?"));
    assert!(col(&t, Table::Messages, "system_message")[0].starts_with("System: use the contexts."));
    let extra = col(&t, Table::Messages, "extra");
    assert_eq!(
        extra[0],
        r#"{"content":[{"type":"text","text":"What is a finite state machine?"}],"tools":[]}"#
    );
    assert!(extra[2].contains(r#""tools":[{"id":"t1","name":"calc""#));
    assert_eq!(col(&t, Table::Contexts, "text")[1], "FSM chunk 1 café");
    assert_eq!(
        col(&t, Table::Conversations, "course_name"),
        ["ECE120", "ECE110"]
    );
}

#[test]
fn document_lines_with_embeddings_and_placeholders() {
    let t = decode(&testdata("ECE120_documents.jsonl"));
    assert_eq!(
        col(&t, Table::Documents, "doc_id"),
        ["1048576", "1048577", "1048578"]
    );
    assert_eq!(col(&t, Table::Documents, "chunk_count"), ["2", "1", "2"]);
    assert_eq!(col(&t, Table::Documents, "s3_path")[1], "");
    assert_eq!(
        col(&t, Table::Documents, "base_url")[1],
        "https://ece110.org"
    );
    let chunks = &t[&Table::Chunks];
    let emb = chunks
        .column(chunks.schema().index_of("embedding").unwrap())
        .as_list::<i32>();
    let dims: Vec<usize> = (0..emb.len()).map(|i| emb.value(i).len()).collect();
    assert_eq!(dims, [1536, 1536, 768, 1536, 1536]);
    // The first value of the first embedding, as written in the file.
    let text = String::from_utf8(testdata("ECE120_documents.jsonl")).unwrap();
    let first: f32 = text
        .split("\"embedding\":[")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(emb.value(0).as_primitive::<Float32Type>().value(0), first);
    // Chunks before chunk_index existed get their position, and say so in extra.
    assert_eq!(
        col(&t, Table::Chunks, "chunk_index"),
        ["0", "1", "0", "0", "1"]
    );
    assert_eq!(
        col(&t, Table::Chunks, "extra")[3],
        r#"{"pagenumber":"","$absent":["chunk_index"]}"#
    );
    assert_eq!(
        col(&t, Table::Chunks, "timestamp"),
        ["NULL", "NULL", "NULL", "0", "1"]
    );
    assert_eq!(
        col(&t, Table::Chunks, "s3_path")[4],
        "courses/ECE120/lec1.mp4"
    );
    let doc_ids = chunks.column(0).as_primitive::<Int64Type>();
    assert_eq!(
        doc_ids.values().to_vec(),
        [1048576, 1048576, 1048577, 1048578, 1048578]
    );

    let placeholder = br#"{"id":2300411,"created_at":1762463977000,"s3_path":"courses\/my-project\/5d1e-syllabus.pdf","readable_filename":"syllabus.pdf","course_name":"my-project","url":"","contexts":[{"text":"","embedding":"","timestamp":"","pagenumber":""}],"base_url":""}"#;
    let t = decode(placeholder);
    assert_eq!(
        col(&t, Table::Documents, "created_at"),
        ["2025-11-06T21:19:37Z"]
    );
    assert_eq!(
        col(&t, Table::Documents, "extra"),
        [r#"{"created_at":1762463977000}"#]
    );
    assert_eq!(col(&t, Table::Chunks, "embedding"), ["NULL"]);
    assert_eq!(
        col(&t, Table::Chunks, "extra"),
        [r#"{"embedding":"","timestamp":"","pagenumber":"","$absent":["chunk_index"]}"#]
    );
}

#[test]
fn format_c_with_reloaded_contexts() {
    let line = br#"{"id": "c2", "name": "Ohm", "messages": [{"id": "u-2", "role": "user", "content": [{"type": "text", "text": "State Ohm's law"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}, {"type": "text", "text": "Image description: a resistor"}], "contexts": [{"chunk_index": "courses/ECE110/ohm-notes.pdf_3"}, {"url_chunk_index": "https://ece110.org/ohm_0"}]}, {"role": "assistant", "content": "V = IR.", "feedback": {"isPositive": false, "category": "wrong", "details": null}}], "model": {"id": "gpt-4o", "name": "GPT-4o"}, "prompt": "p", "temperature": 0.5, "userEmail": "dave@illinois.edu", "projectName": "ECE110", "createdAt": "2024-10-01T11:59:00.000Z"}"#;
    let t = decode(line);
    assert_eq!(col(&t, Table::Conversations, "source_format"), ["C"]);
    assert_eq!(col(&t, Table::Conversations, "course_name"), ["ECE110"]);
    assert_eq!(
        col(&t, Table::Conversations, "user_email"),
        ["dave@illinois.edu"]
    );
    assert_eq!(
        col(&t, Table::Conversations, "created_at"),
        ["2024-10-01T11:59:00Z"]
    );
    assert_eq!(col(&t, Table::Conversations, "row_id"), ["NULL"]);
    assert_eq!(
        col(&t, Table::Messages, "content")[0],
        "State Ohm's law\nImage description: a resistor"
    );
    assert_eq!(col(&t, Table::Messages, "image_count"), ["1", "NULL"]);
    assert_eq!(
        col(&t, Table::Messages, "feedback_positive"),
        ["NULL", "false"]
    );
    assert_eq!(
        col(&t, Table::Messages, "feedback_category"),
        ["NULL", "wrong"]
    );
    assert_eq!(
        col(&t, Table::Messages, "extra")[1],
        r#"{"feedback":{"details":null}}"#
    );
    assert_eq!(
        col(&t, Table::Contexts, "chunk_ref"),
        ["courses/ECE110/ohm-notes.pdf_3", "https://ece110.org/ohm_0"]
    );
    assert_eq!(col(&t, Table::Contexts, "text"), ["NULL", "NULL"]);
    assert_eq!(
        col(&t, Table::Contexts, "extra"),
        [
            "NULL",
            r#"{"url_chunk_index":"https://ece110.org/ohm_0","$absent":["chunk_index"]}"#
        ]
    );
}

#[test]
fn course_falls_back_to_the_contexts_agreement() {
    let agree = br#"{"id": "c3", "name": "x", "messages": [{"role": "user", "content": "q", "contexts": [{"text": "a", "course_name ": "ECE110"}, {"text": "b", "course_name ": "ECE110"}]}]}"#;
    assert_eq!(
        col(&decode(agree), Table::Conversations, "course_name"),
        ["ECE110"]
    );
    let disagree = br#"{"id": "c4", "name": "x", "messages": [{"role": "user", "content": "q", "contexts": [{"text": "a", "course_name ": "ECE110"}, {"text": "b", "course_name ": "CS225"}]}]}"#;
    assert_eq!(
        col(&decode(disagree), Table::Conversations, "course_name"),
        ["NULL"]
    );
}

#[test]
fn wrong_types_and_duplicate_keys_are_kept_not_lost() {
    let line = br#"{"id": "c5", "name": 7, "messages": {"not": "an array"}, "temperature": "hot", "model": null, "name": "second"}"#;
    let t = decode(line);
    assert!(!t.contains_key(&Table::Rejects));
    assert_eq!(col(&t, Table::Conversations, "name"), ["NULL"]);
    assert_eq!(col(&t, Table::Conversations, "message_count"), ["NULL"]);
    assert_eq!(
        col(&t, Table::Conversations, "extra"),
        [
            r#"{"messages":{"not":"an array"},"name":7,"temperature":"hot","model":null,"name":"second"}"#
        ]
    );
    let ctx = br#"{"id": "c6", "messages": [{"role": "user", "content": "q", "contexts": [{"text": {"a": 1}, "text": "dup", "pagenumber": "12", "doc_groups": "x"}, 5]}]}"#;
    let t = decode(ctx);
    assert_eq!(col(&t, Table::Contexts, "text"), ["NULL", "NULL"]);
    assert_eq!(col(&t, Table::Contexts, "pagenumber"), ["12", "NULL"]);
    assert_eq!(
        col(&t, Table::Contexts, "extra"),
        [
            r#"{"text":{"a":1},"text":"dup","pagenumber":"12","doc_groups":"x"}"#,
            r#"{"$value":5}"#
        ]
    );
}

#[test]
fn rejects_roll_back_every_table() {
    // A good line, then one that breaks deep inside its contexts, then a good line.
    let good = r#"{"id": "g1", "messages": [{"role": "user", "content": "q", "contexts": [{"text": "t"}]}]}"#;
    let bad = r#"{"id": "b1", "messages": [{"role": "user", "content": "q", "contexts": [{"text": "t"}, {"text": "#;
    let input = format!("{good}\n{bad}\n{}\n", good.replace("g1", "g2"));
    let t = decode(input.as_bytes());
    assert_eq!(col(&t, Table::Conversations, "convo_id"), ["g1", "g2"]);
    assert_eq!(t[&Table::Messages].num_rows(), 2);
    assert_eq!(t[&Table::Contexts].num_rows(), 2);
    assert_eq!(col(&t, Table::Rejects, "source_line"), ["2"]);
    assert_eq!(
        col(&t, Table::Rejects, "byte_offset"),
        [(good.len() + 1).to_string()]
    );
    assert!(col(&t, Table::Rejects, "reason")[0].starts_with("JSON: EOF while parsing"));
}

#[test]
fn invalid_utf8_is_rejected_at_its_byte() {
    // A short line, and one long enough for the vectorized check, each with one bad byte.
    let long = format!(r#"{{"id": "{}"#, "x".repeat(200));
    let mut input = b"{\"a\": \"x\xff\"}\n".to_vec();
    input.extend_from_slice(long.as_bytes());
    input.extend_from_slice(b"\xc3(\"}\n");
    let t = decode(&input);
    assert_eq!(
        col(&t, Table::Rejects, "reason"),
        [
            "invalid UTF-8 at byte 8 of the line".to_owned(),
            format!("invalid UTF-8 at byte {} of the line", long.len()),
        ]
    );
    assert_eq!(col(&t, Table::Rejects, "source_line"), ["1", "2"]);
}

#[test]
fn hostile_lines_never_panic() {
    let deep = format!(
        "{{\"id\": \"d\", \"messages\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let cases: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        b"{\"id\": 1e999, \"messages\": []}".to_vec(),
        b"{\"id\": \"\\ud800\", \"messages\": []}".to_vec(),
        b"\xff\xfe{}".to_vec(),
        b"[1, 2, {\"messages\": []}]".to_vec(),
        b"{}".to_vec(),
        b"\x00\x00".to_vec(),
        b"{\"convo\": null, \"convo_id\": \"n1\"}".to_vec(),
    ];
    for c in cases {
        let t = decode(&c);
        let rows: usize = t.values().map(|b| b.num_rows()).sum();
        assert!(
            rows >= 1,
            "{:?} produced nothing",
            String::from_utf8_lossy(&c[..c.len().min(40)])
        );
    }
    // A null convo is still a conversation (FORMAT.md: it truncates C exports).
    let t = decode(b"{\"convo\": null, \"convo_id\": \"n1\"}");
    assert_eq!(col(&t, Table::Conversations, "convo_id"), ["n1"]);
    assert_eq!(
        col(&t, Table::Conversations, "extra"),
        [r#"{"$row":{"convo":null,"$absent":["id","created_at","course_name","user_email"]}}"#]
    );
}

#[test]
fn csv_rows_decode_like_json_rows() {
    let mut d = Decoder::new(Arc::from("x.csv"), 1, 0);
    d.decode_json_record(
        r#"{"id":1,"created_at":"2023-12-01T10:00:00+00:00","convo":{"id":"k","messages":[]},"convo_id":"k","course_name":"ECE120","user_email":null}"#,
        2,
        40,
        RecordFormat::Csv,
    );
    let b = d.take_batches();
    let conv = &b[0].1;
    assert_eq!(conv.column(14).as_string::<i32>().value(0), "CSV");
    assert_eq!(conv.column(16).as_primitive::<Int64Type>().value(0), 2);
    assert_eq!(conv.column(12).as_primitive::<Int32Type>().value(0), 0);
}
