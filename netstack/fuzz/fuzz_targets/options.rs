//! Any bytes as a TCP option list; accepted lists must round-trip
//! (`cargo fuzz run options fuzz/corpus/options`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netstack::fuzzing::options_target(data));
