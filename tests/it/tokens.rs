//! `token_count()` against OpenAI's tiktoken: the expected counts in
//! `tests/data/tokens/expected.jsonl` were made by tiktoken itself
//! (`tests/data/tokens/generate.py`), on texts with non-ASCII letters, emoji, code, long
//! whitespace runs and special-token text, and 400 seeded random mixtures of the fragments
//! pre-tokenization treats specially. The texts run in one thread one after another, so the
//! later ones are counted from pre-tokens the earlier ones left in the piece cache.

use chatql::query::functions::tokens::{count_tokens, Encoding};

use crate::common::*;

#[test]
fn counts_equal_tiktoken_on_every_reference_text() {
    let text = std::fs::read_to_string(data("tokens/expected.jsonl")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = row["text"].as_str().unwrap();
        for (name, enc) in [
            ("o200k_base", Encoding::O200kBase),
            ("cl100k_base", Encoding::Cl100kBase),
        ] {
            let want = row[name].as_u64().unwrap() as u32;
            assert_eq!(count_tokens(text, enc), want, "{name}: {text:?}");
            // The second count of a text comes from the cache: the same answer.
            assert_eq!(count_tokens(text, enc), want, "{name} (cached): {text:?}");
            checked += 1;
        }
    }
    // 37 hand-picked texts and 400 seeded mixtures, in two encodings.
    assert_eq!(checked, 874);
}

#[test]
fn token_count_in_sql() {
    let out = chatql()
        .args([
            "sql",
            "select token_count('naïve café — résumé, façade, coöperate') as o200k, \
             token_count('naïve café — résumé, façade, coöperate', 'cl100k_base') as cl100k, \
             token_count(null) as none",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_ok(&out, "");
    let text = std::fs::read_to_string(data("tokens/expected.jsonl")).unwrap();
    let row: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["text"] == "naïve café — résumé, façade, coöperate")
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "o200k,cl100k,none\n{},{},\n",
            row["o200k_base"], row["cl100k_base"]
        )
    );
    chatql()
        .args(["sql", "select token_count('x', 'p50k')"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("unknown encoding \"p50k\""));
}
