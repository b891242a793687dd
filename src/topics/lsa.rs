//! Latent semantic analysis: TF-IDF rows projected on the leading singular vectors of the
//! question × term matrix (a randomized SVD: a Gaussian sketch, two power iterations, then
//! the eigenvectors of a small Gram matrix by Jacobi rotations). Questions of two or three
//! words rarely share a word; in this space "latch" and "clock" are close because other
//! questions use them together, which is what lets short questions cluster by their words.

use super::kmeans::{normalize, Dense, Rng, SparseRows};

/// Orthonormalizes the `r` columns of the row-major `rows × r` matrix (modified
/// Gram-Schmidt); a column that vanishes is left zero.
fn orthonormalize(m: &mut [f64], rows: usize, r: usize) {
    for c in 0..r {
        for p in 0..c {
            let dot: f64 = (0..rows).map(|i| m[i * r + c] * m[i * r + p]).sum();
            for i in 0..rows {
                m[i * r + c] -= dot * m[i * r + p];
            }
        }
        let norm = (0..rows).map(|i| m[i * r + c].powi(2)).sum::<f64>().sqrt();
        for i in 0..rows {
            m[i * r + c] = if norm > 1e-12 {
                m[i * r + c] / norm
            } else {
                0.0
            };
        }
    }
}

/// `A · M` for the sparse `n × V` matrix A and a row-major `V × r` matrix.
fn times(a: &SparseRows, m: &[f64], r: usize) -> Vec<f64> {
    let mut out = vec![0f64; a.rows.len() * r];
    for (i, row) in a.rows.iter().enumerate() {
        let o = &mut out[i * r..(i + 1) * r];
        for &(t, w) in row {
            let src = &m[t as usize * r..(t as usize + 1) * r];
            for (x, y) in o.iter_mut().zip(src) {
                *x += w as f64 * y;
            }
        }
    }
    out
}

/// `Aᵀ · M` for a row-major `n × r` matrix.
fn times_t(a: &SparseRows, m: &[f64], r: usize) -> Vec<f64> {
    let mut out = vec![0f64; a.dim * r];
    for (i, row) in a.rows.iter().enumerate() {
        let src = &m[i * r..(i + 1) * r];
        for &(t, w) in row {
            let o = &mut out[t as usize * r..(t as usize + 1) * r];
            for (x, y) in o.iter_mut().zip(src) {
                *x += w as f64 * y;
            }
        }
    }
    out
}

/// Eigenvalues and eigenvectors (columns of a row-major matrix) of a symmetric `r × r`
/// matrix, by cyclic Jacobi rotations.
fn jacobi(mut a: Vec<f64>, r: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; r * r];
    for i in 0..r {
        v[i * r + i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..r)
            .flat_map(|i| (0..r).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * r + j].powi(2))
            .sum();
        if off < 1e-18 {
            break;
        }
        for p in 0..r {
            for q in p + 1..r {
                let apq = a[p * r + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * r + q] - a[p * r + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..r {
                    let (akp, akq) = (a[k * r + p], a[k * r + q]);
                    a[k * r + p] = c * akp - s * akq;
                    a[k * r + q] = s * akp + c * akq;
                }
                for k in 0..r {
                    let (apk, aqk) = (a[p * r + k], a[q * r + k]);
                    a[p * r + k] = c * apk - s * aqk;
                    a[q * r + k] = s * apk + c * aqk;
                }
                for k in 0..r {
                    let (vkp, vkq) = (v[k * r + p], v[k * r + q]);
                    v[k * r + p] = c * vkp - s * vkq;
                    v[k * r + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..r).map(|i| a[i * r + i]).collect(), v)
}

/// The rows of `a` in the space of its `rank` leading singular directions, as unit vectors
/// (a row with no terms stays zero).
pub fn lsa(a: &SparseRows, rank: usize, seed: u64) -> Dense {
    let n = a.rows.len();
    let r = rank.min(a.dim).min(n).max(1);
    // The sketch is ten columns wider than the rank kept (oversampling), so that the
    // leading directions are found even when the next ones are nearly as strong.
    let s = (r + 10).min(a.dim).min(n).max(1);
    let mut rng = Rng::new(seed ^ 0x006c_7361);
    let omega: Vec<f64> = (0..a.dim * s).map(|_| rng.normal()).collect();
    let mut q = times(a, &omega, s);
    orthonormalize(&mut q, n, s);
    for _ in 0..2 {
        let mut z = times_t(a, &q, s);
        orthonormalize(&mut z, a.dim, s);
        q = times(a, &z, s);
        orthonormalize(&mut q, n, s);
    }
    // B = Qᵀ A; its Gram matrix B Bᵀ = (Aᵀ Q)ᵀ (Aᵀ Q).
    let bt = times_t(a, &q, s);
    let mut gram = vec![0f64; s * s];
    for row in bt.chunks(s) {
        for i in 0..s {
            for j in 0..s {
                gram[i * s + j] += row[i] * row[j];
            }
        }
    }
    let (values, vectors) = jacobi(gram, s);
    let mut order: Vec<usize> = (0..s).collect();
    order.sort_by(|&x, &y| values[y].total_cmp(&values[x]));
    order.truncate(r);
    // Coordinates Q · U · Σ, leading components first.
    let mut data = vec![0f32; n * r];
    for i in 0..n {
        for (c, &e) in order.iter().enumerate() {
            let sigma = values[e].max(0.0).sqrt();
            let x: f64 = (0..s).map(|j| q[i * s + j] * vectors[j * s + e]).sum();
            data[i * r + c] = (x * sigma) as f32;
        }
        normalize(&mut data[i * r..(i + 1) * r]);
    }
    Dense { data, dim: r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        // [[2,1],[1,2]]: eigenvalues 1 and 3.
        let (mut vals, _) = jacobi(vec![2.0, 1.0, 1.0, 2.0], 2);
        vals.sort_by(f64::total_cmp);
        assert!((vals[0] - 1.0).abs() < 1e-9 && (vals[1] - 3.0).abs() < 1e-9);
    }

    #[test]
    fn words_used_together_land_together() {
        // Rows 0-2 use terms {0,1,2} in pairs, rows 3-5 terms {3,4,5}; rows 0 and 2 share no
        // term but are close in the latent space.
        use std::f32::consts::FRAC_1_SQRT_2 as H;
        let rows = vec![
            vec![(0, H), (1, H)],
            vec![(1, H), (2, H)],
            vec![(2, 1.0)],
            vec![(3, H), (4, H)],
            vec![(4, H), (5, H)],
            vec![(5, 1.0)],
        ];
        let d = lsa(&SparseRows { rows, dim: 6 }, 2, 1);
        use super::super::kmeans::Points;
        assert!(d.dot_points(0, 2) > 0.9, "{}", d.dot_points(0, 2));
        assert!(d.dot_points(0, 5).abs() < 0.2, "{}", d.dot_points(0, 5));
    }
}
