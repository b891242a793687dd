//! `chatql sql` end to end: the same queries on raw exports and on a converted folder give
//! the same, hand-checked results; output formats are snapshotted.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::*;
use predicates::prelude::*;

/// testdata converted once for every test that only reads it.
fn lake() -> &'static PathBuf {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(testdata_lake)
}

fn run(query: &str, input: &str, format: &str) -> String {
    let out = chatql()
        .args(["sql", query, input, "--format", format, "--max-rows", "0"])
        .output()
        .unwrap();
    assert_ok(&out, format_args!("{query}"));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `query` on raw testdata and on the lake; both must print `expected` as CSV.
fn check(query: &str, expected: &str) {
    let raw = run(query, &testdata(""), "csv");
    let lake = run(query, lake().to_str().unwrap(), "csv");
    assert_eq!(raw, lake, "raw and converted differ for {query}");
    assert_eq!(raw, expected, "{query}");
}

#[test]
fn counts_and_group_bys() {
    check("select count(*) as n from conversations", "n\n21\n");
    check(
        "select course_name, count(*) as n, count(user_email) as users from conversations group by 1 order by 1",
        "course_name,n,users\nECE110,7,3\nECE120,12,6\ncs101,2,1\n",
    );
    check(
        "select role, count(*) as n from messages group by role order by role",
        "role,n\nassistant,22\nuser,22\n",
    );
    check(
        "select sum(context_count) as on_messages, (select count(*) from contexts) as rows from messages",
        "on_messages,rows\n20,20\n",
    );
    check("select count(*) as n from rejects", "n\n6\n");
    check(
        "select email_domain(user_email) as domain, count(*) as n from conversations where user_email is not null group by 1 order by 2 desc, 1",
        "domain,n\nillinois.edu,8\ngmail.com,2\n",
    );
}

#[test]
fn activity_by_month() {
    check(
        "select to_char(date_trunc('month', created_at), '%Y-%m') as month, count(*) as n \
         from conversations where created_at is not null group by 1 order by 1",
        "month,n\n2023-08,2\n2023-09,5\n2023-10,2\n2023-12,1\n2024-01,1\n2024-05,1\n2024-06,3\n2024-10,1\n2025-02,1\n2025-10,2\n2025-11,1\n",
    );
}

#[test]
fn contexts_join_chunks_on_s3_path() {
    check(
        "select x.readable_filename, count(distinct x.convo_id || x.message_index || x.context_index) as contexts, \
                count(distinct k.chunk_index) as chunks \
         from contexts x join chunks k on k.s3_path = x.s3_path group by 1",
        "readable_filename,contexts,chunks\nECE120_Notes.pdf,3,2\n",
    );
    check(
        "select count(*) as never_cited from documents d where not exists \
           (select 1 from contexts x where x.s3_path = d.s3_path and d.s3_path <> '')",
        "never_cited\n3\n",
    );
}

#[test]
fn nearest_chunks_by_cosine_similarity() {
    let q = "with q as (select embedding from chunks where doc_id = 1048576 and chunk_index = 0) \
             select k.doc_id, k.chunk_index, round(cosine_similarity(k.embedding, q.embedding), 6) as sim \
             from chunks k, q where array_length(k.embedding, 1) = 1536 order by sim desc limit 2";
    let raw = run(q, &testdata(""), "csv");
    assert_eq!(raw, run(q, lake().to_str().unwrap(), "csv"));
    let lines: Vec<&str> = raw.lines().collect();
    assert_eq!(lines[0], "doc_id,chunk_index,sim");
    assert_eq!(lines[1], "1048576,0,1.0");
    assert_eq!(lines.len(), 3);
    check(
        "select dot_product([1.0, 2.0], [3.0, 4.0]) as dot, l2_distance([0.0, 0.0], [3.0, 4.0]) as l2, \
                vector_norm([3.0, 4.0]) as norm, cosine_similarity([1.0, 0.0], [0.0, 1.0]) as cos",
        "dot,l2,norm,cos\n11.0,5.0,5.0,0.0\n",
    );
}

#[test]
fn mismatched_dimensions_are_a_clear_error() {
    chatql()
        .args([
            "sql",
            "select cosine_similarity(embedding, [0.1, 0.2]) from chunks",
            lake().to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "vectors of different dimensions (1536 and 2) at row 1",
        ));
}

#[test]
fn json_access_into_extra() {
    check(
        "select json_get_str(extra, 'projectName') as project, count(*) as n from conversations \
         where json_get_str(extra, 'projectName') is not null group by 1 order by 1",
        "project,n\nECE110,3\ncs101,2\n",
    );
    check(
        "select json_get_int(extra, 'model', 'tokenLimit') as token_limit, count(*) as n from conversations group by 1 order by 1",
        "token_limit,n\n4000,5\n8192,6\n128000,9\n1000000,1\n",
    );
    check(
        "select count(*) as n from messages where json_get_bool(extra, 'wasQueryRewritten') = false",
        "n\n2\n",
    );
}

#[test]
fn turns_view_pairs_questions_with_answers_and_contexts() {
    check(
        "select count(*) as turns, count(answer) as answered, sum(context_count) as contexts, \
                sum(case when context_count = 0 then 1 else 0 end) as no_context from turns",
        "turns,answered,contexts,no_context\n22,22,20,8\n",
    );
    // 2023: contexts on the answer; 2024+: on the question. Both count for the turn.
    check(
        "select question, context_count, array_to_string(sources, ';') as sources from turns \
         where convo_id in ('0a000000-0000-4000-8000-000000000101', '2b000000-0000-4000-8000-000000002001') \
         order by convo_id, question_index",
        "question,context_count,sources\nWhat is a Karnaugh map?,2,ECE120_Notes.pdf\nThanks,0,\n\
What is a finite state machine?,3,ECE120_Notes.pdf\nGive an example,1,Lab3.pdf\n",
    );
    check(
        "select feedback_positive, count(*) as n from turns where feedback_positive is not null group by 1 order by 1",
        "feedback_positive,n\nfalse,1\ntrue,2\n",
    );
}

#[test]
fn statements_from_files_and_stdin() {
    let dir = scratch("sqlfile");
    let f = dir.join("q.sql");
    std::fs::write(
        &f,
        "-- two statements\ncreate view ece as select * from conversations where course_name = 'ECE120';\n\
         select count(*) as n from ece;\n",
    )
    .unwrap();
    chatql()
        .args([
            "sql",
            "-f",
            f.to_str().unwrap(),
            lake().to_str().unwrap(),
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout("n\n12\n");
    chatql()
        .args(["sql", "-", lake().to_str().unwrap(), "--format", "csv"])
        .write_stdin("select count(*) as n from documents;")
        .assert()
        .success()
        .stdout("n\n4\n");
}

#[test]
fn unknown_tables_list_the_tables_there_are() {
    chatql()
        .args(["sql", "select * from convos", lake().to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("table 'datafusion.public.convos' not found"))
        .stderr(predicate::str::contains(
            "tables and views: conversations, messages, contexts, documents, chunks, rejects, turns",
        ));
    chatql()
        .args(["sql", "selec 1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("at Line: 1, Column: 1"));
}

#[test]
fn output_formats() {
    let q = "select convo_id, message_count, created_at, [1, 2] as list from conversations \
             where row_id in (101, 900001) order by row_id";
    let lake = lake().to_str().unwrap();
    insta::assert_snapshot!("table", run(q, lake, "table"));
    insta::assert_snapshot!("csv", run(q, lake, "csv"));
    insta::assert_snapshot!("tsv", run(q, lake, "tsv"));
    insta::assert_snapshot!("json", run(q, lake, "json"));
    insta::assert_snapshot!("ndjson", run(q, lake, "ndjson"));
    insta::assert_snapshot!("markdown", run(q, lake, "markdown"));
    // JSON keeps nested values as JSON, not strings.
    let v: serde_json::Value = serde_json::from_str(&run(q, lake, "json")).unwrap();
    assert_eq!(v[0]["list"], serde_json::json!([1, 2]));
    assert_eq!(v[1]["message_count"], 2);
}

#[test]
fn table_truncates_long_text_and_rows() {
    let out = chatql()
        .args([
            "sql",
            "select prompt, repeat('x', 200) as long from conversations",
            lake().to_str().unwrap(),
            "--max-rows",
            "3",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&format!("{}…", "x".repeat(59))));
    assert_eq!(stdout.lines().filter(|l| l.contains("xxxx")).count(), 3);
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("21 rows, 18 not shown"));
}

#[test]
fn parquet_output_is_written_atomically() {
    let dir = scratch("pq");
    let f = dir.join("r.parquet");
    chatql()
        .args([
            "sql",
            "select course_name, count(*) as n from conversations group by 1",
            lake().to_str().unwrap(),
            "--format",
            "parquet",
            "-o",
            f.to_str().unwrap(),
        ])
        .assert()
        .success();
    chatql()
        .args([
            "sql",
            "select count(*) as n from conversations",
            lake().to_str().unwrap(),
            "--format",
            "parquet",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs -o FILE"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let n = rt.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        let df = ctx
            .read_parquet(f.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        df.count().await.unwrap()
    });
    assert_eq!(n, 3);
}

/// A result whose execution fails, written as Parquet: the writer's threads stop, no file
/// (nor a temporary one) is left, and the error names the cast.
#[test]
fn a_failing_result_leaves_no_parquet_file() {
    let dir = scratch("pq-fail");
    let f = dir.join("r.parquet");
    let out = chatql()
        .args([
            "sql",
            "select convo_id, cast(text as int) as n from contexts",
            lake().to_str().unwrap(),
            "-o",
            f.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cannot cast string"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn the_output_format_follows_the_file_name() {
    let dir = scratch("by-name");
    let lake = lake();
    let lake = lake.to_str().unwrap();
    let out = |name: &str, extra: &[&str]| {
        let f = dir.join(name);
        let mut args = vec![
            "sql",
            "select * from contexts",
            lake,
            "-o",
            f.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        chatql().args(&args).assert().success();
        f
    };
    // A whole table out as Parquet, by its name alone: every row, the text intact.
    let pq = out("contexts.parquet", &[]);
    let sums =
        "select count(*) as n, sum(length(text)) as chars, count(distinct convo_id) as convos";
    let of_lake = run(&format!("{sums} from contexts"), lake, "csv");
    let of_file = stdout_of(&[
        "sql",
        &format!("{sums} from '{}'", pq.display()),
        "--format",
        "csv",
    ]);
    assert_eq!(of_file, of_lake);
    assert!(of_lake.lines().nth(1).is_some_and(|l| !l.starts_with('0')));
    // CSV and JSON lines by their names; --format still wins over the name.
    let csv = std::fs::read_to_string(out("c.csv", &[])).unwrap();
    let rows = csv.lines().count() - 1;
    assert!(
        csv.starts_with("convo_id,"),
        "{}",
        &csv[..80.min(csv.len())]
    );
    let jsonl = std::fs::read_to_string(out("c.jsonl", &[])).unwrap();
    assert_eq!(jsonl.lines().count(), rows);
    assert!(
        jsonl.starts_with("{\""),
        "{}",
        &jsonl[..80.min(jsonl.len())]
    );
    let mut gunzipped = String::new();
    let gz = std::fs::File::open(out("c.csv.gz", &[])).unwrap();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut gunzipped).unwrap();
    assert_eq!(gunzipped, csv);
    let forced = std::fs::read_to_string(out("c.txt", &["--format", "csv"])).unwrap();
    assert_eq!(forced, csv);
    // A name with no known extension keeps the table format.
    let table = std::fs::read_to_string(out("c.out", &[])).unwrap();
    assert!(table.starts_with('┌'), "{}", &table[..80.min(table.len())]);
}

#[test]
fn closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chatql"))
        .args(["sql", "select * from range(2000000)", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "sql");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn memory_limit_is_accepted_and_checked() {
    chatql()
        .args([
            "sql",
            "select count(*) as n from contexts",
            lake().to_str().unwrap(),
            "--memory-limit",
            "64M",
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout("n\n20\n");
    chatql()
        .args(["sql", "select 1", "--memory-limit", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad size"));
}

/// Without the `cluster` feature, `--remote` and `chatql cluster` say how to get it.
#[cfg(not(feature = "cluster"))]
#[test]
fn remote_without_the_cluster_feature_is_a_usage_error() {
    let dir = crate::common::scratch("no-cluster");
    let lake = dir.join("lake");
    crate::common::chatql()
        .args([
            "convert",
            "-q",
            &crate::common::testdata("convos-2023-r.jsonl"),
            "-o",
        ])
        .arg(&lake)
        .assert()
        .success();
    for args in [
        vec![
            "sql",
            "select 1",
            lake.to_str().unwrap(),
            "--remote",
            "df://127.0.0.1:1",
        ],
        vec!["cluster", "scheduler"],
    ] {
        let out = crate::common::chatql().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--features cluster"),
            "{args:?}"
        );
    }
}

/// Raw exports larger than the memory budget (a quarter of `--memory-limit`) are queried
/// from files instead of memory, with the same answers: two overlapping exports (the same
/// file twice, and the testdata's own overlaps), deduplicated, through every table.
#[test]
fn raw_tables_past_the_memory_budget_give_the_same_answers() {
    let dir = scratch("raw-spool");
    crate::export_twice(&dir, "a", 12 << 20, 5);
    for name in [
        "convos-2023-r.jsonl",
        "ECE110-convos.zip",
        "ECE120_documents.jsonl",
    ] {
        std::fs::copy(testdata(name), dir.join(name)).unwrap();
    }
    let input = dir.to_str().unwrap();
    let queries = [
        "select count(*), count(distinct convo_id) from conversations",
        "select count(*), sum(length(content)), count(distinct convo_id) from messages",
        "select count(*), sum(length(text)), count(distinct readable_filename) from contexts",
        "select course_name, count(*) from conversations group by 1 order by 1",
        "select count(*), count(distinct course_name) from turns",
        "select count(*), sum(chunk_count) from documents",
        "select count(*) from chunks",
    ];
    for q in queries {
        let run = |limit: Option<&str>| {
            let mut cmd = chatql();
            cmd.args(["sql", q, input, "--format", "csv"]);
            if let Some(l) = limit {
                cmd.args(["--memory-limit", l]);
            }
            let out = cmd.output().unwrap();
            assert_ok(&out, format_args!("{q}"));
            String::from_utf8(out.stdout).unwrap()
        };
        let memory = run(None);
        assert_eq!(run(Some("24M")), memory, "{q}");
        if q.contains("distinct convo_id) from conversations") {
            let row: Vec<u64> = memory
                .lines()
                .nth(1)
                .unwrap()
                .split(',')
                .map(|v| v.parse().unwrap())
                .collect();
            assert!(row[0] > 50, "{memory}");
            assert_eq!(row[0], row[1], "one version of each conversation: {memory}");
        }
    }
}

/// Statements given together over raw exports keep only the columns they read: a count, a
/// statement after a `CREATE TABLE` (planned only once that ran) and one reading the text
/// give what the lake gives.
#[test]
fn statements_together_over_raw_exports_read_what_they_need() {
    let sql = "select count(*) as n from contexts; \
               create table long_ones as select distinct convo_id from messages where length(content) > 40; \
               select count(*) as n, sum(length(m.content)) as chars from messages m join long_ones using (convo_id); \
               select sum(length(text)) as chars, count(distinct s3_path) as docs from contexts";
    let raw = run(sql, &testdata(""), "csv");
    let lake = run(sql, lake().to_str().unwrap(), "csv");
    assert_eq!(raw, lake);
    assert_eq!(raw, "n\n20\nn,chars\n18,539\nchars,docs\n486,9\n");
}

#[test]
fn html_is_an_escaped_table_of_the_rows() {
    let lake = lake().to_str().unwrap().to_owned();
    let q = "select course_name, count(*) as n from conversations group by 1 order by 2 desc";
    let html = run(q, &lake, "html");
    assert_eq!(
        html,
        "<table>\n<thead><tr><th>course_name</th><th>n</th></tr></thead>\n<tbody>\n\
         <tr><td>ECE120</td><td style=\"text-align:right\">12</td></tr>\n\
         <tr><td>ECE110</td><td style=\"text-align:right\">7</td></tr>\n\
         <tr><td>cs101</td><td style=\"text-align:right\">2</td></tr>\n</tbody>\n</table>\n"
    );
    let tricky = run(r#"select '<b>&' as "a<b""#, &lake, "html");
    assert!(tricky.contains("<th>a&lt;b</th>") && tricky.contains("<td>&lt;b&gt;&amp;</td>"));
}
