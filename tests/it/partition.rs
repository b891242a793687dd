//! `convert --partition-by` and `--append`: the Hive layout, runs in the manifest, cross-run
//! deduplication, crash remains, and that SQL, reports and export read the lake like a flat
//! one.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{assert_ok, chatql, manifest, scratch, sql_csv, testdata};
use sha2::Digest;

/// The first run: the files of 2023 and the zip (some of whose conversations recur later).
const RUN1: &[&str] = &[
    "convos-2023-r.jsonl",
    "ECE120_documents.jsonl",
    "ECE110-convos.zip",
];

fn convert(args: &[&str]) -> assert_cmd::assert::Assert {
    chatql().arg("convert").arg("-q").args(args).assert()
}

/// Every Parquet file under the lake, relative path to SHA-256.
fn file_hashes(lake: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(lake)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(lake)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (
                rel,
                hex::encode(sha2::Sha256::digest(std::fs::read(e.path()).unwrap())),
            )
        })
        .collect()
}

fn two_run_lake(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch(name);
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    let run1: Vec<String> = RUN1.iter().map(|f| testdata(f)).collect();
    let mut args: Vec<&str> = run1.iter().map(String::as_str).collect();
    args.extend(["-o", l, "--partition-by", "course,month"]);
    convert(&args).success();
    let all = testdata("");
    convert(&[all.as_str(), "-o", l, "--append"]).success();
    let flat = dir.join("flat");
    convert(&[all.as_str(), "-o", flat.to_str().unwrap()]).success();
    (lake, flat)
}

#[test]
fn writes_hive_partitions_with_every_column_and_a_run_manifest() {
    let dir = scratch("hive");
    let lake = dir.join("lake");
    convert(&[
        &testdata("convos-2023-r.jsonl"),
        &testdata("ECE120_documents.jsonl"),
        "-o",
        lake.to_str().unwrap(),
        "--partition-by",
        "course,month",
    ])
    .success();
    let files: Vec<String> = file_hashes(&lake).into_keys().collect();
    assert_eq!(
        files,
        [
            "chunks/course=ECE110/month=2024-05/part-r00001-00001.parquet",
            "chunks/course=ECE120/month=2023-10/part-r00001-00001.parquet",
            "chunks/course=ECE120/month=2024-05/part-r00001-00001.parquet",
            "contexts/course=ECE120/month=2023-08/part-r00001-00001.parquet",
            "contexts/course=ECE120/month=2023-09/part-r00001-00001.parquet",
            "conversations/course=ECE120/month=2023-08/part-r00001-00001.parquet",
            "conversations/course=ECE120/month=2023-09/part-r00001-00001.parquet",
            "conversations/course=ECE120/month=2023-10/part-r00001-00001.parquet",
            "documents/course=ECE110/month=2024-05/part-r00001-00001.parquet",
            "documents/course=ECE120/month=2023-10/part-r00001-00001.parquet",
            "documents/course=ECE120/month=2024-05/part-r00001-00001.parquet",
            "messages/course=ECE120/month=2023-08/part-r00001-00001.parquet",
            "messages/course=ECE120/month=2023-09/part-r00001-00001.parquet",
        ]
    );
    // Every table has its folder, even when empty, so readers see an empty table.
    assert!(lake.join("rejects").is_dir());
    let m = manifest(&lake);
    assert_eq!(m["partition_by"], serde_json::json!(["course", "month"]));
    assert_eq!(m["runs"].as_array().unwrap().len(), 1);
    assert_eq!(m["runs"][0]["rows_added"]["messages"], 4);
    assert_eq!(m["runs"][0]["files_added"].as_array().unwrap().len(), 13);
    let rows: BTreeMap<String, u64> = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows["conversations"], 3);
    assert_eq!(rows["chunks"], 5);
    // The partition columns come after the table's own; the files keep course_name too.
    assert_eq!(
        sql_csv(
            "select m.course, m.month, count(*) n, min(c.course_name) c from messages m \
             join conversations c using (convo_id) group by 1, 2 order by 1, 2",
            &lake
        ),
        "course,month,n,c\nECE120,2023-08,2,ECE120\nECE120,2023-09,2,ECE120\n"
    );
}

