//! What a VM exit means to the sandbox, decided by a free function over a
//! copy of the exit (so tests feed it made-up exits without /dev/kvm), and
//! the per-vCPU exit counters.

use crate::stubs::{DONE_PORT, EXCEPTION_PORT_BASE, EXCEPTION_VECTORS, PROBE_PORT, SYSCALL_PORT};
use kvm_ioctls::VcpuExit;

/// The parts of a `VcpuExit` the sandbox looks at, copied out so the vCPU
/// can be used again while handling it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `out` to a port.
    IoOut(u16),
    /// `in` from a port.
    IoIn(u16),
    /// Access to guest-physical memory no slot covers.
    Mmio(u64),
    /// `hlt` with interrupts that KVM did not handle in-kernel.
    Hlt,
    /// Triple fault.
    Shutdown,
    /// KVM could not emulate an instruction (e.g. SSE at CPL0).
    InternalError,
    /// VM entry failed (invalid guest state), with the hardware reason.
    FailEntry(u64),
    /// Any other exit reason, by name.
    Other(&'static str),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::IoOut(port) => write!(f, "out to I/O port {port:#x}"),
            Self::IoIn(port) => write!(f, "in from I/O port {port:#x}"),
            Self::Mmio(address) => {
                write!(f, "access to unmapped guest-physical address {address:#x}")
            }
            Self::Hlt => f.write_str("hlt"),
            Self::Shutdown => f.write_str("shutdown (triple fault)"),
            Self::InternalError => {
                f.write_str("KVM internal error (emulation failure, e.g. SSE at CPL0)")
            }
            Self::FailEntry(reason) => write!(f, "VM entry failed (hardware reason {reason:#x})"),
            Self::Other(what) => f.write_str(what),
        }
    }
}

impl Exit {
    /// Copies the relevant part of a `VcpuExit`.
    pub fn from_kvm(exit: &VcpuExit<'_>) -> Self {
        match exit {
            VcpuExit::IoOut(port, _) => Self::IoOut(*port),
            VcpuExit::IoIn(port, _) => Self::IoIn(*port),
            VcpuExit::MmioRead(addr, _) | VcpuExit::MmioWrite(addr, _) => Self::Mmio(*addr),
            VcpuExit::Hlt => Self::Hlt,
            VcpuExit::Shutdown => Self::Shutdown,
            VcpuExit::InternalError => Self::InternalError,
            VcpuExit::FailEntry(reason, _) => Self::FailEntry(*reason),
            VcpuExit::Exception => Self::Other("exception"),
            VcpuExit::Debug(_) => Self::Other("debug"),
            VcpuExit::SystemEvent(..) => Self::Other("system event"),
            _ => Self::Other("unhandled exit reason"),
        }
    }
}

/// What the run loop must do about an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The guest made a `syscall`: perform it on the host, put the result in RAX.
    Syscall,
    /// The closure returned: collect its result.
    Done,
    /// The syscall-mode probe reports the CS that `syscall` loaded (in RAX).
    Probe,
    /// The guest raised exception `vector` (its CPL0 stub made the exit).
    Exception(u8),
    /// Nothing the sandbox expects: stop with an error describing it.
    Unexpected(Exit),
}

/// Maps an exit to the action the run loop takes.
pub fn classify(exit: Exit) -> Action {
    match exit {
        Exit::IoOut(SYSCALL_PORT) => Action::Syscall,
        Exit::IoOut(DONE_PORT) => Action::Done,
        Exit::IoOut(PROBE_PORT) => Action::Probe,
        Exit::IoOut(port)
            if (EXCEPTION_PORT_BASE..EXCEPTION_PORT_BASE + u16::from(EXCEPTION_VECTORS))
                .contains(&port) =>
        {
            Action::Exception((port - EXCEPTION_PORT_BASE) as u8)
        }
        other => Action::Unexpected(other),
    }
}

/// System-call numbers counted one by one; higher numbers (none on
/// x86-64 today, ~460 in use) share the last slot.
pub const COUNTED_SYSCALL_NUMBERS: usize = 512;

/// Guest system calls by number (cumulative), in a fixed array so that the
/// exit handler counts them without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SyscallNumbers {
    counts: [u64; COUNTED_SYSCALL_NUMBERS],
}

impl Default for SyscallNumbers {
    fn default() -> Self {
        Self {
            counts: [0; COUNTED_SYSCALL_NUMBERS],
        }
    }
}

