//! Where each question goes on the map: its similarity to every topic's centre (in the space
//! it was placed in), projected on the two leading principal components.

use super::kmeans::{Dense, Points, SparseRows};
use super::Placement;

/// The centres the map profiles are measured against.
pub(super) enum Centres {
    /// Retrieval centres and TF-IDF centroids, the dense points and which distinct
    /// questions they are.
    Both(Vec<Vec<f32>>, Vec<Vec<f32>>, Dense, Vec<usize>),
    /// Centres in the LSA space, the LSA points and which distinct questions they are.
    Latent(Vec<Vec<f32>>, Dense, Vec<usize>),
}

/// Per distinct question, its similarity to every topic's centre (in topic order): the
/// coordinates the map projects.
pub(super) fn profiles(
    place: &[(usize, f32, Placement)],
    sparse: &SparseRows,
    centres: &Centres,
    rank: &[Option<usize>],
) -> Vec<Vec<f32>> {
    let k = rank.iter().flatten().count();
    let mut out = vec![vec![0f32; k]; place.len()];
    match centres {
        Centres::Latent(c, dense, rows) => {
            for (r, &d) in rows.iter().enumerate() {
                for (t, centre) in c.iter().enumerate() {
                    if let Some(x) = rank[t] {
                        out[d][x] = dense.dot(r, centre);
                    }
                }
            }
        }
        Centres::Both(dense_c, text_c, dense, embedded) => {
            let mut done = vec![false; place.len()];
            for (r, &d) in embedded.iter().enumerate() {
                for (t, centre) in dense_c.iter().enumerate() {
                    if let Some(x) = rank[t] {
                        out[d][x] = dense.dot(r, centre);
                    }
                }
                done[d] = true;
            }
            for (d, row) in out.iter_mut().enumerate() {
                if !done[d] {
                    for (t, centre) in text_c.iter().enumerate() {
                        if let Some(r) = rank[t] {
                            row[r] = sparse.dot(d, centre);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The first two principal components of `rows` (k columns), by power iteration.
pub(super) fn pca2(rows: &[Vec<f32>], k: usize) -> Vec<(f32, f32)> {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; k];
    for r in rows {
        for (m, &x) in mean.iter_mut().zip(r) {
            *m += x as f64 / n;
        }
    }
    let mut cov = vec![vec![0f64; k]; k];
    for r in rows {
        for a in 0..k {
            let da = r[a] as f64 - mean[a];
            for b in 0..k {
                cov[a][b] += da * (r[b] as f64 - mean[b]) / n;
            }
        }
    }
    let mut axes: Vec<Vec<f64>> = Vec::new();
    for axis in 0..2 {
        let mut v: Vec<f64> = (0..k).map(|i| 1.0 + ((i + axis) % 3) as f64).collect();
        for _ in 0..200 {
            let mut w: Vec<f64> = (0..k)
                .map(|a| (0..k).map(|b| cov[a][b] * v[b]).sum())
                .collect();
            for prev in &axes {
                let d: f64 = w.iter().zip(prev).map(|(x, y)| x * y).sum();
                for (x, y) in w.iter_mut().zip(prev) {
                    *x -= d * y;
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        axes.push(v);
    }
    rows.iter()
        .map(|r| {
            let c = |ax: &[f64]| {
                r.iter()
                    .zip(&mean)
                    .zip(ax)
                    .map(|((&x, m), a)| (x as f64 - m) * a)
                    .sum::<f64>() as f32
            };
            (c(&axes[0]), c(&axes[1]))
        })
        .collect()
}
