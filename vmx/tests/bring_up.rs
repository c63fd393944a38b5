//! A closure touching heap, stack and thread-locals runs at guest CPL3 and
//! returns the right result; exits are counted.

mod common;

use std::cell::Cell;

thread_local! {
    static TLS_COUNTER: Cell<u64> = const { Cell::new(7) };
}

#[test]
fn closure_uses_heap_stack_and_thread_locals() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let (slots, bytes) = vm.memory_usage();
    println!("memory slots: {slots}, guest-physical {} MiB", bytes >> 20);
    assert!(
        slots >= 2 && bytes % (2 << 20) == 0,
        "page tables plus the process's regions"
    );
    let mut vcpu = vm.create_vcpu(0).unwrap();
    println!("syscall mode: {:?}", vcpu.syscall_mode());
    assert!(vcpu.syscall_mode().is_some(), "the syscall probe ran");
    let input: Vec<u64> = (1..=1000).collect();
    TLS_COUNTER.with(|c| c.set(40));
    let (sum, tls, boxed, in_guest) = vcpu
        .run_closure(|| {
            let on_stack = [3u64; 64];
            let heap_sum: u64 = input.iter().sum();
            let tls = TLS_COUNTER.with(|c| {
                c.set(c.get() + 2);
                c.get()
            });
            let boxed = Box::new(on_stack.iter().sum::<u64>());
            (heap_sum, tls, *boxed, vmx::guest::in_guest())
        })
        .unwrap();
    assert_eq!(sum, 500_500);
    assert_eq!(tls, 42, "guest saw the host thread's thread-local");
    assert_eq!(
        TLS_COUNTER.with(Cell::get),
        42,
        "host sees the guest's write"
    );
    assert_eq!(boxed, 192);
    assert!(in_guest);
    let counts = vcpu.exit_counts();
    assert_eq!(counts.returns, 1);
    assert_eq!(counts.faults, 0);
    println!("exits after one closure: {counts:?}");
    let stats = vcpu.kvm_stats().unwrap();
    assert!(
        stats.get("exits").is_some(),
        "KVM stats have an `exits` counter: {stats:?}"
    );
    println!("kvm stats: {:?}", stats.values);
    const ENTRIES: u32 = 200;
    let start = std::time::Instant::now();
    for i in 0..ENTRIES {
        assert_eq!(vcpu.run_closure(|| i + 1).unwrap(), i + 1);
    }
    println!(
        "run_closure of an empty closure (set-up, entry, DONE exit): {:.1} us",
        (start.elapsed() / ENTRIES).as_secs_f64() * 1e6
    );
}

#[test]
fn pure_memory_loop_makes_no_exits() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    const ITERATIONS: u64 = 20_000_000;
    let mut table = vec![0u64; 1 << 16];
    let work = |table: &mut Vec<u64>| {
        let mut x = 1u64;
        for i in 0..ITERATIONS {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            let slot = (x >> 48) as usize % table.len();
            table[slot] = table[slot].wrapping_add(x);
        }
        std::hint::black_box(table[0])
    };
    // First pass touches every page (shadow-paging faults, in the kernel).
    vcpu.run_closure(|| work(&mut table)).unwrap();
    let (ours, kvm) = (vcpu.exit_counts(), vcpu.kvm_stats().unwrap());
    let start = std::time::Instant::now();
    vcpu.run_closure(|| work(&mut table)).unwrap();
    let guest_time = start.elapsed();
    let ours = vcpu.exit_counts().since(&ours);
    let kvm = vcpu.kvm_stats().unwrap().since(&kvm);
    let start = std::time::Instant::now();
    work(&mut table);
    let host_time = start.elapsed();
    let user_exits = ours.total() - ours.returns;
    let kvm_exits = kvm.get("exits").unwrap_or(0);
    let per_million = |n: u64| n as f64 * 1e6 / ITERATIONS as f64;
    println!(
        "{ITERATIONS} loop iterations: {user_exits} exits to user space ({:.3}/M), {kvm_exits} KVM exits incl. \
         in-kernel ({:.3}/M, {} of them the return); guest {guest_time:?} vs host {host_time:?}",
        per_million(user_exits),
        per_million(kvm_exits),
        ours.returns
    );
    assert_eq!(
        user_exits, 0,
        "a pure-memory loop made exits to user space: {ours:?}"
    );
}

/// Sums with 256-bit AVX2 registers (exercises XCR0/CR4 set-up in the guest).
#[target_feature(enable = "avx2")]
fn avx2_sum(values: &[u32]) -> u32 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_setzero_si256, _mm256_storeu_si256,
    };
    let mut acc = _mm256_setzero_si256();
    for chunk in values.chunks_exact(8) {
        // SAFETY: the chunk holds exactly 8 u32 = 32 bytes; unaligned load.
        acc = _mm256_add_epi32(acc, unsafe {
            _mm256_loadu_si256(chunk.as_ptr().cast::<__m256i>())
        });
    }
    let mut lanes = [0u32; 8];
    // SAFETY: `lanes` is 32 bytes; unaligned store.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), acc) };
    lanes.iter().sum()
}

#[test]
fn avx_state_is_enabled_in_the_guest() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    if !std::arch::is_x86_feature_detected!("avx2") {
        println!("skipped: the host CPU has no AVX2");
        return;
    }
    let mut vcpu = vm.create_vcpu(0).unwrap();
    let values: Vec<u32> = (0..4096).collect();
    // SAFETY: AVX2 support was detected above.
    let sum = vcpu.run_closure(|| unsafe { avx2_sum(&values) }).unwrap();
    assert_eq!(sum, 4095 * 4096 / 2);
}
