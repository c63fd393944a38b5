//! The zygos-rs libOS runtime: per-core event loop, NIC backends, IPIs, the
//! application API, the control socket and the migration protocol.

pub mod app;
pub mod apps;
pub mod client;
pub mod counters;
pub mod idle;
pub mod netns;
pub mod netstack_transport;
pub mod nic;
pub mod payload;
pub mod platform;
pub mod process;
pub mod resteer;
pub mod run;
pub mod runtime;
pub mod sched;
pub mod sim;
pub mod synthetic_protocol;
pub mod transport;
pub mod vmx_platform;
