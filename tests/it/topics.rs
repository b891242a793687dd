//! `chatql topics` scored against planted topics (`benches/synthetic/topics.rs`): with the
//! document export the assignments must reach an adjusted Rand index of 0.9; from the words
//! alone they must beat plain TF-IDF k-means on the same questions. Then the outputs, the
//! assignments file joined back in SQL, and bad input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chatql::topics::kmeans::{adjusted_rand_index, kmeans, purity, KMeansOptions, SparseRows};
use chatql::topics::text::{tfidf, TextOptions};

use crate::common::*;
use crate::synthetic::topics::{write_planted, Planted};

struct Corpus {
    convos: PathBuf,
    docs: PathBuf,
    truth: Vec<(String, i32, usize)>,
}

fn corpus(dir: &Path, topics: usize, questions: usize, seed: u64) -> Corpus {
    let convos = dir.join("convos.jsonl");
    let docs = dir.join("documents.jsonl");
    let mut c = std::fs::File::create(&convos).unwrap();
    let mut d = std::fs::File::create(&docs).unwrap();
    let truth = write_planted(
        &mut c,
        &mut d,
        &Planted {
            topics,
            questions,
            chunks_per_topic: 12,
            contexts: 10,
            off_topic: 0.3,
            no_context: 0.25,
            dims: 1536,
            seed,
        },
    )
    .unwrap();
    Corpus {
        convos,
        docs,
        truth,
    }
}

/// (convo_id, message_index) → topic, from an assignments CSV.
fn assignments(path: &Path) -> HashMap<(String, i32), (usize, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [
            "convo_id",
            "message_index",
            "topic",
            "topic_label",
            "distance",
            "placed_by"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[0].to_owned(), rec[1].parse().unwrap()),
                (rec[2].parse().unwrap(), rec[5].to_owned()),
            )
        })
        .collect()
}

fn scores(c: &Corpus, found: &HashMap<(String, i32), (usize, String)>) -> (f64, f64) {
    assert_eq!(found.len(), c.truth.len(), "every question is placed once");
    let truth: Vec<usize> = c.truth.iter().map(|t| t.2).collect();
    let got: Vec<usize> = c
        .truth
        .iter()
        .map(|(id, i, _)| found[&(id.clone(), *i)].0)
        .collect();
    (adjusted_rand_index(&truth, &got), purity(&truth, &got))
}

