//! The typed messages between the UI and the compute worker.

use labelplan_core::draw::{Frame, Style};
use labelplan_core::plan::{Plan, Settings};
use labelplan_core::progress::Unit;
use labelplan_core::read::SidecarJoin;
use labelplan_core::write::Export;
use labelplan_core::{LoadOptions, Summary};
use labelplan_run::BackendPolicy;
use serde::{Deserialize, Serialize};

/// A file handed to the worker: the browser's `Blob` (a `File` is one) and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHandle {
    /// File name shown in messages.
    pub name: String,
    /// The bytes, read by the worker in chunks.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub blob: web_sys::Blob,
}

/// A message with the number the page gave its request: every answer carries its
/// request's number back, so the page tells a running job's progress and outcome from a
/// query's answer, and ignores what a replaced job still says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tagged<T> {
    /// The request's number (the page counts from 1).
    pub id: u64,
    /// The request or answer.
    pub body: T,
}

/// What the UI asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Parse this embeddings file; on success it replaces the loaded dataset.
    Load {
        /// The file.
        file: FileHandle,
        /// How to read it.
        options: LoadOptions,
    },
    /// Fetch the built-in sample from this URL (relative to the page) and load it.
    LoadSample {
        /// Where the sample is served.
        url: String,
    },
    /// Join ids and metadata from a CSV/TSV to the loaded dataset.
    AttachSidecar {
        /// The sidecar file.
        file: FileHandle,
        /// How rows meet.
        join: SidecarJoin,
    },
    /// Plan the loaded dataset with these settings.
    Plan {
        /// Method, budgets and the rest, as on the command line.
        settings: Box<Settings>,
        /// A plan to compare with the shown one: it gets no map and does not become the
        /// plan that exports, hovers and searches read.
        compare: bool,
    },
    /// The text of one export of the last plan (answered by [`Response::Exported`]). A
    /// query: it runs beside a load or plan and never cancels it.
    Export(Export),
    /// The ids and metadata of rows of the last plan's dataset (answered by
    /// [`Response::Described`]): what hovering a point or a page of the ranked table
    /// shows. A query, like `Export`.
    Describe {
        /// The rows.
        rows: Vec<u32>,
    },
    /// A metadata column of the last plan's dataset as categories, to colour the map by
    /// (answered by [`Response::Column`]). A query.
    Column {
        /// The column's name.
        name: String,
    },
    /// The row whose id is this text, or the row with this number (answered by
    /// [`Response::Found`]). A query.
    Find {
        /// What the user typed.
        text: String,
    },
    /// A frame of the last plan's map drawn on the GPU plans run on (answered by
    /// [`Response::Drawn`]). A query.
    Draw(MapDraw),
    /// Run plans on this backend from now on (answered by [`Response::Backend`]; `Auto`
    /// times the probe on both once). The page sends it first, with the link's choice.
    Backend(BackendPolicy),
    /// Stop the running load, plan or generation; the dataset and model loaded before it
    /// stay.
    Cancel,
    /// Load a language model (answered by [`Response::ModelLoaded`]): a job.
    LoadModel(ModelSource),
    /// Continue a prompt or a conversation with the loaded model, streaming
    /// [`Response::Token`]s and ending with [`Response::Generated`]: a job.
    Generate(Box<Generate>),
    /// Perplexity on the user's text of the dense model and of each set (answered by
    /// [`Response::Measured`]): a job.
    Measure(Box<Measure>),
    /// The FFN's and a decoded token's time against the share of experts off, on this
    /// device (answered by [`Response::Timed`]): a job.
    TimeSparsity(TimeSparsity),
}

/// What to time: where, and for how many rounds (each row keeps its best).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSparsity {
    /// WebGPU, else the CPU.
    pub on_gpu: bool,
    /// Rounds over every row.
    pub rounds: u32,
}

/// The timing's rows, dense first, and where they ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedReport {
    /// "WebGPU: adapter" or "CPU", with why the GPU was not used if it was asked for.
    pub backend: String,
    /// One row per share of experts off.
    pub rows: Vec<labelplan_lm::speed::SpeedRow>,
}

