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
//!
//! Nothing here allocates after construction: [`GuestMemory::map_on_fault`]
//! runs while the faulting guest code may hold the allocator's lock.

use crate::error::VmError;
use crate::maps;
use crate::paging::PageTables;
use crate::region::LARGE_PAGE;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use std::ops::{ControlFlow, Range};

/// Guest-physical address of the first slot (above the 32-bit MMIO hole).
const GPA_BASE: u64 = 1 << 32;

/// Outcome of [`GuestMemory::map_on_fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultFix {
    /// New slots and mappings were added: resume the guest.
    Mapped,
    /// The guest already maps the address (another vCPU added it).
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
        let mut result = Ok(());
        maps::for_each_region(|region| {
            if maps::mapped_up_front(region)
                && let Err(e) = memory.map_range(vm, region.range.clone())
            {
                result = Err(e);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(VmError::HostMemory)?;
        result.map(|()| memory)
    }

    /// Memory slots registered and guest-physical bytes they cover.
    pub fn usage(&self) -> (u32, u64) {
        (self.next_slot, self.next_gpa - GPA_BASE)
    }

    /// The guest's CR3.
    pub fn cr3(&self) -> u64 {
        self.tables.cr3()
    }

    /// Whether the guest has a mapping for `address`.
    pub fn is_mapped(&self, address: u64) -> bool {
        self.tables.translate(address).is_some()
    }

    fn add_slot(&mut self, vm: &VmFd, hva: Range<u64>) -> Result<u64, VmError> {
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

    fn map_run(&mut self, vm: &VmFd, run: Range<u64>) -> Result<(), VmError> {
        let gpa = self.add_slot(vm, run.clone())?;
        for chunk in (run.start..run.end).step_by(LARGE_PAGE as usize) {
            self.tables.map_large(chunk, gpa + (chunk - run.start))?;
        }
        Ok(())
    }

    /// Maps the 2 MiB chunks covering `range` that the guest does not map
    /// yet, one slot per run of consecutive new chunks; returns how many
    /// chunks were added.
    pub fn map_range(&mut self, vm: &VmFd, range: Range<u64>) -> Result<u64, VmError> {
        let first = range.start - range.start % LARGE_PAGE;
        let end = range.end.div_ceil(LARGE_PAGE) * LARGE_PAGE;
        let mut added = 0;
        let mut run: Option<Range<u64>> = None;
        for chunk in (first..end).step_by(LARGE_PAGE as usize) {
            if self.is_mapped(chunk) {
                if let Some(r) = run.take() {
                    self.map_run(vm, r)?;
                }
                continue;
            }
            added += 1;
            match &mut run {
                Some(r) => r.end = chunk + LARGE_PAGE,
                None => run = Some(chunk..chunk + LARGE_PAGE),
            }
        }
        if let Some(r) = run {
            self.map_run(vm, r)?;
        }
        Ok(added)
    }

    /// Handles a guest page fault at `address` by mapping the host region
    /// that contains it.
    pub fn map_on_fault(&mut self, vm: &VmFd, address: u64) -> Result<FaultFix, VmError> {
        if self.is_mapped(address) {
            return Ok(FaultFix::AlreadyMapped);
        }
        match maps::readable_region_at(address).map_err(VmError::HostMemory)? {
            Some(region) => {
                self.map_range(vm, maps::range_to_map(&region, address))?;
                Ok(FaultFix::Mapped)
            }
            None => Ok(FaultFix::NoHostMapping),
        }
    }
}
