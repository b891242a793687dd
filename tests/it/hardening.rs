//! Every path a user can take ends cleanly (issue 28): results stream to any sink, a
//! damaged lake is an error naming the file, a closed pipe is not a failure, Ctrl-C leaves
//! no staging behind, sizes past Arrow's offsets are refused, and errors keep their place.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{
    assert_ok, chatql, scratch, sql_csv, stderr_of_failure, stdout_of, testdata, testdata_lake,
};

fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("chatql"))
}

#[test]
fn a_whole_table_streams_to_every_sink_alike() {
    let lake = testdata_lake();
    let lake = lake.to_str().unwrap();
    let dir = scratch("stream");
    // Many batches (each context a thousand times over), in a fixed order.
    let sql = "select c.*, r.value from contexts c, range(1000) r \
               order by r.value, convo_id, message_index, context_index";
    let want = sql_csv(sql, Path::new(lake));
    assert_eq!(want.lines().count(), 1 + 20 * 1000);
    // A file, a compressed file and standard output (`-o -`) hold the same text.
    let csv = dir.join("out.csv");
    stdout_of(&[
        "sql",
        sql,
        lake,
        "--format",
        "csv",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), want);
    let gz = dir.join("out.csv.gz");
    stdout_of(&[
        "sql",
        sql,
        lake,
        "--format",
        "csv",
        "-o",
        gz.to_str().unwrap(),
    ]);
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, want);
    let piped = stdout_of(&["sql", sql, lake, "--format", "csv", "-o", "-"]);
    assert_eq!(piped, want);
    // Parquet, read back by the test's own reader.
    let pq = dir.join("out.parquet");
    stdout_of(&[
        "sql",
        sql,
        lake,
        "--format",
        "parquet",
        "-o",
        pq.to_str().unwrap(),
    ]);
    let back = sql_csv(
        &format!(
            "select * from '{}' order by value, convo_id, message_index, context_index",
            pq.display()
        ),
        Path::new(lake),
    );
    assert_eq!(back, want);
    // Every line of NDJSON is one row.
    let nd = stdout_of(&["sql", sql, lake, "--format", "ndjson"]);
    assert_eq!(nd.lines().count(), want.lines().count() - 1);
    // Nothing but the outputs is left in the folder.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["out.csv", "out.csv.gz", "out.parquet"]);
}

