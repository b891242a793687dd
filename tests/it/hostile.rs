//! Hostile and broken inputs, one test each: never a panic, an error or reject that names
//! the file and line, the rest of the input still read, counts reconciled.

use std::io::Write;
use std::path::Path;

use crate::common::*;
use predicates::prelude::*;

/// Converts `files` (written into a scratch folder) and returns (lake, manifest).
fn convert_files(name: &str, files: &[(&str, &[u8])]) -> (std::path::PathBuf, serde_json::Value) {
    let dir = scratch(name);
    let inputs = dir.join("in");
    std::fs::create_dir(&inputs).unwrap();
    for (f, bytes) in files {
        std::fs::write(inputs.join(f), bytes).unwrap();
    }
    let lake = dir.join("lake");
    chatql()
        .args([
            "convert",
            inputs.to_str().unwrap(),
            "-o",
            lake.to_str().unwrap(),
            "-q",
        ])
        .assert()
        .success();
    let m = manifest(&lake);
    (lake, m)
}

const GOOD: &str = r#"{"id": "g1", "name": "ok", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}"#;

fn rejects(lake: &Path) -> Vec<Vec<String>> {
    query(
        lake,
        "select source_line, byte_offset, reason from rejects order by source_file, source_line",
    )
}

#[test]
fn empty_file_and_blank_lines() {
    let (lake, m) = convert_files("empty", &[("a.jsonl", b""), ("b.jsonl", b"\n  \r\n\t\n")]);
    assert_eq!(m["read"]["lines"], 3);
    assert_eq!(m["read"]["blank_lines"], 3);
    assert_eq!(m["read"]["conversations"], 0);
    assert!(!lake
        .join("conversations/part-r00001-00001.parquet")
        .exists());
}

#[test]
fn truncated_last_line() {
    let text = format!("{GOOD}\n{}", &GOOD[..40]);
    let (lake, m) = convert_files("trunc", &[("t.jsonl", text.as_bytes())]);
    assert_eq!(m["read"]["conversations"], 1);
    let r = rejects(&lake);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0][0], "2");
    assert_eq!(r[0][1], (GOOD.len() + 1).to_string());
    assert!(r[0][2].contains("EOF while parsing"), "{r:?}");
}

