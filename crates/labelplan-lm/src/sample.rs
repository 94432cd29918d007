//! Choosing the next token from the logits: greedy, or drawn at a temperature from the
//! smallest set of tokens whose probability reaches `top_p` (nucleus sampling), with a
//! seeded ChaCha stream so a seed gives the same text natively and in the browser.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 picks the most likely token (greedy); higher flattens the distribution.
    pub temperature: f32,
    /// The probability mass drawn from (1 keeps every token).
    pub top_p: f32,
    /// Seeds the draws.
    pub seed: u64,
}

impl Sampling {
    /// The most likely token every time.
    pub const GREEDY: Sampling = Sampling { temperature: 0.0, top_p: 1.0, seed: 0 };
}

/// Draws tokens as [`Sampling`] says.
pub struct Sampler {
    settings: Sampling,
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler whose draws start from the settings' seed.
    pub fn new(settings: Sampling) -> Sampler {
        Sampler { settings, rng: ChaCha8Rng::seed_from_u64(settings.seed) }
    }

    /// The next token.
    pub fn next(&mut self, logits: &[f32]) -> u32 {
        let Sampling { temperature, top_p, .. } = self.settings;
        if temperature <= 0.0 {
            return crate::model::argmax(logits);
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut weighted: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, libm::expf((l - max) / temperature)))
            .collect();
        let total: f32 = weighted.iter().map(|w| w.1).sum();
        // Most likely first (ties by id), then the nucleus: the shortest prefix whose mass
        // reaches top_p.
        weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut mass = 0.0;
        let keep = weighted
            .iter()
            .position(|w| {
                mass += w.1 / total;
                mass >= top_p
            })
            .map_or(weighted.len(), |i| i + 1);
        weighted.truncate(keep);
        let kept: f32 = weighted.iter().map(|w| w.1).sum();
        // A uniform draw in [0, kept) from 24 random bits.
        let mut u = (self.rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * kept;
        for &(id, w) in &weighted {
            if u < w {
                return id;
            }
            u -= w;
        }
        weighted.last().map_or(0, |w| w.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_and_a_seed_repeats_its_draws() {
        let logits = [0.1, 2.0, 1.9, -3.0];
        assert_eq!(Sampler::new(Sampling::GREEDY).next(&logits), 1);
        let warm = Sampling { temperature: 1.0, top_p: 1.0, seed: 7 };
        let draws = |s: Sampling| {
            let mut sampler = Sampler::new(s);
            (0..200).map(|_| sampler.next(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draws(warm), draws(warm), "the same seed, the same tokens");
        assert_ne!(draws(warm), draws(Sampling { seed: 8, ..warm }));
        let seen = draws(warm);
        assert!(seen.contains(&1) && seen.contains(&2) && seen.contains(&0), "{seen:?}");
        // top_p 0.5 keeps only the most likely token here (its share is 48%; with the
        // second the kept mass passes one half, so both stay): never 0 or 3.
        let nucleus = draws(Sampling { top_p: 0.5, ..warm });
        assert!(nucleus.iter().all(|&t| t == 1 || t == 2), "{nucleus:?}");
    }
}
