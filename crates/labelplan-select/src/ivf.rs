//! An inverted-file index over the run's normalised rows, so large pools avoid the
//! `n²` steps: a coarse spherical k-means cuts the pool into about √n lists, and the
//! rows of a list search only the lists whose centroids lie nearest its own (its
//! probes). The kNN graph, nearest-pick searches and k-center's bounds are built on it.
//! Searching whole lists against whole lists keeps every search a dense block product.

use labelplan_core::backend::{Backend, Knn};
use rand::seq::SliceRandom;

use crate::error::Result;
use crate::kmeans::lloyd;
use crate::rng::stream;

/// Rows sampled per list to train the coarse k-means (faiss asks for at least 39).
const TRAIN_PER_LIST: usize = 48;
/// Lloyd steps of the coarse k-means.
const TRAIN_STEPS: usize = 10;
/// Lists a list's rows search, its own included.
pub const PROBES: usize = 10;

/// The index.
#[derive(Debug, Clone, PartialEq)]
pub struct Ivf {
    /// Row width.
    pub dim: usize,
    /// `lists × dim` unit centroids, row-major.
    pub centroids: Vec<f32>,
    /// Rows of each list, ascending.
    pub members: Vec<Vec<u32>>,
    /// List of every row.
    pub list_of: Vec<u32>,
    /// Every list's neighbours: all lists by centroid similarity, most similar first
    /// (itself first of all). A list's rows search the first [`PROBES`] (its probes).
    pub nearby: Vec<Vec<u32>>,
    /// Each list's radius: the smallest cosine between its centroid and a member.
    pub min_cos: Vec<f32>,
    /// Cosine between every row and its list's centroid.
    pub row_cos: Vec<f32>,
}

/// Lists for a pool of `n` rows: about √n, so a list and a probe set both stay small.
pub fn lists_for(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(1, n.max(1))
}

impl Ivf {
    /// Builds the index of `points` (unit rows): coarse k-means on a seeded sample,
    /// every row assigned to its nearest centroid, probes by centroid similarity.
    pub async fn build<B: Backend>(backend: &B, points: &B::Matrix, seed: u64) -> Result<Ivf> {
        let (n, dim) = backend.shape(points);
        let lists = lists_for(n);
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(&mut stream(seed, "ivf sample"));
        let train_rows = (lists * TRAIN_PER_LIST).min(n);
        let mut sample = order[..train_rows].to_vec();
        sample.sort_unstable();
        let train = backend.gather(points, &sample).await?;
        // Seeds: the first `lists` rows of the shuffled order (a seeded uniform pick).
        let start = backend.read_rows(points, &order[..lists]).await?;
        let centroids = lloyd(backend, &train, start, &[], TRAIN_STEPS).await?.centroids;
        let c = backend.upload(&centroids, lists, dim).await?;
        let near = backend.nearest(points, &c).await?;
        let mut members = vec![Vec::new(); lists];
        let mut min_cos = vec![1.0f32; lists];
        for (row, (&l, &s)) in near.index.iter().zip(&near.sim).enumerate() {
            members[l as usize].push(row as u32);
            min_cos[l as usize] = min_cos[l as usize].min(s);
        }
        let sims = backend.dot(&c, &c).await?;
        let nearby = (0..lists)
            .map(|l| {
                let row = &sims[l * lists..(l + 1) * lists];
                let mut others: Vec<u32> = (0..lists as u32).filter(|&o| o as usize != l).collect();
                others.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]).then(a.cmp(&b)));
                std::iter::once(l as u32).chain(others).collect()
            })
            .collect();
        Ok(Ivf { dim, centroids, members, list_of: near.index, nearby, min_cos, row_cos: near.sim })
    }

    /// Number of lists.
    pub fn lists(&self) -> usize {
        self.members.len()
    }

    /// The probes of list `l`: the [`PROBES`] lists nearest it, itself first.
    pub fn probes(&self, l: usize) -> &[u32] {
        &self.nearby[l][..PROBES.min(self.nearby[l].len())]
    }

    /// The rows of every probe of list `l`, ascending.
    pub fn probed_rows(&self, l: usize) -> Vec<u32> {
        let mut rows: Vec<u32> =
            self.probes(l).iter().flat_map(|&p| self.members[p as usize].clone()).collect();
        rows.sort_unstable();
        rows
    }

    /// The approximate `k`-nearest-neighbour graph: each list's rows against the rows of
    /// its probes, skipping a row's own `group` (itself and its exact duplicates).
    pub async fn knn<B: Backend>(
        &self,
        backend: &B,
        points: &B::Matrix,
        group: &[u32],
        k: usize,
    ) -> Result<Knn> {
        let n = self.list_of.len();
        let mut index = vec![u32::MAX; n * k];
        let mut sim = vec![f32::NEG_INFINITY; n * k];
        for (l, rows) in self.members.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let refs = self.probed_rows(l);
            let q = backend.gather(points, rows).await?;
            let r = backend.gather(points, &refs).await?;
            let groups = |of: &[u32]| of.iter().map(|&i| group[i as usize]).collect::<Vec<u32>>();
            let found = backend.top_k_between(&q, &r, k, &groups(rows), &groups(&refs)).await?;
            for (slot, &row) in rows.iter().enumerate() {
                let out = row as usize * k;
                for t in 0..k {
                    let j = found.index[slot * k + t];
                    if j != u32::MAX {
                        index[out + t] = refs[j as usize];
                        sim[out + t] = found.sim[slot * k + t];
                    }
                }
            }
        }
        Ok(Knn { k, index, sim })
    }
}

/// Share of the exact graph's neighbours that `approx` found, over rows and slots that
/// the exact graph fills (recall@k).
pub fn recall(approx: &Knn, exact: &Knn) -> f64 {
    let (mut found, mut total) = (0usize, 0usize);
    for i in 0..exact.index.len() / exact.k.max(1) {
        let mine: Vec<u32> = approx.of(i).map(|p| p.0).collect();
        for (j, _) in exact.of(i).filter(|p| p.0 != u32::MAX) {
            total += 1;
            found += usize::from(mine.contains(&j));
        }
    }
    found as f64 / total.max(1) as f64
}
