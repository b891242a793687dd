//! `chatql convert` end to end: the real binary on the shipped testdata.

use crate::common::*;
use predicates::prelude::*;

#[test]
fn converts_every_testdata_variant_and_reconciles() {
    let dir = scratch("all");
    let out = dir.join("lake");
    chatql()
        .args(["convert", &testdata(""), "-o", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("conversations ┆   21"))
        .stdout(predicate::str::contains(
            "23 conversations + 4 documents decoded, 6 rejected",
        ))
        .stdout(predicate::str::contains(
            "duplicates dropped: 2 conversations, 0 documents",
        ))
        .stderr(predicate::str::contains("6 record(s) rejected"));

    let m = manifest(&out);
    let rows = |t: &str| {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == t)
            .unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("conversations"), 21);
    assert_eq!(rows("messages"), 44);
    assert_eq!(rows("contexts"), 20);
    assert_eq!(rows("documents"), 4);
    assert_eq!(rows("chunks"), 6);
    assert_eq!(rows("rejects"), 6);
    assert_eq!(m["duplicates"]["conversations"], 2);
    assert_eq!(m["schema_version"], 1);
    // Records decoded = rows kept + duplicates dropped.
    assert_eq!(m["read"]["conversations"].as_u64().unwrap(), 21 + 2);
    assert_eq!(m["inputs"].as_array().unwrap().len(), 11);
    let input = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("convos-2023-r.jsonl"))
        .unwrap();
    let bytes = std::fs::read(testdata("convos-2023-r.jsonl")).unwrap();
    assert_eq!(input["blake3"], blake3::hash(&bytes).to_hex().as_str());
    assert_eq!(
        input["sha256"], "",
        "no SHA-256 in new runs, but the key older readers need"
    );
    assert_eq!(input["size"], bytes.len() as u64);
    // Zip inputs are hashed too.
    let zip = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(".zip"))
        .unwrap();
    let zbytes = std::fs::read(testdata("ECE110-convos.zip")).unwrap();
    assert_eq!(zip["blake3"], blake3::hash(&zbytes).to_hex().as_str());

    // Parent and child rows agree.
    assert_eq!(
        scalar(&out, "select sum(message_count) from conversations"),
        "44"
    );
    assert_eq!(
        scalar(&out, "select sum(context_count) from messages"),
        "20"
    );
    assert_eq!(scalar(&out, "select sum(chunk_count) from documents"), "6");
    assert_eq!(
        scalar(&out, "select count(*) from messages m left join conversations c using (convo_id) where c.convo_id is null"),
        "0"
    );
    // The grown conversation is kept from the re-export; the tie goes to the later file.
    assert_eq!(
        query(&out, "select convo_id, message_count, source_file like '%reexport%' from conversations where convo_id like '0a%' order by convo_id"),
        [
            ["0a000000-0000-4000-8000-000000000101", "4", "true"],
            ["0a000000-0000-4000-8000-000000000102", "2", "true"],
            ["0a000000-0000-4000-8000-000000000103", "0", "false"],
            ["0a000000-0000-4000-8000-000000000104", "2", "true"],
        ]
    );
    assert_eq!(
        query(
            &out,
            "select source_format, count(*) from conversations group by 1 order by 1"
        ),
        [["C", "4"], ["CSV", "2"], ["R", "15"]]
    );
    assert_eq!(
        query(
            &out,
            "select course_name, count(*) from conversations group by 1 order by 1"
        ),
        [["ECE110", "7"], ["ECE120", "12"], ["cs101", "2"]]
    );
    assert_eq!(
        scalar(
            &out,
            "select count(*) from conversations where user_email is null"
        ),
        "11"
    );
    assert_eq!(
        query(&out, "select split_part(source_file, '/', -1), source_line, byte_offset from rejects order by 1, 2"),
        [
            ["ECE120_7f3a_convo_history.csv", "4", "1235"],
            ["broken.jsonl", "1", "0"],
            ["broken.jsonl", "2", "344"],
            ["broken.jsonl", "3", "378"],
            ["broken.jsonl", "5", "1082"],
            ["broken.jsonl", "7", "1143"],
        ]
    );
    // Epoch-ms times, 768-d embeddings and the zstd placeholder document.
    assert_eq!(
        scalar(
            &out,
            "select cast(created_at as varchar) from conversations where row_id = 900001"
        ),
        "2025-10-24T21:21:36.123Z"
    );
    assert_eq!(
        query(&out, "select array_length(embedding, 1), count(*) from chunks group by 1 order by 1 nulls last"),
        [["768", "1"], ["1536", "4"], ["NULL", "1"]]
    );
    // Nothing is left beside the output.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("lake")]);
}

