//! Guest page tables mapping guest-virtual = host-virtual with 2 MiB pages
//! (SDM vol. 3A §4.5, 4-level paging). Every level sets the user bit, so the
//! CPL3 guest reaches all of it; the guest-physical address behind each
//! 2 MiB chunk is chosen by [`crate::memory`].
//!
//! The tables live in a host region that is also a KVM memory slot (at
//! `pool_gpa`); entries are written with volatile stores because running
//! vCPUs walk them concurrently.

use crate::error::VmError;
use crate::region::{HostRegion, LARGE_PAGE, PAGE};

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const LARGE: u64 = 1 << 7;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const ENTRIES: u64 = 512;
/// Lowest non-canonical user address: guest-virtual addresses stay below.
pub const USER_VA_LIMIT: u64 = 1 << 47;

/// A pool of 4 KiB tables; table 0 is the PML4 (the guest's CR3).
#[derive(Debug)]
pub struct PageTables {
    pool: HostRegion,
    pool_gpa: u64,
    used: u64,
}

impl PageTables {
    /// An empty hierarchy whose pool will sit at guest-physical `pool_gpa`.
    pub fn new(pool_gpa: u64) -> Result<Self, VmError> {
        Ok(Self {
            pool: HostRegion::new(LARGE_PAGE as usize)?,
            pool_gpa,
            used: 1,
        })
    }

    /// The pool's host region (to register as a memory slot).
    pub fn pool(&self) -> &HostRegion {
        &self.pool
    }

    /// Guest-physical address of the PML4.
    pub fn cr3(&self) -> u64 {
        self.pool_gpa
    }

    fn entry(&self, table_gpa: u64, index: u64) -> *mut u64 {
        let offset = (table_gpa - self.pool_gpa + index * 8) as usize;
        // The offset is inside the pool: table_gpa was handed out by
        // `next_table`, index < 512.
        self.pool.ptr(offset).expect("table inside the pool").cast()
    }

    fn read(&self, table_gpa: u64, index: u64) -> u64 {
        // SAFETY: `entry` points at an aligned u64 inside the pool.
        unsafe { std::ptr::read_volatile(self.entry(table_gpa, index)) }
    }

    fn write(&self, table_gpa: u64, index: u64, value: u64) {
        // SAFETY: as in `read`; the guest only reads these entries.
        unsafe { std::ptr::write_volatile(self.entry(table_gpa, index), value) }
    }

    fn next_table(&mut self) -> Result<u64, VmError> {
        if self.used * PAGE >= self.pool.len() as u64 {
            return Err(VmError::Layout("page-table pool exhausted"));
        }
        let gpa = self.pool_gpa + self.used * PAGE;
        self.used += 1;
        Ok(gpa)
    }

    fn child(&mut self, table_gpa: u64, index: u64) -> Result<u64, VmError> {
        let e = self.read(table_gpa, index);
        if e & PRESENT != 0 {
            return Ok(e & ADDRESS_MASK);
        }
        let child = self.next_table()?;
        self.write(table_gpa, index, child | PRESENT | WRITABLE | USER);
        Ok(child)
    }

    fn indices(va: u64) -> [u64; 3] {
        [
            (va >> 39) % ENTRIES,
            (va >> 30) % ENTRIES,
            (va >> 21) % ENTRIES,
        ]
    }

    /// Maps the 2 MiB chunk at `va` to guest-physical `gpa` (both aligned).
    pub fn map_large(&mut self, va: u64, gpa: u64) -> Result<(), VmError> {
        if !va.is_multiple_of(LARGE_PAGE) || !gpa.is_multiple_of(LARGE_PAGE) || va >= USER_VA_LIMIT
        {
            return Err(VmError::Layout("unaligned or non-user large page"));
        }
        let [l4, l3, l2] = Self::indices(va);
        let pdpt = self.child(self.pool_gpa, l4)?;
        let pd = self.child(pdpt, l3)?;
        self.write(pd, l2, gpa | PRESENT | WRITABLE | USER | LARGE);
        Ok(())
    }

    /// Guest-physical address `va` translates to, if mapped.
    pub fn translate(&self, va: u64) -> Option<u64> {
        if va >= USER_VA_LIMIT {
            return None;
        }
        let [l4, l3, l2] = Self::indices(va);
        let mut table = self.pool_gpa;
        for index in [l4, l3] {
            let e = self.read(table, index);
            if e & PRESENT == 0 {
                return None;
            }
            table = e & ADDRESS_MASK;
        }
        let e = self.read(table, l2);
        (e & PRESENT != 0).then(|| (e & ADDRESS_MASK) + va % LARGE_PAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_translates_large_pages() {
        let mut pt = PageTables::new(0x1_0000_0000).unwrap();
        let va = 0x7F12_3440_0000;
        assert_eq!(pt.translate(va), None);
        pt.map_large(va, 0x2_0000_0000).unwrap();
        assert_eq!(pt.translate(va + 0x1234), Some(0x2_0000_1234));
        assert_eq!(pt.translate(va + LARGE_PAGE), None);
        // Same PD: no new table. PML4, PDPT, PD = 3 tables.
        pt.map_large(va + LARGE_PAGE, 0x2_0020_0000).unwrap();
        assert_eq!(pt.used, 3);
        assert!(pt.map_large(va + 1, 0).is_err());
        assert!(pt.map_large(USER_VA_LIMIT, 0).is_err());
    }

    #[test]
    fn pool_exhaustion_is_an_error() {
        let mut pt = PageTables::new(0).unwrap();
        // Each 512 GiB slot of the PML4 costs a PDPT and a PD.
        let result = (0..256u64).try_for_each(|i| pt.map_large(i << 39, 0));
        assert!(matches!(result, Err(VmError::Layout(_))));
    }
}
