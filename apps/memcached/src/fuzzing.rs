//! Entry points for the fuzz targets in `fuzz/` (and for the short run of
//! the same functions in the unit tests): a whole session of one protocol
//! fed with arbitrary bytes, split into arbitrary reads, next to an item
//! that must stay intact.

use std::sync::Arc;

use crate::protocol::{Flow, Session};
use crate::server::{Admission, Server, ServerConfig};
use crate::store::{StoreConfig, StoreMode, UnixTime};

const NOW: UnixTime = 1_700_000_000;
const ITEM_SIZE_MAX: usize = 64 << 10;

fn session(server: &Arc<Server>) -> Session {
    match server.connect() {
        Admission::Accepted(session) => session,
        Admission::Refused(_) => unreachable!("the fuzz server admits every connection"),
    }
}

/// Feeds `input` to a text-protocol session (the first byte is forced to
/// not be the binary magic) and checks the invariants; panics on a
/// violation.
pub fn text_session(input: &[u8]) {
    run(b'g', input);
}

/// Feeds `input` to a binary-protocol session (the first byte is the
/// binary magic) and checks the invariants; panics on a violation.
pub fn binary_session(input: &[u8]) {
    run(0x80, input);
}

/// Invariants: no panic; the session buffers at most one request (bounded
/// by the item size limit); the store stays within its memory limit; and
/// an item the input cannot name is never changed.
fn run(first: u8, input: &[u8]) {
    let config = ServerConfig {
        store: StoreConfig {
            memory_limit: 4 << 20,
            item_size_max: ITEM_SIZE_MAX,
        },
        ..ServerConfig::default()
    };
    let server = Server::new(config, NOW);
    let witness = b"\x01witness key that no fuzz input can name";
    server
        .store
        .store(StoreMode::Set, witness, 42, 0, b"witness value", NOW);
    let mut fuzzed = session(&server);
    let mut out = Vec::new();
    let mut rest = input;
    let mut first_chunk = vec![first];
    // The first input byte chooses how the rest is split into reads.
    let split = usize::from(rest.first().copied().unwrap_or(0)) + 1;
    rest = rest.get(1..).unwrap_or_default();
    first_chunk.extend_from_slice(&rest[..rest.len().min(split)]);
    rest = &rest[rest.len().min(split)..];
    let mut chunks = std::iter::once(first_chunk.as_slice()).chain(rest.chunks(split));
    let flow = chunks.try_for_each(|chunk| {
        let flow = fuzzed.receive(chunk, NOW, &mut out);
        assert!(
            fuzzed.buffered() <= ITEM_SIZE_MAX + 1024,
            "{} bytes buffered",
            fuzzed.buffered()
        );
        out.clear();
        match flow {
            Flow::Open => Some(()),
            Flow::Close => None,
        }
    });
    if flow.is_none() {
        assert_eq!(
            fuzzed.receive(b"version\r\n", NOW, &mut out),
            Flow::Close,
            "a closed session stays closed"
        );
        assert!(out.is_empty());
    }
    // flush_all or eviction may remove the witness; nothing may change it.
    if let Some(item) = server.store.get(witness, NOW) {
        assert_eq!((&item.value[..], item.flags), (&b"witness value"[..], 42));
    }
    let snapshot = server.store.snapshot();
    assert!(snapshot.bytes <= 4 << 20, "{} bytes stored", snapshot.bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed corpus of the fuzz targets, then a few thousand inputs
    /// mutated from it by a fixed-seed generator (the CI "short run").
    #[test]
    fn short_fuzz_run_over_seed_corpus_and_mutations() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (target, entry) in [
            ("text", text_session as fn(&[u8])),
            ("binary", binary_session),
        ] {
            let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join(target))
                .expect("seed corpus directory")
                .map(|file| std::fs::read(file.expect("corpus entry").path()).expect("seed"))
                .collect();
            seeds.sort();
            assert!(seeds.len() >= 5, "{target}: seed corpus too small");
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for seed in &seeds {
                entry(seed);
            }
            for _ in 0..3000 {
                let mut input = seeds[(next() as usize) % seeds.len()].clone();
                for _ in 0..1 + next() % 8 {
                    let position = (next() as usize) % (input.len() + 1);
                    match next() % 4 {
                        0 if position < input.len() => input[position] = next() as u8,
                        1 => input.insert(position, next() as u8),
                        2 if position < input.len() => {
                            input.remove(position);
                        }
                        _ => {
                            let other = &seeds[(next() as usize) % seeds.len()];
                            let start = (next() as usize) % (other.len() + 1);
                            input.splice(
                                position..position,
                                other[start..].iter().copied().take(64),
                            );
                        }
                    }
                }
                entry(&input);
            }
        }
    }
}
