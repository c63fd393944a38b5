//! The byte layout of a shm NIC region and the mapping that holds it.
//!
//! ```text
//! offset 0       Header            magic, version, geometry, port generation
//! ports_offset   PortBlock × P     state, MAC, IPv4, queue count, steering tables
//! rings_offset   Ring × (P·Q)²     one SPSC descriptor ring per (sender port,
//!                                  sender queue, receiver port, receiver queue)
//! pools_offset   Pool × (P·Q)      BUFFERS frame slots of SLOT_SIZE bytes,
//!                                  owned by one sending (port, queue)
//! ```
//!
//! Every shared word is an atomic (all-zero bytes, as left by `ftruncate`,
//! are a valid initial state), so the structures below are only ever used
//! through shared references; frame bytes are plain memory whose ownership
//! is handed over by the rings (see the `ring` module for the ordering).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::ShmError;
use crate::nic::INDIRECTION_ENTRIES;

/// `b"ZYGOSNIC"`: written last by the creator, so an attacher that sees it
/// sees an initialised region.
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"ZYGOSNIC");
/// Bumped on any change of this layout.
pub(super) const VERSION: u32 = 2;
/// Bytes of one frame slot (a 1514-byte Ethernet frame rounded up to 64).
pub(super) const SLOT_SIZE: usize = 1536;
/// Largest frame the shm NIC carries: Ethernet header + 1500-byte MTU.
pub(super) const MAX_FRAME_LEN: usize = 1514;
/// Most queues of one port.
pub(super) const MAX_QUEUES: usize = 64;
/// Entries of each port's exact-match steering override table.
pub(super) const OVERRIDE_CAPACITY: usize = 1024;
const PAGE: usize = 4096;

/// The size limits of a region, fixed when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmGeometry {
    /// Most ports (endpoints) that can be attached at once (2..=64).
    pub max_ports: usize,
    /// Most queues one port can have (1..=64).
    pub max_queues: usize,
    /// Frame buffers of each sending queue, also the capacity of every ring
    /// (a power of two, 2..=65536).
    pub buffers_per_queue: usize,
}

impl Default for ShmGeometry {
    fn default() -> Self {
        Self {
            max_ports: 4,
            max_queues: 8,
            buffers_per_queue: 512,
        }
    }
}

impl ShmGeometry {
    pub(super) fn validate(&self) -> Result<(), ShmError> {
        let ok = (2..=64).contains(&self.max_ports)
            && (1..=MAX_QUEUES).contains(&self.max_queues)
            && (2..=65536).contains(&self.buffers_per_queue)
            && self.buffers_per_queue.is_power_of_two();
        if ok {
            Ok(())
        } else {
            Err(ShmError::BadGeometry(*self))
        }
    }
}

/// The region header.
#[repr(C, align(128))]
pub(super) struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub max_ports: AtomicU32,
    pub max_queues: AtomicU32,
    pub buffers_per_queue: AtomicU32,
    pub slot_size: AtomicU32,
    pub total_len: AtomicU64,
    /// Bumped (Release) after every port attach or detach.
    pub generation: AtomicU64,
}

/// Port states.
pub(super) const PORT_FREE: u32 = 0;
pub(super) const PORT_CLAIMED: u32 = 1;
pub(super) const PORT_ACTIVE: u32 = 2;

/// One switch port: its identity and its receive steering tables.
#[repr(C, align(128))]
pub(super) struct PortBlock {
    pub state: AtomicU32,
    /// Queue count; kept after detach so frames still in rings are found.
    pub queues: AtomicU32,
    pub ipv4: AtomicU32,
    pub owner_pid: AtomicU32,
    /// MAC address in the low 48 bits (big-endian byte order).
    pub mac: AtomicU64,
    pub indirection: [AtomicU32; INDIRECTION_ENTRIES],
    /// Per queue, the thread parked on it (`pid << 32 | tid`, 0: none),
    /// interrupted by the next sender to the queue (see the `queue`
    /// module's wake-ups).
    pub sleepers: [AtomicU64; MAX_QUEUES],
    pub overrides: OverrideTable,
}

/// The exact-match steering table of a port (a seqlock-protected
/// open-addressing hash table; see the `steering` module).
#[repr(C, align(128))]
pub(super) struct OverrideTable {
    pub seq: AtomicU32,
    pub writer: AtomicU32,
    pub len: AtomicU32,
    pub entries: [OverrideEntry; OVERRIDE_CAPACITY],
}

/// One override: a 4-tuple and its queue + 1 (0 marks an empty entry).
#[repr(C)]
pub(super) struct OverrideEntry {
    pub src_ip: AtomicU32,
    pub dst_ip: AtomicU32,
    pub ports: AtomicU32,
    pub queue_plus_one: AtomicU32,
}

