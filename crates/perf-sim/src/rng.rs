//! Independent random streams derived from one master seed.
//!
//! Every purpose (arrivals, lengths, router) and every client class gets its own
//! [`Xoshiro256PlusPlus`] stream, seeded from `splitmix64(master ⊕ splitmix64(tag))` with
//! `tag = purpose · 2³² + index`, so adding a client leaves the other streams unchanged.
//! The algorithm is fixed (xoshiro256++ from `rand` 0.10), hence portable and versioned.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// What a random stream is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Inter-arrival gaps of a client.
    Arrivals = 1,
    /// Prompt and output lengths of a client.
    Lengths = 2,
    /// The random router.
    Router = 3,
    /// Prompt choice of a shared-prefix client.
    Prompts = 4,
    /// Conversations of a client: opening, continuing, think times and follow-up lengths.
    Conversations = 5,
    /// Acceptance of speculative tokens, per replica.
    Speculation = 6,
}

/// SplitMix64 finaliser (Steele, Lea, Flood 2014).
#[must_use]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream for `purpose` and `index` (client class) under `master`.
#[must_use]
pub fn stream(master: u64, purpose: Purpose, index: u64) -> Xoshiro256PlusPlus {
    let tag = ((purpose as u64) << 32) | (index & 0xFFFF_FFFF);
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(master ^ splitmix64(tag)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_differ_by_purpose_and_index() {
        let a: u64 = stream(1, Purpose::Arrivals, 0).random();
        let b: u64 = stream(1, Purpose::Lengths, 0).random();
        let c: u64 = stream(1, Purpose::Arrivals, 1).random();
        let d: u64 = stream(1, Purpose::Arrivals, 0).random();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, d);
    }
}
