//! Fuzzes the binary protocol engine: `cargo fuzz run binary_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memcached::fuzzing::binary_session(data));
