//! Guest memory: KVM memory slots over the host's own mappings and the
//! page tables that map them back at their host addresses.
//!
//! Guest-physical addresses are ours to choose (they may be narrower than
//! host-virtual ones): slots are allocated upward from 4 GiB, 2 MiB-aligned,
//! so every 2 MiB host chunk becomes one large guest page. A slot refers to
//! host-virtual addresses, so a later `munmap` + `mmap` at the same place is
//! seen by the guest (KVM follows the host page tables through MMU
//! notifiers), and memory that is not mapped on the host makes `KVM_RUN`
//! fail with `EFAULT` instead of reaching freed pages.

use crate::error::VmError;
use crate::maps;
use crate::paging::PageTables;
use crate::region::LARGE_PAGE;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;

/// Guest-physical address of the first slot (above the 32-bit MMIO hole).
const GPA_BASE: u64 = 1 << 32;

/// Outcome of [`GuestMemory::map_on_fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultFix {
    /// New slots and mappings were added: resume the guest.
    Mapped,
    /// The guest already maps the address (another vCPU added it, or the
    /// fault is not about a missing mapping).
    AlreadyMapped,
    /// No readable host mapping contains the address: a real guest fault.
    NoHostMapping,
}

/// Slots and page tables of one VM. Callers serialise access (one mutex per VM).
#[derive(Debug)]
pub struct GuestMemory {
    tables: PageTables,
    next_gpa: u64,
    gpa_limit: u64,
    next_slot: u32,
    slot_limit: u32,
}

impl GuestMemory {
    /// Registers the page-table pool as slot 0 and maps every readable
    /// region of the process (except huge reservations).
    pub fn new(vm: &VmFd, phys_bits: u8, slot_limit: u32) -> Result<Self, VmError> {
        let tables = PageTables::new(GPA_BASE)?;
        let mut memory = Self {
            next_gpa: GPA_BASE,
            gpa_limit: 1u64 << phys_bits.min(52),
            next_slot: 0,
            slot_limit,
            tables,
        };
        let pool = memory.tables.pool();
        let (pool_addr, pool_len) = (pool.addr(), pool.len() as u64);
        memory.add_slot(vm, pool_addr..pool_addr + pool_len)?;
        let regions = maps::current().map_err(VmError::HostMemory)?;
        memory.map_chunks(vm, &maps::chunks_of(&regions))?;
        Ok(memory)
    }

    /// The guest's CR3.
    pub fn cr3(&self) -> u64 {
        self.tables.cr3()
    }

    /// Whether the guest has a mapping for `address`.
    pub fn is_mapped(&self, address: u64) -> bool {
        self.tables.translate(address).is_some()
    }

    fn add_slot(&mut self, vm: &VmFd, hva: std::ops::Range<u64>) -> Result<u64, VmError> {
        let size = hva.end - hva.start;
        let gpa = self.next_gpa;
        if gpa + size > self.gpa_limit {
            return Err(VmError::Layout("guest-physical address space exhausted"));
        }
        if self.next_slot >= self.slot_limit {
            return Err(VmError::Layout("KVM memory slots exhausted"));
        }
        let region = kvm_userspace_memory_region {
            slot: self.next_slot,
            flags: 0,
            guest_phys_addr: gpa,
            memory_size: size,
            userspace_addr: hva.start,
        };
        // SAFETY: the slot names host-virtual addresses of this process. KVM
        // resolves them through the host page tables at fault time (with MMU
        // notifiers), so unmapped or later-unmapped parts fail with EFAULT
        // rather than exposing freed memory; the slot is new and does not
        // overlap another in guest-physical space.
        unsafe { vm.set_user_memory_region(region) }
            .map_err(|e| VmError::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
        self.next_slot += 1;
        self.next_gpa += size;
        Ok(gpa)
    }

    /// Maps the given 2 MiB chunks (sorted) that are not mapped yet; returns
    /// how many were added.
    pub fn map_chunks(&mut self, vm: &VmFd, chunks: &[u64]) -> Result<usize, VmError> {
        let missing: Vec<u64> = chunks
            .iter()
            .copied()
            .filter(|&c| !self.is_mapped(c))
            .collect();
        for run in maps::runs(&missing) {
            let gpa = self.add_slot(vm, run.clone())?;
            for (i, chunk) in (run.start..run.end)
                .step_by(LARGE_PAGE as usize)
                .enumerate()
            {
                self.tables.map_large(chunk, gpa + i as u64 * LARGE_PAGE)?;
            }
        }
        Ok(missing.len())
    }

    /// Maps the host range `[start, start + len)`, wherever it is.
    pub fn map_range(&mut self, vm: &VmFd, start: u64, len: u64) -> Result<usize, VmError> {
        let chunks: Vec<u64> = maps::chunk_range(&(start..start + len)).collect();
        self.map_chunks(vm, &chunks)
    }

    /// Handles a guest page fault at `address` by mapping the host region
    /// that contains it.
    pub fn map_on_fault(&mut self, vm: &VmFd, address: u64) -> Result<FaultFix, VmError> {
        if self.is_mapped(address) {
            return Ok(FaultFix::AlreadyMapped);
        }
        let regions = maps::current().map_err(VmError::HostMemory)?;
        match maps::chunks_for_fault(&regions, address) {
            Some(chunks) => {
                self.map_chunks(vm, &chunks)?;
                Ok(FaultFix::Mapped)
            }
            None => Ok(FaultFix::NoHostMapping),
        }
    }
}