/// What to measure: the first `tokens` tokens of `text`, dense and with each set, on
/// the CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// The text.
    pub text: String,
    /// Tokens of it at most.
    pub tokens: u32,
    /// The sets beside dense.
    pub sets: Vec<SparsityChoice>,
}

/// Where a language model comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ModelSource {
    /// Served by the page's origin (kept in the browser's cache storage after the first
    /// download).
    Url(String),
    /// A GGUF the user dropped.
    File(FileHandle),
}

/// What to generate, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generate {
    /// The conversation so far as (role, text); the last is the user's turn. Without
    /// `chat`, the one text is the prompt as it is.
    pub messages: Vec<(String, String)>,
    /// Wrap the messages in the model's chat template.
    pub chat: bool,
    /// 0 is greedy.
    pub temperature: f32,
    /// Seeds the sampling.
    pub seed: u64,
    /// New tokens at most.
    pub max_tokens: u32,
    /// Run on WebGPU when there is one (else the CPU).
    pub on_gpu: bool,
    /// Run each FFN's experts as this shipped sparsity set chooses (`None`: the dense
    /// model as loaded).
    pub sparsity: Option<SparsityChoice>,
}

/// A shipped sparsity set, as the page's manifest names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparsityChoice {
    /// Where it is served (absolute).
    pub url: String,
    /// Its SHA-256 (hex): a file that does not match is refused.
    pub sha256: String,
    /// Its label.
    pub label: String,
}

/// Which experts each token of a sparse generation used, and what the FFN cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpertUse {
    /// Experts per layer.
    pub experts: u32,
    /// The text of each token fed (the prompt's and the answer's): the heatmap's columns.
    pub tokens: Vec<String>,
    /// `used[token][layer]`: bit e set iff expert e ran.
    #[serde(with = "crate::codec::as_bytes")]
    pub used: Vec<Vec<u64>>,
    /// FFN multiply-adds ×2 per token, dense.
    pub dense_flops: f64,
    /// The same with the chosen experts, averaged over the tokens (the router included).
    pub sparse_flops: f64,
}

/// The loaded language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Its name.
    pub name: String,
    /// Weights in all.
    pub parameters: u64,
    /// Its file's size.
    pub bytes: u64,
    /// Transformer blocks, width and vocabulary, as one line.
    pub shape: String,
    /// Where its bytes came from.
    pub provenance: Provenance,
    /// The WebGPU adapter, or why there is none.
    pub gpu: Result<String, String>,
}

/// Where a fetched file's bytes came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Provenance {
    /// The browser's cache storage (no download).
    Cache,
    /// Downloaded from the page's origin; `Err` says why the browser kept no copy (the
    /// next visit downloads it again).
    Downloaded(Result<(), String>),
    /// A file the user chose.
    File,
}

impl Provenance {
    /// The words the page shows for it.
    pub fn describe(&self) -> String {
        match self {
            Self::Cache => "from the browser's cache".into(),
            Self::Downloaded(Ok(())) => "downloaded from this site, kept in the browser's cache".into(),
            Self::Downloaded(Err(why)) => {
                format!("downloaded from this site; the browser kept no copy ({why}), so the next visit downloads it again")
            }
            Self::File => "read from your file".into(),
        }
    }
}

/// How a generation went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// Tokens of the prompt, and how many of them the cache already held.
    pub prompt_tokens: u32,
    /// Prompt tokens the cache held from the turn before (not read again).
    pub reused_tokens: u32,
    /// The new tokens.
    pub tokens: Vec<u32>,
    /// Milliseconds from the request to the first new token.
    pub first_token_ms: f64,
    /// New tokens per second after the first.
    pub tokens_per_second: f64,
    /// Where it ran.
    pub backend: String,
    /// Stopped by the user before the end.
    pub stopped: bool,
    /// With a sparsity set: which experts ran.
    pub experts: Option<ExpertUse>,
}