fn run_topics(inputs: &[&Path], extra: &[&str], assign: &Path) -> String {
    let mut args = vec!["topics".to_owned()];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap().to_owned()));
    args.extend([
        "--assignments".to_owned(),
        assign.to_str().unwrap().to_owned(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stdout_of(&args)
}

#[test]
fn retrieval_places_planted_topics_and_words_beat_plain_tfidf() {
    let dir = scratch("topics-quality");
    let c = corpus(&dir, 8, 480, 3);
    // With the document export, k given.
    let a = dir.join("a.csv");
    let out = run_topics(&[&c.convos, &c.docs], &["-k", "8"], &a);
    assert!(out.contains("8 topic(s) in 480 question(s)"), "{out}");
    let found = assignments(&a);
    let (ari, pur) = scores(&c, &found);
    let by_text = found.values().filter(|v| v.1 == "text").count();
    eprintln!("with documents: ARI {ari:.3}, purity {pur:.3}, {by_text} placed by text");
    for how in ["retrieval", "text"] {
        let part: Vec<&(String, i32, usize)> = c
            .truth
            .iter()
            .filter(|t| found[&(t.0.clone(), t.1)].1 == how)
            .collect();
        let truth: Vec<usize> = part.iter().map(|t| t.2).collect();
        let got: Vec<usize> = part.iter().map(|t| found[&(t.0.clone(), t.1)].0).collect();
        eprintln!(
            "  placed by {how}: {} questions, purity {:.3}",
            part.len(),
            purity(&truth, &got)
        );
    }
    assert!(ari >= 0.9, "ARI {ari}");
    assert!(by_text > 60 && by_text < 180, "{by_text}");

    // With k chosen by silhouette.
    let auto = dir.join("auto.csv");
    let out = run_topics(&[&c.convos, &c.docs], &[], &auto);
    let (ari_auto, _) = scores(&c, &assignments(&auto));
    eprintln!("k chosen: {out:.80} ARI {ari_auto:.3}");
    assert!(ari_auto >= 0.8, "ARI {ari_auto}: {out}");

    // Words alone, against plain TF-IDF k-means (raw counts, no stop words or bigrams,
    // random seeding, one run) on the same questions.
    let t = dir.join("t.csv");
    run_topics(&[&c.convos], &["-k", "8"], &t);
    let (ari_text, pur_text) = scores(&c, &assignments(&t));
    let texts: Vec<String> = std::fs::read_to_string(&c.convos)
        .unwrap()
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["convo"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "user")
                .map(|m| m["content"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (rows, vocab) = tfidf(&refs, TextOptions::PLAIN);
    let plain = kmeans(
        &SparseRows {
            rows,
            dim: vocab.terms.len(),
        },
        &KMeansOptions {
            k: 8,
            restarts: 1,
            plus_plus: false,
            seed: 1,
            max_iter: 100,
        },
    );
    let truth: Vec<usize> = c.truth.iter().map(|t| t.2).collect();
    let ari_plain = adjusted_rand_index(&truth, &plain.labels);
    eprintln!(
        "words alone: ARI {ari_text:.3} (purity {pur_text:.3}); plain TF-IDF k-means: ARI {ari_plain:.3}"
    );
    assert!(ari_text > ari_plain, "{ari_text} <= {ari_plain}");
}

#[test]
fn the_same_input_gives_the_same_topics_and_the_outputs_agree() {
    let dir = scratch("topics-outputs");
    let c = corpus(&dir, 4, 120, 9);
    let (a1, a2) = (dir.join("1.parquet"), dir.join("2.csv"));
    let json1 = run_topics(&[&c.convos, &c.docs], &["-k", "4", "--format", "json"], &a1);
    let json2 = run_topics(&[&c.convos, &c.docs], &["-k", "4", "--format", "json"], &a2);
    assert_eq!(json1, json2);
    let doc: serde_json::Value = serde_json::from_str(&json1).unwrap();
    let topics = doc["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 4);
    let total: u64 = topics
        .iter()
        .map(|t| t["questions"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 120);
    for t in topics {
        assert_eq!(
            t["examples"].as_array().unwrap().len().min(5),
            t["examples"].as_array().unwrap().len()
        );
        assert!(!t["label"].as_str().unwrap().is_empty());
        let months: u64 = t["per_month"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(months, t["questions"].as_u64().unwrap());
    }
    // The Parquet assignments join back to the questions in SQL.
    let joined = stdout_of(&[
        "sql",
        &format!(
            "select count(*) as n, count(distinct a.topic) as topics \
             from messages m join '{}' a \
             on a.convo_id = m.convo_id and a.message_index = m.message_index \
             where m.role = 'user'",
            a1.display()
        ),
        c.convos.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(joined, "n,topics\n120,4\n");
    // The page: one dot per distinct question, a label per topic, no network.
    let page = dir.join("t.html");
    run_topics(
        &[&c.convos, &c.docs],
        &["-k", "4", "--format", "html", "-o", page.to_str().unwrap()],
        &dir.join("3.csv"),
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg"));
    assert_eq!(html.matches("<text ").count(), 4);
    assert!(html.matches("<circle").count() >= 4);
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn bad_input_is_explained() {
    let dir = scratch("topics-bad");
    // No user questions: a message, exit 0, nothing written.
    let docs_only = data("insight/convos.jsonl");
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = dir.join("t.html");
    let o = chatql()
        .args([
            "topics",
            empty.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_ok(&o, "o");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no user questions"));
    assert!(!out.exists());
    // -k above the number of distinct questions: a usage error.
    let o = chatql()
        .args(["topics", &docs_only, "-k", "50"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only 6 distinct question(s)"));
    // Embeddings of two dimensions: the dominant one places questions, and the note says so.
    let text = stdout_of(&["topics", &testdata("")]);
    assert!(
        text.contains("chunk embeddings of 1536 and 768 dimensions"),
        "{text}"
    );
}

#[test]
fn every_report_at_once_ends_with_the_topics_on_the_page_and_in_json() {
    let dir = scratch("topics-report");
    let c = corpus(&dir, 4, 120, 5);
    let (convos, docs) = (c.convos.to_str().unwrap(), c.docs.to_str().unwrap());
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["report", convos, docs, "--format", "json"])).unwrap();
    let reports = json.as_array().unwrap();
    let topics = reports.last().unwrap();
    assert_eq!(topics["name"], "topics", "{topics}");
    let rows = topics["sections"][0]["rows"].as_array().unwrap();
    let total: u64 = rows.iter().map(|r| r["questions"].as_u64().unwrap()).sum();
    assert_eq!(total, 120);
    // The terminal stays short: no topics there, and one named report has none.
    let text = stdout_of(&["report", convos, docs]);
    assert!(!text.contains("Topics by size"));
    let one = stdout_of(&["report", "overview", convos, docs, "--format", "json"]);
    assert!(!one.contains("\"topics\""));
}