/// The shared indices of one SPSC ring, each on its own cache-line pair.
#[repr(C, align(128))]
pub(super) struct RingHeader {
    /// Descriptors published by the producer (free-running count).
    pub tail: AtomicU32,
    _tail_line: [u8; 124],
    /// Descriptors released by the consumer (free-running count).
    pub head: AtomicU32,
    _head_line: [u8; 124],
}

/// Where everything lives, computed from the geometry alone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub geometry: ShmGeometry,
    ports_offset: usize,
    rings_offset: usize,
    ring_stride: usize,
    pools_offset: usize,
    pool_stride: usize,
    pub total_len: usize,
}

fn round_up(value: usize, to: usize) -> usize {
    value.div_ceil(to) * to
}

impl Layout {
    pub fn new(geometry: ShmGeometry) -> Self {
        let endpoints = geometry.max_ports * geometry.max_queues;
        let ports_offset = round_up(size_of::<Header>(), PAGE);
        let rings_offset = round_up(
            ports_offset + geometry.max_ports * size_of::<PortBlock>(),
            PAGE,
        );
        let ring_stride = round_up(
            size_of::<RingHeader>() + geometry.buffers_per_queue * size_of::<AtomicU64>(),
            128,
        );
        let pools_offset = round_up(rings_offset + endpoints * endpoints * ring_stride, PAGE);
        let pool_stride = geometry.buffers_per_queue * SLOT_SIZE;
        Self {
            geometry,
            ports_offset,
            rings_offset,
            ring_stride,
            pools_offset,
            pool_stride,
            total_len: pools_offset + endpoints * pool_stride,
        }
    }

    /// A layout that only knows the mapping length (used to read the header
    /// before the geometry is known).
    fn header_only(total_len: usize) -> Self {
        Self {
            geometry: ShmGeometry::default(),
            ports_offset: 0,
            rings_offset: 0,
            ring_stride: 0,
            pools_offset: 0,
            pool_stride: 0,
            total_len,
        }
    }

    /// Index of the ring from (`src_port`, `src_queue`) to (`dst_port`, `dst_queue`).
    pub fn ring_index(
        &self,
        src_port: usize,
        src_queue: usize,
        dst_port: usize,
        dst_queue: usize,
    ) -> usize {
        let queues = self.geometry.max_queues;
        let endpoints = self.geometry.max_ports * queues;
        (src_port * queues + src_queue) * endpoints + dst_port * queues + dst_queue
    }
}

/// A shared mapping of a region file (unlinked on drop by its creator).
pub(super) struct Mapping {
    base: NonNull<u8>,
    pub layout: Layout,
    /// The region file, kept open so it can be handed to other processes.
    pub file: File,
    unlink_on_drop: Option<PathBuf>,
}

