//! A multiplicative hasher for the stack's small integer keys (packed
//! 4-tuples, IPv4 addresses, ports): the std SipHash would dominate the
//! per-segment demultiplexing and neighbour look-ups. Keys are not secret;
//! what a hash flood can do to a per-core table is bounded by its size
//! (`max_connections`, the ARP cache limit).
//!
//! Maps use [`FastMap`] in place of `HashMap`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`KeyHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Fibonacci hashing of each integer written, folded into the state.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        let mixed = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }
}

#[cfg(test)]
mod tests {
    use super::FastMap;
    use std::net::Ipv4Addr;

    #[test]
    fn neighbouring_keys_spread_and_stay_distinct() {
        let mut map: FastMap<Ipv4Addr, u32> = FastMap::default();
        for i in 0..10_000u32 {
            map.insert(Ipv4Addr::from(0x0a00_0000 + i), i);
        }
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000u32).all(|i| map[&Ipv4Addr::from(0x0a00_0000 + i)] == i));
    }
}
