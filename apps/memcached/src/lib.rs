//! A memcached-compatible server (text and binary protocols) as a zygos-rs
//! dataplane application.
//!
//! - [`store`]: the shared item store (striped hash table, LRU eviction
//!   under a memory limit, CAS ids, lazy expiry, flush_all).
//! - [`server`]: what all connections share (store, settings, counters);
//!   [`server::Server::connect`] admits a connection.
//! - [`protocol`]: the per-connection protocol engine: bytes in, replies
//!   out ([`protocol::Session`]).
//! - [`app`]: the dataplane application over them; [`args`]: the
//!   `zygos run memcached` command line.
//! - [`fuzzing`]: the entry points of the fuzz targets in `fuzz/`.
//! - [`loadmix`]: the USR and ETC request mixes for the load generator;
//!   [`benchmark`]: `zygos bench memcached` (ours vs the real memcached).

#![forbid(unsafe_code)]

pub mod app;
pub mod args;
pub mod benchmark;
pub mod fuzzing;
pub mod loadmix;
pub mod protocol;
pub mod server;
pub mod store;