impl SyscallNumbers {
    /// Counts one call of number `nr`.
    pub fn record(&mut self, nr: u64) {
        let slot = usize::try_from(nr).map_or(COUNTED_SYSCALL_NUMBERS - 1, |n| {
            n.min(COUNTED_SYSCALL_NUMBERS - 1)
        });
        self.counts[slot] += 1;
    }

    /// The (number, count) of every number called at least once, ascending;
    /// the last slot stands for every number at or above it.
    pub fn nonzero(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(nr, &count)| (nr as u64, count))
    }

    /// Per-number difference `self - earlier`.
    pub fn since(&self, earlier: &Self) -> Self {
        let mut counts = self.counts;
        for (now, then) in counts.iter_mut().zip(&earlier.counts) {
            *now -= then;
        }
        Self { counts }
    }
}

/// Only the numbers called, as `{nr: count, ...}`.
impl std::fmt::Debug for SyscallNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.nonzero()).finish()
    }
}

/// Exits to user space seen by one vCPU, by reason (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// Forwarded system calls.
    pub syscalls: u64,
    /// The same system calls (forwarded or refused) by number.
    pub syscall_numbers: SyscallNumbers,
    /// Page faults resolved by adding a mapping (lazy memory slots).
    pub lazy_maps: u64,
    /// Exceptions reported as guest faults.
    pub faults: u64,
    /// Closures that returned (one exit each).
    pub returns: u64,
    /// `KVM_RUN` interrupted by a host signal (EINTR).
    pub interrupted: u64,
    /// Exits that stopped the guest with an error.
    pub unexpected: u64,
}

impl ExitCounts {
    /// All exits to user space.
    pub fn total(&self) -> u64 {
        self.syscalls
            + self.lazy_maps
            + self.faults
            + self.returns
            + self.interrupted
            + self.unexpected
    }

    /// Per-reason difference `self - earlier`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            syscalls: self.syscalls - earlier.syscalls,
            syscall_numbers: self.syscall_numbers.since(&earlier.syscall_numbers),
            lazy_maps: self.lazy_maps - earlier.lazy_maps,
            faults: self.faults - earlier.faults,
            returns: self.returns - earlier.returns,
            interrupted: self.interrupted - earlier.interrupted,
            unexpected: self.unexpected - earlier.unexpected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_hypercall_ports() {
        assert_eq!(classify(Exit::IoOut(SYSCALL_PORT)), Action::Syscall);
        assert_eq!(classify(Exit::IoOut(DONE_PORT)), Action::Done);
        assert_eq!(classify(Exit::IoOut(PROBE_PORT)), Action::Probe);
        assert_eq!(
            classify(Exit::IoOut(EXCEPTION_PORT_BASE + 14)),
            Action::Exception(14)
        );
        assert_eq!(
            classify(Exit::IoOut(EXCEPTION_PORT_BASE + 31)),
            Action::Exception(31)
        );
        assert_eq!(
            classify(Exit::IoOut(EXCEPTION_PORT_BASE + 32)),
            Action::Unexpected(Exit::IoOut(0x60))
        );
        assert_eq!(classify(Exit::Shutdown), Action::Unexpected(Exit::Shutdown));
        assert_eq!(
            classify(Exit::IoIn(SYSCALL_PORT)),
            Action::Unexpected(Exit::IoIn(SYSCALL_PORT))
        );
    }

    #[test]
    fn counts_difference_per_reason() {
        let a = ExitCounts {
            syscalls: 5,
            returns: 1,
            ..Default::default()
        };
        let b = ExitCounts {
            syscalls: 9,
            returns: 2,
            lazy_maps: 1,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!(
            d,
            ExitCounts {
                syscalls: 4,
                returns: 1,
                lazy_maps: 1,
                ..Default::default()
            }
        );
        assert_eq!(d.total(), 6);
    }

    #[test]
    fn counts_syscalls_by_number() {
        let mut a = SyscallNumbers::default();
        a.record(202);
        let mut b = a;
        b.record(202);
        b.record(228);
        b.record(u64::MAX);
        b.record(COUNTED_SYSCALL_NUMBERS as u64 + 7);
        let d = b.since(&a);
        let last = COUNTED_SYSCALL_NUMBERS as u64 - 1;
        assert_eq!(
            d.nonzero().collect::<Vec<_>>(),
            vec![(202, 1), (228, 1), (last, 2)]
        );
        assert_eq!(format!("{d:?}"), format!("{{202: 1, 228: 1, {last}: 2}}"));
    }
}