/// A frame of the map, as the page's view and slider set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapDraw {
    /// Counts the page's frames: the answer carries it back.
    pub seq: u64,
    /// Canvas size and where the map lands on it.
    pub frame: Frame,
    /// The first picks of the slider's order that are highlighted.
    pub count: u32,
    /// The metadata column the points are coloured by (`None`: the clusters).
    pub colour_by: Option<String>,
    /// The ringed row.
    pub selected: Option<u32>,
    /// Sizes and colours.
    pub style: Style,
}

/// Where the worker computes, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    /// The WebGPU adapter's name, or why there is none.
    pub gpu: Result<String, String>,
    /// The user's choice.
    pub policy: BackendPolicy,
    /// Whether plans run on the GPU (else the CPU).
    pub on_gpu: bool,
    /// Why, in words ("the probe took 640 ms on the GPU and 15 ms on the CPU").
    pub why: String,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The message shown to the user.
    pub message: String,
    /// Rows holding NaN/Inf, when dropping them would let the file load.
    pub non_finite_rows: Option<u64>,
    /// The plan setting refused (its key), for the form to show at the field.
    pub setting: Option<String>,
}

impl Failure {
    /// A failure that is only a message (no retry to offer).
    pub fn message(message: String) -> Self {
        Failure { message, non_finite_rows: None, setting: None }
    }
}

/// What the worker tells the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Where plans run now (after a [`Request::Backend`]).
    Backend(BackendStatus),
    /// Work in progress.
    Progress {
        /// What is being done.
        stage: String,
        /// What `done` and `total` count.
        unit: Unit,
        /// Units done.
        done: u64,
        /// Units in all; 0 when the stage has no count.
        total: u64,
    },
    /// A dataset is loaded (or changed by a sidecar); its summary.
    Loaded {
        /// The numbers for the summary panel.
        summary: Summary,
        /// Which backend computed the norms.
        norms_on: String,
        /// Seconds the parse took.
        parse_seconds: f64,
    },
    /// A plan of the loaded dataset.
    Planned {
        /// The plan, manifest included: one byte string (see `codec::as_bytes`).
        #[serde(with = "crate::codec::as_bytes")]
        plan: Box<Plan>,
        /// Where each row sits on the map, `rows × 2` (one byte string too).
        #[serde(with = "crate::codec::as_bytes")]
        map: Vec<f32>,
        /// The order the map's slider highlights picks in (see `PoolMap::order`).
        #[serde(with = "crate::codec::as_bytes")]
        order: Vec<u32>,
        /// Seconds the plan took.
        seconds: f64,
        /// Anything the user should know about how it ran (a GPU failure and CPU rerun).
        note: Option<String>,
        /// Whether it was asked for as a comparison.
        compare: bool,
    },
    /// An export of the last plan, to save as a file.
    Exported {
        /// File name.
        name: String,
        /// Media type.
        mime: String,
        /// The file's text, as the CLI writes it.
        text: String,
    },
    /// Rows of the last plan's dataset.
    Described(Vec<Item>),
    /// A metadata column as categories.
    Column(ColumnCodes),
    /// The answer to a [`Request::Find`].
    Found {
        /// What was looked for.
        text: String,
        /// The row, if any matched.
        row: Option<u32>,
    },
    /// A frame of the map: RGBA rows of `frame.width × 4` bytes, or why the GPU could
    /// not draw it (the page then paints it itself).
    Drawn {
        /// The request's [`MapDraw::seq`].
        seq: u64,
        /// The frame drawn.
        frame: Frame,
        /// The pixels, as one byte string.
        #[serde(with = "crate::codec::as_bytes")]
        pixels: Result<Vec<u8>, String>,
    },
    /// The request failed; any dataset loaded before is still there.
    Failed(Failure),
    /// The load or plan was cancelled; any dataset loaded before is still there.
    Cancelled,
    /// A language model is loaded.
    ModelLoaded(ModelInfo),
    /// The text generated so far (all of it: a character may span tokens) and its tokens.
    Token {
        /// The new text so far.
        text: String,
        /// Its tokens.
        tokens: Vec<u32>,
    },
    /// A generation ended.
    Generated(Generated),
    /// Perplexities measured on the user's text: dense first, then each set.
    Measured(Vec<labelplan_lm::shipped::Measured>),
    /// The FFN and decoding timed against the share of experts off.
    Timed(SpeedReport),
}

