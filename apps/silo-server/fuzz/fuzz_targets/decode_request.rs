//! Fuzzes the Silo server's request and response decoders: they must never
//! panic, and whatever decodes must re-encode to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use silo_server::wire::{decode_request, decode_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((request, used))) = decode_request(data) {
        let mut out = Vec::new();
        request.encode(&mut out);
        assert_eq!(out, data[..used]);
    }
    if let Ok(Some((response, used))) = decode_response(data) {
        let mut out = Vec::new();
        response.encode(&mut out);
        assert_eq!(out, data[..used]);
    }
});
