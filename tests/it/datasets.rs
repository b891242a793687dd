//! The dataset exports on `tests/data/datasets/convos.jsonl` (12 hand-made conversations,
//! described in its `generate.py`): KTO lines in TRL's shape, the one planted DPO pair, and an
//! annotation sample that is stratified, reproducible, and reads back in `sql`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;

fn convos() -> String {
    data("datasets/convos.jsonl")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn export(args: &[&str]) -> String {
    let input = convos();
    let mut all = vec!["export", input.as_str()];
    all.extend_from_slice(args);
    stdout_of(&all)
}

#[test]
fn kto_has_one_line_per_rated_answer_in_trl_shape() {
    let dir = scratch("kto");
    let out = dir.join("kto.jsonl");
    let summary = export(&["--to", "kto", "-o", out.to_str().unwrap()]);
    assert_eq!(
        summary,
        format!(
            "wrote 10 line(s) to {}; 4 left out (answers not rated)\n",
            out.display()
        )
    );
    let rows = lines(&out);
    assert_eq!(rows.len(), 10);
    for r in &rows {
        let prompt = r["prompt"].as_array().unwrap();
        assert!(!prompt.is_empty());
        assert_eq!(prompt.last().unwrap()["role"], "user", "{r}");
        let completion = r["completion"].as_array().unwrap();
        assert_eq!(completion.len(), 1);
        assert_eq!(completion[0]["role"], "assistant");
        assert!(r["label"].is_boolean());
        // Plain-text contents only, so `datasets` infers one type per column.
        for m in prompt.iter().chain(completion) {
            assert!(m["content"].is_string(), "{m}");
        }
    }
    let up = rows.iter().filter(|r| r["label"] == true).count();
    assert_eq!((up, rows.len() - up), (4, 6));
    // The second rated turn of d10 carries the whole conversation before it.
    let d10 = rows
        .iter()
        .find(|r| r["convo_id"] == "d10" && r["message_index"] == 3)
        .unwrap();
    assert_eq!(
        d10["prompt"],
        json!([
            {"role": "system", "content": "You are the PHYS211 TA."},
            {"role": "user", "content": "What is Newton's second law?"},
            {"role": "assistant", "content": "F = ma."},
            {"role": "user", "content": "And the third?"},
        ])
    );
    assert_eq!(
        d10["completion"],
        json!([{"role": "assistant", "content": "Something about pairs."}])
    );
    assert_eq!(d10["label"], false);
}

#[test]
fn kto_counts_equal_the_rated_answers_of_the_testdata() {
    let rated: usize = sql_csv(
        "select count(*) from messages where role = 'assistant' and feedback_positive is not null",
        Path::new(&testdata("")),
    )
    .lines()
    .nth(1)
    .unwrap()
    .parse()
    .unwrap();
    let dir = scratch("kto-testdata");
    let out = dir.join("kto.jsonl.gz");
    stdout_of(&[
        "export",
        &testdata(""),
        "--to",
        "kto",
        "-o",
        out.to_str().unwrap(),
        "--contexts",
        "user",
    ]);
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count(), rated);
    assert!(rated > 0);
}

#[test]
fn dpo_pairs_the_same_question_rated_both_ways() {
    let dir = scratch("dpo");
    let out = dir.join("dpo.jsonl");
    let summary = export(&["--to", "dpo", "-o", out.to_str().unwrap()]);
    for part in [
        "wrote 1 pair(s)",
        "3 left out (rated answers to a question asked once)",
        "2 left out (rated answers to a question rated one way only)",
        "1 left out (rated answers left over after pairing)",
        "2 left out (rated answers not to a conversation's first question)",
    ] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    assert_eq!(
        lines(&out),
        vec![json!({
            "prompt": [
                {"role": "system", "content": "You are the ECE120 TA."},
                {"role": "user", "content": "What is a latch?"},
            ],
            "chosen": [{"role": "assistant",
                        "content": "A latch stores one bit and is level-sensitive."}],
            "rejected": [{"role": "assistant", "content": "A latch is a kind of door lock."}],
            "course_name": "ECE120",
            "chosen_convo_id": "d01",
            "rejected_convo_id": "d02",
        })]
    );
}

