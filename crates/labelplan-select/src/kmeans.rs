//! Spherical k-means (k-means++ seeding, restarts) on unit vectors, and the pseudo-label
//! clusters of a run with K chosen by silhouette when the user did not set it.

use labelplan_core::backend::Backend;
use labelplan_core::det;
use labelplan_core::progress::Unit;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::context::Context;
use crate::error::{Result, SelectError};
use crate::rng::stream;

/// A spherical k-means solution.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// `k × dim` unit centroids, row-major.
    pub centroids: Vec<f32>,
    /// Cluster of every row.
    pub assign: Vec<u32>,
    /// Cosine similarity of every row to its centroid.
    pub sim: Vec<f32>,
}

impl KMeans {
    /// Sum of similarities to the centroids (higher is better).
    pub fn objective(&self) -> f64 {
        self.sim.iter().map(|&s| s as f64).sum()
    }
}

/// Pseudo-label clusters of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// The k-means solution.
    pub kmeans: KMeans,
    /// Number of clusters.
    pub k: usize,
    /// "setting" or "silhouette".
    pub chosen_by: String,
    /// Silhouette of each K tried.
    pub tried: Vec<(usize, f64)>,
}

/// Scales each `dim`-row of `v` to unit norm (zero rows stay zero).
pub fn normalize(v: &mut [f32], dim: usize) {
    for row in v.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// Seeds by k-means++: the first center uniformly, then each next one with probability
/// proportional to its squared distance to the nearest center so far.
async fn plus_plus<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    k: usize,
    rng: &mut impl Rng,
) -> Result<Vec<u32>> {
    let (n, _) = backend.shape(points);
    let mut best = backend.upload_vector(&vec![f32::NEG_INFINITY; n]).await?;
    let mut centers = vec![rng.random_range(0..n as u32)];
    while centers.len() < k {
        backend.raise_best(points, &mut best, *centers.last().expect("one center"), false).await?;
        let covered = backend.read_vector(&best).await?;
        // Squared Euclidean distance between unit vectors: 2 − 2·cos.
        let weights: Vec<f64> = covered.iter().map(|&s| (2.0 - 2.0 * s as f64).max(0.0)).collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            break; // every row coincides with a center
        }
        let mut target = rng.random::<f64>() * total;
        let mut pick = n - 1;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                pick = i;
                break;
            }
            target -= w;
        }
        centers.push(pick as u32);
    }
    Ok(centers)
}

/// Lloyd steps from the given centroids; stops early when no assignment changes.
/// Centroids listed in `fixed` (by index) do not move.
pub async fn lloyd<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    mut centroids: Vec<f32>,
    fixed: &[bool],
    steps: usize,
) -> Result<KMeans> {
    let (_, dim) = backend.shape(points);
    let k = centroids.len() / dim.max(1);
    let mut previous: Option<Vec<u32>> = None;
    for _ in 0..steps {
        let c = backend.upload(&centroids, k, dim).await?;
        let near = backend.nearest(points, &c).await?;
        if previous.as_ref() == Some(&near.index) {
            break;
        }
        let sums = backend.segment_sums(points, &near.index, k).await?;
        for (j, sum) in sums.chunks(dim).enumerate() {
            if !fixed.get(j).copied().unwrap_or(false) && sum.iter().any(|&v| v != 0.0) {
                centroids[j * dim..(j + 1) * dim].copy_from_slice(sum);
            }
        }
        normalize(&mut centroids, dim);
        previous = Some(near.index);
    }
    let c = backend.upload(&centroids, k, dim).await?;
    let near = backend.nearest(points, &c).await?;
    Ok(KMeans { centroids, assign: near.index, sim: near.sim })
}

/// Spherical k-means with `restarts` k-means++ starts; keeps the best objective.
pub async fn spherical_kmeans<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    k: usize,
    seed: u64,
    restarts: usize,
) -> Result<KMeans> {
    let mut rng = stream(seed, "k-means");
    let mut best: Option<KMeans> = None;
    for _ in 0..restarts.max(1) {
        let seeds = plus_plus(backend, points, k, &mut rng).await?;
        let start = backend.read_rows(points, &seeds).await?;
        let run = lloyd(backend, points, start, &[], 50).await?;
        if best.as_ref().is_none_or(|b| run.objective() > b.objective()) {
            best = Some(run);
        }
    }
    Ok(best.expect("at least one restart"))
}

/// Mean silhouette (cosine distance) of `assign` over the rows `sample`.
async fn silhouette<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    assign: &[u32],
    k: usize,
    sample: &[u32],
) -> Result<f64> {
    let rows = backend.read_rows(points, sample).await?;
    let (_, dim) = backend.shape(points);
    // On the host in a fixed order: the scores are reported, the same bits everywhere.
    let m = ndarray::ArrayView2::from_shape((sample.len(), dim), &rows).expect("rows × dim");
    let sims = det::matmul(m, m.t());
    let sims = sims.as_slice().expect("standard layout");
    let s = sample.len();
    let mut total = 0.0;
    for i in 0..s {
        let mut sum = vec![0.0f64; k];
        let mut count = vec![0usize; k];
        for j in 0..s {
            if i != j {
                let c = assign[sample[j] as usize] as usize;
                sum[c] += 1.0 - sims[i * s + j] as f64;
                count[c] += 1;
            }
        }
        let own = assign[sample[i] as usize] as usize;
        if count[own] == 0 {
            continue; // a singleton scores 0
        }
        let a = sum[own] / count[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sum[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-12);
        }
    }
    Ok(total / s.max(1) as f64)
}

