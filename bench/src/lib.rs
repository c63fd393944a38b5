//! Lancet-style open-loop load generation, statistics, queueing-theory
//! bounds, baselines, sweeps and plots.

pub mod linux;
pub mod loadgen;
pub mod queueing;
pub mod stats;
pub mod workload;
