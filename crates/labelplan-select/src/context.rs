//! What every algorithm of a run shares: the backend and the normalised matrix on it,
//! the constraint inputs, progress and cancel, and results computed once and reused
//! (clusters, kNN graph, training dynamics).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use labelplan_core::backend::{row_norm, Backend, ItemStats, Knn};
use labelplan_core::plan::Settings;
use labelplan_core::progress::Unit;
use labelplan_core::Dataset;

use crate::error::{Result, SelectError};
use crate::ivf::Ivf;
use crate::kmeans::Clusters;
use crate::probe::Standardizer;

/// A progress report: the stage running and how far along it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What runs ("clustering", "training dynamics", "selecting 5%", …).
    pub stage: String,
    /// What `done` and `total` count.
    pub unit: Unit,
    /// Units done.
    pub done: u64,
    /// Units in the stage.
    pub total: u64,
}

/// Hands control back to the host's event loop at every progress step. A browser worker
/// needs it on the CPU backend, whose futures never wait: without a pause the run would
/// hold the worker until done, so no cancel or progress message could pass.
pub type Pause<'a> = &'a dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>;

/// Neighbours kept per item in the shared kNN graph.
pub const GRAPH_K: usize = 20;

/// Where a run trades exactness for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Pools of up to this many rows run every step exactly; larger pools search
    /// through the inverted-file index ([`Ivf`]): the kNN graph, nearest picks and
    /// k-means assignments then look at nearby rows only.
    pub exact_rows: usize,
    /// Centroids a k-means step of the default method holds at once through the index:
    /// large budgets run their steps block by block (500,000 centroids × 384 f32 would
    /// be 768 MB per copy).
    pub centroid_block: usize,
}

impl Scale {
    /// Every step through the index, whatever the pool's size (tests, quality runs).
    pub const APPROXIMATE: Scale = Scale { exact_rows: 0, centroid_block: 65_536 };
}

impl Default for Scale {
    fn default() -> Self {
        // An exact kNN graph of 5,000 rows is 2.5e7 dot products: well under a second.
        Scale { exact_rows: 5000, ..Scale::APPROXIMATE }
    }
}

/// What a run plans over: the dataset, and its vectors when the caller hands them over
/// (`data.values` is then empty and the vectors move to the backend, so a large pool is
/// held once; see [`crate::Engine::run_taking`]).
pub struct Pool<'d> {
    /// Ids, metadata columns and shape (and the vectors unless `values` holds them).
    pub data: &'d Dataset,
    /// The vectors, row-major, when moved out of `data`.
    pub values: Option<Vec<f32>>,
}

impl<'d> From<&'d Dataset> for Pool<'d> {
    fn from(data: &'d Dataset) -> Self {
        Pool { data, values: None }
    }
}

/// The shared state of one plan run.
pub struct Context<'a, B: Backend> {
    /// The backend.
    pub backend: &'a B,
    /// The input.
    pub data: &'a Dataset,
    /// The settings.
    pub settings: &'a Settings,
    /// L2-normalised rows on the backend.
    pub points: B::Matrix,
    /// Rows.
    pub n: usize,
    /// Exact-duplicate group of every row (the lowest row with the same vector).
    pub group: Vec<u32>,
    /// Already-labeled rows.
    pub labeled: Vec<bool>,
    /// Per-row labeling cost, when a cost column is set.
    pub cost: Option<Vec<f64>>,
    /// Where exact steps give way to approximate ones.
    pub scale: Scale,
    /// Per-column mean and spread of the raw vectors (the estimate's probe inputs).
    pub standardizer: Standardizer,
    /// Row norms of the raw vectors when they moved to the backend (raw rows are then
    /// read back as normalised row × norm).
    norms: Option<Vec<f32>>,
    progress: &'a mut dyn FnMut(&Progress),
    cancel: &'a AtomicBool,
    pause: Option<Pause<'a>>,
    clusters: Option<Clusters>,
    knn: Option<Rc<Knn>>,
    ivf: Option<Rc<Ivf>>,
    dynamics: Option<ItemStats>,
}

