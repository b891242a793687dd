//! `chatql export`: the UIUC formats rebuilt from the tables equal the input records as JSON
//! values (the proof that ingest loses nothing), OpenAI lines follow the fine-tuning rules,
//! and redaction leaves no email behind.

use std::io::Read;
use std::path::Path;

use crate::common::*;
use predicates::prelude::*;
use serde_json::Value;

/// The records of an input file as JSON values: lines, arrays flattened, any compression.
fn records(path: &str, member: Option<&str>) -> Vec<Value> {
    let mut bytes = Vec::new();
    if let Some(m) = member {
        let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        z.by_name(m).unwrap().read_to_end(&mut bytes).unwrap();
    } else if path.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut bytes)
            .unwrap();
    } else if path.ends_with(".zst") {
        bytes = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    } else {
        bytes = std::fs::read(path).unwrap();
    }
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v.unwrap() {
            Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    out
}

/// Embeddings compare at float32 precision.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "embedding" {
                    if let Value::Array(a) = x {
                        for n in a.iter_mut() {
                            if let Some(f) = n.as_f64() {
                                *n = Value::from(f64::from(f as f32));
                            }
                        }
                        continue;
                    }
                }
                normalize(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn export_lines(input: &str, to: &str, extra: &[&str]) -> Vec<Value> {
    let dir = scratch(&format!("export-{}", to));
    let out = dir.join(format!(
        "out-{}.jsonl",
        Path::new(input).file_name().unwrap().to_string_lossy()
    ));
    chatql()
        .args([
            "export",
            input,
            "--to",
            to,
            "-o",
            out.to_str().unwrap(),
            "--keep-duplicates",
            "--force",
        ])
        .args(extra)
        .assert()
        .success();
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_round_trip(input: &str, member: Option<&str>, to: &str) {
    let mut want = records(input, member);
    let mut got = export_lines(input, to, &[]);
    assert_eq!(got.len(), want.len(), "{input}: record count");
    for (i, (g, w)) in got.iter_mut().zip(want.iter_mut()).enumerate() {
        normalize(g);
        normalize(w);
        assert_eq!(g, w, "{input}: record {} differs", i + 1);
    }
}

#[test]
fn uiuc_rows_round_trip_every_format_r_file() {
    for f in [
        "convos-2023-r.jsonl",
        "convos-2024-r-windows.jsonl",
        "convos-2025-r-epoch.jsonl.gz",
        "convos-2024-03-array.json",
        "ECE120_5b1e_convo_history.json",
        "reexport/ECE120-convos-2023-11.jsonl",
    ] {
        assert_round_trip(&testdata(f), None, "uiuc-rows");
    }
}

#[test]
fn uiuc_convo_round_trips_the_current_zip_export() {
    assert_round_trip(
        &testdata("ECE110-convos.zip"),
        Some("ECE110-conversation-export.jsonl"),
        "uiuc-convo",
    );
}

#[test]
fn uiuc_docs_round_trip_with_embeddings() {
    assert_round_trip(&testdata("ECE120_documents.jsonl"), None, "uiuc-docs");
    assert_round_trip(
        &testdata("my-project_documents.jsonl.zst"),
        None,
        "uiuc-docs",
    );
}

#[test]
fn round_trip_from_a_converted_folder_too() {
    let lake = scratch("export-lake").join("lake");
    chatql()
        .args([
            "convert",
            &testdata("convos-2024-r-windows.jsonl"),
            "-o",
            lake.to_str().unwrap(),
            "-q",
        ])
        .assert()
        .success();
    let got = export_lines(lake.to_str().unwrap(), "uiuc-rows", &[]);
    assert_eq!(got, records(&testdata("convos-2024-r-windows.jsonl"), None));
}

#[test]
fn openai_lines_follow_the_fine_tuning_rules() {
    let lines = export_lines(&testdata(""), "openai", &["--contexts", "user"]);
    // 23 conversations with keep-duplicates; 4001 and 103 have no messages.
    assert_eq!(lines.len(), 21);
    for l in &lines {
        let msgs = l["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        let turns: Vec<&&str> = roles.iter().filter(|r| **r != "system").collect();
        assert_eq!(*turns[0], "user");
        assert_eq!(**turns.last().unwrap(), "assistant");
        for pair in turns.windows(2) {
            assert_ne!(pair[0], pair[1], "{roles:?}");
        }
        for m in msgs {
            match &m["content"] {
                Value::String(s) => assert!(!s.trim().is_empty()),
                Value::Array(parts) => assert!(!parts.is_empty()),
                other => panic!("bad content {other}"),
            }
        }
    }
    // The image question keeps its image as an OpenAI part; contexts are inlined.
    let thevenin = lines
        .iter()
        .find(|l| l.to_string().contains("Explain this circuit"))
        .unwrap();
    let user = &thevenin["messages"][1];
    assert_eq!(user["content"][0]["type"], "text");
    assert!(user["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Context:\n\n[1] Lecture_07.pdf, page 4:"));
    assert_eq!(
        user["content"][2]["image_url"]["url"],
        "https://bucket.s3.amazonaws.com/x/img.png?X-Amz-Algorithm=AWS4"
    );
    assert_eq!(
        thevenin["messages"][0],
        serde_json::json!({"role": "system", "content": "Be a TA."})
    );

    let text_only = export_lines(
        &testdata("ECE110-convos.zip"),
        "openai",
        &["--text-only", "--system", "none"],
    );
    assert_eq!(text_only.len(), 4);
    assert_eq!(
        text_only[0]["messages"][0],
        serde_json::json!({"role": "user", "content": "Explain this circuit\nImage description: A resistor network"})
    );
}

#[test]
fn sharegpt_filters_and_split() {
    let lines = export_lines(
        &testdata(""),
        "sharegpt",
        &["--course", "cs101", "--system", "none"],
    );
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["conversations"][0],
        serde_json::json!({"from": "human", "value": "What is the late policy?"})
    );
    assert_eq!(lines[0]["conversations"][1]["from"], "gpt");
    let neg = export_lines(&testdata(""), "uiuc-rows", &["--feedback", "negative"]);
    assert_eq!(neg.len(), 1);
    assert_eq!(neg[0]["id"], 900001);
    let since = export_lines(
        &testdata(""),
        "uiuc-convo",
        &["--since", "2025-01-01", "--until", "2025-11-01"],
    );
    assert_eq!(since.len(), 3);
    let turns = export_lines(&testdata(""), "uiuc-convo", &["--min-turns", "2"]);
    assert_eq!(turns.len(), 3, "c4, 2001 and the grown version of 101");
    let wher = export_lines(
        &testdata(""),
        "uiuc-convo",
        &["--where", "model_id = 'gpt-4.1' or temperature = 1"],
    );
    assert_eq!(wher.len(), 3);

    let dir = scratch("split");
    let out = dir.join("train.jsonl.gz");
    chatql()
        .args([
            "export",
            &testdata(""),
            "--to",
            "openai",
            "-o",
            out.to_str().unwrap(),
            "--split",
            "0.7",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("and").and(predicate::str::contains("train.val.jsonl.gz")),
        );
    let read = |p: &Path| {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s.lines().count()
    };
    let (train, val) = (read(&out), read(&dir.join("train.val.jsonl.gz")));
    assert_eq!(
        train + val,
        19,
        "21 deduplicated conversations, 2 without messages"
    );
    assert!(train > val && val > 0);
}

#[test]
fn redaction_leaves_no_email_and_is_stable() {
    let dir = scratch("redact");
    let emails = [
        "alice@illinois.edu",
        "bob@gmail.com",
        "student@illinois.edu",
        "carol@illinois.edu",
        "dave@illinois.edu",
        "erin@illinois.edu",
        "frank@illinois.edu",
    ];
    let mut outputs = Vec::new();
    for (i, to) in ["uiuc-rows", "uiuc-convo", "openai", "uiuc-rows"]
        .iter()
        .enumerate()
    {
        let out = dir.join(format!("{i}.jsonl"));
        chatql()
            .args([
                "export",
                &testdata(""),
                "--to",
                to,
                "-o",
                out.to_str().unwrap(),
                "--redact-emails",
            ])
            .env("CHATQL_REDACT_KEY", "k1")
            .assert()
            .success();
        let text = std::fs::read_to_string(&out).unwrap();
        for e in emails {
            assert!(!text.contains(e), "{to} leaks {e}");
        }
        outputs.push(text);
    }
    assert_eq!(outputs[0], outputs[3], "pseudonyms are stable across runs");
    assert!(outputs[0].contains("@redacted.invalid"));
    chatql()
        .args([
            "export",
            &testdata(""),
            "--to",
            "openai",
            "-o",
            dir.join("x.jsonl").to_str().unwrap(),
            "--redact-emails",
        ])
        .env_remove("CHATQL_REDACT_KEY")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs a key"));
}

#[test]
fn convert_redacts_every_column() {
    let lake = scratch("redact-convert").join("lake");
    chatql()
        .args([
            "convert",
            &testdata(""),
            "-o",
            lake.to_str().unwrap(),
            "-q",
            "--redact-emails",
            "--redact-key",
            "k1",
        ])
        .assert()
        .success();
    let leaks = scalar(
        &lake,
        "select count(*) from conversations where user_email like '%illinois.edu' or extra like '%illinois.edu%' or extra like '%gmail.com%'",
    );
    assert_eq!(leaks, "0");
    // Same people, same pseudonyms: per-user counts survive.
    assert_eq!(
        scalar(
            &lake,
            "select count(distinct user_email) from conversations"
        ),
        "7"
    );
    assert_eq!(
        scalar(
            &lake,
            "select count(*) from conversations where user_email like 'user-%@redacted.invalid'"
        ),
        "10"
    );
}

#[test]
fn csv_rows_round_trip_as_the_json_rows_they_stand_for() {
    // The CSV's rows as format-R JSON: the Python-repr cell parsed, empty cells null.
    let mut rdr = csv::Reader::from_path(testdata("ECE120_7f3a_convo_history.csv")).unwrap();
    let mut want = Vec::new();
    for rec in rdr.records() {
        let r = rec.unwrap();
        let Ok(convo) = chatql::ingest::pyrepr::to_json(&r[3]) else {
            continue; // the broken row is a reject
        };
        want.push(serde_json::json!({
            "id": r[1].parse::<i64>().unwrap(),
            "created_at": &r[2],
            "convo": serde_json::from_str::<Value>(&convo).unwrap(),
            "convo_id": &r[4],
            "course_name": &r[5],
            "user_email": if r[6].is_empty() { Value::Null } else { Value::from(&r[6]) },
        }));
    }
    assert_eq!(want.len(), 2);
    assert_eq!(
        export_lines(&testdata("ECE120_7f3a_convo_history.csv"), "uiuc-rows", &[]),
        want
    );
}

#[test]
fn the_readable_lines_of_a_broken_file_round_trip() {
    let text = std::fs::read(testdata("broken.jsonl")).unwrap();
    let want: Vec<Value> = text
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter(|v| {
            v.get("convo").is_some_and(|c| c.get("messages").is_some()) && v.get("id").is_some()
        })
        .collect();
    assert_eq!(want.len(), 2, "lines 4 and 8");
    assert_eq!(
        export_lines(&testdata("broken.jsonl"), "uiuc-rows", &[]),
        want
    );
}

/// A damaged lake file is a read error (exit 1) that names the file, not a "writing" error
/// or a usage error; and nothing is written.
#[test]
fn a_damaged_lake_file_is_a_read_error_naming_it() {
    let dir = scratch("damaged");
    let lake = dir.join("lake");
    chatql()
        .args(["convert", "-q", &testdata("convos-2023-r.jsonl"), "-o"])
        .arg(&lake)
        .assert()
        .success();
    let file = lake.join("messages/part-r00001-00001.parquet");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.join("out.jsonl");
    chatql()
        .args(["export", "--to", "uiuc-rows", "-o"])
        .arg(&out)
        .arg(&lake)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("reading ").and(predicate::str::contains(
                "messages/part-r00001-00001.parquet",
            )),
        );
    assert!(!out.exists());
}
