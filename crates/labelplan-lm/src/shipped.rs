//! The sparsity sets the page ships (`web/sparsity/`): their manifest, which names each
//! file with its SHA-256 and holds the measured evaluation of every set the page's chart
//! shows (written by `labelplan-lm eval --routers … --manifest`).

use serde::{Deserialize, Serialize};

use crate::sparse::{SparseSet, Sparsity};

/// `web/sparsity/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetsManifest {
    /// The GGUF file the sets were made for.
    pub model: String,
    /// What the evaluation read: the held-out text and how many tokens.
    pub text: String,
    /// The sets in the manifest's folder.
    pub sets: Vec<ShippedSet>,
    /// Perplexity and FFN sparsity of the dense model and of every set measured.
    pub evaluation: Vec<Measured>,
}

/// One shipped set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippedSet {
    /// Its file, beside the manifest.
    pub file: String,
    /// What the page calls it.
    pub label: String,
    /// `lte`, `posthoc` or `thresholds`.
    pub kind: String,
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// One row of the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// What the row measured (a set's label, or `dense`).
    pub label: String,
    /// `dense`, `lte`, `lte-stage1`, `posthoc` or `thresholds`.
    pub kind: String,
    /// Perplexity on the held-out text.
    pub perplexity: f64,
    /// Share of experts that did not run.
    pub sparsity: f64,
}

impl SparseSet {
    /// Its kind, from how it was made (`lte`, `posthoc`, `thresholds`).
    pub fn kind(&self) -> String {
        self.about.get("kind").cloned().unwrap_or_else(|| match self.sparsity {
            Sparsity::Thresholds(_) => "thresholds".into(),
            _ => "routers".into(),
        })
    }

    /// What the page and the tables call it.
    pub fn label(&self) -> String {
        let about = |key: &str| self.about.get(key).map_or("?", String::as_str);
        let target =
            || format!("{:.0}%", about("target_sparsity").parse::<f64>().unwrap_or(f64::NAN) * 100.0);
        match self.kind().as_str() {
            "lte" => format!("LTE, η = {}", about("eta")),
            "posthoc" => format!("post-hoc router, {} target", target()),
            "thresholds" => format!("thresholds, {} target", target()),
            other => other.to_owned(),
        }
    }
}
