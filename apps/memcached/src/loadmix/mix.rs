//! The USR and ETC request mixes over a fixed keyspace, as text-protocol
//! requests.
//!
//! - USR (Atikoglu et al. SIGMETRICS'12; the IX and ZygOS memcached
//!   experiments): 19-byte keys, 2-byte values, 0.2% sets.
//! - ETC (same paper, as modelled by Mutilate): key sizes from the GEV fit,
//!   value sizes from the small-value table and Pareto fit of
//!   [`super::sizes`], 3.3% sets.
//!
//! Keys are drawn uniformly from a keyspace of `keys` keys (Mutilate's
//! `--records`), all stored by the preload before measuring, so every
//! get hits unless the server evicted the key. Key `i` is the decimal `i`
//! zero-padded to its size; in ETC the size of key `i` is the GEV quantile
//! at a hash of `i` (as Mutilate sizes its keys), so a key keeps its size
//! and keys differ in size.

use std::io::Write;

use bench::protocol::{RequestClass, RequestGenerator};
use rand::{Rng, RngCore};

use super::sizes::{EtcValueSizes, Gev};

/// Longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;
/// Largest ETC value sent: the Pareto tail is cut below memcached's
/// default 1 MB item limit (the cut removes a ~10⁻⁸ share of draws).
pub const MAX_VALUE_LEN: usize = 500_000;

/// Class of a get in [`MixRequests::class_names`].
pub const GET: RequestClass = 0;
/// Class of a set.
pub const SET: RequestClass = 1;

/// A memcached workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Facebook USR: 19-byte keys, 2-byte values, 0.2% sets.
    Usr,
    /// Facebook ETC: GEV key sizes, Pareto-tailed value sizes, 3.3% sets.
    Etc,
}

impl Workload {
    /// Share of requests that are sets.
    pub fn set_fraction(self) -> f64 {
        match self {
            Workload::Usr => 0.002,
            Workload::Etc => 0.033,
        }
    }

    /// Its name in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Usr => "usr",
            Workload::Etc => "etc",
        }
    }
}

/// Why a mix cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    /// The keyspace is empty.
    #[error("the keyspace needs at least one key")]
    NoKeys,
    /// The keys' decimal numbers do not fit a USR key.
    #[error("{0} keys need more digits than a 19-byte USR key has")]
    TooManyKeys(usize),
}

/// The keys of a run: key `i` is `i` in decimal, zero-padded to its size.
#[derive(Debug, Clone)]
pub struct Keyspace {
    lengths: Vec<u8>,
}

/// Digits of the largest key number.
fn digits(keys: usize) -> usize {
    (keys.saturating_sub(1))
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1)
}

