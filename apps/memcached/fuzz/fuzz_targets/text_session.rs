//! Fuzzes the text protocol engine: `cargo fuzz run text_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memcached::fuzzing::text_session(data));
