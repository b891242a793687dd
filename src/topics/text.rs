//! Questions as text: words and bigrams with stop words removed, TF-IDF vectors (sublinear
//! term frequency, smoothed inverse document frequency, unit length), and class-based TF-IDF
//! labels (BERTopic's c-TF-IDF: a term's frequency in a topic, weighted by how rare it is
//! across topics).

use std::collections::HashMap;

/// English function words and the words every course question has ("what", "explain").
const STOP: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "get",
    "give",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "im",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "know",
    "like",
    "me",
    "mean",
    "means",
    "more",
    "most",
    "my",
    "need",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "please",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "tell",
    "than",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "use",
    "used",
    "using",
    "very",
    "was",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "explain",
    "example",
    "question",
    "difference",
    "understand",
    "help",
    "want",
    "thank",
    "hi",
    "hello",
    "ok",
    "okay",
    // Words of questions in every course, whatever the subject.
    "lecture",
    "lectures",
    "slide",
    "slides",
    "notes",
    "week",
    "problem",
    "problems",
    "answer",
    "answers",
    "concept",
    "concepts",
    "formula",
    "confused",
    "confusing",
    "related",
    "relate",
    "important",
    "affect",
    "affects",
    "compute",
    "calculate",
    "find",
    "work",
    "works",
    "vs",
    "versus",
    "homework",
    "hw",
    "class",
    "course",
    "professor",
    "ta",
];

fn is_stop(w: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| STOP.iter().copied().collect())
        .contains(w)
}

/// Lower-case words of letters and digits (2+ characters, not all digits), stop words
/// removed, then the bigrams of adjacent kept words.
pub fn terms(text: &str, bigrams: bool, stop_words: bool) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !stop_words || !is_stop(w))
        .collect();
    let mut out = words.clone();
    if bigrams {
        out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    }
    out
}

/// A sparse vector: (term id, weight), sorted by term id.
pub type Sparse = Vec<(u32, f32)>;

/// The vocabulary and IDF weights of a set of texts.
pub struct Vocabulary {
    /// Term → id.
    pub ids: HashMap<String, u32>,
    /// Id → term.
    pub terms: Vec<String>,
    /// Id → inverse document frequency.
    pub idf: Vec<f32>,
}

/// How texts become vectors.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Add bigrams.
    pub bigrams: bool,
    /// Drop stop words.
    pub stop_words: bool,
    /// Use 1 + ln(tf) instead of the raw count.
    pub sublinear: bool,
    /// Keep terms in at least this many texts.
    pub min_df: usize,
}

impl TextOptions {
    /// chatql's: bigrams, stop words removed, sublinear tf, terms in 2+ texts.
    pub const BEST: TextOptions = TextOptions {
        bigrams: true,
        stop_words: true,
        sublinear: true,
        min_df: 2,
    };
    /// Plain TF-IDF (the baseline the quality test compares with): words only, raw counts.
    pub const PLAIN: TextOptions = TextOptions {
        bigrams: false,
        stop_words: false,
        sublinear: false,
        min_df: 1,
    };
}

/// TF-IDF vectors of `texts` (unit length; empty when no term survives) and the vocabulary.
pub fn tfidf(texts: &[&str], o: TextOptions) -> (Vec<Sparse>, Vocabulary) {
    let docs: Vec<Vec<String>> = texts
        .iter()
        .map(|t| terms(t, o.bigrams, o.stop_words))
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        let mut seen: Vec<&str> = d.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_insert(0) += 1;
        }
    }
    let mut kept: Vec<(&str, usize)> = df.into_iter().filter(|&(_, n)| n >= o.min_df).collect();
    kept.sort_unstable();
    let n = docs.len() as f32;
    let vocab = Vocabulary {
        ids: kept
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (t.to_string(), i as u32))
            .collect(),
        terms: kept.iter().map(|(t, _)| t.to_string()).collect(),
        idf: kept
            .iter()
            .map(|&(_, d)| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect(),
    };
    let vectors = docs.iter().map(|d| vectorize(d, &vocab, o)).collect();
    (vectors, vocab)
}

