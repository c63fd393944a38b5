//! Anonymous host memory owned by the sandbox (page-table pool, IDT,
//! per-vCPU stacks): an `mmap` aligned to 2 MiB so that the guest maps it
//! with large pages, unmapped on drop.

use crate::error::VmError;

/// Size of a large (2 MiB) page, the granule of the guest mappings.
pub const LARGE_PAGE: u64 = 2 << 20;
/// Size of a small page.
pub const PAGE: u64 = 4096;

/// One owned anonymous mapping, readable and writable, zero-filled.
#[derive(Debug)]
pub struct HostRegion {
    base: *mut u8,
    len: usize,
    reserved_base: *mut u8,
    reserved_len: usize,
}

// SAFETY: the region is plain memory owned by this value; moving the owner
// between threads does not change who may access it.
unsafe impl Send for HostRegion {}
// SAFETY: `&HostRegion` only exposes the address; writes go through raw
// pointers whose users document their own synchronisation.
unsafe impl Sync for HostRegion {}

impl HostRegion {
    /// Maps `len` bytes (rounded up to 2 MiB) at a 2 MiB-aligned address.
    pub fn new(len: usize) -> Result<Self, VmError> {
        let large = LARGE_PAGE as usize;
        let len = len.div_ceil(large) * large;
        let reserved_len = len + large;
        // SAFETY: anonymous private mapping at a kernel-chosen address; no
        // existing memory is affected.
        let reserved = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if reserved == libc::MAP_FAILED {
            return Err(VmError::HostMemory(std::io::Error::last_os_error()));
        }
        let reserved_base = reserved.cast::<u8>();
        let offset = (large - (reserved_base as usize % large)) % large;
        Ok(Self {
            // SAFETY: offset < 2 MiB and the reservation is len + 2 MiB long.
            base: unsafe { reserved_base.add(offset) },
            len,
            reserved_base,
            reserved_len,
        })
    }

    /// First byte of the region.
    pub fn addr(&self) -> u64 {
        self.base as u64
    }

    /// Length in bytes (a multiple of 2 MiB).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never: the length is rounded up).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Raw pointer to byte `offset`, or `None` past the end.
    pub fn ptr(&self, offset: usize) -> Option<*mut u8> {
        // SAFETY: offset is within the mapping.
        (offset < self.len).then(|| unsafe { self.base.add(offset) })
    }

    /// Copies `bytes` to `offset` (bounds-checked).
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<(), VmError> {
        let end = offset
            .checked_add(bytes.len())
            .filter(|&end| end <= self.len);
        let Some(_) = end else {
            return Err(VmError::Layout("write past the end of a host region"));
        };
        // SAFETY: the destination range was checked to lie in the mapping,
        // which cannot overlap the borrowed source slice.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(offset), bytes.len())
        };
        Ok(())
    }

    /// Makes `[offset, offset + len)` inaccessible (a stack guard).
    pub fn protect_none(&self, offset: usize, len: usize) -> Result<(), VmError> {
        if !offset.is_multiple_of(PAGE as usize) || offset + len > self.len {
            return Err(VmError::Layout("guard outside the host region"));
        }
        // SAFETY: the range is page-aligned and inside our own mapping.
        let rc = unsafe { libc::mprotect(self.base.add(offset).cast(), len, libc::PROT_NONE) };
        if rc != 0 {
            return Err(VmError::HostMemory(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for HostRegion {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the reservation made in `new`.
        unsafe { libc::munmap(self.reserved_base.cast(), self.reserved_len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_is_aligned_zeroed_and_bounds_checked() {
        let r = HostRegion::new(5000).unwrap();
        assert_eq!(r.addr() % LARGE_PAGE, 0);
        assert_eq!(r.len() as u64, LARGE_PAGE);
        r.write(8, &[1, 2, 3]).unwrap();
        // SAFETY: offset 8..11 is inside the region just written.
        let read = unsafe { std::slice::from_raw_parts(r.ptr(8).unwrap(), 4) };
        assert_eq!(read, &[1, 2, 3, 0]);
        assert!(r.write(r.len() - 1, &[0, 0]).is_err());
        assert!(r.ptr(r.len()).is_none());
    }
}
