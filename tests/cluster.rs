//! The `cluster` feature end to end: the binary starts a Ballista scheduler and two
//! executors on loopback, and `sql` and `report` with `--remote` give what local runs give, on flat
//! and partitioned lakes, with chatql's functions running on the executor.
#![cfg(feature = "cluster")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::procs::Cluster;
use common::{chatql, scratch, testdata};

/// Two executors of one task slot each, so stages spread over both and their
/// intermediate results cross between them.
fn start_cluster() -> Cluster {
    Cluster::start(
        || std::process::Command::new(env!("CARGO_BIN_EXE_chatql")),
        2,
        1,
    )
}

/// Runs chatql with `args`; stdout, failing the test on a non-zero exit.
fn run(args: &[&str]) -> String {
    let out = chatql()
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    common::assert_ok(&out, format_args!("{args:?}"));
    String::from_utf8(out.stdout).unwrap()
}

fn lakes(dir: &Path) -> (String, String) {
    let flat = dir.join("flat").to_string_lossy().into_owned();
    let part = dir.join("part").to_string_lossy().into_owned();
    let all = testdata("");
    run(&["convert", "-q", &all, "-o", &flat]);
    run(&[
        "convert",
        "-q",
        &testdata("convos-2023-r.jsonl"),
        &testdata("ECE110-convos.zip"),
        "-o",
        &part,
        "--partition-by",
        "course,month",
    ]);
    run(&["convert", "-q", &all, "-o", &part, "--append"]);
    (flat, part)
}

#[test]
fn sql_and_reports_on_the_cluster_equal_local_runs() {
    let dir = scratch("cluster");
    let (flat, part) = lakes(&dir);
    let cluster = start_cluster();
    let remote = ["--remote", cluster.url.as_str()];

    for lake in [&flat, &part] {
        // Every built-in report, whole and restricted (views with semi joins).
        for extra in [
            &[][..],
            &["--course", "ECE120", "--since", "2023-09-01"][..],
        ] {
            let mut local = vec!["report", lake.as_str(), "--format", "json"];
            local.extend_from_slice(extra);
            let want = run(&local);
            assert!(want.contains("\"conversations\""), "{want}");
            let mut on_cluster = local.clone();
            on_cluster.extend_from_slice(&remote);
            assert_eq!(run(&on_cluster), want, "{lake} {extra:?}");
        }
    }

    // chatql's functions are planned by the scheduler and run by the executor.
    let sql = "select email_domain(user_email) d, count(*) n, \
               sum(json_length(coalesce(extra, '{}'))) k from conversations \
               group by 1 order by 1; \
               select doc_id, chunk_index, round(cosine_similarity(embedding, embedding), 4) s, \
               round(vector_norm(embedding), 2) v from chunks order by 1, 2; \
               select count(*) from messages where json_get_str(extra, 'tools', 0, 'name') = 'calc'";
    let want = run(&["sql", sql, &part, "--format", "csv"]);
    assert!(want.contains("illinois.edu,8,"), "{want}");
    assert!(want.contains(",1.0,"), "{want}");
    assert_eq!(
        run(&[
            "sql",
            sql,
            &part,
            "--format",
            "csv",
            "--remote",
            &cluster.url
        ]),
        want
    );
    // Partition pruning columns work remotely too.
    assert_eq!(
        run(&[
            "sql",
            "select course, count(*) n from messages group by 1 order by 1",
            &part,
            "--format",
            "csv",
            "--remote",
            &cluster.url
        ]),
        "course,n\nECE110,16\nECE120,24\ncs101,4\n"
    );
}

#[test]
fn remote_needs_lakes_and_a_df_url() {
    let raw = testdata("convos-2023-r.jsonl");
    let out = chatql()
        .args(["sql", "select 1", &raw, "--remote", "df://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not raw exports"));

    let dir = scratch("cluster-url");
    let lake = dir.join("lake");
    run(&["convert", "-q", &raw, "-o", lake.to_str().unwrap()]);
    let out = chatql()
        .args([
            "sql",
            "select 1",
            lake.to_str().unwrap(),
            "--remote",
            "http://x:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected df://HOST:PORT"));
}

#[test]
fn joins_ballista_would_get_wrong_are_refused() {
    let dir = scratch("cluster-refuse");
    let lake = dir.join("lake");
    let l = lake.to_str().unwrap();
    run(&["convert", "-q", &testdata(""), "-o", l]);
    // Refused before anything is sent, so no cluster is needed.
    let sql = "select count(*) from documents d where not exists \
               (select 1 from contexts x where x.s3_path = d.s3_path or x.url = d.url)";
    let out = chatql()
        .args(["sql", sql, l, "--remote", "df://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("LeftAnti join without an equality condition"),
        "{err}"
    );
    // The same question as equality joins is answered locally the same way.
    assert_eq!(run(&["sql", sql, l, "--format", "csv"]), "count(*)\n1\n");
}
