//! The zygos-rs libOS runtime: per-core event loop, NIC backends, IPIs, the
//! application API, the control socket and the migration protocol.

pub mod nic;
pub mod synthetic_protocol;
