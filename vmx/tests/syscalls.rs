//! System calls made in the guest are performed on the host: time, pipe
//! I/O, large allocations (mmap, then lazily mapped on the guest's first
//! touch), a panic's message; refused calls fail cleanly. Also measures
//! the cost of one forwarded system call.

mod common;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

#[test]
fn time_pipe_and_large_allocation_work_in_the_guest() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both fds were just created and are owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut writer = std::fs::File::from(write_end);
    let host_before = SystemTime::now();
    let before = vcpu.exit_counts();
    let (guest_now, written, big_sum) = vcpu
        .run_closure(|| {
            let now = SystemTime::now();
            let written = writer.write(b"hello from the guest").unwrap();
            // 64 MiB: glibc serves it with a fresh mmap the guest has never seen.
            let big = vec![1u8; 64 << 20];
            let sum: u64 = big.iter().step_by(4096).map(|&b| u64::from(b)).sum();
            (now, written, sum)
        })
        .unwrap();
    let exits = vcpu.exit_counts().since(&before);
    let host_after = SystemTime::now();
    assert!(
        guest_now >= host_before && guest_now <= host_after,
        "guest clock agrees with the host's"
    );
    assert_eq!(written, 20);
    let mut got = [0u8; 20];
    std::fs::File::from(read_end).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello from the guest");
    assert_eq!(big_sum, (64 << 20) / 4096);
    assert!(
        exits.syscalls >= 2,
        "write and mmap were forwarded: {exits:?}"
    );
    assert!(
        exits.lazy_maps >= 1,
        "the new mapping was added on the guest's fault: {exits:?}"
    );
    assert_eq!(exits.faults, 0);
    println!("exits: {exits:?} (time: vDSO, no syscall if the clock is read in the guest)");
}

#[test]
fn refused_call_fails_and_panic_message_reaches_the_host() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    // SAFETY: fork would return twice into the host; it must be refused.
    let forked = vcpu
        .run_closure(|| unsafe { libc::syscall(libc::SYS_fork) })
        .unwrap();
    assert_eq!(forked, -1);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vcpu.run_closure(|| panic!("guest panic {}", 42)).unwrap();
    }));
    let payload = panicked.unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(message, Some("guest panic 42"));
    // The vCPU is usable after the panic.
    assert_eq!(vcpu.run_closure(|| 6 * 7).unwrap(), 42);
}

/// Times `CALLS` getppid calls one by one; returns them sorted.
fn time_getppid(times: &mut Vec<Duration>) {
    const CALLS: usize = 2000;
    for _ in 0..CALLS {
        let start = Instant::now();
        // SAFETY: getppid has no arguments and no side effect.
        unsafe { libc::syscall(libc::SYS_getppid) };
        times.push(start.elapsed());
    }
    times.sort_unstable();
}

#[test]
fn forwarded_syscall_cost() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    let (mut guest, mut host) = (Vec::with_capacity(2000), Vec::with_capacity(2000));
    let before = vcpu.exit_counts();
    vcpu.run_closure(|| time_getppid(&mut guest)).unwrap();
    let exits = vcpu.exit_counts().since(&before);
    time_getppid(&mut host);
    assert_eq!(
        exits.syscalls,
        guest.len() as u64,
        "one exit per call: {exits:?}"
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let median = guest[guest.len() / 2];
    println!(
        "forwarded getppid ({} calls, {} exits): min {:.1} us, median {:.1} us, max {:.1} us in the guest; \
         median {:.2} us on the host (load average {})",
        guest.len(),
        exits.syscalls,
        us(guest[0]),
        us(median),
        us(guest[guest.len() - 1]),
        us(host[host.len() / 2]),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    assert!(
        median < Duration::from_millis(5),
        "a forwarded syscall took {median:?}"
    );
}

#[test]
fn clock_reads_make_no_exits() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    // Warm up: first touches of the vDSO data pages are shadow-paging faults.
    vcpu.run_closure(Instant::now).unwrap();
    let before = vcpu.exit_counts();
    let (monotonic, wall) = vcpu
        .run_closure(|| {
            let start = Instant::now();
            let mut last = start;
            for _ in 0..10_000 {
                let now = Instant::now();
                assert!(now >= last);
                last = now;
            }
            (last - start, SystemTime::now())
        })
        .unwrap();
    let exits = vcpu.exit_counts().since(&before);
    println!("10000 clock reads in the guest: {monotonic:?}, exits {exits:?}");
    assert!(
        wall.duration_since(SystemTime::UNIX_EPOCH).unwrap() > Duration::from_secs(1_600_000_000)
    );
    assert_eq!(
        exits.syscalls, 0,
        "the vDSO clock must work in the guest (TSC = host TSC)"
    );
}

#[test]
fn vcpus_on_two_threads_allocate_and_map_concurrently() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let workers: Vec<_> = (0..2u32)
        .map(|id| {
            let vm = vm.clone();
            std::thread::spawn(move || {
                let mut vcpu = vm.create_vcpu(id).unwrap();
                let sum = vcpu
                    .run_closure(|| {
                        (0..8u64)
                            .map(|round| {
                                // 3 MiB each: a fresh mmap per round, mapped on first touch.
                                let v = vec![round + u64::from(id); 3 << 17];
                                v.iter().step_by(512).sum::<u64>()
                            })
                            .sum::<u64>()
                    })
                    .unwrap();
                (sum, vcpu.exit_counts())
            })
        })
        .collect();
    for (id, worker) in workers.into_iter().enumerate() {
        let (sum, exits) = worker.join().unwrap();
        let per_round = (3u64 << 17) / 512;
        let expected: u64 = (0..8u64).map(|round| (round + id as u64) * per_round).sum();
        assert_eq!(sum, expected, "vCPU {id}");
        assert_eq!(exits.faults + exits.unexpected, 0, "vCPU {id}: {exits:?}");
        println!("vCPU {id}: {exits:?}");
    }
}

#[test]
fn guest_sees_memory_remapped_at_the_same_address() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    const LEN: usize = 1 << 20;
    // A memfd holding 0x22 bytes, written by the host kernel (not the guest).
    // SAFETY: memfd_create with a static name; the fd is owned below.
    let fd = unsafe { libc::memfd_create(c"vmx-remap".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: fd was just created and is owned by nothing else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(&[0x22; LEN]).unwrap();
    let (first, second) = vcpu
        .run_closure(|| {
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            let anonymous = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            // SAFETY: a fresh anonymous mapping.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), LEN, prot, anonymous, -1, 0) };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: p maps LEN writable bytes.
            unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0x11, LEN) };
            // SAFETY: as above.
            let first = unsafe { std::ptr::read_volatile(p.cast::<u8>().add(LEN - 1)) };
            // SAFETY: replaces our own mapping with the memfd's pages.
            let q = unsafe { libc::mmap(p, LEN, prot, libc::MAP_SHARED | libc::MAP_FIXED, fd, 0) };
            assert_eq!(q, p);
            // SAFETY: q maps LEN readable bytes.
            let second = unsafe { std::ptr::read_volatile(q.cast::<u8>().add(LEN - 1)) };
            // SAFETY: unmapping our own mapping.
            assert_eq!(unsafe { libc::munmap(q, LEN) }, 0);
            (first, second)
        })
        .unwrap();
    assert_eq!(
        (first, second),
        (0x11, 0x22),
        "the guest sees the new pages, not stale ones"
    );
}
