//! One dataplane core's [`CorePlatform`] inside its vCPU: the clock is the
//! vDSO (`Instant`, exit-free: the guest TSC is the host's), service time
//! a busy loop at guest CPL3, and an IPI a real x2APIC IPI to the target
//! vCPU ([`vmx::guest::send_ipi`], delivered by the in-kernel irqchip with
//! no exit to user space).
//!
//! The IPI's work is not done in the interrupt handler: like the process
//! platform's signal handler, the guest handler interrupts arbitrary code
//! (the allocator, a shuffle lock holder), so it may only count. The vmx
//! interrupt entry counts deliveries per vCPU thread ([`vmx::guest::take_ipis`]);
//! the core reads that count and its [`IpiBoard`] mailbox at its safe
//! points (top of the loop, between spin quanta), thesis ch. 4.4.5.
//!
//! A core that parks leaves its vCPU and blocks on the host like a process
//! core ([`crate::process`]); waking it takes the process platform's
//! signal.

use std::sync::Arc;

use super::ipi_latency::{IpiLatency, SendStamps};
use crate::platform::{CorePlatform, IpiBoard};
use crate::process::signal::CoreThreads;
use crate::process::{ThreadClock, real_time_core};

/// The platform of one core running in a vCPU. Only built and used inside
/// [`vmx::Vcpu::run_closure`].
pub(super) struct VmxCore {
    pub(super) index: usize,
    pub(super) clock: ThreadClock,
    pub(super) board: Arc<IpiBoard>,
    pub(super) stamps: Arc<SendStamps>,
    /// IPIs that could not be sent (only possible outside a vCPU).
    pub(super) refused_ipis: u64,
    /// Latency of the IPIs this core received.
    pub(super) ipi_latency: IpiLatency,
    /// The core threads, for waking one while it is parked outside its
    /// vCPU.
    pub(super) threads: Arc<CoreThreads>,
}

impl CorePlatform for VmxCore {
    real_time_core!();

    fn interrupt(&mut self, target: usize) {
        self.stamps.stamp(target, self.clock.now_ns());
        let sent = u32::try_from(target)
            .ok()
            .is_some_and(|id| vmx::guest::send_ipi(id).is_ok());
        if !sent {
            self.refused_ipis += 1;
        }
    }

    fn take_signals(&mut self) -> u64 {
        let received = vmx::guest::take_ipis();
        if received > 0
            && let Some(sent) = self.stamps.take(self.index)
        {
            self.ipi_latency
                .record(self.clock.now_ns().saturating_sub(sent));
        }
        received
    }

    /// A parked core's thread blocks outside its vCPU, where an x2APIC IPI
    /// only stays pending: it is woken with the IPI signal, a `tgkill`
    /// forwarded to the host (one exit, only for a parked target).
    fn wake(&mut self, target: usize) {
        self.threads.signal(target);
    }
}
