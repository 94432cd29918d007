//! What a plan run is asked for ([`Settings`]), what it reproduces from ([`Manifest`]) and
//! what it answers ([`Plan`]). All serde, so the CLI, the web worker and the manifest
//! file share one shape.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::backend::Storage;

/// A selection method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Facility-location seeds refined by spherical k-means steps (the default).
    Coverage,
    /// ELFS: pseudo-label training dynamics, double-end pruning, label-free β search.
    Elfs,
    /// CCS: stratified sampling over a difficulty score with a hard cutoff.
    Ccs,
    /// Uniform random.
    Random,
    /// k-center greedy (farthest-first traversal).
    KCenter,
    /// Items nearest their k-means centroid first.
    PrototypesEasy,
    /// Items farthest from their k-means centroid first.
    PrototypesHard,
    /// Facility location by lazy greedy (cosine similarity).
    FacilityLocation,
    /// D2 pruning: difficulty spread over a kNN graph.
    D2,
    /// TypiClust: the most typical item of each of `budget` clusters.
    Typiclust,
    /// ProbCover: greedy maximum coverage of δ-balls.
    Probcover,
}

impl Method {
    /// Every method, default first.
    pub const ALL: [Method; 11] = [
        Method::Coverage,
        Method::Elfs,
        Method::Ccs,
        Method::Random,
        Method::KCenter,
        Method::PrototypesEasy,
        Method::PrototypesHard,
        Method::FacilityLocation,
        Method::D2,
        Method::Typiclust,
        Method::Probcover,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Coverage => "coverage",
            Method::Elfs => "elfs",
            Method::Ccs => "ccs",
            Method::Random => "random",
            Method::KCenter => "k-center",
            Method::PrototypesEasy => "prototypes-easy",
            Method::PrototypesHard => "prototypes-hard",
            Method::FacilityLocation => "facility-location",
            Method::D2 => "d2",
            Method::Typiclust => "typiclust",
            Method::Probcover => "probcover",
        }
    }

    /// One line: what the method optimises.
    pub fn explain(self) -> &'static str {
        match self {
            Method::Coverage => {
                "default: covers the data (facility-location seeds, refined by 2 spherical k-means steps up to 15% of the pool; larger budgets on evenly spread data seed on the plain cosine), one prototype per region"
            }
            Method::Elfs => {
                "ELFS: hardest items by training dynamics on pseudo-labels, after dropping the hardest β share (β searched without labels)"
            }
            Method::Ccs => "CCS: equal picks from every difficulty stratum after cutting the hardest β share",
            Method::Random => "uniform random sample (the baseline every method must beat)",
            Method::KCenter => "diversity: each pick is the item farthest from all picks so far",
            Method::PrototypesEasy => "typical items: nearest their k-means centroid first",
            Method::PrototypesHard => "atypical items: farthest from their k-means centroid first",
            Method::FacilityLocation => "representativeness: maximises total similarity of every item to its nearest pick",
            Method::D2 => "difficulty and diversity: hard items first, each pick lowers its kNN neighbours",
            Method::Typiclust => "one most typical item (densest) from each of `budget` clusters, largest first",
            Method::Probcover => "maximum coverage: each pick covers the most not-yet-covered items within δ",
        }
    }

    /// Whether every prefix of the method's order is its plan for that budget.
    pub fn is_nested(self) -> bool {
        !matches!(self, Method::Coverage | Method::Elfs | Method::Ccs | Method::Typiclust)
    }

    /// Whether the seed changes the picks.
    pub fn is_stochastic(self) -> bool {
        matches!(self, Method::Random | Method::Ccs | Method::KCenter)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown method {s:?}; expected one of {}", names.join(", "))
        })
    }
}

/// A labeling budget: a number of items, or a percentage of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Budget {
    /// This many items (or cost units when a cost column is set).
    Count(u64),
    /// This percentage of the pool (of its total cost when a cost column is set).
    Percent(f64),
}

