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
    let mut vcpu = vm.create_vcpu(0).unwrap();
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
}
