//! The VM of a process: KVM handles, the in-kernel irqchip, guest memory
//! covering the process's own mappings and the IDT shared by all vCPUs.
//!
//! ```text
//! vmx::available()?;                 // or tell the user why not
//! let vm = vmx::Vm::new()?;          // once per process
//! let mut vcpu = vm.create_vcpu(0)?; // on the core's pinned thread
//! let r = vcpu.run_closure(|| dataplane_core_loop())?;
//! ```

use crate::arch::{self, Gate};
use crate::error::{Unavailable, VmError};
use crate::memory::GuestMemory;
use crate::region::HostRegion;
use crate::stubs;
use crate::vcpu::Vcpu;
use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VmFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// XCR0 components the guest may enable: x87, SSE, AVX, AVX-512 state.
const GUEST_XCR0_MASK: u64 = 0xE7;
const IDT_ENTRIES: usize = 256;

/// Checks that KVM can be used here: `/dev/kvm` exists, may be opened, has
/// the stable API and creates a VM.
pub fn available() -> Result<(), Unavailable> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Err(open_error(e));
    }
    let kvm = Kvm::new().map_err(|e| Unavailable::Broken(format!("opening /dev/kvm: {e}")))?;
    let version = kvm.get_api_version();
    if version != 12 {
        return Err(Unavailable::Broken(format!(
            "KVM API version {version}, expected 12"
        )));
    }
    kvm.create_vm()
        .map_err(|e| Unavailable::Broken(format!("KVM_CREATE_VM: {e}")))?;
    Ok(())
}

/// Why opening `/dev/kvm` failed, in the user's terms.
fn open_error(e: std::io::Error) -> Unavailable {
    match e.kind() {
        std::io::ErrorKind::NotFound => Unavailable::NoDevice,
        std::io::ErrorKind::PermissionDenied => Unavailable::PermissionDenied(e),
        _ => Unavailable::Broken(format!("opening /dev/kvm: {e}")),
    }
}

/// State shared by the VM handle and its vCPUs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) fd: VmFd,
    pub(crate) cpuid: CpuId,
    pub(crate) xcr0: u64,
    pub(crate) idt: HostRegion,
    pub(crate) memory: Mutex<GuestMemory>,
}

impl Shared {
    /// The guest memory, even if a thread panicked while holding it (its
    /// state is updated entry by entry and stays consistent).
    pub(crate) fn memory(&self) -> MutexGuard<'_, GuestMemory> {
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the host's KVM offers the TSC-deadline timer (CPUID 1 ECX bit 24).
    pub(crate) fn has_tsc_deadline(&self) -> bool {
        self.cpuid
            .as_slice()
            .iter()
            .any(|e| e.function == 1 && e.ecx & (1 << 24) != 0)
    }
}

/// One VM per process; vCPUs are created from it and may outlive the handle.
#[derive(Debug, Clone)]
pub struct Vm {
    shared: Arc<Shared>,
}

fn host_xcr0() -> u64 {
    let (eax, edx): (u32, u32);
    // SAFETY: xgetbv with ECX = 0 reads XCR0; Linux enables OSXSAVE on
    // every x86-64 CPU it runs on with AVX, and the instruction has no side effect.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0, out("eax") eax, out("edx") edx, options(nomem, nostack))
    };
    (u64::from(edx) << 32) | u64::from(eax)
}