#[test]
fn lone_surrogates_and_huge_numbers_are_kept_verbatim_deep_nesting_rejected() {
    let deep = format!(
        "{{\"id\": \"d\", \"messages\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let text = format!(
        "{{\"id\": \"s\", \"name\": \"\\ud800\", \"messages\": []}}\n{{\"id\": \"n\", \"temperature\": 1e999, \"messages\": []}}\n{deep}\n{GOOD}\n"
    );
    let (lake, m) = convert_files("hostile-values", &[("h.jsonl", text.as_bytes())]);
    assert_eq!(m["read"]["conversations"], 3);
    // A lone surrogate is no UTF-8 string and 1e999 no f64: the columns are null and the
    // values are kept as written in `extra`, so the record rebuilds exactly.
    assert_eq!(
        query(&lake, "select convo_id, name, temperature, extra from conversations where convo_id in ('s', 'n') order by 1"),
        [
            ["n", "NULL", "NULL", r#"{"temperature":1e999}"#],
            ["s", "NULL", "NULL", r#"{"name":"\ud800"}"#],
        ]
    );
    let r = rejects(&lake);
    assert_eq!(r.iter().map(|x| x[0].as_str()).collect::<Vec<_>>(), ["3"]);
    assert!(r[0][2].contains("recursion limit"), "{r:?}");
}

#[test]
fn wrong_types_and_duplicate_keys_survive_a_round_trip() {
    let line = r#"{"id": "w1", "name": {"not": "a string"}, "prompt": 5, "temperature": "0.5", "folderId": [1], "model": "gpt-4", "updatedAt": 1700000000000, "messages": [{"role": 1, "content": {"x": 1}, "feedback": true, "contexts": [{"text": 7, "pagenumber": "3", "doc_groups": "all", "s3_path": null}], "id": "m", "id": "m2"}, "not a message"]}"#;
    let dir = scratch("types");
    let f = dir.join("w.jsonl");
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let out = dir.join("back.jsonl");
    chatql()
        .args([
            "export",
            f.to_str().unwrap(),
            "--to",
            "uiuc-convo",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let back: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    // serde_json keeps the last of duplicate keys, as the rebuild does.
    let want: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(back, want);
}

#[test]
fn bom_and_crlf() {
    let text = format!("\u{feff}{GOOD}\r\n{}\r\n", GOOD.replace("g1", "g2"));
    let (lake, m) = convert_files("bom", &[("b.jsonl", text.as_bytes())]);
    assert_eq!(m["read"]["conversations"], 2);
    assert_eq!(
        scalar(&lake, "select min(source_offset) from conversations"),
        "3"
    );
}

fn zip_with(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn zip_bombs_are_refused_with_a_clear_reject() {
    let bomb = zip_with(&[
        ("ok.jsonl", format!("{GOOD}\n").into_bytes()),
        ("bomb.jsonl", vec![b' '; 24 << 20]),
    ]);
    assert!(bomb.len() < 100_000);
    let (lake, m) = convert_files("bomb", &[("x.zip", &bomb)]);
    assert_eq!(
        m["read"]["conversations"], 1,
        "the good member is still read"
    );
    let r = query(&lake, "select source_file, reason from rejects");
    assert_eq!(r.len(), 1);
    assert!(r[0][0].ends_with("x.zip!bomb.jsonl"));
    assert!(r[0][1].contains("refusing a possible zip bomb"), "{r:?}");
}

#[test]
fn zip_member_names_with_dot_dot_are_read_in_place() {
    let z = zip_with(&[("../../evil.jsonl", format!("{GOOD}\n").into_bytes())]);
    let (lake, m) = convert_files("dotdot", &[("x.zip", &z)]);
    assert_eq!(m["read"]["conversations"], 1);
    assert!(
        scalar(&lake, "select source_file from conversations").ends_with("x.zip!../../evil.jsonl")
    );
    let root = lake.parent().unwrap().parent().unwrap();
    assert!(!root.join("evil.jsonl").exists());
}

#[test]
fn truncated_gzip_and_zstd_keep_what_was_read() {
    let lines: String = (0..2000)
        .map(|i| GOOD.replace("g1", &format!("g{i}")) + "\n")
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(lines.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let other: String = lines.replace("\"g", "\"h");
    let zst = zstd::encode_all(other.as_bytes(), 3).unwrap();
    let (lake, m) = convert_files(
        "truncated-streams",
        &[
            ("a.jsonl.gz", &gz[..gz.len() * 2 / 3]),
            ("b.jsonl.zst", &zst[..zst.len() * 2 / 3]),
        ],
    );
    let read = m["read"]["conversations"].as_u64().unwrap();
    assert!(read > 0 && read < 4000, "{read}");
    let r = query(
        &lake,
        "select source_file, source_line, reason from rejects order by 1",
    );
    assert_eq!(r.len(), 2);
    assert!(
        r[0][0].ends_with("a.jsonl.gz") && r[0][2].contains("unreadable from byte"),
        "{r:?}"
    );
    assert!(r[1][0].ends_with("b.jsonl.zst"), "{r:?}");
    // The reject's line is the first line not read: every line before it became a row.
    let gz_rows = scalar(
        &lake,
        "select count(*) from conversations where source_file like '%a.jsonl.gz'",
    );
    assert_eq!(r[0][1], (gz_rows.parse::<u64>().unwrap() + 1).to_string());
}

#[test]
fn a_file_that_vanishes_after_listing_is_a_reject() {
    let dir = scratch("vanish");
    std::fs::write(dir.join("a.jsonl"), format!("{GOOD}\n")).unwrap();
    std::fs::write(
        dir.join("b.jsonl"),
        format!("{}\n", GOOD.replace("g1", "g2")),
    )
    .unwrap();
    let inputs = chatql::ingest::Inputs::expand(&[dir.to_string_lossy().into_owned()]).unwrap();
    std::fs::remove_file(dir.join("a.jsonl")).unwrap();
    let mut rejects = Vec::new();
    let summary = chatql::ingest::ingest(&inputs, &Default::default(), |d| {
        for (t, b) in d.batches {
            if t == chatql::table::Table::Rejects {
                rejects.push(chatql::render::bytes(b.num_rows() as u64));
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.stats.conversations, 1);
    assert_eq!(summary.stats.rejects, 1);
    assert_eq!(summary.blake3[0], "", "no hash for a file that is gone");
}

#[test]
fn strict_fails_on_an_unreadable_stream() {
    let dir = scratch("strict-gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("{GOOD}\n").repeat(500).as_bytes())
        .unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.join("a.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    chatql()
        .args([
            "convert",
            dir.join("a.jsonl.gz").to_str().unwrap(),
            "-o",
            dir.join("lake").to_str().unwrap(),
            "--strict",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("a.jsonl.gz:"));
    assert!(!dir.join("lake").exists());
}

#[test]
fn sigkill_during_convert_leaves_nothing_under_the_final_name() {
    let dir = scratch("kill");
    let lake = dir.join("lake");
    // Paused once the first batch is staged, then killed: no destructor, no cleanup.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("chatql"))
        .args(["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"])
        .env("CHATQL_PAUSE_AT", "staged")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    read_until(&mut stderr, "paused at staged");
    let staging = dir.join(format!(".lake.tmp-{}", child.id()));
    assert!(staging.is_dir(), "staging is where the run writes");
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());
    assert!(!lake.exists(), "a partial output under the final name");
    assert!(staging.is_dir(), "a killed process cannot clean up");
    // The next convert into the same place removes the dead process's staging.
    chatql()
        .args(["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"])
        .assert()
        .success();
    assert!(!staging.exists());
    assert!(lake.join("conversations/_delta_log").is_dir());
}

#[test]
fn a_full_disk_is_an_error_and_leaves_nothing_behind() {
    // A 32 KiB tmpfs stands in for a full disk; where mounting is not allowed, stdout to
    // /dev/full still checks the error path.
    let dir = scratch("diskfull");
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=32k",
            "tmpfs",
            dir.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        let lake = dir.join("lake");
        let out = chatql()
            .args(["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let _ = std::process::Command::new("umount").arg(&dir).status();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("No space left on device"));
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chatql"))
        .args(["sql", "select * from range(100000)", "--format", "csv"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left on device"));
}

#[test]
fn a_200_mb_single_line_is_read_through_the_pipeline() {
    // A conversation whose one context carries 200 MB of text, fed through convert's
    // pipeline with small chunks so the line spans hundreds of reads.
    let dir = scratch("bigline");
    let input = dir.join("big.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        f.write_all(br#"{"id": "big", "messages": [{"role": "user", "content": "q", "contexts": [{"text": ""#).unwrap();
        let block = "abcdefghij\\u00e9 ".repeat(6553); // about 100 KiB of escaped text
        for _ in 0..2000 {
            f.write_all(block.as_bytes()).unwrap();
        }
        f.write_all(b"\"}]}]}\n").unwrap();
        f.write_all(format!("{GOOD}\n").as_bytes()).unwrap();
    }
    assert!(std::fs::metadata(&input).unwrap().len() > 200_000_000);
    let inputs = chatql::ingest::Inputs::expand(&[input.to_string_lossy().into_owned()]).unwrap();
    let opts = chatql::ingest::IngestOptions {
        threads: 2,
        chunk_bytes: 1 << 20,
        ..Default::default()
    };
    let mut text_len = 0;
    let summary = chatql::ingest::ingest(&inputs, &opts, |d| {
        for (t, b) in d.batches {
            if t == chatql::table::Table::Contexts {
                use datafusion::arrow::array::AsArray;
                text_len += b.column(3).as_string::<i32>().value(0).chars().count();
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.stats.conversations, 2);
    assert_eq!(summary.stats.lines, 2);
    assert_eq!(summary.stats.rejects, 0);
    assert_eq!(text_len, 12 * 6553 * 2000);
    let _ = std::fs::remove_file(&input);
}

/// Converts the files of `dir/in` with `--max-record-size 1M`; returns the lake and manifest.
fn convert_with_limit(dir: &Path) -> (std::path::PathBuf, serde_json::Value) {
    let lake = dir.join("lake");
    chatql()
        .args(["convert", dir.join("in").to_str().unwrap(), "-o"])
        .arg(&lake)
        .args(["-q", "--max-record-size", "1M"])
        .assert()
        .success();
    let m = manifest(&lake);
    (lake, m)
}

fn good(id: &str) -> String {
    GOOD.replace("\"g1\"", &format!("\"{id}\""))
}

#[test]
fn a_line_without_end_is_a_reject_and_the_next_file_is_read() {
    // a.jsonl: a conversation, then 3 MiB without a newline to the end of the file;
    // b.jsonl: a conversation. The long record is skipped, never held whole.
    let dir = scratch("noend");
    std::fs::create_dir(dir.join("in")).unwrap();
    let head = format!("{}\n", good("a1"));
    let mut a = head.clone().into_bytes();
    a.extend(std::iter::repeat_n(b'x', 3 << 20));
    std::fs::write(dir.join("in/a.jsonl"), &a).unwrap();
    std::fs::write(dir.join("in/b.jsonl"), format!("{}\n", good("b1"))).unwrap();
    let (lake, m) = convert_with_limit(&dir);
    assert_eq!(m["read"]["conversations"], 2);
    assert_eq!(m["read"]["rejects"], 1);
    assert_eq!(
        m["read"]["lines"], 3,
        "two conversations and the rejected record"
    );
    let r = query(
        &lake,
        "select source_file, source_line, byte_offset, reason, snippet from rejects",
    );
    assert_eq!(r.len(), 1);
    assert!(r[0][0].ends_with("a.jsonl"), "{r:?}");
    assert_eq!(r[0][1], "2");
    assert_eq!(r[0][2], head.len().to_string());
    assert_eq!(
        r[0][3],
        "record of 3145728 bytes is longer than --max-record-size (1048576 bytes): skipped"
    );
    assert_eq!(r[0][4], "x".repeat(200), "the record's first bytes");
    assert_eq!(
        query(&lake, "select convo_id from conversations order by 1"),
        vec![vec!["a1".to_string()], vec!["b1".to_string()]]
    );
}

#[test]
fn a_long_line_is_skipped_to_its_newline_and_the_file_read_on() {
    // One conversation, a 2.5 MiB line, two more conversations: lines and offsets after the
    // skipped record stay exact.
    let dir = scratch("longline");
    std::fs::create_dir(dir.join("in")).unwrap();
    let long = format!(
        "{{\"id\": \"long\", \"name\": \"{}\"}}",
        "y".repeat(5 << 19)
    );
    let text = format!("{}\n{long}\n{}\n{{bad\n", good("c1"), good("c2"));
    std::fs::write(dir.join("in/c.jsonl"), &text).unwrap();
    let (lake, m) = convert_with_limit(&dir);
    assert_eq!(m["read"]["conversations"], 2);
    assert_eq!(m["read"]["lines"], 4);
    let r = rejects(&lake);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0][0], "2");
    assert_eq!(r[0][1], (good("c1").len() + 1).to_string());
    assert_eq!(
        r[0][2],
        format!(
            "record of {} bytes is longer than --max-record-size (1048576 bytes): skipped",
            long.len()
        )
    );
    // The malformed line after them is line 4, at its true offset.
    assert_eq!(r[1][0], "4");
    assert_eq!(
        r[1][1],
        (good("c1").len() + long.len() + good("c2").len() + 3).to_string()
    );
}

#[test]
fn a_json_document_over_the_limit_is_a_reject() {
    // A pretty-printed array (read as one document) of 1.5 MiB, and a good file after it.
    let dir = scratch("bigdoc");
    std::fs::create_dir(dir.join("in")).unwrap();
    let item = format!("  {},\n", good("d0"));
    let mut doc = String::from("[\n");
    while doc.len() < 3 << 19 {
        doc.push_str(&item);
    }
    doc.push_str(&format!("  {}\n]\n", good("d1")));
    std::fs::write(dir.join("in/a.json"), &doc).unwrap();
    std::fs::write(dir.join("in/b.jsonl"), format!("{}\n", good("b1"))).unwrap();
    let (lake, m) = convert_with_limit(&dir);
    assert_eq!(m["read"]["conversations"], 1);
    let r = rejects(&lake);
    assert_eq!(
        r,
        vec![vec![
            "1".to_string(),
            "0".to_string(),
            format!(
                "record of {} bytes is longer than --max-record-size (1048576 bytes): skipped",
                doc.len()
            )
        ]]
    );
}

#[test]
fn a_csv_quote_never_closed_is_a_reject_not_the_rest_of_memory() {
    // The 2023-24 CSV export, then a row whose quoted cell never ends (2 MiB to the end of
    // the file); a second, good file after it is still read.
    let dir = scratch("csvquote");
    std::fs::create_dir(dir.join("in")).unwrap();
    let csv = std::fs::read(crate::common::testdata("ECE120_7f3a_convo_history.csv")).unwrap();
    let mut bad = csv.clone();
    if !bad.ends_with(b"\n") {
        bad.push(b'\n');
    }
    let start = bad.len();
    bad.extend_from_slice(b"9,\"");
    bad.extend(std::iter::repeat_n(b'z', 2 << 20));
    std::fs::write(dir.join("in/a.csv"), &bad).unwrap();
    std::fs::write(dir.join("in/b.jsonl"), format!("{}\n", good("b1"))).unwrap();
    let (lake, m) = convert_with_limit(&dir);
    let r = query(
        &lake,
        "select source_file, byte_offset, reason from rejects where reason like '%max-record-size%'",
    );
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0][0].ends_with("a.csv"), "{r:?}");
    assert_eq!(r[0][1], start.to_string(), "the record's first byte");
    assert!(
        r[0][2].contains("record longer than --max-record-size (1048576 bytes)"),
        "{r:?}"
    );
    // The two conversations of the good rows and the one of b.jsonl are there.
    assert_eq!(m["read"]["conversations"], 3, "{m}");
    assert_eq!(
        query(
            &lake,
            "select count(*) from conversations where convo_id = 'b1'"
        ),
        vec![vec!["1".to_string()]]
    );
}