// SAFETY: the mapping is plain shared memory that stays mapped until drop;
// every shared word in it is an atomic, and frame bytes are only accessed
// under the ring protocol (one side at a time), so moving the handle to or
// sharing it with another thread is as sound as doing so across processes.
unsafe impl Send for Mapping {}
// SAFETY: see the `Send` impl: all concurrent access goes through atomics.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Creates the region file `path` (which must not exist) and initialises it.
    pub fn create(path: PathBuf, geometry: ShmGeometry) -> Result<Self, ShmError> {
        geometry.validate()?;
        let layout = Layout::new(geometry);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| ShmError::io(&path, source))?;
        let mapping = file
            .set_len(layout.total_len as u64)
            .map_err(|source| ShmError::io(&path, source))
            .and_then(|()| Self::map(file, &path, layout));
        let mut mapping = match mapping {
            Ok(mapping) => mapping,
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                return Err(error);
            }
        };
        mapping.unlink_on_drop = Some(path);
        let header = mapping.header();
        header.version.store(VERSION, Ordering::Relaxed);
        header
            .max_ports
            .store(geometry.max_ports as u32, Ordering::Relaxed);
        header
            .max_queues
            .store(geometry.max_queues as u32, Ordering::Relaxed);
        header
            .buffers_per_queue
            .store(geometry.buffers_per_queue as u32, Ordering::Relaxed);
        header.slot_size.store(SLOT_SIZE as u32, Ordering::Relaxed);
        header
            .total_len
            .store(layout.total_len as u64, Ordering::Relaxed);
        header.magic.store(MAGIC, Ordering::Release);
        Ok(mapping)
    }

    /// Maps the existing region file `path` and checks its header.
    pub fn attach(path: PathBuf) -> Result<Self, ShmError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| ShmError::io(&path, source))?;
        Self::attach_file(file, path)
    }

    /// Maps an open region file (`path` names it in errors) and checks its
    /// header.
    pub fn attach_file(file: File, path: PathBuf) -> Result<Self, ShmError> {
        let file_len = file
            .metadata()
            .map_err(|source| ShmError::io(&path, source))?
            .len() as usize;
        if file_len < size_of::<Header>() {
            return Err(ShmError::NotReady(path));
        }
        let mut mapping = Self::map(file, &path, Layout::header_only(file_len))?;
        let header = mapping.header();
        let magic = header.magic.load(Ordering::Acquire);
        if magic == 0 {
            return Err(ShmError::NotReady(path));
        }
        if magic != MAGIC {
            return Err(ShmError::NotAZygosNic(path));
        }
        let version = header.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(ShmError::VersionMismatch {
                found: version,
                expected: VERSION,
            });
        }
        let geometry = ShmGeometry {
            max_ports: header.max_ports.load(Ordering::Relaxed) as usize,
            max_queues: header.max_queues.load(Ordering::Relaxed) as usize,
            buffers_per_queue: header.buffers_per_queue.load(Ordering::Relaxed) as usize,
        };
        geometry.validate()?;
        let layout = Layout::new(geometry);
        let slot_size = header.slot_size.load(Ordering::Relaxed) as usize;
        if layout.total_len != file_len || slot_size != SLOT_SIZE {
            return Err(ShmError::SizeMismatch {
                file_len,
                expected: layout.total_len,
            });
        }
        mapping.layout = layout;
        Ok(mapping)
    }

    fn map(file: File, path: &std::path::Path, layout: Layout) -> Result<Self, ShmError> {
        // SAFETY: a fresh shared read-write mapping of `total_len` bytes of
        // an open file; the kernel picks the address, so no existing memory
        // is affected.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.total_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(ShmError::io(path, std::io::Error::last_os_error()));
        }
        let base = NonNull::new(address.cast::<u8>())
            .ok_or_else(|| ShmError::io(path, std::io::Error::other("mmap returned null")))?;
        Ok(Self {
            base,
            layout,
            file,
            unlink_on_drop: None,
        })
    }

    /// A shared reference to a `T` at `offset`.
    ///
    /// # Safety
    /// `offset + size_of::<T>()` must lie within the mapping, `offset` must be
    /// aligned for `T`, and `T` must be made of atomics (valid for any bytes
    /// and safe to share between threads and processes).
    unsafe fn at<T>(&self, offset: usize) -> &T {
        debug_assert!(offset + size_of::<T>() <= self.layout.total_len);
        // SAFETY: guaranteed by the caller; the memory stays mapped while
        // `self` lives, which bounds the returned lifetime.
        unsafe { &*self.base.as_ptr().add(offset).cast::<T>() }
    }

    pub fn header(&self) -> &Header {
        // SAFETY: the header is at offset 0 of a page-aligned mapping at
        // least `size_of::<Header>()` long (checked at create/attach), and
        // is made of atomics.
        unsafe { self.at(0) }
    }

    pub fn port(&self, port: usize) -> &PortBlock {
        assert!(port < self.layout.geometry.max_ports);
        // SAFETY: `port` is in range, so the block lies inside the port
        // array; offsets are multiples of the block's 128-byte alignment.
        unsafe { self.at(self.layout.ports_offset + port * size_of::<PortBlock>()) }
    }

    pub fn ports(&self) -> impl Iterator<Item = (usize, &PortBlock)> {
        (0..self.layout.geometry.max_ports).map(|port| (port, self.port(port)))
    }

    /// Ring `index`: its indices and its descriptor slots.
    pub fn ring(&self, index: usize) -> (&RingHeader, &[AtomicU64]) {
        let endpoints = self.layout.geometry.max_ports * self.layout.geometry.max_queues;
        assert!(index < endpoints * endpoints);
        let offset = self.layout.rings_offset + index * self.layout.ring_stride;
        // SAFETY: `index` is in range, so the ring header and its
        // `buffers_per_queue` descriptors (ring_stride bytes) lie inside the
        // ring array; offsets are multiples of 128 and all words are atomics.
        unsafe {
            let header = self.at::<RingHeader>(offset);
            let slots = std::slice::from_raw_parts(
                self.base
                    .as_ptr()
                    .add(offset + size_of::<RingHeader>())
                    .cast::<AtomicU64>(),
                self.layout.geometry.buffers_per_queue,
            );
            (header, slots)
        }
    }

    /// The first byte of frame buffer `buffer` of sending endpoint
    /// (`port`, `queue`). Reading or writing it is governed by the rings.
    pub fn buffer(&self, port: usize, queue: usize, buffer: usize) -> *mut u8 {
        let geometry = self.layout.geometry;
        assert!(port < geometry.max_ports && queue < geometry.max_queues);
        assert!(buffer < geometry.buffers_per_queue);
        let offset = self.layout.pools_offset
            + (port * geometry.max_queues + queue) * self.layout.pool_stride
            + buffer * SLOT_SIZE;
        // SAFETY: every index is in range, so `offset + SLOT_SIZE` lies inside
        // the pool array of the mapping.
        unsafe { self.base.as_ptr().add(offset) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`total_len` are exactly what mmap returned/was
        // given; every reference into the mapping borrows `self`, so none
        // outlives this unmap.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.layout.total_len) };
        if let Some(path) = &self.unlink_on_drop {
            let _ = std::fs::remove_file(path);
        }
    }
}