impl Budget {
    /// The budget in items (or cost units) for a pool of `total`, rounded to nearest,
    /// at least 1 and at most `total`.
    pub fn resolve(self, total: f64) -> f64 {
        let v = match self {
            Budget::Count(n) => n as f64,
            Budget::Percent(p) => (p / 100.0 * total).round(),
        };
        v.clamp(1.0_f64.min(total), total)
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n}"),
            Budget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for Budget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("budget {s:?}: expected a count like 500 or a percentage like 5%");
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("budget {s:?}: a percentage must be above 0 and at most 100"));
            }
            Ok(Budget::Percent(p))
        } else {
            let n: u64 = t.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(format!("budget {s:?}: must be at least 1"));
            }
            Ok(Budget::Count(n))
        }
    }
}

impl From<Budget> for String {
    fn from(b: Budget) -> String {
        b.to_string()
    }
}

impl TryFrom<String> for Budget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A per-item difficulty score usable by CCS and D2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreKind {
    /// Area under the margin from proxy training (low = hard; used negated).
    Aum,
    /// Error L2 norm over the first epochs (high = hard).
    El2n,
    /// Correct → incorrect flips between epochs (high = hard).
    Forgetting,
    /// Entropy of the final proxy prediction (high = hard).
    Entropy,
    /// Cosine distance to the item's k-means centroid (high = atypical).
    CentroidDistance,
}

impl ScoreKind {
    /// Every score.
    pub const ALL: [ScoreKind; 5] = [
        ScoreKind::Aum,
        ScoreKind::El2n,
        ScoreKind::Forgetting,
        ScoreKind::Entropy,
        ScoreKind::CentroidDistance,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Aum => "aum",
            ScoreKind::El2n => "el2n",
            ScoreKind::Forgetting => "forgetting",
            ScoreKind::Entropy => "entropy",
            ScoreKind::CentroidDistance => "centroid-distance",
        }
    }
}

impl FromStr for ScoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScoreKind::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ScoreKind::ALL.iter().map(|m| m.name()).collect();
            format!("unknown score {s:?}; expected one of {}", names.join(", "))
        })
    }
}

/// The proxy head trained on pseudo-labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// Softmax regression.
    Linear,
    /// One hidden ReLU layer.
    Mlp,
}

/// Balance the picks by a metadata column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    /// Column name.
    pub column: String,
    /// Target share per value; empty = equal shares over the values present.
    pub ratios: Vec<(String, f64)>,
}

/// Everything a plan run is asked for. Defaults are what `labelplan plan` uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Selection method.
    pub method: Method,
    /// Budgets to plan, in the order asked; the first is the one exported.
    pub budgets: Vec<Budget>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of pseudo-label clusters; `None` = choose by silhouette over `cluster_range`.
    pub clusters: Option<usize>,
    /// Range searched for the number of clusters, inclusive.
    pub cluster_range: (usize, usize),
    /// Classes the team's labelers will assign; the quality estimate learns a task with
    /// that many classes. `None` = as many as the pseudo-label clusters.
    #[serde(default)]
    pub task_classes: Option<usize>,
    /// Proxy head for training dynamics.
    pub head: HeadKind,
    /// Proxy training epochs.
    pub epochs: usize,
    /// SGD step size of the proxy head; `None` = the head's default (linear 5, MLP 0.1).
    pub learning_rate: Option<f32>,
    /// Folds: each item is scored by heads that did not train on it (1 = no folds).
    pub folds: usize,
    /// Input noise (standard deviation, on unit-norm embeddings) during proxy training.
    pub noise_std: f32,
    /// Difficulty score for CCS and D2.
    pub score: ScoreKind,
    /// Hard-cutoff share for ELFS and CCS; `None` = searched without labels.
    pub beta: Option<f64>,
    /// Column whose non-empty, non-"0"/"false"/"no" values mark already-labeled items.
    pub labeled_column: Option<String>,
    /// Balance by a metadata column.
    pub balance: Option<Balance>,
    /// Cosine similarity at or above which two items count as near-duplicates (at most
    /// one is picked). Exact duplicates are never both picked.
    pub dedup_threshold: Option<f32>,
    /// Column holding a per-item labeling cost; budgets are then in cost units.
    pub cost_column: Option<String>,
    /// Money per label (for the cost estimate).
    pub cost_per_label: f64,
    /// Labels per hour of the team (for the time estimate).
    pub labels_per_hour: f64,
    /// Recommend the budget where an extra 1% of the pool adds less than this many
    /// points of the estimate.
    pub gain_threshold: f64,
    /// Also report the budget that reaches this share (%) of the reachable quality.
    #[serde(default = "default_target_share")]
    pub target_share: f64,
    /// Cosine distance within which an item counts as covered.
    pub coverage_delta: f32,
    /// A cluster counts as hit with at least this many picks.
    pub cluster_hits: usize,
    /// Budgets of the budget curve (besides the requested ones).
    pub curve: Vec<Budget>,
    /// How the backend holds the pool's vectors (f16: half the GPU memory).
    #[serde(default)]
    pub storage: Storage,
}