#[test]
fn no_pairs_is_not_an_error() {
    let dir = scratch("dpo-none");
    let out = dir.join("dpo.jsonl");
    let summary = stdout_of(&[
        "export",
        &convos(),
        "--to",
        "dpo",
        "-o",
        out.to_str().unwrap(),
        "--course",
        "CS101",
    ]);
    assert!(summary.starts_with("wrote 0 pair(s)"), "{summary}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
}

/// The rows of an annotation CSV (BOM checked and removed), header first.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "no byte-order mark"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn sample(seed: &str, size: &str, out: &Path) -> Vec<Vec<String>> {
    let _ = std::fs::remove_file(out);
    stdout_of(&[
        "export",
        &convos(),
        "--to",
        "annotation",
        "-o",
        out.to_str().unwrap(),
        "--sample",
        size,
        "--seed",
        seed,
        "--stratify",
        "course,month",
    ]);
    csv_rows(out)
}

#[test]
fn annotation_sample_covers_every_cell_and_is_reproducible() {
    let dir = scratch("annotation");
    let out = dir.join("sample.csv");
    let rows = sample("7", "9", &out);
    let header = &rows[0];
    assert_eq!(
        header.join(","),
        "convo_id,message_index,sample_cell,course_name,created_at,user_email,model,question,\
         answer,sources,feedback,feedback_category,feedback_details,correct,helpful,\
         question_type,notes"
    );
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // 3 courses x 3 months, one conversation each.
    let mut per_cell: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &rows[1..] {
        per_cell
            .entry(r[col("sample_cell")].clone())
            .or_default()
            .insert(r[col("convo_id")].clone());
        assert_eq!(r.len(), header.len());
        for c in ["correct", "helpful", "question_type", "notes"] {
            assert_eq!(r[col(c)], "");
        }
    }
    assert_eq!(per_cell.len(), 9, "{per_cell:?}");
    assert!(per_cell.values().all(|ids| ids.len() == 1));
    // The same seed gives the same file; another seed another pick in the cells of two.
    let first = std::fs::read(&out).unwrap();
    sample("7", "9", &out);
    assert_eq!(std::fs::read(&out).unwrap(), first);
    let picks = |rows: &[Vec<String>]| -> BTreeSet<String> {
        rows[1..].iter().map(|r| r[0].clone()).collect()
    };
    let others: Vec<BTreeSet<String>> = ["1", "2", "3", "4"]
        .iter()
        .map(|s| picks(&sample(s, "9", &out)))
        .collect();
    assert!(others.iter().any(|p| *p != picks(&rows)));
    // A row per question: d10 has two, with the answer's index; the free text is quoted and
    // defused; sources and feedback are there.
    let all = sample("7", "100", &out);
    assert_eq!(all.len() - 1, 14);
    let d10: Vec<&Vec<String>> = all.iter().filter(|r| r[0] == "d10").collect();
    assert_eq!(d10.len(), 2);
    assert_eq!(d10[1][col("message_index")], "3");
    assert_eq!(d10[1][col("feedback")], "down");
    assert_eq!(d10[1][col("feedback_category")], "unclear");
    assert_eq!(d10[1][col("feedback_details")], "Too vague");
    let d12 = all.iter().find(|r| r[0] == "d12").unwrap();
    assert_eq!(
        d12[col("question")],
        "'=SUM(A1), is that a formula?\nAsk \"why\""
    );
    assert_eq!(d12[col("answer")], "'-1 if so.");
    let d01 = all.iter().find(|r| r[0] == "d01").unwrap();
    assert_eq!(d01[col("sources")], "lec1.pdf p.3; lec2.pdf p.1");
}