/// The TF-IDF vector of another text over an existing vocabulary (terms outside it ignored).
pub fn vectorize_text(text: &str, v: &Vocabulary, o: TextOptions) -> Sparse {
    vectorize(&terms(text, o.bigrams, o.stop_words), v, o)
}

fn vectorize(terms: &[String], v: &Vocabulary, o: TextOptions) -> Sparse {
    let mut tf: HashMap<u32, f32> = HashMap::new();
    for t in terms {
        if let Some(&id) = v.ids.get(t) {
            *tf.entry(id).or_insert(0.0) += 1.0;
        }
    }
    let mut out: Sparse = tf
        .into_iter()
        .map(|(id, c)| {
            let tf = if o.sublinear { 1.0 + c.ln() } else { c };
            (id, tf * v.idf[id as usize])
        })
        .collect();
    out.sort_unstable_by_key(|p| p.0);
    let norm = out.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        for p in &mut out {
            p.1 /= norm;
        }
    }
    out
}

/// The `n` most distinctive terms of each class: c-TF-IDF, a term's count in the class (per
/// word of the class) times ln(1 + average words per class / the term's count in all).
/// Bigrams beat the words inside them when they score as well.
pub fn class_labels(texts: &[&str], class: &[usize], k: usize, n: usize) -> Vec<Vec<String>> {
    let mut counts: Vec<HashMap<String, f32>> = vec![HashMap::new(); k];
    let mut total: HashMap<String, f32> = HashMap::new();
    let mut words = vec![0f32; k];
    for (t, &c) in texts.iter().zip(class) {
        for term in terms(t, true, true) {
            *counts[c].entry(term.clone()).or_insert(0.0) += 1.0;
            *total.entry(term).or_insert(0.0) += 1.0;
            words[c] += 1.0;
        }
    }
    let avg = words.iter().sum::<f32>() / k.max(1) as f32;
    counts
        .iter()
        .enumerate()
        .map(|(c, m)| {
            // A term said twice in a topic names it before any said once.
            let mut scored: Vec<(bool, f32, &String)> = m
                .iter()
                .map(|(t, &f)| {
                    let score = f / words[c].max(1.0) * (1.0 + avg / total[t]).ln();
                    (f >= 2.0, score, t)
                })
                .collect();
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(b.2)));
            let mut out: Vec<String> = Vec::new();
            for (_, _, t) in scored {
                if out.len() == n {
                    break;
                }
                // Skip a word already inside a chosen bigram, and a bigram with a chosen
                // word.
                let covered = out.iter().any(|o| o.split(' ').any(|w| w == t))
                    || (t.contains(' ') && t.split(' ').any(|w| out.iter().any(|o| o == w)));
                if !covered {
                    out.push(t.clone());
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stop_words_and_add_bigrams() {
        assert_eq!(
            terms("What is a D flip-flop? Explain the 2 clocks.", true, true),
            ["flip", "flop", "clocks", "flip flop", "flop clocks"]
        );
    }

    #[test]
    fn tfidf_vectors_have_unit_length() {
        let (v, vocab) = tfidf(
            &[
                "latch clock edge",
                "latch level",
                "entropy heat",
                "entropy disorder heat",
            ],
            TextOptions::BEST,
        );
        assert!(vocab.ids.contains_key("latch") && !vocab.ids.contains_key("edge"));
        let norm: f32 = v[0].iter().map(|p| p.1 * p.1).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn labels_name_each_class_by_its_own_terms() {
        let texts = [
            "latch clock",
            "latch clock edge",
            "latch level",
            "entropy heat",
            "entropy heat flow",
            "entropy disorder",
        ];
        let labels = class_labels(&texts, &[0, 0, 0, 1, 1, 1], 2, 2);
        assert_eq!(labels[0][0], "latch");
        assert_eq!(labels[1][0], "entropy");
        assert!(labels[0].iter().all(|t| !t.contains("entropy")));
    }
}
