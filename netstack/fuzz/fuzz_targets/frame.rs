//! Any bytes as an Ethernet frame into a stack with a listener and an
//! established connection (`cargo fuzz run frame fuzz/corpus/frame`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netstack::fuzzing::frame_target(data));