#[test]
fn a_filled_annotation_file_reads_back_with_rejects() {
    let dir = scratch("annotation-back");
    let out = dir.join("sample.csv");
    let mut rows = sample("7", "100", &out);
    let header = rows[0].clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (i, r) in rows.iter_mut().enumerate().skip(1) {
        r[col("correct")] = if r[col("feedback")] == "down" {
            "no"
        } else {
            "yes"
        }
        .into();
        r[col("helpful")] = (i % 3).to_string();
    }
    let mut unknown = vec![String::new(); header.len()];
    unknown[0] = "nope".into();
    unknown[1] = "1".into();
    rows.push(unknown);
    let filled = dir.join("filled.csv");
    let mut w = csv::Writer::from_path(&filled).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    // A short row, by hand.
    let mut text = std::fs::read_to_string(&filled).unwrap();
    text.push_str("d01,1,oops\n");
    std::fs::write(&filled, text).unwrap();

    let got = stdout_of(&[
        "sql",
        "select a.correct, count(*) as n, sum(case when m.feedback_positive then 1 else 0 end) as up \
         from annotations a join messages m using (convo_id, message_index) \
         group by 1 order by 1",
        &convos(),
        filled.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    // 14 questions: 6 answers rated down, 4 up, 4 not rated.
    assert_eq!(got, "correct,n,up\nno,6,0\nyes,8,4\n");
    let rejects = stdout_of(&[
        "sql",
        "select source_line, reason from rejects order by source_line",
        &convos(),
        filled.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    // Where the unknown row starts: after the header and every row before it, each as many
    // lines as it holds line breaks, plus one.
    let breaks: usize = rows.iter().flatten().map(|c| c.matches('\n').count()).sum();
    let lines = rows.len() + breaks;
    assert_eq!(
        rejects,
        format!(
            "source_line,reason\n\
             {},\"annotation of convo_id \"\"nope\"\", message_index 1: no such message\"\n\
             {},\"annotation row has 3 cells, the header 17\"\n",
            lines,
            lines + 1
        )
    );
}

#[test]
fn annotation_rows_follow_redact_emails() {
    let dir = scratch("annotation-redact");
    let out = dir.join("sample.csv");
    export(&[
        "--to",
        "annotation",
        "-o",
        out.to_str().unwrap(),
        "--sample",
        "100",
        "--redact-emails",
        "--redact-key",
        "k",
    ]);
    let rows = csv_rows(&out);
    let emails: BTreeSet<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    // u1..u7 as seven pseudonyms, and d08's missing email as an empty cell.
    assert_eq!(emails.len(), 8, "{emails:?}");
    assert!(emails.contains(""));
    assert!(emails
        .iter()
        .all(|e| e.is_empty() || e.ends_with("@redacted.invalid")));
}

#[test]
fn sample_options_are_checked() {
    let dir = scratch("annotation-usage");
    let out = dir.join("x.csv");
    for args in [
        vec!["--to", "annotation"],
        vec!["--to", "annotation", "--sample", "0"],
        vec!["--to", "kto", "--sample", "5"],
        vec!["--to", "annotation", "--sample", "5", "--stratify", "color"],
    ] {
        let input = convos();
        let mut all = vec!["export", input.as_str(), "-o", out.to_str().unwrap()];
        all.extend(args.iter().copied());
        let o = chatql().args(&all).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!out.exists());
    }
}

#[test]
fn the_datasets_library_loads_kto_and_dpo_files() {
    // `.ci/run` installs `datasets` and sets CHATQL_REQUIRE_DATASETS; elsewhere the check
    // runs when the package is there.
    if !crate::common::procs::python_has(
        "import datasets",
        "CHATQL_REQUIRE_DATASETS",
        "the Python package datasets",
    ) {
        return;
    }
    let dir = scratch("hf");
    let kto = dir.join("kto.jsonl");
    let dpo = dir.join("dpo.jsonl");
    export(&["--to", "kto", "-o", kto.to_str().unwrap()]);
    export(&["--to", "dpo", "-o", dpo.to_str().unwrap()]);
    let script = format!(
        "from datasets import load_dataset\n\
         k = load_dataset('json', data_files={kto:?}, split='train')\n\
         d = load_dataset('json', data_files={dpo:?}, split='train')\n\
         print(k.num_rows, sum(k['label']), sorted(k.column_names))\n\
         print(d.num_rows, d[0]['chosen'][0]['role'], d[0]['rejected'][0]['content'])\n",
        kto = kto.to_str().unwrap(),
        dpo = dpo.to_str().unwrap()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", dir.join("hf-home"))
        .output()
        .unwrap();
    assert_ok(&out, "");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "10 4 ['completion', 'convo_id', 'label', 'message_index', 'prompt']\n\
         1 assistant A latch is a kind of door lock.\n"
    );
}
