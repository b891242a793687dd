//! The word classifier that places questions the retrieval could not: multinomial naive
//! Bayes over the terms a question has, trained on questions (and chunks) already placed.

use std::collections::HashMap;

use super::text::Sparse;

/// Multinomial naive Bayes over the terms a question has (each counted once), with additive
/// smoothing: for short questions it tells topics apart better than the nearest centroid.
pub(super) struct NaiveBayes {
    /// Per topic: log prior, log probability of an unseen term, log probability per term.
    topics: Vec<(f64, f64, HashMap<u32, f64>)>,
}

impl NaiveBayes {
    const ALPHA: f64 = 0.5;

    pub(super) fn train(rows: &[Sparse], labels: &[usize], k: usize, dim: usize) -> NaiveBayes {
        let mut counts: Vec<HashMap<u32, f64>> = vec![HashMap::new(); k];
        let mut docs = vec![0f64; k];
        for (row, &l) in rows.iter().zip(labels) {
            docs[l] += 1.0;
            for &(t, _) in row {
                *counts[l].entry(t).or_insert(0.0) += 1.0;
            }
        }
        let v = dim as f64;
        let all: f64 = docs.iter().sum();
        let topics = counts
            .into_iter()
            .zip(docs)
            .map(|(m, n)| {
                let total: f64 = m.values().sum::<f64>() + Self::ALPHA * v;
                let probs = m
                    .into_iter()
                    .map(|(t, c)| (t, ((c + Self::ALPHA) / total).ln()))
                    .collect();
                (
                    ((n + 1.0) / (all + k as f64)).ln(),
                    (Self::ALPHA / total).ln(),
                    probs,
                )
            })
            .collect();
        NaiveBayes { topics }
    }

    pub(super) fn classify(&self, terms: &Sparse) -> usize {
        let score = |(prior, unseen, probs): &(f64, f64, HashMap<u32, f64>)| {
            prior
                + terms
                    .iter()
                    .map(|(t, _)| *probs.get(t).unwrap_or(unseen))
                    .sum::<f64>()
        };
        (0..self.topics.len())
            .max_by(|&a, &b| {
                score(&self.topics[a])
                    .total_cmp(&score(&self.topics[b]))
                    .then(b.cmp(&a))
            })
            .unwrap_or(0)
    }
}
