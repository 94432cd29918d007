//! What a progress count counts, so every front end can say "3 of 10 epochs" rather than
//! a bare fraction.

use serde::{Deserialize, Serialize};

/// The unit of a progress report's `done` and `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Bytes of a file (reading, hashing).
    Bytes,
    /// Budgets of the plan and its curve (selecting, estimating).
    Budgets,
    /// Cluster counts K tried (clustering).
    ClusterCounts,
    /// Items picked so far (greedy selection).
    Picks,
    /// Values of β searched (CCS).
    Betas,
    /// Training epochs (training dynamics, the map's layout).
    Epochs,
    /// A stage with no count of its own: 0 of 1 while it runs.
    Steps,
    /// Tokens of a prompt read by the language model.
    Tokens,
}

impl Unit {
    /// The unit's word for `n` of it ("1 epoch", "3 epochs"); bytes are for the caller
    /// to format.
    pub fn word(self, n: u64) -> &'static str {
        let (one, many) = match self {
            Unit::Bytes => ("byte", "bytes"),
            Unit::Budgets => ("budget", "budgets"),
            Unit::ClusterCounts => ("cluster count", "cluster counts"),
            Unit::Picks => ("pick", "picks"),
            Unit::Betas => ("β value", "β values"),
            Unit::Epochs => ("epoch", "epochs"),
            Unit::Steps => ("step", "steps"),
            Unit::Tokens => ("token", "tokens"),
        };
        if n == 1 {
            one
        } else {
            many
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Unit;

    #[test]
    fn words_agree_with_the_count() {
        assert_eq!(Unit::Epochs.word(1), "epoch");
        assert_eq!(Unit::Epochs.word(0), "epochs");
        assert_eq!(Unit::Betas.word(12), "β values");
    }
}