impl<'a, B: Backend> Context<'a, B> {
    /// Uploads and normalises the data and reads the constraint columns.
    pub async fn new(
        backend: &'a B,
        pool: impl Into<Pool<'a>>,
        settings: &'a Settings,
        scale: Scale,
        progress: &'a mut dyn FnMut(&Progress),
        cancel: &'a AtomicBool,
        pause: Option<Pause<'a>>,
    ) -> Result<Self> {
        let Pool { data, values } = pool.into();
        let raw = values.as_deref().unwrap_or(&data.values);
        let group = duplicate_groups(raw, data.rows, data.dim);
        let standardizer = Standardizer::fit(raw, data.rows, data.dim);
        let (points, norms) = match values {
            None => {
                (backend.upload_normalized(&data.values, data.rows, data.dim, settings.storage).await?, None)
            }
            Some(values) => {
                let norms = values.chunks(data.dim.max(1)).map(row_norm).collect();
                (
                    backend.upload_normalized_owned(values, data.rows, data.dim, settings.storage).await?,
                    Some(norms),
                )
            }
        };
        let labeled = match &settings.labeled_column {
            Some(name) => column(data, "--labeled-column", name)?.iter().map(|v| is_true(v)).collect(),
            None => vec![false; data.rows],
        };
        let cost = match &settings.cost_column {
            Some(name) => Some(
                column(data, "--cost-column", name)?
                    .iter()
                    .enumerate()
                    .map(|(row, v)| match v.trim().parse::<f64>() {
                        Ok(c) if c.is_finite() && c >= 0.0 => Ok(c),
                        _ => Err(SelectError::BadCost { column: name.clone(), row, found: v.clone() }),
                    })
                    .collect::<Result<Vec<f64>>>()?,
            ),
            None => None,
        };
        Ok(Context {
            backend,
            data,
            settings,
            points,
            n: data.rows,
            group,
            labeled,
            cost,
            scale,
            standardizer,
            norms,
            progress,
            cancel,
            pause,
            clusters: None,
            knn: None,
            ivf: None,
            dynamics: None,
        })
    }

    /// The raw vectors of `rows`, row-major, in the order given.
    pub async fn raw_rows(&self, rows: &[u32]) -> Result<Vec<f32>> {
        let dim = self.data.dim;
        Ok(match &self.norms {
            None => rows.iter().flat_map(|&r| self.data.row(r as usize)).copied().collect(),
            Some(norms) => {
                let mut x = self.backend.read_rows(&self.points, rows).await?;
                for (row, &r) in x.chunks_mut(dim.max(1)).zip(rows) {
                    row.iter_mut().for_each(|v| *v *= norms[r as usize]);
                }
                x
            }
        })
    }

