//! Perplexity on held-out text: the exponential of the mean negative log-likelihood of
//! each token given the ones before it (libm's functions: the same value natively and
//! in the browser).

/// Where the held-out slice of Moby Dick starts (its first sentence).
pub const HELD_OUT_START: &str = "Call me Ishmael";

/// The evaluation text of `text`: from [`HELD_OUT_START`] on when the text has it (the
/// held-out Moby Dick), else all of it.
pub fn held_out(text: &str) -> &str {
    text.find(HELD_OUT_START).map_or(text, |at| &text[at..])
}

/// A running perplexity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perplexity {
    nll: f64,
    count: usize,
}

impl Perplexity {
    /// Adds the prediction of `target` by `logits`.
    pub fn add(&mut self, logits: &[f32], target: u32) {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = logits.iter().map(|&l| libm::exp(l as f64 - max)).sum();
        self.nll += max + libm::log(sum) - logits[target as usize] as f64;
        self.count += 1;
    }

    /// Tokens predicted so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// exp(mean negative log-likelihood); NaN before any prediction.
    pub fn value(&self) -> f64 {
        libm::exp(self.nll / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_logits_give_the_vocabulary_size() {
        let mut p = Perplexity::default();
        p.add(&[0.5; 8], 3);
        p.add(&[2.0; 8], 0);
        assert!((p.value() - 8.0).abs() < 1e-9);
        let mut sure = Perplexity::default();
        sure.add(&[0.0, 100.0, 0.0], 1);
        assert!((sure.value() - 1.0).abs() < 1e-9);
        assert_eq!(held_out("xx Call me Ishmael. Some"), "Call me Ishmael. Some");
    }
}

/// Perplexity and FFN sparsity of `model` with `sparsity` over a text, fed one (token,
/// next token) pair at a time so that a caller may pause between them (the page's
/// worker does).
#[derive(Debug)]
pub struct SparseEval<'a> {
    model: &'a crate::Model,
    sparsity: &'a crate::sparse::Sparsity,
    cache: crate::Cache,
    perplexity: Perplexity,
    off: usize,
    all: usize,
}

impl<'a> SparseEval<'a> {
    /// A run over at most `positions` tokens.
    pub fn new(model: &'a crate::Model, sparsity: &'a crate::sparse::Sparsity, positions: usize) -> Self {
        let cache = model.cache(positions);
        SparseEval { model, sparsity, cache, perplexity: Perplexity::default(), off: 0, all: 0 }
    }

    /// Feeds `token` and scores the model's prediction of `next`.
    pub fn feed(&mut self, token: u32, next: u32) {
        let (off, all) = (&mut self.off, &mut self.all);
        let logits = self.model.forward_with(token, &mut self.cache, self.sparsity, |_, ffn| {
            *off += ffn.active.iter().filter(|&&a| !a).count();
            *all += ffn.active.len();
        });
        self.perplexity.add(&logits, next);
    }

    /// The perplexity so far.
    pub fn perplexity(&self) -> Perplexity {
        self.perplexity
    }

    /// The share of experts that did not run so far.
    pub fn sparsity(&self) -> f64 {
        self.off as f64 / self.all.max(1) as f64
    }
}