#[test]
fn reads_zip_members_in_place_and_skips_the_rest() {
    let out = scratch("zip").join("lake");
    chatql()
        .args([
            "convert",
            &testdata("ECE110-convos.zip"),
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "skipped (not an export format): 4",
        ));
    assert_eq!(
        query(&out, "select distinct source_file from conversations"),
        [[format!(
            "{}!ECE110-conversation-export.jsonl",
            testdata("ECE110-convos.zip")
        )]]
    );
    assert_eq!(scalar(&out, "select count(*) from conversations"), "4");
    assert_eq!(
        scalar(&out, "select count(*) from contexts where text is null"),
        "2"
    );
    assert_eq!(
        manifest(&out)["skipped"].as_array().unwrap().len(),
        4,
        "xlsx, md, png and error.log"
    );
}

#[test]
fn keep_duplicates_keeps_every_version() {
    let out = scratch("dups").join("lake");
    chatql()
        .args([
            "convert",
            &testdata("convos-2023-r.jsonl"),
            &testdata("reexport"),
            "-o",
            out.to_str().unwrap(),
            "--keep-duplicates",
        ])
        .assert()
        .success();
    assert_eq!(scalar(&out, "select count(*) from conversations"), "6");
    assert_eq!(
        scalar(&out, "select count(distinct convo_id) from conversations"),
        "4"
    );
}

#[test]
fn globs_and_compressed_files() {
    let out = scratch("glob").join("lake");
    chatql()
        .args([
            "convert",
            &testdata("*.jsonl.*"),
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    // convos-2025-r-epoch.jsonl.gz and my-project_documents.jsonl.zst
    assert_eq!(scalar(&out, "select count(*) from conversations"), "2");
    assert_eq!(scalar(&out, "select count(*) from documents"), "1");
    assert_eq!(
        scalar(&out, "select course_name from documents"),
        "my-project"
    );
}

#[test]
fn strict_fails_on_the_first_reject_and_writes_nothing() {
    let dir = scratch("strict");
    let out = dir.join("lake");
    chatql()
        .args([
            "convert",
            &testdata("broken.jsonl"),
            "-o",
            out.to_str().unwrap(),
            "--strict",
        ])
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicate::str::contains(
            "broken.jsonl:1: rejected (byte offset 0): JSON: EOF",
        ));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no output, no temporary folder"
    );
}

#[test]
fn existing_output_is_refused_without_force() {
    let dir = scratch("force");
    let out = dir.join("lake");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.txt"), "old").unwrap();
    chatql()
        .args([
            "convert",
            &testdata("convos-2023-r.jsonl"),
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already exists (use --force"));
    assert!(out.join("old.txt").exists());
    chatql()
        .args([
            "convert",
            &testdata("convos-2023-r.jsonl"),
            "-o",
            out.to_str().unwrap(),
            "--force",
            "-q",
        ])
        .assert()
        .success()
        .stdout("");
    assert!(!out.join("old.txt").exists());
    assert_eq!(scalar(&out, "select count(*) from conversations"), "3");
    assert!(
        !out.join("documents/part-r00001-00001.parquet").exists(),
        "empty tables get no file"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn missing_inputs_are_named() {
    let out = scratch("missing").join("lake");
    chatql()
        .args(["convert", "no/such/file.jsonl", "-o", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no/such/file.jsonl: no such file"));
    chatql()
        .args(["convert", "no/such/*.jsonl", "-o", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no/such/*.jsonl"));
    assert!(!out.exists());
}

#[test]
fn schema_lists_every_table_and_column() {
    let assert = chatql().args(["schema"]).assert().success();
    let text = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for t in chatql::table::Table::ALL {
        assert!(text.contains(&format!("{}: ", t.name())));
        for f in t.schema().fields() {
            assert!(text.contains(f.name().as_str()), "{}", f.name());
        }
    }
    chatql()
        .args(["schema", "contexts", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "| `pagenumber` | Int64 | 1-based page number; null for `\"\"`. |",
        ));
    chatql()
        .args(["schema", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tables are: conversations, messages",
        ));
}

#[test]
fn docs_document_the_current_schema() {
    let md = chatql()
        .args(["schema", "--format", "markdown"])
        .output()
        .unwrap()
        .stdout;
    let doc =
        std::fs::read_to_string(format!("{}/docs/tables.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(
        doc.contains(&String::from_utf8(md).unwrap()),
        "docs/tables.md differs from `chatql schema --format markdown`"
    );
}