/// A 64-bit mix of `i` (splitmix64's finaliser), uniform over u64.
fn hash(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Keyspace {
    /// `keys` keys sized for `workload`.
    pub fn new(workload: Workload, keys: usize) -> Result<Keyspace, MixError> {
        if keys == 0 {
            return Err(MixError::NoKeys);
        }
        let shortest = digits(keys);
        let lengths = (0..keys as u64)
            .map(|i| match workload {
                Workload::Usr => 19,
                Workload::Etc => {
                    // A uniform in (0, 1) from the key's hash.
                    let p = ((hash(i) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                    let size = Gev::ETC_KEYS.quantile(p).round();
                    size.clamp(shortest as f64, MAX_KEY_LEN as f64) as usize
                }
            })
            .map(|len| len.max(shortest) as u8)
            .collect();
        if workload == Workload::Usr && shortest > 19 {
            return Err(MixError::TooManyKeys(keys));
        }
        Ok(Keyspace { lengths })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether there are no keys (never, once built).
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Size of key `index`, bytes.
    pub fn key_len(&self, index: usize) -> usize {
        usize::from(self.lengths[index])
    }

    /// Appends key `index` to `out`.
    pub fn write_key(&self, index: usize, out: &mut Vec<u8>) {
        let width = self.key_len(index);
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{index:0width$}");
    }
}

/// Appends `get KEY\r\n`.
pub fn write_get(keys: &Keyspace, index: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"get ");
    keys.write_key(index, out);
    out.extend_from_slice(b"\r\n");
}

/// Appends `set KEY 0 0 LEN\r\nVALUE\r\n` with a `len`-byte value.
pub fn write_set(keys: &Keyspace, index: usize, len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"set ");
    keys.write_key(index, out);
    // Writing to a Vec cannot fail.
    let _ = write!(out, " 0 0 {len}\r\n");
    out.resize(out.len() + len, b'v');
    out.extend_from_slice(b"\r\n");
}

/// Value sizes of a workload.
#[derive(Debug, Clone, Copy)]
pub enum ValueSizes {
    /// Every value has this size.
    Fixed(usize),
    /// ETC's distribution.
    Etc(EtcValueSizes),
}

impl ValueSizes {
    /// The sizes of `workload`.
    pub fn of(workload: Workload) -> ValueSizes {
        match workload {
            Workload::Usr => ValueSizes::Fixed(2),
            Workload::Etc => ValueSizes::Etc(EtcValueSizes { max: MAX_VALUE_LEN }),
        }
    }

    /// Draws a size.
    pub fn sample(&self, rng: &mut dyn RngCore) -> usize {
        match self {
            ValueSizes::Fixed(size) => *size,
            ValueSizes::Etc(sizes) => sizes.sample(rng),
        }
    }
}

/// The open-loop requests of a workload: gets and sets of uniformly drawn
/// keys, sets with freshly drawn value sizes.
#[derive(Debug, Clone)]
pub struct MixRequests {
    keys: Keyspace,
    values: ValueSizes,
    set_fraction: f64,
}

impl MixRequests {
    /// The mix of `workload` over `keys`.
    pub fn new(workload: Workload, keys: Keyspace) -> MixRequests {
        MixRequests {
            keys,
            values: ValueSizes::of(workload),
            set_fraction: workload.set_fraction(),
        }
    }
}

impl RequestGenerator for MixRequests {
    fn class_names(&self) -> &[&'static str] {
        &["get", "set"]
    }

    fn next_request(&mut self, rng: &mut dyn RngCore, _id: u64, out: &mut Vec<u8>) -> RequestClass {
        let key = rng.random_range(0..self.keys.len());
        if rng.random_bool(self.set_fraction) {
            let len = self.values.sample(rng);
            write_set(&self.keys, key, len, out);
            SET
        } else {
            write_get(&self.keys, key, out);
            GET
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn usr_keys_are_19_bytes_and_values_2() {
        let keys = Keyspace::new(Workload::Usr, 1000).unwrap();
        let mut out = vec![];
        write_set(&keys, 42, 2, &mut out);
        assert_eq!(out, b"set 0000000000000000042 0 0 2\r\nvv\r\n");
        out.clear();
        write_get(&keys, 999, &mut out);
        assert_eq!(out, b"get 0000000000000000999\r\n");
        assert!(Keyspace::new(Workload::Usr, 0).is_err());
    }

    #[test]
    fn etc_key_sizes_follow_the_gev_fit() {
        let keys = Keyspace::new(Workload::Etc, 200_000).unwrap();
        let mut sizes: Vec<usize> = (0..keys.len()).map(|i| keys.key_len(i)).collect();
        sizes.sort_unstable();
        for p in [0.1, 0.5, 0.9, 0.99] {
            let got = sizes[(sizes.len() as f64 * p) as usize] as f64;
            let want = Gev::ETC_KEYS.quantile(p);
            assert!((got - want).abs() <= 1.0, "p{p}: {got} vs {want}");
        }
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        // GEV mean μ + σ(Γ(1−k) − 1)/k with Γ(0.921312) = 1.05203.
        let want = 30.7984 + 8.20449 * (1.05203 - 1.0) / 0.078688;
        assert!((mean - want).abs() < 0.2, "{mean} vs {want}");
        assert!(sizes[0] >= 6 && *sizes.last().unwrap() <= MAX_KEY_LEN);
        let mut out = vec![];
        keys.write_key(7, &mut out);
        assert_eq!(out.len(), keys.key_len(7));
        assert!(out.ends_with(b"7") && out.iter().all(u8::is_ascii_digit));
    }

    #[test]
    fn set_fractions_match_the_workloads() {
        for (workload, keys) in [(Workload::Usr, 100), (Workload::Etc, 100)] {
            let mut mix = MixRequests::new(workload, Keyspace::new(workload, keys).unwrap());
            let mut rng = SmallRng::seed_from_u64(3);
            let mut out = Vec::new();
            let n = 1_000_000;
            let sets = (0..n)
                .filter(|&id| {
                    out.clear();
                    let class = mix.next_request(&mut rng, id, &mut out);
                    assert_eq!(out.starts_with(b"set "), class == SET);
                    class == SET
                })
                .count();
            let share = sets as f64 / n as f64;
            let want = workload.set_fraction();
            // Four binomial standard deviations.
            let tolerance = 4.0 * (want * (1.0 - want) / n as f64).sqrt();
            assert!((share - want).abs() < tolerance, "{workload:?}: {share}");
        }
    }
}
