//! Full-text search over the questions: an in-memory inverted index built once at start-up
//! (one document per question: its text, its answer and the feedback comment), ranked by
//! BM25; words are lower-cased runs of letters and digits. A query is words and "quoted
//! phrases": a question matches when it holds every word and every phrase (a phrase as
//! consecutive words). Highlighting marks the query's words wherever they occur.

// foldhash rather than std's SipHash: the index hashes every word of every question at
// start-up (SipHash was 9% of a 3 GB export's start), and its keys are the export's words,
// not requests.
use foldhash::{HashMap, HashMapExt};

/// BM25's term-frequency saturation.
const K1: f64 = 1.2;
/// BM25's length normalization.
const B: f64 = 0.75;

/// The words of `text`, lower-cased, with their byte ranges in `text`.
pub fn words(text: &str) -> impl Iterator<Item = (String, std::ops::Range<usize>)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = chars.peek() {
            if c.is_alphanumeric() {
                break;
            }
            chars.next();
        }
        let (start, _) = *chars.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
        }
        Some((text[start..end].to_lowercase(), start..end))
    })
}

/// A parsed search: the words to find and the phrases (each a word list) to find whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Every word of the query (phrases' words included), once each.
    pub terms: Vec<String>,
    /// The quoted phrases of two words or more.
    pub phrases: Vec<Vec<String>>,
}

impl Query {
    /// Parses `q`: words, and phrases in double quotes (an unclosed quote runs to the end).
    pub fn parse(q: &str) -> Query {
        let mut out = Query::default();
        for (i, part) in q.split('"').enumerate() {
            let ws: Vec<String> = words(part).map(|(w, _)| w).collect();
            if i % 2 == 1 && ws.len() > 1 {
                out.phrases.push(ws.clone());
            }
            for w in ws {
                if !out.terms.contains(&w) {
                    out.terms.push(w);
                }
            }
        }
        out
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The index: for each word, the documents holding it with their positions.
#[derive(Debug, Default)]
pub struct Index {
    postings: HashMap<String, Vec<(u32, Vec<u32>)>>,
    lengths: Vec<u32>,
    average: f64,
}

impl Index {
    /// Indexes the documents, each given as its texts (their words run on across texts).
    pub fn build<'a>(docs: impl Iterator<Item = Vec<&'a str>>) -> Index {
        let mut ix = Index::default();
        // One document's words and positions; emptied for the next, its room kept.
        let mut mine: HashMap<String, Vec<u32>> = HashMap::new();
        for (d, texts) in docs.enumerate() {
            let mut pos = 0u32;
            for t in texts {
                for (w, _) in words(t) {
                    mine.entry(w).or_default().push(pos);
                    pos += 1;
                }
                pos += 1; // a gap: a phrase never spans two texts
            }
            for (w, ps) in mine.drain() {
                ix.postings.entry(w).or_default().push((d as u32, ps));
            }
            ix.lengths.push(pos);
        }
        let total: u64 = ix.lengths.iter().map(|&l| u64::from(l)).sum();
        ix.average = total as f64 / ix.lengths.len().max(1) as f64;
        ix
    }

    /// The documents matching `q` (every word and phrase present) with their BM25 scores,
    /// in document order. Postings are sorted by document, so the words' lists are merged,
    /// the shortest first: the work is bounded by the rarest word's list, not the corpus.
    pub fn search(&self, q: &Query) -> Vec<(u32, f64)> {
        let n = self.lengths.len() as f64;
        let mut lists = Vec::with_capacity(q.terms.len());
        for t in &q.terms {
            match self.postings.get(t) {
                Some(l) => lists.push(l),
                None => return Vec::new(),
            }
        }
        lists.sort_by_key(|l| l.len());
        let mut hits: Vec<(u32, f64)> = Vec::new();
        for (k, list) in lists.iter().enumerate() {
            let idf = ((n - list.len() as f64 + 0.5) / (list.len() as f64 + 0.5) + 1.0).ln();
            let score = |d: u32, tf: usize| {
                let tf = tf as f64;
                let len = f64::from(self.lengths[d as usize]);
                let norm = K1 * (1.0 - B + B * len / self.average.max(1.0));
                idf * tf * (K1 + 1.0) / (tf + norm)
            };
            if k == 0 {
                hits = list
                    .iter()
                    .map(|(d, ps)| (*d, score(*d, ps.len())))
                    .collect();
                continue;
            }
            // Keep the hits this list also holds (a galloping search from the last place).
            let mut from = 0;
            hits.retain_mut(|(d, s)| {
                let rest = &list[from..];
                match rest.binary_search_by_key(d, |(x, _)| *x) {
                    Ok(i) => {
                        *s += score(*d, rest[i].1.len());
                        from += i + 1;
                        true
                    }
                    Err(i) => {
                        from += i;
                        false
                    }
                }
            });
        }
        for p in &q.phrases {
            hits.retain(|(d, _)| self.has_phrase(*d, p));
        }
        hits
    }

    fn positions(&self, d: u32, w: &str) -> &[u32] {
        self.postings
            .get(w)
            .and_then(|l| {
                l.binary_search_by_key(&d, |(x, _)| *x)
                    .ok()
                    .map(|i| &l[i].1[..])
            })
            .unwrap_or(&[])
    }

    fn has_phrase(&self, d: u32, phrase: &[String]) -> bool {
        let Some((first, rest)) = phrase.split_first() else {
            return true;
        };
        self.positions(d, first).iter().any(|&p| {
            rest.iter().enumerate().all(|(i, w)| {
                self.positions(d, w)
                    .binary_search(&(p + 1 + i as u32))
                    .is_ok()
            })
        })
    }
}

/// The byte ranges of `text` holding one of `terms`, in order.
pub fn matches(text: &str, terms: &[String]) -> Vec<std::ops::Range<usize>> {
    if terms.is_empty() {
        return Vec::new();
    }
    words(text)
        .filter(|(w, _)| terms.contains(w))
        .map(|(_, r)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_ranking() {
        let docs = [
            vec!["What is a transistor?", "A transistor switches."],
            vec!["Is the lab due Friday?", "Yes, the lab is due."],
            vec!["transistor lab", ""],
        ];
        let ix = Index::build(docs.iter().cloned());
        let q = Query::parse("Transistor");
        let hits = ix.search(&q);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 2]);
        // Twice in a short document ranks above once.
        assert!(hits[0].1 > hits[1].1);
        let q = Query::parse("\"lab due\"");
        assert_eq!(q.phrases, vec![vec!["lab".to_owned(), "due".to_owned()]]);
        let hits: Vec<u32> = ix.search(&q).into_iter().map(|h| h.0).collect();
        assert_eq!(hits, [1]);
        // Every word must be there.
        assert!(ix.search(&Query::parse("transistor friday")).is_empty());
        assert_eq!(ix.search(&Query::parse("lab transistor")).len(), 1);
        // A phrase never spans the end of a question and the start of its answer.
        assert!(ix.search(&Query::parse("\"transistor a\"")).is_empty());
        assert_eq!(
            matches("Résumé: RÉSUMÉ!", &["résumé".into()]),
            [0..8, 10..18]
        );
    }
}
