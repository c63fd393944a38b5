//! A memcached-compatible server (text and binary protocols) as a zygos-rs
//! dataplane application.
//!
//! - [`store`]: the shared item store (striped hash table, LRU eviction
//!   under a memory limit, CAS ids, lazy expiry, flush_all).

#![forbid(unsafe_code)]

pub mod store;