/// One row of a dataset as hovering shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The row (0-based).
    pub row: u32,
    /// Its id, when the file or a sidecar has ids.
    pub id: Option<String>,
    /// Its metadata: (column, value), in the columns' order.
    pub fields: Vec<(String, String)>,
}

/// A metadata column as at most [`ColumnCodes::MOST`] categories: the most frequent
/// values, the rest gathered as "other".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnCodes {
    /// The column's name.
    pub name: String,
    /// Category names with their row counts, most frequent first ("other" last).
    pub categories: Vec<(String, usize)>,
    /// Each row's category (an index into `categories`), as one byte string.
    #[serde(with = "crate::codec::as_bytes")]
    pub codes: Vec<u32>,
}

impl ColumnCodes {
    /// Categories with a colour of their own (the map's palette holds 12; the 12th is
    /// "other").
    pub const MOST: usize = 11;

    /// The categories of `values`: the [`Self::MOST`] most frequent (ties by first
    /// appearance), then "other" for the rest.
    pub fn of(name: &str, values: &[String]) -> ColumnCodes {
        let mut counts: Vec<(String, usize)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for v in values {
            let at = *index.entry(v.as_str()).or_insert_with(|| {
                counts.push((v.clone(), 0));
                counts.len() - 1
            });
            counts[at].1 += 1;
        }
        let mut order: Vec<usize> = (0..counts.len()).collect();
        order.sort_by(|&a, &b| counts[b].1.cmp(&counts[a].1).then(a.cmp(&b)));
        let mut code_of = vec![Self::MOST as u32; counts.len()];
        let mut categories: Vec<(String, usize)> = Vec::new();
        for (rank, &c) in order.iter().enumerate() {
            if rank < Self::MOST || order.len() == Self::MOST + 1 {
                code_of[c] = categories.len() as u32;
                categories.push(counts[c].clone());
            }
        }
        let other: usize = order.iter().skip(categories.len()).map(|&c| counts[c].1).sum();
        if other > 0 {
            categories.push(("other".into(), other));
        }
        let codes = values.iter().map(|v| code_of[index[v.as_str()]]).collect();
        ColumnCodes { name: name.to_owned(), categories, codes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_values_get_their_own_colour_and_the_rest_are_other() {
        let values: Vec<String> = ["b", "a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let c = ColumnCodes::of("site", &values);
        assert_eq!(c.categories, vec![("b".into(), 2), ("a".into(), 1), ("c".into(), 1)]);
        assert_eq!(c.codes, vec![0, 1, 0, 2]);
        let many: Vec<String> = (0..20).map(|i| format!("v{}", i % 14)).collect();
        let c = ColumnCodes::of("x", &many);
        assert_eq!(c.categories.len(), ColumnCodes::MOST + 1);
        assert_eq!(c.categories.last(), Some(&("other".to_string(), 3)), "v11, v12, v13 once each");
        assert!(c.codes.iter().all(|&k| (k as usize) < c.categories.len()));
        assert_eq!(c.codes[13], ColumnCodes::MOST as u32);
    }

    #[test]
    fn a_download_the_browser_did_not_keep_says_why_and_what_it_means() {
        let refused = Provenance::Downloaded(Err("QuotaExceededError: Quota exceeded.".into()));
        assert_eq!(
            refused.describe(),
            "downloaded from this site; the browser kept no copy (QuotaExceededError: Quota exceeded.), so the next visit downloads it again"
        );
        assert_eq!(
            Provenance::Downloaded(Ok(())).describe(),
            "downloaded from this site, kept in the browser's cache"
        );
        assert_eq!(Provenance::File.describe(), "read from your file");
    }
}
