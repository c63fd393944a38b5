//! The guest side: functions that code running inside a vCPU calls to send
//! IPIs and arm the TSC-deadline timer, and the handler that the CPL3
//! interrupt entry calls.
//!
//! ```text
//! vmx::guest::set_interrupt_handler(|irq| match irq {
//!     Interrupt::Ipi => runtime.run_ipi_work(),
//!     Interrupt::Timer => runtime.check_timeouts(),
//! });
//! vcpu0.run_closure(|| vmx::guest::send_ipi(1))   // vCPU 1's handler runs
//! ```
//!
//! The handler runs at CPL3 with interrupts disabled, on the vCPU's
//! interrupt stack (256 KiB), with SSE/AVX state saved around it. It
//! interrupts arbitrary code of the same thread, so, like a signal
//! handler, it must be async-signal-safe: no allocation, no lock the
//! interrupted code may hold (use atomics and lock-free queues), no
//! panic (it cannot unwind through the interrupt entry: the process
//! aborts), and no long work, since the next interrupt waits until it
//! returns. Per-core state is reached through thread-locals: each vCPU runs
//! on its own thread, and the guest uses that thread's FS base.

use crate::arch::msr;
use crate::stubs::{IPI_VECTOR, SANDBOX_DONE, SANDBOX_WRMSR, TIMER_VECTOR};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Which interrupt the handler is called for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// An IPI from another vCPU (vector 0xF2).
    Ipi,
    /// The TSC-deadline timer expired (vector 0xF1).
    Timer,
}

/// Calling a guest-only function outside a vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this operation only works inside a vCPU (vmx::Vcpu::run_closure)")]
pub struct NotInGuest;

thread_local! {
    static IN_GUEST: Cell<bool> = const { Cell::new(false) };
    /// IPIs received by the vCPU of this thread. Atomic because the
    /// interrupt handler may run between the read and the write of the
    /// interrupted `take_ipis` (same thread, no lock possible).
    static IPIS_RECEIVED: AtomicU64 = const { AtomicU64::new(0) };
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Whether the calling code runs inside a vCPU.
pub fn in_guest() -> bool {
    IN_GUEST.with(Cell::get)
}

/// Marks the calling thread as running guest code (set by the run loop
/// around `KVM_RUN`; the guest reads the same thread-local).
pub(crate) fn set_in_guest(value: bool) {
    IN_GUEST.with(|c| c.set(value));
}

/// Installs the process-wide interrupt handler of all vCPUs.
pub fn set_interrupt_handler(handler: fn(Interrupt)) {
    HANDLER.store(handler as usize, Ordering::Release);
}

/// IPIs received by this thread's vCPU since the last call (counted
/// whether or not a handler is installed), for runtimes that poll like the
/// `process` platform's `take_signals`.
pub fn take_ipis() -> u64 {
    IPIS_RECEIVED.with(|n| n.swap(0, Ordering::AcqRel))
}

/// Called by the CPL3 interrupt entry with the vector.
pub(crate) extern "C" fn interrupt_dispatch(vector: u32) {
    if vector == u32::from(IPI_VECTOR) {
        IPIS_RECEIVED.with(|n| n.fetch_add(1, Ordering::AcqRel));
    }
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        return;
    }
    // SAFETY: HANDLER only ever holds 0 or a `fn(Interrupt)` stored by
    // `set_interrupt_handler`.
    let handler: fn(Interrupt) = unsafe { std::mem::transmute::<usize, fn(Interrupt)>(raw) };
    match u8::try_from(vector) {
        Ok(TIMER_VECTOR) => handler(Interrupt::Timer),
        Ok(IPI_VECTOR) => handler(Interrupt::Ipi),
        _ => {}
    }
}

/// Writes `value` to `index` at CPL0 through the sandbox-call gate.
fn wrmsr(index: u32, value: u64) -> Result<(), NotInGuest> {
    if !in_guest() {
        return Err(NotInGuest);
    }
    // SAFETY: inside a vCPU, `int3` with R11D = SANDBOX_WRMSR enters the
    // CPL0 gate that executes `wrmsr` with ECX and EDX:EAX and returns with
    // iretq; the gate runs on the TSS stack and changes no register.
    unsafe {
        std::arch::asm!(
            "int3",
            in("r11d") SANDBOX_WRMSR,
            in("ecx") index,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack)
        );
    }
    Ok(())
}

/// Sends a fixed IPI with vector 0xF2 to the vCPU whose x2APIC id is
/// `destination` (the vCPU id). Delivered by the in-kernel irqchip with no
/// exit to user space.
pub fn send_ipi(destination: u32) -> Result<(), NotInGuest> {
    // x2APIC ICR (SDM vol. 3A §11.12.9): vector, fixed delivery, physical
    // destination, level assert; the high half is the destination id.
    let icr = u64::from(IPI_VECTOR) | (1 << 14) | (u64::from(destination) << 32);
    wrmsr(msr::X2APIC_ICR, icr)
}

/// Arms this vCPU's TSC-deadline timer: vector 0xF1 fires once the TSC
/// (equal to the host's) reaches `tsc`; 0 disarms it.
pub fn set_tsc_deadline(tsc: u64) -> Result<(), NotInGuest> {
    wrmsr(msr::TSC_DEADLINE, tsc)
}

/// Tells the host the closure returned (the DONE sandbox call); never resumes.
pub(crate) fn hypercall_done() -> ! {
    // SAFETY: `int3` with R11D = SANDBOX_DONE enters the CPL0 gate whose
    // `out` makes the DONE exit; the host never resumes this vCPU after it
    // (a stray resume hits ud2).
    unsafe {
        std::arch::asm!(
            "int3",
            "ud2",
            in("r11d") SANDBOX_DONE,
            options(noreturn, nostack)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_only_calls_refuse_on_the_host() {
        assert!(!in_guest());
        assert_eq!(send_ipi(1), Err(NotInGuest));
        assert_eq!(set_tsc_deadline(1), Err(NotInGuest));
    }
}
