//! Lakes as Delta tables: concurrent appends, crashes at every commit point, time travel,
//! history, vacuum, upgrading an older lake, and delta-rs's own reader (the `deltalake`
//! Python package and Polars `scan_delta`) agreeing with chatql.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{assert_ok, chatql, manifest, scratch, sql_csv, testdata};

/// Four exports that overlap: each shares conversations with another.
fn exports() -> Vec<Vec<String>> {
    [
        &["convos-2023-r.jsonl", "ECE110-convos.zip"][..],
        &["ECE110-convos.zip", "convos-2024-r-windows.jsonl"][..],
        &[
            "convos-2024-r-windows.jsonl",
            "convos-2024-03-array.json",
            "ECE120_documents.jsonl",
        ][..],
        &[""][..],
    ]
    .iter()
    .map(|files| files.iter().map(|f| testdata(f)).collect())
    .collect()
}

/// `count(*)` and `count(distinct convo_id)` of conversations, and the same of documents.
fn counts(lake: &Path) -> String {
    sql_csv(
        "select (select count(*) from conversations) c, \
                (select count(distinct convo_id) from conversations) dc, \
                (select count(*) from documents) d, \
                (select count(*) from messages) m",
        lake,
    )
}

/// Runs a Python script; `None` when `deltalake`/`polars` are missing (an error under
/// `CHATQL_REQUIRE_DELTALAKE`, which `.ci/run` sets).
fn python(script: &str) -> Option<String> {
    if !crate::common::procs::python_has(
        "import deltalake, polars",
        "CHATQL_REQUIRE_DELTALAKE",
        "the Python packages deltalake and polars",
    ) {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    crate::common::assert_ok(&out, format_args!("{script}\n"));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Rows and distinct conversations per table as delta-rs and Polars read them.
fn delta_rs_counts(lake: &Path) -> Option<String> {
    python(&format!(
        "from deltalake import DeltaTable\n\
         import polars as pl\n\
         lake = {lake:?}\n\
         c = DeltaTable(lake + '/conversations').to_pyarrow_table()\n\
         print(c.num_rows, len(set(c.column('convo_id').to_pylist())))\n\
         for t in ['messages', 'documents']:\n\
         \x20   print(t, pl.scan_delta(lake + '/' + t).select(pl.len()).collect().item())\n",
        lake = lake.to_str().unwrap()
    ))
}

#[test]
fn six_appends_at_once_keep_every_conversation_once() {
    let dir = scratch("race");
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    let exports = exports();
    // The lake does not exist yet: the appends also race to create it.
    let children: Vec<_> = (0..6)
        .map(|i| {
            Command::new(assert_cmd::cargo::cargo_bin!("chatql"))
                .arg("convert")
                .arg("-q")
                .args(&exports[i % 4])
                .args(["-o", l, "--append", "--partition-by", "course,month"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let flat = dir.join("flat");
    chatql()
        .args(["convert", "-q", &testdata(""), "-o", flat.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(counts(&lake), "c,dc,d,m\n21,21,4,44\n");
    assert_eq!(counts(&lake), counts(&flat));
    // One version per append, plus the empty one that created the lake.
    let m = manifest(&lake);
    assert_eq!(m["runs"].as_array().unwrap().len(), 7);
    assert!(!lake.join("_chatql_lease.json").exists());
    if let Some(out) = delta_rs_counts(&lake) {
        assert_eq!(out, "21 21\nmessages 44\ndocuments 4\n");
    }
}

#[test]
fn a_writer_killed_at_any_point_leaves_a_consistent_lake() {
    for point in [
        "moved",
        "commit:rejects",
        "commit:chunks",
        "commit:messages",
        "committed",
    ] {
        let dir = scratch(&format!("kill-{}", point.replace(':', "-")));
        let lake = dir.join("lake");
        let l = lake.to_str().unwrap();
        chatql()
            .args(["convert", "-q", &testdata("convos-2023-r.jsonl"), "-o", l])
            .args(["--partition-by", "course,month"])
            .assert()
            .success();
        let before = counts(&lake);
        // The whole testdata folder: new conversations, one grown (a partition rewrite),
        // new documents and rejects, so every table gets a commit.
        let out = chatql()
            .args(["convert", "-q", &testdata(""), "-o", l, "--append"])
            .env("CHATQL_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the writer should have died"
        );
        let after = counts(&lake);
        if point == "committed" {
            assert_eq!(after, "c,dc,d,m\n21,21,4,44\n", "{point}");
        } else {
            assert_eq!(after, before, "{point}: a dead run is invisible");
        }
        if let Some(out) = delta_rs_counts(&lake) {
            // delta-rs sees the root (conversations) exactly as chatql does.
            let first = out.lines().next().unwrap().to_owned();
            let c = after.lines().nth(1).unwrap().split(',').next().unwrap();
            assert_eq!(first, format!("{c} {c}"), "{point}: {out}");
        }
        // The next append repairs what the dead one left and succeeds.
        chatql()
            .args(["convert", "-q", &testdata(""), "-o", l, "--append"])
            .assert()
            .success();
        assert_eq!(counts(&lake), "c,dc,d,m\n21,21,4,44\n", "{point}");
        if let Some(out) = delta_rs_counts(&lake) {
            assert_eq!(out, "21 21\nmessages 44\ndocuments 4\n", "{point}");
        }
        // Files no version names are gone.
        let named: usize = manifest(&lake)["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["files"].as_u64().unwrap() as usize)
            .sum();
        let removed_kept = parquet_files(&lake).len() - named;
        let history = manifest(&lake);
        let removed_total: usize = history["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["files_removed"].as_array().unwrap().len())
            .sum();
        assert!(
            removed_kept <= removed_total,
            "{point}: untracked files remain"
        );
    }
}

fn parquet_files(lake: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(lake)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn time_travel_reads_earlier_versions_and_history_lists_the_runs() {
    let dir = scratch("travel");
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    chatql()
        .args(["convert", "-q", &testdata("convos-2023-r.jsonl"), "-o", l])
        .assert()
        .success();
    let v0 = counts(&lake);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = chatql::model::format_timestamp_pg(chatql::model::now_us());
    std::thread::sleep(std::time::Duration::from_millis(20));
    chatql()
        .args(["convert", "-q", &testdata(""), "-o", l, "--append"])
        .assert()
        .success();
    assert_eq!(counts(&lake), "c,dc,d,m\n21,21,4,44\n");
    for as_of in ["0", between.as_str()] {
        let out = chatql()
            .args(["sql", "select count(*) c from conversations", l])
            .args(["--format", "csv", "--as-of", as_of])
            .output()
            .unwrap();
        crate::common::assert_ok(&out, "");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!(
                "c\n{}\n",
                v0.lines().nth(1).unwrap().split(',').next().unwrap()
            ),
            "--as-of {as_of}"
        );
    }
    // Reports and exports travel too.
    let out = dir.join("v0.jsonl");
    chatql()
        .args(["export", l, "--to", "uiuc-rows", "--as-of", "0", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    let report = chatql()
        .args(["report", l, "--format", "json", "--as-of", "0"])
        .output()
        .unwrap();
    assert_ok(&report, "report");
    // Bad versions and times are clear usage errors.
    for (as_of, needle) in [
        ("7", "no version 7 (the latest is 1)"),
        ("1999-01-01", "has no version at or before 1999-01-01"),
        ("soon", "expected a version number or a time"),
    ] {
        let out = chatql()
            .args(["sql", "select 1", l, "--as-of", as_of])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{as_of}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(needle), "{as_of}: {e}");
    }
    // history: two versions with their inputs and counts.
    let out = chatql().args(["history", l]).output().unwrap();
    assert_ok(&out, "out");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("version 1 · one folder per table"), "{text}");
    let m = manifest(&lake);
    assert_eq!(m["runs"][0]["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(m["runs"][0]["rows_added"]["conversations"], 3);
    assert_eq!(m["runs"][1]["version"], 1);
    // Two of version 0's conversations came again, one of them grown (its partition
    // rewritten, not counted as added).
    assert_eq!(m["runs"][1]["already_in_lake"]["conversations"], 2);
    assert_eq!(m["runs"][1]["replaced_in_lake"]["conversations"], 1);
    assert_eq!(m["runs"][1]["rows_added"]["conversations"], 19);
    if let Some(out) = python(&format!(
        "import polars as pl\n\
         print(pl.scan_delta({:?}, version=0).select(pl.len()).collect().item())",
        lake.join("conversations").to_str().unwrap()
    )) {
        assert_eq!(out.trim(), "3");
    }
}

#[test]
fn delta_rs_reads_partition_values_and_statistics() {
    let dir = scratch("delta-rs");
    let lake = dir.join("lake");
    chatql()
        .args(["convert", "-q", &testdata(""), "-o", lake.to_str().unwrap()])
        .args(["--partition-by", "course,month"])
        .assert()
        .success();
    let Some(out) = python(&format!(
        "from deltalake import DeltaTable\n\
         import polars as pl, pyarrow as pa\n\
         t = DeltaTable({:?})\n\
         print(t.metadata().partition_columns)\n\
         a = pl.DataFrame(pa.table(t.get_add_actions(flatten=True)))\n\
         print(a.height, a['num_records'].sum())\n\
         print(sorted(a['partition.course'].unique().to_list(), key=str))\n\
         print(a['min.created_at'].null_count(), a['max.created_at'].null_count())\n\
         df = pl.scan_delta(t.table_uri).filter(pl.col('course') == 'cs101').collect()\n\
         print(df.height, df['course_name'].unique().to_list())\n",
        lake.join("conversations").to_str().unwrap()
    )) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "['course', 'month']");
    assert_eq!(lines[1], "12 21");
    assert_eq!(lines[2], "['ECE110', 'ECE120', 'cs101']");
    assert_eq!(
        lines[3], "1 1",
        "only the file of conversations without a time"
    );
    assert_eq!(lines[4], "2 ['cs101']");
    // chatql's SQL sees the same partition values.
    assert_eq!(
        sql_csv(
            "select count(*) n from conversations where course = 'cs101'",
            &lake
        ),
        "n\n2\n"
    );
}

#[test]
fn an_older_lake_is_refused_with_a_hint_and_upgraded_in_place() {
    let dir = scratch("upgrade");
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    chatql()
        .args(["convert", "-q", &testdata(""), "-o", l])
        .assert()
        .success();
    let expected = counts(&lake);
    let m = manifest(&lake);
    // Rewrite it as chatql 0.1 left it: one file per table and a manifest.json.
    let mut tables = Vec::new();
    for t in [
        "conversations",
        "messages",
        "contexts",
        "documents",
        "chunks",
        "rejects",
    ] {
        let folder = lake.join(t);
        let file = folder.join("part-r00001-00001.parquet");
        let rows = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == t)
            .unwrap()["rows"]
            .clone();
        if file.exists() {
            std::fs::rename(&file, lake.join(format!("{t}.parquet"))).unwrap();
        }
        std::fs::remove_dir_all(&folder).unwrap();
        tables.push(serde_json::json!({"name": t, "rows": rows, "file": format!("{t}.parquet")}));
    }
    let legacy = serde_json::json!({
        "tool_version": "0.1.0", "schema_version": 1, "created_at": m["created_at"],
        "inputs": m["inputs"], "tables": tables, "duplicates": m["duplicates"],
        "read": m["read"], "skipped": m["skipped"],
    });
    std::fs::write(lake.join("manifest.json"), legacy.to_string()).unwrap();
    let out = chatql().args(["sql", "select 1", l]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `chatql upgrade"));
    let out = chatql().args(["upgrade", l]).output().unwrap();
    crate::common::assert_ok(&out, "");
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("now a Delta lake (version 0 with 6 file(s))"));
    assert!(!lake.join("manifest.json").exists());
    assert_eq!(counts(&lake), expected);
    // It is a lake like any other now: appends work.
    chatql()
        .args(["convert", "-q", &testdata(""), "-o", l, "--append"])
        .assert()
        .success();
    assert_eq!(counts(&lake), expected);
    let again = chatql().args(["upgrade", l]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
}

/// Every row of every table, in a stable order, as CSV.
fn dump(lake: &Path) -> String {
    [
        "select * from conversations order by convo_id",
        "select * from messages order by convo_id, message_index",
        "select * from contexts order by convo_id, message_index, context_index",
        "select * from documents order by doc_id",
        "select * from chunks order by doc_id, chunk_index",
        "select * from rejects order by source_file, source_line, byte_offset",
    ]
    .iter()
    .map(|q| sql_csv(q, lake))
    .collect()
}

/// The same partitioned lake built by a conversion and appends of overlapping exports, with
/// `compact` run after the append `compact_after` (when given).
fn build(dir: &Path, compact_after: Option<usize>) -> PathBuf {
    let lake = dir.join(format!("lake-{compact_after:?}"));
    let l = lake.to_str().unwrap();
    for (i, files) in exports().iter().enumerate() {
        let mut cmd = chatql();
        cmd.args(["convert", "-q"]).args(files).args(["-o", l]);
        if i == 0 {
            cmd.args(["--partition-by", "course,month"]);
        } else {
            cmd.arg("--append");
        }
        cmd.assert().success();
        if compact_after == Some(i) {
            chatql().args(["compact", l]).assert().success();
        }
    }
    lake
}

/// `compact` rewrites each partition's files into one file per table as a new version: the
/// same rows (chatql and delta-rs agree), the version before still readable, a later append
/// deduplicating against the rewritten files exactly as against the originals, and the old
/// files left to `vacuum`.
#[test]
fn compact_leaves_one_file_per_partition_and_the_same_rows() {
    let dir = scratch("compact");
    let plain = build(&dir, None);
    let want = dump(&plain);
    assert!(want.lines().count() > 60, "{want}");
    // Compacted before the last append, which replaces a grown conversation (its
    // partition's rows are dropped by position, children with their parents).
    let early = build(&dir, Some(2));
    assert_eq!(dump(&early), want);
    let m = manifest(&early);
    assert_eq!(m["runs"][3]["operation"], "compact", "{m}");
    assert_eq!(
        m["runs"][3]["files_removed"].as_array().unwrap().len(),
        16,
        "{m}"
    );
    assert_eq!(m["runs"][4]["replaced_in_lake"]["conversations"], 1, "{m}");
    // Compacted at the end: one version more, the same rows.
    let lake = plain;
    let l = lake.to_str().unwrap();
    let before = parquet_files(&lake).len();
    let dry = chatql().args(["compact", l, "--dry-run"]).output().unwrap();
    assert_ok(&dry, "dry");
    let dry = String::from_utf8(dry.stdout).unwrap();
    assert!(dry.starts_with("would rewrite "), "{dry}");
    assert_eq!(
        parquet_files(&lake).len(),
        before,
        "a dry run writes nothing"
    );
    let out = chatql().args(["compact", l]).output().unwrap();
    crate::common::assert_ok(&out, "");
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.starts_with("version 4: rewrote "), "{said}");
    assert_eq!(dump(&lake), want);
    let h = manifest(&lake);
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[4]["operation"], "compact");
    assert_eq!(runs[4]["rows_added"], serde_json::json!({}));
    assert!(runs[3].get("operation").is_none(), "{}", runs[3]);
    let again = chatql().args(["compact", l]).output().unwrap();
    assert!(String::from_utf8(again.stdout)
        .unwrap()
        .contains("nothing to compact"));
    // The version before reads the old files; vacuum deletes them once they are not needed,
    // which leaves one file in each partition folder of each table.
    let v3 = chatql()
        .args(["sql", "select count(*) c from messages", l])
        .args(["--format", "csv", "--as-of", "3"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(v3.stdout).unwrap(),
        sql_csv("select count(*) c from messages", &lake)
    );
    chatql()
        .args(["vacuum", l, "--retain-hours", "0"])
        .assert()
        .success();
    assert_eq!(dump(&lake), want);
    let mut per_folder: std::collections::BTreeMap<PathBuf, usize> = Default::default();
    for f in parquet_files(&lake) {
        *per_folder
            .entry(f.parent().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(per_folder.len() > 10, "{per_folder:?}");
    assert!(per_folder.values().all(|n| *n == 1), "{per_folder:?}");
    if let Some(out) = delta_rs_counts(&lake) {
        assert_eq!(out, delta_rs_counts(&early).unwrap());
        assert!(out.starts_with("21 21\n"), "{out}");
    }
}
