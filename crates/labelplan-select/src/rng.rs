//! Seeded random streams: one per purpose, so adding a random choice in one place does
//! not change the picks of another.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The stream for `purpose` under the run's `seed`.
pub fn stream(seed: u64, purpose: &str) -> ChaCha8Rng {
    // FNV-1a of the purpose keeps streams apart without a table of constants.
    let salt =
        purpose.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    ChaCha8Rng::seed_from_u64(seed ^ salt)
}