impl Vm {
    /// Creates the VM: in-kernel irqchip, IDT, and memory slots plus page
    /// tables covering the process's current mappings.
    pub fn new() -> Result<Self, VmError> {
        available()?;
        let kvm = Kvm::new().map_err(|e| VmError::Kvm("open /dev/kvm", e))?;
        let fd = kvm
            .create_vm()
            .map_err(|e| VmError::Kvm("KVM_CREATE_VM", e))?;
        fd.create_irq_chip()
            .map_err(|e| VmError::Kvm("KVM_CREATE_IRQCHIP", e))?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(|e| VmError::Kvm("KVM_GET_SUPPORTED_CPUID", e))?;
        let leaf = |function: u32| {
            cpuid
                .as_slice()
                .iter()
                .find(|e| e.function == function && e.index == 0)
                .copied()
        };
        let phys_bits = leaf(0x8000_0008).map_or(36, |e| (e.eax & 0xFF) as u8);
        let supported_xcr0 = leaf(0xD).map_or(0x3, |e| (u64::from(e.edx) << 32) | u64::from(e.eax));
        let xcr0 = host_xcr0() & supported_xcr0 & GUEST_XCR0_MASK;
        let idt = HostRegion::new(IDT_ENTRIES * 16)?;
        fill_idt(&idt)?;
        let slots = u32::try_from(kvm.get_nr_memslots()).unwrap_or(u32::MAX);
        // The IDT region exists now, so the /proc/self/maps scan covers it.
        let memory = GuestMemory::new(&fd, phys_bits, slots)?;
        let shared = Shared {
            fd,
            cpuid,
            xcr0,
            idt,
            memory: Mutex::new(memory),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Creates vCPU `id` (also its x2APIC id, the IPI destination). Create
    /// it on the thread that will run it: its FS base (thread-locals) is
    /// taken from the calling thread at each `run_closure`.
    pub fn create_vcpu(&self, id: u32) -> Result<Vcpu, VmError> {
        Vcpu::new(Arc::clone(&self.shared), id)
    }

    /// KVM memory slots in use and the guest-physical bytes they cover
    /// (every mapped 2 MiB chunk of the process, plus the page tables).
    pub fn memory_usage(&self) -> (u32, u64) {
        self.shared.memory().usage()
    }

    /// Makes the host range `[start, start + len)` reachable by the guest
    /// now rather than on its first fault (e.g. NIC rings mapped later).
    pub fn map_range(&self, start: u64, len: u64) -> Result<(), VmError> {
        self.shared
            .memory()
            .map_range(&self.shared.fd, start..start + len)
            .map(drop)
    }
}

/// Writes the IDT: CPL0 exception stubs, the sandbox-call gate and the CPL3
/// interrupt entries on IST 1.
fn fill_idt(idt: &HostRegion) -> Result<(), VmError> {
    let kernel = |offset, dpl| Gate {
        offset,
        selector: arch::KERNEL_CS,
        ist: 0,
        dpl,
    };
    let mut gates = Vec::new();
    for vector in 0..stubs::EXCEPTION_VECTORS {
        let gate = match vector {
            stubs::SANDBOX_CALL_VECTOR => kernel(stubs::sandbox_call_entry(), 3),
            stubs::INTERRUPT_RETURN_VECTOR => kernel(stubs::interrupt_return_entry(), 3),
            _ => kernel(stubs::exception_stub(vector), 0),
        };
        gates.push((vector, gate));
    }
    for vector in [stubs::TIMER_VECTOR, stubs::IPI_VECTOR] {
        let entry =
            stubs::interrupt_entry(vector).ok_or(VmError::Layout("missing interrupt entry"))?;
        gates.push((
            vector,
            Gate {
                offset: entry,
                selector: arch::USER_CS,
                ist: 1,
                dpl: 0,
            },
        ));
    }
    for (vector, gate) in gates {
        let [low, high] = gate.encode();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&low.to_le_bytes());
        bytes[8..].copy_from_slice(&high.to_le_bytes());
        idt.write(usize::from(vector) * 16, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn open_errors_say_what_is_missing() {
        let missing = open_error(Error::from(ErrorKind::NotFound));
        assert!(matches!(missing, Unavailable::NoDevice));
        assert!(missing.to_string().contains("/dev/kvm does not exist"));
        let denied = open_error(Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(denied, Unavailable::PermissionDenied(_)));
        assert!(denied.to_string().contains("kvm group"));
        let other = open_error(Error::from_raw_os_error(libc::ENXIO));
        assert!(matches!(other, Unavailable::Broken(_)));
    }

    #[test]
    fn available_agrees_with_the_device() {
        match available() {
            Ok(()) => assert!(std::path::Path::new("/dev/kvm").exists()),
            Err(Unavailable::NoDevice) => assert!(!std::path::Path::new("/dev/kvm").exists()),
            Err(Unavailable::PermissionDenied(_)) => println!("skipped: /dev/kvm not permitted"),
            Err(e @ Unavailable::Broken(_)) => panic!("{e}"),
        }
    }
}
