//! Spherical k-means over unit vectors (dense retrieval embeddings or sparse TF-IDF): cosine
//! similarity to the centres, k-means++ seeding, several restarts on all cores keeping the
//! most compact, a fixed seed; the silhouette for choosing k; and the scores the quality
//! tests use (purity, adjusted Rand index).
//!
//! Hand-written rather than `linfa-clustering`: linfa wants a dense `f64` matrix, which for
//! TF-IDF (tens of thousands of columns) or 100,000 questions would not fit the memory bound,
//! and its k-means is Euclidean; here points stay `f32`, sparse where they are sparse, and a
//! centre update is one pass.

use super::text::Sparse;

/// Points to cluster: unit vectors, dense or sparse.
pub trait Points: Sync {
    /// Number of points.
    fn len(&self) -> usize;
    /// Dimension of the centres.
    fn dim(&self) -> usize;
    /// Dot product of point `i` with a dense vector.
    fn dot(&self, i: usize, c: &[f32]) -> f32;
    /// Adds point `i` to a dense accumulator.
    fn add_to(&self, i: usize, acc: &mut [f32]);
    /// Dot product of two points.
    fn dot_points(&self, i: usize, j: usize) -> f32;
    /// Whether there are no points.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Dense unit vectors, row after row.
pub struct Dense {
    /// The values.
    pub data: Vec<f32>,
    /// Values per row.
    pub dim: usize,
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD (a plain
/// `sum()` of floats must keep its order and stays scalar).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

impl Points for Dense {
    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn dot(&self, i: usize, c: &[f32]) -> f32 {
        dot(&self.data[i * self.dim..(i + 1) * self.dim], c)
    }
    fn add_to(&self, i: usize, acc: &mut [f32]) {
        for (a, x) in acc
            .iter_mut()
            .zip(&self.data[i * self.dim..(i + 1) * self.dim])
        {
            *a += x;
        }
    }
    fn dot_points(&self, i: usize, j: usize) -> f32 {
        self.dot(i, &self.data[j * self.dim..(j + 1) * self.dim])
    }
}

/// Sparse unit vectors over a vocabulary.
pub struct SparseRows {
    /// The rows.
    pub rows: Vec<Sparse>,
    /// Vocabulary size.
    pub dim: usize,
}

impl Points for SparseRows {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn dot(&self, i: usize, c: &[f32]) -> f32 {
        self.rows[i].iter().map(|&(t, w)| w * c[t as usize]).sum()
    }
    fn add_to(&self, i: usize, acc: &mut [f32]) {
        for &(t, w) in &self.rows[i] {
            acc[t as usize] += w;
        }
    }
    fn dot_points(&self, i: usize, j: usize) -> f32 {
        let (a, b) = (&self.rows[i], &self.rows[j]);
        let (mut x, mut y, mut s) = (0, 0, 0.0);
        while x < a.len() && y < b.len() {
            match a[x].0.cmp(&b[y].0) {
                std::cmp::Ordering::Less => x += 1,
                std::cmp::Ordering::Greater => y += 1,
                std::cmp::Ordering::Equal => {
                    s += a[x].1 * b[y].1;
                    x += 1;
                    y += 1;
                }
            }
        }
        s
    }
}

/// A small seeded generator (splitmix64).
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// A standard normal value (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// How to cluster.
#[derive(Debug, Clone, Copy)]
pub struct KMeansOptions {
    /// Clusters.
    pub k: usize,
    /// Independent runs; the most compact is kept.
    pub restarts: usize,
    /// k-means++ seeding (else k random points).
    pub plus_plus: bool,
    /// Seed.
    pub seed: u64,
    /// Iterations per run at most.
    pub max_iter: usize,
}

/// A clustering: per point its cluster and similarity to the centre; the centres.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of each point.
    pub labels: Vec<usize>,
    /// Cosine similarity of each point to its centre.
    pub similarity: Vec<f32>,
    /// Unit centres, `k` rows of `dim`.
    pub centres: Vec<Vec<f32>>,
    /// Sum of the similarities (higher is more compact).
    pub score: f64,
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        for x in v {
            *x /= n;
        }
    }
}

/// The centre most similar to the dense vector `v` (the first on a tie), and the similarity.
pub fn nearest(v: &[f32], centres: &[Vec<f32>]) -> (usize, f32) {
    let mut best = (0, f32::MIN);
    for (c, centre) in centres.iter().enumerate() {
        let s = dot(v, centre);
        if s > best.1 {
            best = (c, s);
        }
    }
    best
}

fn centre_of<P: Points>(p: &P, i: usize) -> Vec<f32> {
    let mut c = vec![0.0; p.dim()];
    p.add_to(i, &mut c);
    c
}

fn seed_centres<P: Points>(p: &P, k: usize, plus_plus: bool, rng: &mut Rng) -> Vec<Vec<f32>> {
    let n = p.len();
    if !plus_plus {
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < k.min(n) {
            let i = rng.below(n);
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        return picked.into_iter().map(|i| centre_of(p, i)).collect();
    }
    let mut centres = vec![centre_of(p, rng.below(n))];
    let mut d2: Vec<f64> = (0..n)
        .map(|i| (1.0 - p.dot(i, &centres[0]) as f64).max(0.0).powi(2))
        .collect();
    while centres.len() < k {
        let total: f64 = d2.iter().sum();
        let next = if total <= 0.0 {
            rng.below(n)
        } else {
            let mut target = rng.unit() * total;
            let mut pick = n - 1;
            for (i, d) in d2.iter().enumerate() {
                target -= d;
                if target <= 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        let c = centre_of(p, next);
        for (i, d) in d2.iter_mut().enumerate() {
            let e = (1.0 - p.dot(i, &c) as f64).max(0.0).powi(2);
            if e < *d {
                *d = e;
            }
        }
        centres.push(c);
    }
    centres
}

fn assign<P: Points>(p: &P, centres: &[Vec<f32>], labels: &mut [usize], sims: &mut [f32]) {
    for i in 0..p.len() {
        let (mut best, mut sim) = (0, f32::MIN);
        for (c, centre) in centres.iter().enumerate() {
            let s = p.dot(i, centre);
            if s > sim {
                best = c;
                sim = s;
            }
        }
        labels[i] = best;
        sims[i] = sim;
    }
}

fn run_once<P: Points>(p: &P, o: &KMeansOptions, seed: u64) -> Clustering {
    let mut rng = Rng::new(seed);
    let n = p.len();
    let k = o.k.min(n).max(1);
    let mut centres = seed_centres(p, k, o.plus_plus, &mut rng);
    let mut labels = vec![usize::MAX; n];
    let mut sims = vec![0f32; n];
    let mut prev: Vec<usize> = Vec::new();
    for _ in 0..o.max_iter.max(1) {
        assign(p, &centres, &mut labels, &mut sims);
        // Converged when (almost) no point changed cluster: one in 2,000 may.
        let moved = if prev.is_empty() {
            n
        } else {
            labels.iter().zip(&prev).filter(|(a, b)| a != b).count()
        };
        if moved * 2000 <= n && !prev.is_empty() {
            break;
        }
        prev.clone_from(&labels);
        let mut acc = vec![vec![0f32; p.dim()]; k];
        let mut sizes = vec![0usize; k];
        for i in 0..n {
            p.add_to(i, &mut acc[labels[i]]);
            sizes[labels[i]] += 1;
        }
        for c in 0..k {
            if sizes[c] == 0 {
                // An empty cluster takes the point farthest from its own centre.
                let far = (0..n)
                    .min_by(|&a, &b| sims[a].total_cmp(&sims[b]))
                    .unwrap_or(0);
                acc[c] = centre_of(p, far);
                sims[far] = 1.0;
            }
            normalize(&mut acc[c]);
        }
        centres = acc;
    }
    assign(p, &centres, &mut labels, &mut sims);
    let score = sims.iter().map(|&s| s as f64).sum();
    Clustering {
        labels,
        similarity: sims,
        centres,
        score,
    }
}

/// Clusters `p`: `restarts` runs spread over the cores, the most compact kept. The same
/// points and options give the same result.
pub fn kmeans<P: Points>(p: &P, o: &KMeansOptions) -> Clustering {
    let runs = o.restarts.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(runs);
    let results: Vec<Clustering> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..runs)
                        .step_by(threads)
                        .map(|r| {
                            let seed = o.seed.wrapping_mul(1_000_003).wrapping_add(r as u64);
                            (r, run_once(p, o, seed))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Clustering)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("a k-means run panicked"))
            .collect();
        all.sort_by_key(|r| r.0);
        all.into_iter().map(|r| r.1).collect()
    });
    results
        .into_iter()
        .reduce(|best, c| if c.score > best.score { c } else { best })
        .expect("at least one run")
}

/// Mean silhouette (cosine distance) of the points `sample` under `labels`.
pub fn silhouette<P: Points>(p: &P, labels: &[usize], k: usize, sample: &[usize]) -> f64 {
    let mut total = 0.0;
    let mut counted = 0;
    for &i in sample {
        let mut sum = vec![0f64; k];
        let mut cnt = vec![0usize; k];
        for &j in sample {
            if i != j {
                sum[labels[j]] += 1.0 - p.dot_points(i, j) as f64;
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-12);
            counted += 1;
        }
    }
    if counted == 0 {
        0.0
    } else {
        total / counted as f64
    }
}

/// Share of points whose cluster's most common true label is their own.
pub fn purity(truth: &[usize], found: &[usize]) -> f64 {
    let mut table: std::collections::HashMap<(usize, usize), usize> = Default::default();
    for (&t, &f) in truth.iter().zip(found) {
        *table.entry((f, t)).or_insert(0) += 1;
    }
    let mut best: std::collections::HashMap<usize, usize> = Default::default();
    for (&(f, _), &n) in &table {
        let b = best.entry(f).or_insert(0);
        *b = (*b).max(n);
    }
    best.values().sum::<usize>() as f64 / truth.len().max(1) as f64
}

/// Adjusted Rand index of two labelings (1 = identical partitions, about 0 = chance).
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    use std::collections::HashMap;
    let c2 = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    let mut cells: HashMap<(usize, usize), usize> = HashMap::new();
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut cols: HashMap<usize, usize> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_insert(0) += 1;
        *rows.entry(x).or_insert(0) += 1;
        *cols.entry(y).or_insert(0) += 1;
    }
    let index: f64 = cells.values().map(|&n| c2(n)).sum();
    let ra: f64 = rows.values().map(|&n| c2(n)).sum();
    let rb: f64 = cols.values().map(|&n| c2(n)).sum();
    let expected = ra * rb / c2(a.len()).max(1.0);
    let max = (ra + rb) / 2.0;
    if (max - expected).abs() < 1e-12 {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Dense, Vec<usize>) {
        // Three directions in 4-d, 30 noisy points each.
        let mut rng = Rng::new(5);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for c in 0..3 {
            for _ in 0..30 {
                let mut v = [0f32; 4];
                v[c] = 1.0;
                for x in &mut v {
                    *x += 0.15 * rng.normal() as f32;
                }
                normalize(&mut v);
                data.extend_from_slice(&v);
                truth.push(c);
            }
        }
        (Dense { data, dim: 4 }, truth)
    }

    #[test]
    fn finds_planted_clusters_the_same_way_every_time() {
        let (p, truth) = blobs();
        let o = KMeansOptions {
            k: 3,
            restarts: 4,
            plus_plus: true,
            seed: 1,
            max_iter: 50,
        };
        let a = kmeans(&p, &o);
        assert_eq!(adjusted_rand_index(&truth, &a.labels), 1.0);
        assert_eq!(purity(&truth, &a.labels), 1.0);
        assert_eq!(kmeans(&p, &o).labels, a.labels);
        let all: Vec<usize> = (0..p.len()).collect();
        let good = silhouette(&p, &a.labels, 3, &all);
        let two = kmeans(&p, &KMeansOptions { k: 2, ..o });
        assert!(good > silhouette(&p, &two.labels, 2, &all));
    }

    #[test]
    fn adjusted_rand_index_of_known_partitions() {
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 7, 7]), 1.0);
        // sklearn: adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714285715
        let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((ari - 0.571_428_571_428_571_5).abs() < 1e-12);
        assert_eq!(purity(&[0, 0, 1, 1], &[0, 0, 0, 0]), 0.5);
    }

    #[test]
    fn sparse_dot_products_merge_sorted_terms() {
        let p = SparseRows {
            rows: vec![vec![(1, 0.6), (3, 0.8)], vec![(0, 1.0)], vec![(3, 1.0)]],
            dim: 4,
        };
        assert!((p.dot_points(0, 2) - 0.8).abs() < 1e-6);
        assert_eq!(p.dot_points(0, 1), 0.0);
        assert!((p.dot(0, &[0.0, 1.0, 0.0, 1.0]) - 1.4).abs() < 1e-6);
    }
}