fn default_target_share() -> f64 {
    95.0
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            method: Method::Coverage,
            budgets: vec![Budget::Percent(5.0)],
            seed: 0,
            clusters: None,
            cluster_range: (4, 20),
            task_classes: None,
            head: HeadKind::Linear,
            epochs: 20,
            learning_rate: None,
            folds: 2,
            noise_std: 0.1,
            score: ScoreKind::Aum,
            beta: None,
            labeled_column: None,
            balance: None,
            dedup_threshold: None,
            cost_column: None,
            cost_per_label: 0.10,
            labels_per_hour: 200.0,
            gain_threshold: 0.5,
            target_share: default_target_share(),
            coverage_delta: 0.1,
            cluster_hits: 1,
            curve: [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0].map(Budget::Percent).to_vec(),
            storage: Storage::F32,
        }
    }
}

/// The input a plan was computed from, and how it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// File name.
    pub name: String,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Rows used.
    pub rows: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Array or tensor read from a file holding several.
    pub array: Option<String>,
    /// Whether rows with NaN/Inf were dropped.
    pub drop_non_finite: bool,
    /// The sidecar of ids and metadata, when one was joined.
    pub sidecar: Option<SidecarInfo>,
}

impl InputInfo {
    /// For data that came from no file (benchmarks, tests): no hash, no load options.
    pub fn unhashed(data: &crate::Dataset) -> Self {
        InputInfo {
            name: data.source_name.clone(),
            bytes: data.source_bytes,
            sha256: String::new(),
            rows: data.rows,
            dim: data.dim,
            array: None,
            drop_non_finite: false,
            sidecar: None,
        }
    }
}

/// A sidecar file and how it was joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarInfo {
    /// File name.
    pub name: String,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Column joined on the embeddings' ids; `None` = by row order.
    pub join_by: Option<String>,
}

/// Everything needed to reproduce a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// "labelplan".
    pub tool: String,
    /// labelplan version that made the plan.
    pub version: String,
    /// The input.
    pub input: InputInfo,
    /// Backend that ran ("CPU" or the adapter).
    pub backend: String,
    /// Every setting, defaults included.
    pub settings: Settings,
}

impl Manifest {
    /// The manifest in a plan.json, or a bare manifest file, named `file` in messages.
    pub fn from_json(file: &str, text: &str) -> Result<Manifest, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{file}: not JSON ({e})"))?;
        let manifest = value.get("manifest").cloned().unwrap_or(value);
        serde_json::from_value(manifest).map_err(|e| format!("{file}: not a labelplan manifest ({e})"))
    }

    /// Refuses an input that differs from the one this plan was made from: another file
    /// (by SHA-256), another sidecar or join, or other load options.
    pub fn check_input(&self, info: &InputInfo) -> Result<(), String> {
        let want = &self.input;
        if want.sha256 != info.sha256 {
            return Err(format!(
                "{} has SHA-256 {}, but the manifest was made from {} with SHA-256 {}; a plan reproduces only from the same file",
                info.name, info.sha256, want.name, want.sha256
            ));
        }
        let side = |s: &Option<SidecarInfo>| s.as_ref().map(|s| (s.sha256.clone(), s.join_by.clone()));
        if side(&want.sidecar) != side(&info.sidecar) {
            let named = want
                .sidecar
                .as_ref()
                .map_or("no sidecar".to_string(), |s| format!("sidecar {} (SHA-256 {})", s.name, s.sha256));
            return Err(format!("the manifest was made with {named}; use the same sidecar and join column"));
        }
        if want.array != info.array || want.drop_non_finite != info.drop_non_finite {
            return Err(
                "the manifest was read with another array name or NaN-row option; use the same ones".into()
            );
        }
        Ok(())
    }
}