#[test]
fn a_failing_statement_leaves_no_output_file() {
    let lake = testdata_lake();
    let dir = scratch("failed-out");
    let out = dir.join("out.csv");
    let err = stderr_of_failure(
        &[
            "sql",
            "select 1; select no_such_column from conversations",
            lake.to_str().unwrap(),
            "--format",
            "csv",
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("no_such_column"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

/// A data file cut short behind the lake's back (to its first 100 bytes, or half) is an error
/// naming it, whether the small-file cache holds files whole (the default) or reads ranges;
/// never a panic in the Parquet reader, which a short read would otherwise hand a short buffer.
#[test]
fn a_data_file_cut_short_is_an_error_naming_it() {
    let dir = scratch("cut-short");
    let lake = dir.join("lake");
    stdout_of(&["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"]);
    let file = std::fs::read_dir(lake.join("messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    let whole = std::fs::read(&file).unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    for keep in [100, whole.len() / 2] {
        std::fs::write(&file, &whole[..keep]).unwrap();
        for cache_mb in ["256", "0"] {
            let out = chatql()
                .args(["sql", "select count(*) from messages"])
                .arg(&lake)
                .env("CHATQL_STORE_CACHE_MB", cache_mb)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let what = format!("{keep} bytes kept, cache {cache_mb} MB: {err}");
            assert_eq!(out.status.code(), Some(1), "{what}");
            assert!(!err.contains("panicked"), "{what}");
            assert!(err.contains(name), "{what}");
        }
    }
}

#[test]
fn a_damaged_log_is_an_error_naming_the_file() {
    let dir = scratch("damaged");
    let lake = dir.join("lake");
    stdout_of(&["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"]);
    let bad = lake.join("conversations/_delta_log/99999999999999999999.json");
    std::fs::write(&bad, "{}\n").unwrap();
    for args in [
        vec!["sql", "select count(*) from conversations"],
        vec!["history"],
        vec!["report", "overview"],
    ] {
        let mut args = args.clone();
        args.insert(
            if args[0] == "history" { 1 } else { 2 },
            lake.to_str().unwrap(),
        );
        let err = stderr_of_failure(&args, 1);
        assert!(err.contains("99999999999999999999.json"), "{args:?}: {err}");
        assert!(err.contains("damaged"), "{err}");
    }
    // A commit file that is not JSON names its line.
    std::fs::remove_file(&bad).unwrap();
    let first = lake.join("conversations/_delta_log/00000000000000000000.json");
    let mut text = std::fs::read_to_string(&first).unwrap();
    text.push_str("{not json\n");
    std::fs::write(&first, text).unwrap();
    let err = stderr_of_failure(
        &[
            "sql",
            "select count(*) from conversations",
            lake.to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("00000000000000000000.json:"), "{err}");
}

/// Runs the binary with its standard output a pipe closed before it writes.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone, as after `| head` has read its lines
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_is_not_a_failure_for_any_command() {
    let lake = testdata_lake();
    let lake = lake.to_str().unwrap();
    let data = testdata("");
    let commands: Vec<Vec<&str>> = vec![
        vec!["history", lake, "--json"],
        vec!["history", lake],
        vec!["sql", "select * from contexts", lake, "--format", "csv"],
        vec!["sql", "select * from messages", lake],
        vec!["report", lake],
        vec!["schema"],
        vec!["schema", "--format", "markdown"],
        vec!["inspect", &data],
        vec!["export", lake, "--to", "openai", "-o", "-"],
        vec!["export", lake, "--to", "uiuc-rows", "-o", "-"],
        vec!["completions", "bash"],
    ];
    for args in commands {
        let (code, stderr) = into_closed_pipe(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn export_to_standard_output_is_the_file_and_the_summary_goes_to_stderr() {
    let lake = testdata_lake();
    let lake = lake.to_str().unwrap();
    let dir = scratch("export-stdout");
    let file = dir.join("o.jsonl");
    stdout_of(&[
        "export",
        lake,
        "--to",
        "openai",
        "-o",
        file.to_str().unwrap(),
    ]);
    let out = chatql()
        .args(["export", lake, "--to", "openai", "-o", "-"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_ok(&out, "out");
    let want = std::fs::read_to_string(&file).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    for line in want.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let n = want.lines().count();
    assert!(
        said.starts_with(&format!("wrote {n} line(s) to standard output")),
        "{said}"
    );
    assert!(!dir.join("-").exists(), "a file named -");
    // Two files cannot go to one standard output.
    let err = stderr_of_failure(
        &[
            "export", lake, "--to", "openai", "-o", "-", "--split", "0.9",
        ],
        2,
    );
    assert!(err.contains("--split"), "{err}");
}

/// Starts `chatql ARGS` paused at `CHATQL_PAUSE_AT=staged` with its temporary folder in
/// `tmp`, waits until it says so, and interrupts it with `signal`.
fn interrupt_when_staged(args: &[&str], tmp: &Path, signal: &str) -> (Option<i32>, String) {
    let mut child = bin()
        .args(args)
        .env("CHATQL_PAUSE_AT", "staged")
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut said = crate::common::read_until(&mut stderr, "paused at staged");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    stderr.read_to_end(&mut said).unwrap();
    let status = child.wait().unwrap();
    (status.code(), String::from_utf8_lossy(&said).into_owned())
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn ctrl_c_and_sigterm_remove_the_staging_and_exit_130() {
    let dir = scratch("interrupt");
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let lake = dir.join("lake");
    let input = testdata("");
    for signal in ["-INT", "-TERM"] {
        let args = ["convert", &input, "-o", lake.to_str().unwrap(), "-q"];
        let (code, said) = interrupt_when_staged(&args, &tmp, signal);
        assert_eq!(code, Some(130), "{signal}: {said}");
        assert!(said.contains("interrupted"), "{said}");
        assert_eq!(names(&dir), ["tmp"], "{signal}");
    }
    // An export of raw exports stages a lake in the temporary folder: gone too.
    let out = dir.join("o.jsonl");
    let args = [
        "export",
        &input,
        "--to",
        "openai",
        "-o",
        out.to_str().unwrap(),
    ];
    let (code, said) = interrupt_when_staged(&args, &tmp, "-INT");
    assert_eq!(code, Some(130), "{said}");
    assert_eq!(names(&tmp), Vec::<String>::new());
    assert_eq!(names(&dir), ["tmp"]);
}

#[test]
fn a_later_convert_removes_the_staging_of_a_dead_process() {
    let dir = scratch("dead-staging");
    let lake = dir.join("lake");
    // A PID past the kernel's largest (4194304) belongs to no process.
    let dead = dir.join(".lake.tmp-4194999");
    std::fs::create_dir_all(dead.join("conversations")).unwrap();
    std::fs::write(dead.join("conversations/part.parquet"), b"left by a kill").unwrap();
    // A live process's staging (this test's) is left alone.
    let live = dir.join(format!(".lake.tmp-{}", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    stdout_of(&["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"]);
    let mut want = vec![
        ".lake.tmp-".to_owned() + &std::process::id().to_string(),
        "lake".into(),
    ];
    want.sort();
    assert_eq!(names(&dir), want);
}

#[test]
fn a_record_size_past_arrow_offsets_is_refused_up_front() {
    let err = stderr_of_failure(
        &[
            "convert",
            &testdata(""),
            "-o",
            "/nonexistent/x",
            "--max-record-size",
            "3G",
        ],
        2,
    );
    assert!(err.contains("largest record chatql reads (1G)"), "{err}");
}

#[test]
fn statements_are_postgresql_like_the_session() {
    // `^` is a power in PostgreSQL (the generic dialect made it a bitwise xor: 1).
    let out = stdout_of(&["sql", "select 2 ^ 3 as p", "--format", "csv"]);
    assert_eq!(out, "p\n8.0\n");
}

#[test]
fn an_error_in_a_report_file_names_its_file_and_line() {
    let dir = scratch("report-file");
    let file = dir.join("mine.sql");
    std::fs::write(&file, "-- title: Mine\n\n-- chart: pie a b\nselect 1;\n").unwrap();
    let err = stderr_of_failure(&["report", "--list", "--queries", dir.to_str().unwrap()], 2);
    assert!(
        err.contains(&format!("{}:3: bad chart", file.display())),
        "{err}"
    );
}
