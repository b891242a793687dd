//! `chatql inspect`: kinds, keys (with the trailing-space key visible), first appearance,
//! type conflicts and rejects, as a user would read them.

use crate::common::*;
use predicates::prelude::*;

#[test]
fn shows_kinds_keys_and_the_trailing_space_key() {
    chatql()
        .args(["inspect", &testdata("convos-2024-r-windows.jsonl")])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 lines"))
        .stdout(predicate::str::contains("kinds: format R row: 2"))
        .stdout(predicate::str::contains(
            "contexts on the question (2024-01-30 on): 2",
        ))
        .stdout(predicate::str::contains("\"course_name \""))
        .stdout(predicate::str::contains("\"finalPromtEngineeredMessage\""));
}

#[test]
fn json_output_with_first_seen_conflicts_and_rejects() {
    let out = chatql()
        .args([
            "inspect",
            &testdata("ECE110-convos.zip"),
            &testdata("broken.jsonl"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_ok(&out, "out");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 2);
    let zip = &files[0];
    assert!(zip["file"]
        .as_str()
        .unwrap()
        .ends_with("ECE110-convos.zip!ECE110-conversation-export.jsonl"));
    assert_eq!(zip["kinds"]["format C conversation"], 4);
    let key = |f: &serde_json::Value, level: &str, k: &str| {
        f["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["level"] == level && x["key"] == format!("\"{k}\""))
            .cloned()
    };
    // url_chunk_index first appears in the second conversation.
    let u = key(zip, "context", "url_chunk_index").unwrap();
    assert!(
        u["first_seen"].as_str().unwrap().ends_with(".jsonl:2"),
        "{u}"
    );
    assert_eq!(key(zip, "context", "course_name ").unwrap()["count"], 2);
    assert_eq!(key(zip, "context", "course_name").unwrap()["count"], 1);
    assert_eq!(key(zip, "content part", "fileName").unwrap()["count"], 1);
    // base_url is "" in one context and null in another: not a conflict; a string/int one is.
    let broken = &files[1];
    let reasons: Vec<(u64, String)> = broken["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 5, 7]
    );
    assert!(reasons[1].1.starts_with("invalid UTF-8"));
    assert_eq!(broken["lines"], 8);
}

#[test]
fn type_conflicts_are_listed() {
    let dir = scratch("inspect");
    let f = dir.join("mixed.jsonl");
    std::fs::write(
        &f,
        "{\"id\": \"a\", \"messages\": [], \"temperature\": 0.5}\n{\"id\": \"b\", \"messages\": [], \"temperature\": \"hot\"}\n",
    )
    .unwrap();
    chatql()
        .args(["inspect", f.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "type conflict: convo \"temperature\": float 1, string 1",
        ));
}