/// Coverage of the pool by a set of picks (distances are cosine distances, 1 − cos).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Mean distance from an item to its nearest pick (or labeled item).
    pub mean_distance: f64,
    /// 95th percentile of that distance.
    pub p95_distance: f64,
    /// Share of items within `coverage_delta` of a pick.
    pub within_delta: f64,
    /// Clusters with at least `cluster_hits` picks.
    pub clusters_hit: usize,
}

/// One point of the budget curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Items picked.
    pub count: usize,
    /// Percent of the eligible pool.
    pub percent: f64,
    /// Coverage at that budget.
    pub coverage: Coverage,
    /// The label-free estimate's raw score: the mean accuracy (%), over pseudo-tasks with
    /// the team's class count, of a probe trained on the picks against a sample's
    /// pseudo-labels. Not accuracy on the task: it is read as [`CurvePoint::share`].
    #[serde(alias = "quality")]
    pub estimate: f64,
    /// Share (%) of the reachable quality: the estimate over the fitted curve at 100% of
    /// the pool; `None` without a fit.
    #[serde(default)]
    pub share: Option<f64>,
    /// Money for the picks (their cost column's sum with one, else items × cost per
    /// label); 0 in plans written before it was recorded.
    #[serde(default)]
    pub cost: f64,
    /// Hours of labeling.
    #[serde(default)]
    pub hours: f64,
}

/// A saturating curve `estimate(p) = a − b·p^(−c)` over percent of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurveFit {
    /// Asymptote.
    pub a: f64,
    /// Scale.
    pub b: f64,
    /// Exponent.
    pub c: f64,
}

impl CurveFit {
    /// The fitted estimate at `percent` of the pool.
    pub fn at(&self, percent: f64) -> f64 {
        self.a - self.b * crate::det::pow(percent.max(1e-9), -self.c)
    }

    /// `estimate` as a share (%) of what labeling the whole pool reaches on this curve.
    pub fn share(&self, estimate: f64) -> Option<f64> {
        let whole = self.at(100.0);
        (whole > 0.0).then(|| (100.0 * estimate / whole).min(100.0))
    }
}

/// A budget read off the fitted curve: the recommended one (the knee) or the one that
/// reaches the target share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Items to label.
    pub count: usize,
    /// Percent of the eligible pool.
    pub percent: f64,
    /// Share (%) of the reachable quality there (fitted curve).
    #[serde(default)]
    pub share: f64,
    /// Money.
    pub cost: f64,
    /// Hours of labeling.
    pub hours: f64,
}

/// Picks of one metadata value or cluster against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCount {
    /// Value (or cluster number).
    pub value: String,
    /// Items in the pool.
    pub pool: usize,
    /// Items picked.
    pub picked: usize,
    /// Items asked for by a balance quota (when balancing by this column).
    pub target: Option<usize>,
}

