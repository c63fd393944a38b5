//! Receive-side scaling: the Toeplitz hash of an IPv4 TCP/UDP 4-tuple.
//!
//! Microsoft's RSS specification ("RSS hashing functions" and "Verifying the
//! RSS hash calculation") defines the hash: for every bit of the input,
//! most significant first, that is set, XOR into the result the 32-bit
//! window of the secret key that starts at that bit position. The input of
//! the IPv4 TCP/UDP hash is source address, destination address, source
//! port, destination port, all in network byte order (12 bytes).
//!
//! [`Toeplitz`] precomputes, for each of the 12 input byte positions, the
//! XOR contribution of all 256 byte values, so a hash is 12 table lookups.
//! The receive queue is then `indirection[hash % 128]` (see
//! [`FlowSteering`](super::FlowSteering)).

use super::FourTuple;

/// Length of an RSS secret key (enough for IPv6 4-tuples: 36 + 4 bytes).
pub const KEY_LEN: usize = 40;
/// Length of the IPv4 TCP/UDP hash input.
pub const IPV4_TUPLE_LEN: usize = 12;

/// The key published with Microsoft's RSS verification suite, which most
/// NIC drivers also ship as their default key.
pub const MICROSOFT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// A Toeplitz hasher for one key, table-driven for 12-byte inputs.
#[derive(Clone)]
pub struct Toeplitz {
    tables: [[u32; 256]; IPV4_TUPLE_LEN],
}

/// The hasher of [`MICROSOFT_KEY`], built at compile time.
pub static MICROSOFT: Toeplitz = Toeplitz::new(&MICROSOFT_KEY);

impl Toeplitz {
    /// Precomputes the tables of `key`.
    pub const fn new(key: &[u8; KEY_LEN]) -> Self {
        let mut tables = [[0u32; 256]; IPV4_TUPLE_LEN];
        let mut position = 0;
        while position < IPV4_TUPLE_LEN {
            let mut value = 0;
            while value < 256 {
                let mut hash = 0u32;
                let mut bit = 0;
                while bit < 8 {
                    if value & (0x80 >> bit) != 0 {
                        hash ^= key_window(key, position * 8 + bit);
                    }
                    bit += 1;
                }
                tables[position][value] = hash;
                value += 1;
            }
            position += 1;
        }
        Self { tables }
    }

    /// The hash of a 12-byte input.
    pub fn hash_bytes(&self, input: &[u8; IPV4_TUPLE_LEN]) -> u32 {
        input
            .iter()
            .zip(&self.tables)
            .fold(0, |hash, (&byte, table)| hash ^ table[usize::from(byte)])
    }

    /// The RSS hash of an IPv4 TCP/UDP flow.
    pub fn hash_flow(&self, flow: &FourTuple) -> u32 {
        self.hash_bytes(&tuple_bytes(flow))
    }
}

/// The hash input of `flow`: source address, destination address, source
/// port, destination port, network byte order.
pub fn tuple_bytes(flow: &FourTuple) -> [u8; IPV4_TUPLE_LEN] {
    let mut input = [0; IPV4_TUPLE_LEN];
    input[0..4].copy_from_slice(&flow.src_ip.octets());
    input[4..8].copy_from_slice(&flow.dst_ip.octets());
    input[8..10].copy_from_slice(&flow.src_port.to_be_bytes());
    input[10..12].copy_from_slice(&flow.dst_port.to_be_bytes());
    input
}

/// The 32 key bits starting at bit `start` (most significant bit first).
const fn key_window(key: &[u8; KEY_LEN], start: usize) -> u32 {
    let mut window = 0u32;
    let mut i = 0;
    while i < 32 {
        let bit = start + i;
        let set = (key[bit / 8] >> (7 - bit % 8)) & 1;
        window = (window << 1) | set as u32;
        i += 1;
    }
    window
}

/// The reference bit-serial definition, to check the tables against.
#[cfg(test)]
fn reference_hash(key: &[u8; KEY_LEN], input: &[u8]) -> u32 {
    let mut hash = 0;
    for (index, byte) in input.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                hash ^= key_window(key, index * 8 + bit);
            }
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// One row of Microsoft's "Verifying the RSS hash calculation", IPv4
    /// table. UDP uses the same 4-tuple input as TCP.
    struct Vector {
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        ip_only: u32,
        with_ports: u32,
    }

    const VECTORS: [Vector; 5] = [
        Vector {
            src: ([66, 9, 149, 187], 2794),
            dst: ([161, 142, 100, 80], 1766),
            ip_only: 0x323e8fc2,
            with_ports: 0x51ccc178,
        },
        Vector {
            src: ([199, 92, 111, 2], 14230),
            dst: ([65, 69, 140, 83], 4739),
            ip_only: 0xd718262a,
            with_ports: 0xc626b0ea,
        },
        Vector {
            src: ([24, 19, 198, 95], 12898),
            dst: ([12, 22, 207, 184], 38024),
            ip_only: 0xd2d0a5de,
            with_ports: 0x5c2b394a,
        },
        Vector {
            src: ([38, 27, 205, 30], 48228),
            dst: ([209, 142, 163, 6], 2217),
            ip_only: 0x82989176,
            with_ports: 0xafc7327f,
        },
        Vector {
            src: ([153, 39, 163, 191], 44251),
            dst: ([202, 188, 127, 2], 1303),
            ip_only: 0x5d1809c5,
            with_ports: 0x10e828a2,
        },
    ];

    #[test]
    fn matches_the_microsoft_rss_verification_suite() {
        for vector in VECTORS {
            let flow = FourTuple {
                src_ip: Ipv4Addr::from(vector.src.0),
                dst_ip: Ipv4Addr::from(vector.dst.0),
                src_port: vector.src.1,
                dst_port: vector.dst.1,
            };
            assert_eq!(MICROSOFT.hash_flow(&flow), vector.with_ports, "{flow:?}");
            let addresses = &tuple_bytes(&flow)[..8];
            assert_eq!(
                reference_hash(&MICROSOFT_KEY, addresses),
                vector.ip_only,
                "{flow:?}"
            );
            assert_eq!(
                reference_hash(&MICROSOFT_KEY, &tuple_bytes(&flow)),
                vector.with_ports
            );
        }
    }

    #[test]
    fn tables_agree_with_the_bit_serial_definition_for_another_key() {
        let mut key = [0u8; KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(151).wrapping_add(17);
        }
        let hasher = Toeplitz::new(&key);
        let mut input = [0u8; IPV4_TUPLE_LEN];
        for round in 0..1000u32 {
            for (i, byte) in input.iter_mut().enumerate() {
                *byte = (round.wrapping_mul(2_654_435_761) >> (i % 4 * 8)) as u8 ^ i as u8;
            }
            assert_eq!(hasher.hash_bytes(&input), reference_hash(&key, &input));
        }
    }
}
