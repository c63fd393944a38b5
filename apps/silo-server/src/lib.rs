//! A Silo-style optimistic-concurrency in-memory database running TPC-C, as
//! a zygos-rs dataplane application.
//!
//! Silo (Tu et al., SOSP'13) is the application ZygOS (SOSP'17, thesis
//! ch. 4) uses for its headline result: TPC-C transactions have a wide
//! service-time distribution, which is what makes work stealing pay off.

#![forbid(unsafe_code)]

pub mod app;
pub mod args;
pub mod engine;
pub mod linux;
pub mod networked;
pub mod prediction;
pub mod requests;
pub mod standalone;
pub mod tpcc;
pub mod wire;