/// The plan for one requested budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetPlan {
    /// As requested.
    pub budget: Budget,
    /// Items picked.
    pub count: usize,
    /// Picked 0-based input rows, in rank order.
    pub rows: Vec<u32>,
    /// Total cost of the picks (cost column, or count × cost per label).
    pub cost: f64,
    /// Hours of labeling at the team's throughput.
    pub hours: f64,
    /// Hard-cutoff share used (ELFS, CCS).
    pub beta: Option<f64>,
    /// Coverage of the pool.
    pub coverage: Coverage,
    /// The label-free estimate's raw score (see [`CurvePoint::estimate`]).
    #[serde(alias = "quality")]
    pub estimate: f64,
    /// Share (%) of the reachable quality (see [`CurvePoint::share`]).
    #[serde(default)]
    pub share: Option<f64>,
    /// Picks per pseudo-label cluster.
    pub per_cluster: Vec<GroupCount>,
    /// Picks per value of the balance column (when balancing).
    pub per_value: Vec<GroupCount>,
    /// Quotas that could not be met: values with fewer picks than their target.
    pub shortfall: Vec<GroupCount>,
}

/// How the pseudo-label clusters were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    /// Number of clusters.
    pub k: usize,
    /// "setting" or "silhouette".
    pub chosen_by: String,
    /// Silhouette (cosine, on a sample) of each K tried.
    pub tried: Vec<(usize, f64)>,
    /// Items per cluster.
    pub sizes: Vec<usize>,
}

/// The answer of a plan run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What reproduces it.
    pub manifest: Manifest,
    /// Items in the input.
    pub pool: usize,
    /// Items already labeled (never picked).
    pub labeled: usize,
    /// Pseudo-label clusters.
    pub clustering: Clustering,
    /// One per requested budget, in the order asked.
    pub budgets: Vec<BudgetPlan>,
    /// The budget curve, by count.
    pub curve: Vec<CurvePoint>,
    /// Fit through the curve's estimates.
    pub fit: Option<CurveFit>,
    /// Recommended budget: the knee, where one more percent of the pool adds less than
    /// `gain_threshold` points of the estimate.
    pub recommended: Option<Recommendation>,
    /// The smallest budget whose fitted share reaches `target_share`.
    #[serde(default)]
    pub reaches: Option<Recommendation>,
    /// Ranked rows: picks of the budgets in rank order, smallest budget first (for a
    /// nested method, simply the method's order).
    pub ranked: Vec<u32>,
    /// Pseudo-label cluster of every row.
    pub cluster: Vec<u32>,
    /// The method's per-item score where it has one (higher = picked earlier).
    pub score: Option<Vec<f32>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_and_resolve() {
        assert_eq!("5%".parse::<Budget>(), Ok(Budget::Percent(5.0)));
        assert_eq!("500".parse::<Budget>(), Ok(Budget::Count(500)));
        assert!("0".parse::<Budget>().is_err());
        assert!("150%".parse::<Budget>().is_err());
        assert!("five".parse::<Budget>().expect_err("not a budget").contains("expected a count"));
        assert_eq!(Budget::Percent(1.0).resolve(1257.0), 13.0);
        assert_eq!(Budget::Percent(2.0).resolve(1257.0), 25.0);
        assert_eq!(Budget::Count(5000).resolve(1257.0), 1257.0);
    }

    #[test]
    fn settings_round_trip() {
        let s = Settings::default();
        let json = serde_json::to_string(&s).expect("serialises");
        assert_eq!(serde_json::from_str::<Settings>(&json).expect("parses"), s);
        assert!(serde_json::from_str::<Settings>(r#"{"method":"coverage","typo":1}"#).is_err());
    }

    #[test]
    fn a_plan_json_reads_back_every_number_as_written() {
        // Found by the manifest fuzz target: serde_json's default float parsing read this
        // cost one ulp off, so a saved plan.json did not give back its own settings.
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fuzz/manifest/cost-one-ulp-off.json");
        let text = std::fs::read_to_string(path).expect("the finding");
        let manifest = Manifest::from_json("found.json", &text).expect("a manifest");
        assert_eq!(manifest.settings.cost_per_label, 1.0715660391465826e-75);
        let again = serde_json::to_string(&manifest).expect("serialises");
        let back = Manifest::from_json("again.json", &again).expect("reads back");
        assert_eq!(back.settings.to_query(), manifest.settings.to_query());
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        assert!("elf".parse::<Method>().expect_err("not a method").contains("coverage"));
    }
}
