//! Keeps the allocator off the data path's exits. Inside a vCPU every
//! system call is an exit to user space (tens of µs here), and glibc's
//! malloc makes some while it serves: a thread's arena grows page by page
//! with `mprotect`, shrinks with `madvise` when its free top exceeds the
//! trim threshold, and blocks above the mmap threshold get their own
//! `mmap`/`munmap`. As DPDK and IX reserve their memory up front, the
//! platform stops trimming, serves large blocks from the arenas, and grows
//! each core thread's arena (and the arena of the thread that built the
//! cores) once, on the host, before the cores enter their vCPUs. What is left:
//! a core freeing or growing a block of another thread's arena takes that
//! arena's lock, a futex (syscall 202) when the lock is contended.

/// Free top of an arena kept rather than returned to the kernel.
const TRIM_THRESHOLD: i32 = i32::MAX;
/// Largest block served from an arena (glibc caps it at 32 MiB on 64-bit).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// What each core thread's arena is grown to before the run.
const RESERVE_BYTES: usize = 16 << 20;
/// Blocks of the reservation, each well below the mmap threshold so that
/// they come from the arena.
const RESERVE_BLOCK: usize = 64 << 10;

/// Process-wide: no trimming, large blocks from the arenas. Returns false
/// when glibc refused a setting (the data path may then take exits, which
/// the exit counters show).
pub(super) fn keep_memory() -> bool {
    // SAFETY: mallopt only changes malloc's tunables; it takes malloc's own
    // locks and is safe to call from any thread at any time.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    }
}

/// Grows the calling thread's arena by [`RESERVE_BYTES`] and gives the
/// blocks back to it (kept, since [`keep_memory`] stopped trimming). Called
/// by each core thread and by the thread that built the cores, whose
/// blocks the cores free and grow in that thread's arena.
pub(super) fn reserve_thread_arena() {
    let blocks: Vec<Vec<u8>> = (0..RESERVE_BYTES / RESERVE_BLOCK)
        .map(|_| Vec::with_capacity(RESERVE_BLOCK))
        .collect();
    drop(std::hint::black_box(blocks));
}