#[test]
fn append_deduplicates_across_runs_and_rewrites_only_what_changed() {
    let dir = scratch("append");
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    let run1: Vec<String> = RUN1.iter().map(|f| testdata(f)).collect();
    let mut args: Vec<&str> = run1.iter().map(String::as_str).collect();
    args.extend(["-o", l, "--partition-by", "course,month"]);
    convert(&args).success();
    let before = file_hashes(&lake);

    let all = testdata("");
    let out = chatql()
        .args(["convert", &all, "-o", l, "--append"])
        .output()
        .unwrap();
    assert_ok(&out, "out");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("run 2 of a lake partitioned by course,month: 6 conversations and 3 documents already in it, 1 and 0 older versions replaced"),
        "{text}"
    );
    assert!(
        text.contains("lake now holds: 21 conversations, 44 messages, 20 contexts, 4 documents, 6 chunks, 6 rejects"),
        "{text}"
    );
    let m = manifest(&lake);
    let run2 = &m["runs"][1];
    assert_eq!(run2["run"], 2);
    assert_eq!(run2["already_in_lake"]["conversations"], 6);
    assert_eq!(run2["replaced_in_lake"]["conversations"], 1);
    let removed: Vec<&str> = run2["files_removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // One conversation grew: its partition's three family files are rewritten, nothing else.
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(
        removed
            .iter()
            .all(|f| f.contains("/course=ECE120/month=2023-08/part-r00001-00001.parquet")),
        "{removed:?}"
    );
    // Every old file is untouched; the removed ones stay on disk for readers of version 0
    // until a vacuum past the retention period deletes them.
    let after = file_hashes(&lake);
    for (file, hash) in &before {
        assert_eq!(after.get(file), Some(hash), "{file} was rewritten");
    }
    assert_eq!(
        sql_csv("select count(*) n from conversations", &lake),
        "n\n21\n"
    );
    let vacuum = |extra: &[&str]| {
        let out = chatql().args(["vacuum", l]).args(extra).output().unwrap();
        crate::common::assert_ok(&out, "");
        String::from_utf8(out.stdout).unwrap()
    };
    let kept = vacuum(&[]);
    assert!(
        kept.contains("deleted 0 file(s), 0 bytes; kept 3 removed"),
        "{kept}"
    );
    let dry = vacuum(&["--retain-hours", "0", "--dry-run"]);
    assert!(dry.contains("would delete 3 file(s)"), "{dry}");
    assert!(removed.iter().all(|f| lake.join(f).exists()));
    vacuum(&["--retain-hours", "0"]);
    assert!(removed.iter().all(|f| !lake.join(f).exists()));
    // Version 0 can no longer be read whole; the latest still can.
    assert_eq!(
        sql_csv("select count(*) n from conversations", &lake),
        "n\n21\n"
    );

    // A third run of the same inputs adds nothing and touches nothing.
    chatql()
        .args(["convert", &all, "-o", l, "--append", "-q"])
        .assert()
        .success();
    let m = manifest(&lake);
    let run3 = &m["runs"][2];
    assert_eq!(run3["already_in_lake"]["conversations"], 21);
    assert_eq!(run3["already_in_lake"]["documents"], 4);
    assert_eq!(run3["replaced_in_lake"]["conversations"], 0);
    assert_eq!(run3["rows_added"]["conversations"], serde_json::Value::Null);
    assert_eq!(run3["files_removed"], serde_json::json!([]));
    // Only the run's rejects are new files.
    let added: Vec<&str> = run3["files_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(added, ["rejects/part-r00003-00001.parquet"]);
}

#[test]
fn a_two_run_lake_answers_like_a_flat_conversion_of_everything() {
    let (lake, flat) = two_run_lake("same");
    for sql in [
        "select count(*), count(distinct convo_id), sum(message_count) from conversations",
        "select convo_id, message_index, role, content from messages order by 1, 2",
        "select convo_id, message_index, context_index, s3_path from contexts order by 1, 2, 3",
        "select doc_id, course_name, chunk_count from documents order by 1, 2",
        "select doc_id, chunk_index, vector_norm(embedding) from chunks order by 1, 2",
    ] {
        assert_eq!(sql_csv(sql, &lake), sql_csv(sql, &flat), "{sql}");
    }
    // Reports read the same numbers, restricted ones too (they prune partitions).
    let report = |lake: &Path, extra: &[&str]| {
        let out = chatql()
            .args(["report", lake.to_str().unwrap(), "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&out, "out");
        String::from_utf8(out.stdout).unwrap()
    };
    for extra in [
        &[][..],
        &["--course", "ECE120", "--since", "2023-09-01"][..],
        &["--since", "2024-06-15", "--until", "2025-02-01"][..],
        &["--course", "cs101"][..],
    ] {
        assert_eq!(report(&lake, extra), report(&flat, extra), "{extra:?}");
    }
    // A lake on disk is read through the small-file cache: with it off (every read a range
    // of the file) the report is the same, and no store request is counted either way.
    let uncached = chatql()
        .args(["report", lake.to_str().unwrap(), "--format", "json"])
        .env("CHATQL_STORE_CACHE_MB", "0")
        .env("CHATQL_STORE_REQUESTS", "1")
        .output()
        .unwrap();
    assert_ok(&uncached, "uncached");
    assert_eq!(
        String::from_utf8(uncached.stdout).unwrap(),
        report(&lake, &[])
    );
    let stderr = String::from_utf8(uncached.stderr).unwrap();
    assert!(!stderr.contains("object store requests"), "{stderr}");
    // Export walks the partitions in order and rebuilds every conversation.
    let dir = lake.parent().unwrap();
    let mut exported = Vec::new();
    for (src, name) in [(&lake, "p.jsonl"), (&flat, "f.jsonl")] {
        let out = dir.join(name);
        chatql()
            .args(["export", src.to_str().unwrap(), "--to", "uiuc-rows", "-o"])
            .arg(&out)
            .assert()
            .success();
        let mut lines: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        exported.push(lines);
    }
    assert_eq!(exported[0].len(), 21);
    assert_eq!(exported[0], exported[1]);
}

#[test]
fn an_append_clears_what_a_crashed_run_left() {
    let (lake, _) = two_run_lake("crash");
    // A run 3 that moved a file in but died before committing it.
    let part = lake.join("conversations/course=ECE120/month=2023-10");
    let orphan = part.join("part-r00003-00001.parquet");
    std::fs::copy(part.join("part-r00001-00001.parquet"), &orphan).unwrap();
    assert_eq!(
        sql_csv("select count(*) n from conversations", &lake),
        "n\n21\n",
        "a file no version names is invisible"
    );
    chatql()
        .args(["convert", &testdata("broken.jsonl"), "-o"])
        .arg(&lake)
        .args(["--append", "-q"])
        .assert()
        .success();
    assert!(!orphan.exists());
    assert_eq!(
        sql_csv("select count(*) n from conversations", &lake),
        "n\n21\n"
    );
}

#[test]
fn partition_options_are_checked() {
    let dir = scratch("opts");
    let flat = dir.join("flat");
    let input = testdata("convos-2023-r.jsonl");
    convert(&[&input, "-o", flat.to_str().unwrap()]).success();
    let err = |args: &[&str], code: i32, needle: &str| {
        let out = chatql().arg("convert").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    };
    let f = flat.to_str().unwrap();
    err(
        &[&input, "-o", f, "--append", "--partition-by", "month"],
        2,
        "differs from the lake's none",
    );
    err(
        &[&input, "-o", f, "--append", "--force"],
        2,
        "exclude each other",
    );
    let new = dir.join("new");
    let n = new.to_str().unwrap();
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    err(
        &[&input, "-o", other.to_str().unwrap(), "--append"],
        2,
        "is not a folder written by `chatql convert`",
    );
    err(
        &[&input, "-o", n, "--partition-by", "year"],
        2,
        "unknown key \"year\"",
    );
    convert(&[&input, "-o", n, "--partition-by", "month"]).success();
    err(&[&input, "-o", n, "--partition-by", "month"], 4, "exists");
    err(
        &[
            &input,
            "-o",
            n,
            "--partition-by",
            "course,month",
            "--append",
        ],
        2,
        "differs from the lake's month",
    );
    // Month only: one level of folders.
    assert!(new.join("conversations/month=2023-08").is_dir());
}

#[test]
fn partition_values_are_escaped_for_paths() {
    use chatql::lake::partition::{encode_value, NULL_PARTITION};
    assert_eq!(encode_value(Some("ECE 120")), "ECE 120");
    assert_eq!(encode_value(Some("a/b=c%")), "a%2Fb%3Dc%25");
    assert_eq!(encode_value(Some(".hidden")), "%2Ehidden");
    assert_eq!(encode_value(None), NULL_PARTITION);
    assert_eq!(encode_value(Some("")), NULL_PARTITION);
    let long = "é".repeat(200);
    let e = encode_value(Some(&long));
    assert!(e.len() <= 180, "{}", e.len());
    assert_ne!(e, encode_value(Some(&"é".repeat(201))));
}

/// A one-shot partitioned conversion routes rows as they are decoded; the versions it finds
/// twice (the testdata's overlapping exports, and a generated export given twice) are
/// dropped from the partitions afterwards. Every table equals the flat conversion's, row
/// for row, and each partition holds only its own course and month.
#[test]
fn a_one_shot_partitioned_conversion_equals_the_flat_one() {
    let dir = scratch("one-shot");
    let [gen, again] = crate::export_twice(&dir, "gen", 3 << 20, 11);
    let inputs = [
        testdata(""),
        gen.to_string_lossy().into_owned(),
        again.to_string_lossy().into_owned(),
    ];
    let lake = dir.join("lake");
    let flat = dir.join("flat");
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    args.extend([
        "-o",
        lake.to_str().unwrap(),
        "--partition-by",
        "course,month",
    ]);
    convert(&args).success();
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    args.extend(["-o", flat.to_str().unwrap()]);
    convert(&args).success();
    for sql in [
        "select count(*), count(distinct convo_id), sum(message_count) from conversations",
        "select convo_id, message_index, role, content, context_count from messages order by 1, 2",
        "select convo_id, message_index, context_index, s3_path, text from contexts order by 1, 2, 3",
        "select doc_id, course_name, chunk_count from documents order by 1, 2",
        "select doc_id, chunk_index, vector_norm(embedding) from chunks order by 1, 2",
        "select count(*), min(source_line) from rejects",
    ] {
        assert_eq!(sql_csv(sql, &lake), sql_csv(sql, &flat), "{sql}");
    }
    let n = sql_csv("select count(*) n from conversations", &lake);
    let n: u64 = n.lines().nth(1).unwrap().parse().unwrap();
    assert!(n > 40, "{n}");
    // Every message and context sits in its conversation's partition.
    assert_eq!(
        sql_csv(
            "select count(*) n from messages m join conversations c on c.convo_id = m.convo_id \
             where (m.course is distinct from c.course) or (m.month is distinct from c.month)",
            &lake
        ),
        "n\n0\n"
    );
    assert_eq!(
        sql_csv(
            "select count(*) n from contexts x join conversations c on c.convo_id = x.convo_id \
             where (x.course is distinct from c.course) or (x.month is distinct from c.month)",
            &lake
        ),
        "n\n0\n"
    );
}