/// Rows used to score a clustering by silhouette.
const SILHOUETTE_SAMPLE: usize = 1000;
/// Rows the search over K clusters (all rows when fewer), and rows a large pool's
/// clusters are first fitted on.
const SEARCH_SAMPLE: usize = 10_000;
/// Lloyd steps over every row of a large pool, from the sample's centroids.
const FULL_STEPS: usize = 10;

/// A seeded sample of at most `size` rows of `n` (ascending).
fn sample_rows(n: usize, size: usize, seed: u64) -> Vec<u32> {
    let mut sample: Vec<u32> = (0..n as u32).collect();
    sample.shuffle(&mut stream(seed, "silhouette sample"));
    sample.truncate(size);
    sample.sort_unstable();
    sample
}

/// Spherical k-means of every row with `restarts`: on a pool larger than `sample` rows
/// the restarts run on a seeded sample of that many, and their best solution then moves
/// through at most `FULL_STEPS` (10) Lloyd steps over every row (k-means++ over the whole
/// pool would read it `k` times per restart).
pub async fn fit_pool<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    k: usize,
    seed: u64,
    restarts: usize,
    sample: usize,
) -> Result<KMeans> {
    let (n, _) = backend.shape(points);
    if n <= sample {
        return spherical_kmeans(backend, points, k, seed, restarts).await;
    }
    let rows = sample_rows(n, sample, seed);
    let on_sample =
        spherical_kmeans(backend, &backend.gather(points, &rows).await?, k, seed, restarts).await?;
    lloyd(backend, points, on_sample.centroids, &[], FULL_STEPS).await
}

/// The run's pseudo-label clusters: K from the settings, or the K in `cluster_range`
/// with the best silhouette on a seeded sample (smaller K on ties).
pub async fn pseudo_labels<B: Backend>(ctx: &mut Context<'_, B>) -> Result<Clusters> {
    let settings = ctx.settings;
    let n = ctx.n;
    let restarts = 3;
    if let Some(k) = settings.clusters {
        if k == 0 || k > n {
            return Err(SelectError::setting("--clusters", format!("must be between 1 and the {n} rows")));
        }
        ctx.tick("clustering", Unit::Steps, 0, 1).await?;
        let kmeans = fit_pool(ctx.backend, &ctx.points, k, settings.seed, restarts, SEARCH_SAMPLE).await?;
        return Ok(Clusters { kmeans, k, chosen_by: "setting".into(), tried: Vec::new() });
    }
    let (lo, hi) = settings.cluster_range;
    let hi = hi.min(n.saturating_sub(1)).max(1);
    let lo = lo.clamp(1, hi);
    if lo < 2 && hi < 2 {
        let kmeans = spherical_kmeans(ctx.backend, &ctx.points, 1, settings.seed, 1).await?;
        return Ok(Clusters { kmeans, k: 1, chosen_by: "setting".into(), tried: Vec::new() });
    }
    // K is searched on a seeded sample (all rows when small); the chosen K's solution
    // then moves over every row.
    let sample = sample_rows(n, SEARCH_SAMPLE, settings.seed);
    let search = ctx.backend.gather(&ctx.points, &sample).await?;
    let mut scored =
        crate::methods::random::order(&vec![false; sample.len()], settings.seed, "silhouette rows");
    scored.truncate(SILHOUETTE_SAMPLE);
    scored.sort_unstable();
    let mut tried = Vec::new();
    let mut best: Option<(f64, usize, KMeans)> = None;
    for (done, k) in (lo.max(2)..=hi).enumerate() {
        ctx.tick("clustering", Unit::ClusterCounts, done as u64, (hi + 2 - lo.max(2)) as u64).await?;
        let kmeans = spherical_kmeans(ctx.backend, &search, k, settings.seed, restarts).await?;
        let score = silhouette(ctx.backend, &search, &kmeans.assign, k, &scored).await?;
        tried.push((k, score));
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, k, kmeans));
        }
    }
    let (_, k, mut kmeans) = best.expect("at least one K tried");
    if sample.len() < n {
        ctx.tick("clustering", Unit::ClusterCounts, tried.len() as u64, tried.len() as u64 + 1).await?;
        kmeans = lloyd(ctx.backend, &ctx.points, kmeans.centroids, &[], FULL_STEPS).await?;
    }
    Ok(Clusters { kmeans, k, chosen_by: "silhouette".into(), tried })
}
