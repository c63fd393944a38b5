//! Errors of the sandbox: why KVM is unavailable, why a VM could not be
//! built, and how guest code failed.

use std::fmt;

/// Why the `vmx` platform cannot run on this machine.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// `/dev/kvm` does not exist (no KVM module, or a container without it).
    #[error("/dev/kvm does not exist: KVM is not available on this machine")]
    NoDevice,
    /// `/dev/kvm` exists but this user may not open it.
    #[error("/dev/kvm exists but cannot be opened ({0}): run as root or join the kvm group")]
    PermissionDenied(std::io::Error),
    /// Opening `/dev/kvm` or creating a VM failed for another reason.
    #[error("KVM is present but unusable: {0}")]
    Broken(String),
}

/// A fault of guest code, with what the CPU reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFault {
    /// Exception vector (6 = invalid opcode, 13 = general protection, 14 = page fault...).
    pub vector: u8,
    /// Error code pushed by the CPU (0 when the vector has none).
    pub error_code: u64,
    /// Address of the faulting instruction.
    pub rip: u64,
    /// Stack pointer at the fault.
    pub rsp: u64,
    /// Faulting linear address (CR2), meaningful for page faults.
    pub cr2: u64,
}

impl GuestFault {
    /// Name of the exception vector (SDM vol. 3A, table 6-1).
    pub fn reason(&self) -> &'static str {
        match self.vector {
            0 => "divide error",
            1 => "debug",
            2 => "non-maskable interrupt",
            3 => "breakpoint",
            4 => "overflow",
            5 => "bound range exceeded",
            6 => "invalid opcode",
            7 => "device not available",
            8 => "double fault",
            10 => "invalid TSS",
            11 => "segment not present",
            12 => "stack-segment fault",
            13 => "general protection",
            14 => "page fault",
            16 => "x87 floating-point error",
            17 => "alignment check",
            18 => "machine check",
            19 => "SIMD floating-point exception",
            _ => "reserved exception",
        }
    }
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guest {} (vector {}, error code {:#x}) at rip {:#x}, rsp {:#x}",
            self.reason(),
            self.vector,
            self.error_code,
            self.rip,
            self.rsp
        )?;
        if self.vector == 14 {
            write!(f, ", address (cr2) {:#x}", self.cr2)?;
        }
        Ok(())
    }
}

/// Failure to build or run a VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// KVM is not usable here.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// A KVM ioctl failed (the ioctl's name and the original errno).
    #[error("{0} failed: {1}")]
    Kvm(&'static str, kvm_ioctls::Error),
    /// A host memory operation (mmap, mprotect, /proc/self/maps) failed.
    #[error("host memory: {0}")]
    HostMemory(std::io::Error),
    /// The guest layout does not fit (slots, page tables, address space).
    #[error("guest layout: {0}")]
    Layout(&'static str),
    /// The guest raised an exception it could not recover from.
    #[error("{0}")]
    Fault(GuestFault),
    /// The guest touched host memory that is not accessible (KVM_RUN failed
    /// with EFAULT): a write to a read-only host mapping or an access to a
    /// PROT_NONE one.
    #[error("guest access to inaccessible host memory at rip {rip:#x}")]
    HostMemoryFault {
        /// Guest instruction pointer when KVM gave up.
        rip: u64,
    },
    /// The closure overflowed its 8 MiB guest stack into the guard page.
    #[error("guest stack overflow at rip {rip:#x}, rsp {rsp:#x}")]
    StackOverflow {
        /// Guest instruction pointer when KVM gave up.
        rip: u64,
        /// Guest stack pointer, next to the guard page.
        rsp: u64,
    },
    /// The VM stopped in a way the sandbox does not handle.
    #[error("unexpected VM exit: {exit} at rip {rip:#x}")]
    UnexpectedExit {
        /// The exit.
        exit: crate::exits::Exit,
        /// Guest instruction pointer at the exit.
        rip: u64,
    },
}
