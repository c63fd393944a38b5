//! `zygos bench silo`: the networked Silo/TPC-C comparison of the ZygOS
//! evaluation (thesis §4.5, Table 6.1) on this machine, in one run: the
//! highest offered TPS whose p99 stays within the SLO (1000 µs) for ours
//! under `zygos` and `partitioned` scheduling (a dataplane on a multi-queue
//! TAP device) and for the Linux-socket server of the same engine
//! ([`crate::linux`]), all inside one network namespace reached over a
//! veth pair ([`topology`]) by the open-loop TPC-C generator
//! ([`crate::requests`] over [`bench::loadgen::run_load_with`]) in the
//! root namespace; then the SIMULATED 16-core prediction
//! ([`crate::prediction`]).
//!
//! Flow: [`cli`] parses [`SiloBenchArgs`], checks for root, raises the
//! benchmark's scheduling priorities ([`priority`]: the machine is shared
//! and the client shares its CPUs with polling cores), builds the
//! [`topology::Topology`], runs [`sweep::sweep_server`] for each server
//! ([`servers`]) and prints and writes [`report`].

mod cli;
pub mod priority;
pub mod report;
pub mod servers;
pub mod sweep;
pub mod topology;

pub use cli::{SiloBenchArgs, cli};
