//! Lancet-style open-loop load generation, statistics, queueing-theory
//! bounds, baselines, sweeps and plots.
//!
//! Layers, bottom up: [`workload`] (service-time distributions and arrival
//! processes), [`stats`] (the Lancet checks), [`queueing`] (ideal-model
//! simulator and bounds), [`linux`] (baseline epoll servers), [`protocol`]
//! (what requests and responses look like), [`loadgen`] (open-loop
//! generator over Linux sockets), [`sweep`] (load levels × schedulers),
//! [`output`], [`report`] and [`plot`] (tables, JSON, CSV, SVG, PNG).

pub mod calibrate;
pub mod cli;
pub mod dataplane_target;
pub mod demo;
pub mod linux;
pub mod loadgen;
pub mod output;
pub mod plot;
pub mod priority;
pub mod protocol;
pub mod queueing;
pub mod report;
pub mod server_idle;
pub mod simulated;
pub mod stats;
pub mod sweep;
pub mod workload;
