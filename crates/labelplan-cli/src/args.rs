//! Command-line arguments and how they become [`Settings`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use labelplan_core::plan::{Balance, Budget, HeadKind, Method, ScoreKind, Settings, Storage};
use labelplan_run::BackendPolicy;

/// Which items of an unlabeled dataset to label, and what each budget buys.
#[derive(Debug, Parser)]
#[command(name = "labelplan", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plan which items to label for one or more budgets.
    ///
    /// Writes to DIR: plan.json (manifest, settings, budget curve, and for each budget
    /// the picked 0-based input rows), ranked.csv (rank, row, id, cluster, score, one
    /// in_BUDGET column per budget, metadata), selected_ids.txt and labelstudio.json
    /// (both for the first --budget).
    Plan(Box<PlanArgs>),
    /// List the selection methods and what each optimises.
    Methods,
}

/// `labelplan plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Embeddings: .npy, .npz, .safetensors, .parquet, .csv/.tsv or .jsonl.
    pub input: PathBuf,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Reproduce the plan in this plan.json (or manifest) exactly: its settings are used
    /// and the input must have the same SHA-256. Setting flags are then refused.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Ids and metadata columns: a CSV (.csv) or TSV file, one row per embedding row.
    #[arg(long, value_name = "FILE")]
    pub sidecar: Option<PathBuf>,
    /// Join the sidecar by this id column instead of by row order.
    #[arg(long, value_name = "COLUMN", requires = "sidecar")]
    pub join_by: Option<String>,
    /// Array or tensor to read from a .npz or .safetensors holding several.
    #[arg(long, value_name = "NAME")]
    pub array: Option<String>,
    /// Drop rows holding NaN or Inf instead of refusing the file.
    #[arg(long)]
    pub drop_non_finite: bool,
    /// Where the engine runs: auto (the faster of the GPU and the CPU on a short timed
    /// probe; the CPU without a GPU), gpu (any adapter, software ones such as lavapipe
    /// included) or cpu. The manifest records which ran.
    #[arg(long, value_name = "auto|gpu|cpu", default_value_t = BackendPolicy::Auto)]
    pub backend: BackendPolicy,
    /// Settings (all optional; defaults shown by --help).
    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Flags that set [`Settings`]; `None` = default (or the manifest's).
#[derive(Debug, Args, Default)]
pub struct SettingArgs {
    /// Budget: a count (500) or a percentage of the eligible pool (5%). Repeatable; the
    /// first is the one exported to selected_ids.txt and labelstudio.json. Default 5%.
    #[arg(long, value_name = "N|P%")]
    pub budget: Vec<Budget>,
    /// Selection method (see `labelplan methods`). Default: coverage.
    #[arg(long)]
    pub method: Option<Method>,
    /// Seed of every random choice. Default 0.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Pseudo-label clusters K. Default: chosen by silhouette over --cluster-range.
    #[arg(long, value_name = "K")]
    pub clusters: Option<usize>,
    /// Range searched for K, as LO-HI. Default 4-20.
    #[arg(long, value_name = "LO-HI", value_parser = parse_range)]
    pub cluster_range: Option<(usize, usize)>,
    /// Classes your labelers will assign (2 for spam or not): the quality estimate learns
    /// a task with that many classes. Default: as many as the pseudo-label clusters.
    #[arg(long, value_name = "N")]
    pub task_classes: Option<usize>,
    /// Proxy head for training dynamics: linear or mlp. Default linear.
    #[arg(long)]
    pub head: Option<HeadKind>,
    /// Proxy training epochs. Default 20.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// SGD step size of the proxy head. Default: linear 5, mlp 0.1.
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// Folds: each item is tracked by heads that do not train on it. Default 2.
    #[arg(long)]
    pub folds: Option<usize>,
    /// Input noise norm during proxy training (embeddings have norm 1). Default 0.1.
    #[arg(long)]
    pub noise: Option<f32>,
    /// Difficulty score for ccs and d2: aum, el2n, forgetting, entropy, centroid-distance.
    /// Default aum.
    #[arg(long)]
    pub score: Option<ScoreKind>,
    /// Hard cutoff β (share of hardest items dropped) for elfs and ccs. Default: searched
    /// without labels.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Metadata column marking already-labeled rows (non-empty and not 0/false/no):
    /// never picked, and they count as covering their neighbourhood.
    #[arg(long, value_name = "COLUMN")]
    pub labeled_column: Option<String>,
    /// Balance the picks by a metadata column: COLUMN (equal shares) or
    /// COLUMN=value:ratio,value:ratio. Shortfalls are reported in plan.json.
    #[arg(long, value_name = "SPEC")]
    pub balance: Option<Balance>,
    /// Near-duplicate threshold: two items with cosine similarity at or above it are never
    /// both picked. Exact duplicates never are, without this flag too.
    #[arg(long, value_name = "COSINE")]
    pub dedup: Option<f32>,
    /// Metadata column with a per-item labeling cost; budgets are then in cost units.
    #[arg(long, value_name = "COLUMN")]
    pub cost_column: Option<String>,
    /// Money per label, for the cost estimate. Default 0.10.
    #[arg(long)]
    pub cost_per_label: Option<f64>,
    /// Labels per hour of the team, for the time estimate. Default 200.
    #[arg(long)]
    pub labels_per_hour: Option<f64>,
    /// Recommend the budget where one more percent of the pool adds less than this many
    /// points of the label-free estimate. Default 0.5.
    #[arg(long, value_name = "POINTS")]
    pub gain_threshold: Option<f64>,
    /// Also report the budget that reaches this share (%) of the reachable quality
    /// (what labeling the whole pool would give, estimated without labels). Default 95.
    #[arg(long, value_name = "PERCENT")]
    pub target_share: Option<f64>,
    /// Cosine distance within which an item counts as covered. Default 0.1.
    #[arg(long)]
    pub coverage_delta: Option<f64>,
    /// Picks a cluster needs to count as hit. Default 1.
    #[arg(long)]
    pub cluster_hits: Option<usize>,
    /// Budgets of the budget curve, comma-separated. Default 1%,2%,5%,10%,20%,30%,50%.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub curve: Option<Vec<Budget>>,
    /// How the pool's vectors are held: f32, or f16 (half the GPU memory; the picks can
    /// differ slightly, see docs/quality.md). Default f32.
    #[arg(long)]
    pub storage: Option<Storage>,
}

/// `--cluster-range`, read by its field in core (as the page's form and link read it).
fn parse_range(s: &str) -> Result<(usize, usize), String> {
    let mut settings = Settings::default();
    let field = labelplan_core::settings::field("cluster-range").expect("the cluster-range field");
    (field.set)(&mut settings, s)?;
    Ok(settings.cluster_range)
}

impl SettingArgs {
    /// Names of the flags given (to refuse them next to --manifest).
    pub fn given(&self) -> Vec<&'static str> {
        let mut g = Vec::new();
        let mut check = |set: bool, name| {
            if set {
                g.push(name);
            }
        };
        check(!self.budget.is_empty(), "--budget");
        check(self.method.is_some(), "--method");
        check(self.seed.is_some(), "--seed");
        check(self.clusters.is_some(), "--clusters");
        check(self.cluster_range.is_some(), "--cluster-range");
        check(self.task_classes.is_some(), "--task-classes");
        check(self.head.is_some(), "--head");
        check(self.epochs.is_some(), "--epochs");
        check(self.folds.is_some(), "--folds");
        check(self.learning_rate.is_some(), "--learning-rate");
        check(self.noise.is_some(), "--noise");
        check(self.score.is_some(), "--score");
        check(self.beta.is_some(), "--beta");
        check(self.labeled_column.is_some(), "--labeled-column");
        check(self.balance.is_some(), "--balance");
        check(self.dedup.is_some(), "--dedup");
        check(self.cost_column.is_some(), "--cost-column");
        check(self.cost_per_label.is_some(), "--cost-per-label");
        check(self.labels_per_hour.is_some(), "--labels-per-hour");
        check(self.gain_threshold.is_some(), "--gain-threshold");
        check(self.target_share.is_some(), "--target-share");
        check(self.coverage_delta.is_some(), "--coverage-delta");
        check(self.cluster_hits.is_some(), "--cluster-hits");
        check(self.curve.is_some(), "--curve");
        check(self.storage.is_some(), "--storage");
        g
    }

    /// The settings: defaults overridden by the flags given.
    pub fn settings(self) -> Settings {
        let d = Settings::default();
        Settings {
            method: self.method.unwrap_or(d.method),
            budgets: if self.budget.is_empty() { d.budgets } else { self.budget },
            seed: self.seed.unwrap_or(d.seed),
            clusters: self.clusters.or(d.clusters),
            cluster_range: self.cluster_range.unwrap_or(d.cluster_range),
            task_classes: self.task_classes.or(d.task_classes),
            head: self.head.unwrap_or(d.head),
            epochs: self.epochs.unwrap_or(d.epochs),
            folds: self.folds.unwrap_or(d.folds),
            learning_rate: self.learning_rate.or(d.learning_rate),
            noise_std: self.noise.unwrap_or(d.noise_std),
            score: self.score.unwrap_or(d.score),
            beta: self.beta.or(d.beta),
            labeled_column: self.labeled_column.or(d.labeled_column),
            balance: self.balance.or(d.balance),
            dedup_threshold: self.dedup.or(d.dedup_threshold),
            cost_column: self.cost_column.or(d.cost_column),
            cost_per_label: self.cost_per_label.unwrap_or(d.cost_per_label),
            labels_per_hour: self.labels_per_hour.unwrap_or(d.labels_per_hour),
            gain_threshold: self.gain_threshold.unwrap_or(d.gain_threshold),
            target_share: self.target_share.unwrap_or(d.target_share),
            coverage_delta: self.coverage_delta.map_or(d.coverage_delta, |v| v as f32),
            cluster_hits: self.cluster_hits.unwrap_or(d.cluster_hits),
            curve: self.curve.unwrap_or(d.curve),
            storage: self.storage.unwrap_or(d.storage),
        }
    }
}
