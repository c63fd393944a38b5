//! The simulator's cost table: what each piece of runtime work costs in
//! virtual time. The defaults are order-of-magnitude figures for a modern
//! x86 core; `zygos bench calibrate` measures them on the
//! real code (the probes of [`super::calibration`], which bench's criterion
//! benches run too) and writes them as JSON, which deserializes into this
//! type. Figures from the simulator are always labelled
//! simulated.

use serde::{Deserialize, Serialize};

use crate::platform::Work;

/// Virtual-time costs, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCosts {
    /// Network processing per received frame.
    pub packet_ns: u64,
    /// Creating one application event (including the copy of its bytes).
    pub event_ns: u64,
    /// Dispatching one connection batch to the application.
    pub app_dispatch_ns: u64,
    /// One successful steal (the cache misses of a remote connection).
    pub steal_ns: u64,
    /// Executing one call on behalf of a remote core.
    pub remote_call_ns: u64,
    /// Sending an IPI.
    pub ipi_send_ns: u64,
    /// From sending an IPI to its handler running on the target.
    pub ipi_latency_ns: u64,
    /// Entering and leaving the IPI handler on the target.
    pub ipi_handler_ns: u64,
    /// One pass of the idle loop that found nothing.
    pub idle_poll_ns: u64,
    /// One-way wire latency between the client and the server.
    pub wire_ns: u64,
}

impl Default for SimCosts {
    fn default() -> Self {
        SimCosts {
            packet_ns: 150,
            event_ns: 50,
            app_dispatch_ns: 100,
            steal_ns: 400,
            remote_call_ns: 150,
            ipi_send_ns: 200,
            ipi_latency_ns: 1_000,
            ipi_handler_ns: 500,
            idle_poll_ns: 200,
            wire_ns: 2_000,
        }
    }
}

impl SimCosts {
    /// Virtual time charged for `work`.
    pub fn of(&self, work: Work) -> u64 {
        match work {
            Work::Packets(n) => n * self.packet_ns,
            Work::Events(n) => n * self.event_ns,
            Work::AppDispatch => self.app_dispatch_ns,
            Work::Steal => self.steal_ns,
            Work::RemoteCalls(n) => n * self.remote_call_ns,
            Work::IpiSend => self.ipi_send_ns,
            Work::IdlePoll => self.idle_poll_ns,
        }
    }
}