    /// The normalised rows with `share` (0–1) of the pool's mean normalised row taken from
    /// each, normalised again: the pool's shared direction removed in part, for the
    /// default's dense similarities (docs/selection.md, "Centring that fades with the budget").
    pub async fn centred_points(&self, share: f32) -> Result<B::Matrix> {
        let dim = self.data.dim.max(1);
        let all: Vec<u32> = (0..self.n as u32).collect();
        let mut rows = self.backend.read_rows(&self.points, &all).await?;
        let mut mean = vec![0.0f64; dim];
        for row in rows.chunks(dim) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        }
        let shift: Vec<f32> = mean.iter().map(|m| share * (*m / self.n.max(1) as f64) as f32).collect();
        for row in rows.chunks_mut(dim) {
            row.iter_mut().zip(&shift).for_each(|(v, s)| *v -= s);
        }
        Ok(self.backend.upload_normalized_owned(rows, self.n, self.data.dim, self.settings.storage).await?)
    }

    /// Cosine similarity, in f64 from the raw vectors, of each pair of rows: the same bits
    /// on every backend and target (the backends' f32 products round by platform).
    pub async fn exact_cosines(&self, pairs: &[(u32, u32)]) -> Result<Vec<f64>> {
        const CHUNK: usize = 4096;
        let dim = self.data.dim;
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(CHUNK) {
            let rows: Vec<u32> = chunk.iter().flat_map(|&(a, b)| [a, b]).collect();
            let x = self.raw_rows(&rows).await?;
            for pair in x.chunks_exact(2 * dim.max(1)) {
                let (a, b) = pair.split_at(dim);
                let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
                for (&u, &v) in a.iter().zip(b) {
                    let (u, v) = (u as f64, v as f64);
                    ab += u * v;
                    aa += u * u;
                    bb += v * v;
                }
                // √(aa·bb), not √aa·√bb: a row with itself gives exactly 1.
                let norm = (aa * bb).sqrt();
                out.push(if norm > 0.0 { (ab / norm).clamp(-1.0, 1.0) } else { 0.0 });
            }
        }
        Ok(out)
    }

    /// Pauses (when the host asked for it), then reports progress; fails with
    /// [`SelectError::Cancelled`] once cancel is set.
    pub async fn tick(&mut self, stage: &str, unit: Unit, done: u64, total: u64) -> Result<()> {
        if let Some(pause) = self.pause {
            pause().await;
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SelectError::Cancelled);
        }
        (self.progress)(&Progress { stage: stage.to_string(), unit, done, total });
        Ok(())
    }

    /// Rows that may be picked (not already labeled).
    pub fn eligible(&self) -> usize {
        self.labeled.iter().filter(|l| !**l).count()
    }

    /// Rows already labeled.
    pub fn labeled_rows(&self) -> Vec<u32> {
        (0..self.n as u32).filter(|&i| self.labeled[i as usize]).collect()
    }

    /// The pseudo-label clusters (computed on first use).
    pub async fn clusters(&mut self) -> Result<&Clusters> {
        if self.clusters.is_none() {
            let c = crate::kmeans::pseudo_labels(self).await?;
            self.clusters = Some(c);
        }
        Ok(self.clusters.as_ref().expect("just set"))
    }

    /// Whether this pool is searched through the index rather than exactly.
    pub fn approximate(&self) -> bool {
        self.n > self.scale.exact_rows
    }

    /// The inverted-file index of the pool (built on first use, then shared).
    pub async fn ivf(&mut self) -> Result<Rc<Ivf>> {
        if self.ivf.is_none() {
            self.tick("index", Unit::Steps, 0, 1).await?;
            let ivf = Ivf::build(self.backend, &self.points, self.settings.seed).await?;
            self.ivf = Some(Rc::new(ivf));
        }
        Ok(Rc::clone(self.ivf.as_ref().expect("just set")))
    }

    /// The kNN graph with [`GRAPH_K`] neighbours, exact duplicates skipped (computed on
    /// first use, then shared): exact up to [`Scale::exact_rows`], through the index
    /// beyond.
    pub async fn knn(&mut self) -> Result<Rc<Knn>> {
        if self.knn.is_none() {
            let k = GRAPH_K.min(self.n.saturating_sub(1));
            let knn = if self.approximate() {
                let ivf = self.ivf().await?;
                self.tick("kNN graph", Unit::Steps, 0, 1).await?;
                ivf.knn(self.backend, &self.points, &self.group, k).await?
            } else {
                self.tick("kNN graph", Unit::Steps, 0, 1).await?;
                self.backend.top_k(&self.points, k, &self.group).await?
            };
            self.knn = Some(Rc::new(knn));
        }
        Ok(Rc::clone(self.knn.as_ref().expect("just set")))
    }

    /// The kNN graph when something already computed it.
    pub fn known_knn(&self) -> Option<Rc<Knn>> {
        self.knn.clone()
    }

    /// Training dynamics of the proxy head on the pseudo-labels (computed on first use).
    pub async fn dynamics(&mut self) -> Result<&ItemStats> {
        if self.dynamics.is_none() {
            let d = crate::dynamics::train(self).await?;
            self.dynamics = Some(d);
        }
        Ok(self.dynamics.as_ref().expect("just set"))
    }
}

/// The values of a metadata column, or an error listing the columns there are.
pub fn column<'d>(data: &'d Dataset, setting: &str, name: &str) -> Result<&'d [String]> {
    data.columns.iter().find(|c| c.name == name).map(|c| c.values.as_slice()).ok_or_else(|| {
        SelectError::UnknownColumn {
            setting: setting.into(),
            column: name.into(),
            available: data.columns.iter().map(|c| c.name.clone()).collect(),
        }
    })
}

/// Whether a flag column's text means "yes".
fn is_true(v: &str) -> bool {
    let v = v.trim().to_ascii_lowercase();
    !(v.is_empty() || v == "0" || v == "false" || v == "no" || v == "n" || v == "f")
}

/// For each row, the lowest row holding the same vector (bit for bit). Rows are bucketed
/// by a hash of their bits and compared only within a bucket, so no copy of the matrix
/// is made.
fn duplicate_groups(values: &[f32], rows: usize, dim: usize) -> Vec<u32> {
    use std::hash::{Hash, Hasher};
    let row = |i: usize| &values[i * dim..(i + 1) * dim];
    let mut buckets: HashMap<u64, Vec<u32>> = HashMap::with_capacity(rows);
    let same = |a: usize, b: usize| row(a).iter().zip(row(b)).all(|(x, y)| x.to_bits() == y.to_bits());
    (0..rows)
        .map(|i| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            row(i).iter().for_each(|v| v.to_bits().hash(&mut h));
            let bucket = buckets.entry(h.finish()).or_default();
            match bucket.iter().find(|&&j| same(i, j as usize)) {
                Some(&j) => j,
                None => {
                    bucket.push(i as u32);
                    i as u32
                }
            }
        })
        .collect()
}
