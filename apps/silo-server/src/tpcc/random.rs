//! TPC-C random data generation (TPC-C §2.1.6 NURand, §4.3.2 strings and
//! last names).

use rand::Rng;

const SYLLABLES: [&str; 10] = [
    "BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING",
];

/// The run-time constants `C` of NURand (§2.1.6): one per `A` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NurandConstants {
    /// C for customer last names (A = 255).
    pub last_name: u32,
    /// C for customer ids (A = 1023).
    pub customer: u32,
    /// C for item ids (A = 8191).
    pub item: u32,
}

impl NurandConstants {
    /// Random constants for loading.
    pub fn random(rng: &mut impl Rng) -> NurandConstants {
        NurandConstants {
            last_name: rng.random_range(0..=255),
            customer: rng.random_range(0..=1023),
            item: rng.random_range(0..=8191),
        }
    }

    /// Constants for the measurement run, derived from the load constants
    /// as §2.1.6.1 requires: the last-name C differs from the load one by a
    /// delta in [65, 119] other than 96 and 112.
    pub fn for_run(load: NurandConstants, rng: &mut impl Rng) -> NurandConstants {
        let last_name = loop {
            let candidate: u32 = rng.random_range(0..=255);
            let delta = candidate.abs_diff(load.last_name);
            if (65..=119).contains(&delta) && delta != 96 && delta != 112 {
                break candidate;
            }
        };
        NurandConstants {
            last_name,
            customer: rng.random_range(0..=1023),
            item: rng.random_range(0..=8191),
        }
    }
}

/// NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y - x + 1)) + x.
pub fn nurand(rng: &mut impl Rng, a: u32, c: u32, x: u32, y: u32) -> u32 {
    (((rng.random_range(0..=a) | rng.random_range(x..=y)) + c) % (y - x + 1)) + x
}

/// The last name for a number in 0..=999 (§4.3.2.3).
pub fn last_name(number: u32) -> String {
    let digits = [number / 100, (number / 10) % 10, number % 10];
    digits.iter().map(|d| SYLLABLES[*d as usize % 10]).collect()
}

/// A random alphanumeric string with a length in `min..=max` (a-string).
pub fn alpha_string(rng: &mut impl Rng, min: usize, max: usize) -> String {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let len = rng.random_range(min..=max);
    (0..len)
        .map(|_| CHARSET[rng.random_range(0..CHARSET.len())] as char)
        .collect()
}

/// A random numeric string with a length in `min..=max` (n-string).
pub fn numeric_string(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let len = rng.random_range(min..=max);
    (0..len)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// I_DATA / S_DATA: an a-string of 26..=50 characters, 10% of them with
/// "ORIGINAL" at a random position (§4.3.3.1).
pub fn data_with_original(rng: &mut impl Rng) -> String {
    let mut data = alpha_string(rng, 26, 50);
    if rng.random_ratio(1, 10) {
        let at = rng.random_range(0..=data.len() - 8);
        data.replace_range(at..at + 8, "ORIGINAL");
    }
    data
}

/// A zip code: 4 random digits and "11111" (§4.3.2.7).
pub fn zip(rng: &mut impl Rng) -> String {
    numeric_string(rng, 4, 4) + "11111"
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn last_names_follow_the_syllable_table() {
        assert_eq!(last_name(0), "BARBARBAR");
        assert_eq!(last_name(371), "PRICALLYOUGHT");
        assert_eq!(last_name(999), "EINGEINGEING");
    }

    #[test]
    fn nurand_stays_in_range_and_is_skewed() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut hits = vec![0u32; 1000];
        for _ in 0..100_000 {
            let v = nurand(&mut rng, 255, 123, 0, 999);
            hits[v as usize] += 1;
        }
        let max = *hits.iter().max().unwrap();
        let min = *hits.iter().min().unwrap();
        assert!(max > 4 * min.max(1), "NURand should be non-uniform");
    }

    #[test]
    fn run_constants_respect_the_delta_rule() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..100 {
            let load = NurandConstants::random(&mut rng);
            let run = NurandConstants::for_run(load, &mut rng);
            let delta = run.last_name.abs_diff(load.last_name);
            assert!((65..=119).contains(&delta) && delta != 96 && delta != 112);
        }
    }
}
