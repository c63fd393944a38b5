//! Zero-overhead queueing models of a multi-core server (thesis §3.1 and
//! §6.2): simulate a model at a load ([`sim::simulate`]), or find the
//! highest load meeting a tail-latency objective
//! ([`search::max_load_at_slo`]), the bound a real scheduler is reported
//! against. [`erlang`] holds the M/M/n closed forms that validate both.

pub mod erlang;
pub mod search;
pub mod sim;

pub use search::{Slo, max_load_at_slo};
pub use sim::{Model, SimConfig};
