//! Guest faults are reported as errors naming the vector, RIP and CR2,
//! never as a hang or a triple fault, and the vCPU stays usable.

mod common;

use vmx::VmError;

fn expect_fault(result: Result<u64, VmError>) -> vmx::GuestFault {
    match result {
        Err(VmError::Fault(fault)) => fault,
        other => panic!("expected a guest fault, got {other:?}"),
    }
}

#[test]
fn unmapped_access_invalid_opcode_and_breakpoint_are_reported() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    let bad = 0x5ead_0000_0000u64;
    // SAFETY: nothing; the read is meant to fault (in the guest).
    let fault =
        expect_fault(vcpu.run_closure(|| unsafe { std::ptr::read_volatile(bad as *const u64) }));
    println!("{fault}");
    assert_eq!(fault.vector, 14);
    assert_eq!(fault.cr2, bad);
    assert_eq!(fault.error_code & 1, 0, "not-present fault");
    assert!(fault.to_string().contains("page fault"));
    assert!(fault.to_string().contains("0x5ead00000000"));

    // SAFETY: as above; a non-canonical address raises #GP instead.
    let fault = expect_fault(
        vcpu.run_closure(|| unsafe { std::ptr::read_volatile(0xdead_0000_0000 as *const u64) }),
    );
    assert_eq!(fault.vector, 13);

    // SAFETY: ud2 raises #UD, which is the point.
    let fault = expect_fault(vcpu.run_closure(|| unsafe {
        std::arch::asm!("ud2");
        0
    }));
    println!("{fault}");
    assert_eq!(fault.vector, 6);
    // SAFETY: the reported RIP is in this process's text; read two bytes.
    let opcode = unsafe { std::slice::from_raw_parts(fault.rip as *const u8, 2) };
    assert_eq!(opcode, &[0x0F, 0x0B], "RIP points at the ud2");

    // SAFETY: int3 with no sandbox call number in EAX is a breakpoint.
    let fault = expect_fault(vcpu.run_closure(|| unsafe {
        std::arch::asm!("int3", in("eax") 0);
        0
    }));
    assert_eq!(fault.vector, 3);
    assert_eq!(fault.reason(), "breakpoint");

    assert_eq!(vcpu.exit_counts().faults, 4);
    assert_eq!(
        vcpu.run_closure(|| 5u64).unwrap(),
        5,
        "the vCPU still runs closures"
    );
}

#[test]
fn write_to_read_only_host_memory_is_an_error() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    static READ_ONLY: u64 = 7;
    let address = &READ_ONLY as *const u64 as u64;
    // SAFETY: the write is meant to fail (in the guest): the static is in
    // a read-only host mapping.
    let result = vcpu.run_closure(|| unsafe {
        std::arch::asm!("mov qword ptr [{0}], 1", in(reg) address);
    });
    let err = result.expect_err("a write to .rodata must not succeed");
    println!("{err}");
    assert!(
        matches!(err, VmError::HostMemoryFault { .. } | VmError::Fault(_)),
        "{err:?}"
    );
    assert_eq!(READ_ONLY, 7);
}

/// Recurses with 4 KiB frames until the guest stack (8 MiB) overflows.
fn deep(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 512]);
    if depth == 0 {
        0
    } else {
        deep(depth - 1) + frame[7]
    }
}

#[test]
fn guest_stack_overflow_is_reported() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    let mut vcpu = vm.create_vcpu(0).unwrap();
    assert_eq!(
        vcpu.run_closure(|| deep(100)).unwrap(),
        5050,
        "a shallow recursion fits"
    );
    let err = vcpu
        .run_closure(|| deep(1 << 20))
        .expect_err("a 4 GiB recursion cannot fit in 8 MiB");
    println!("{err}");
    assert!(
        matches!(err, VmError::StackOverflow { .. }),
        "the guard page stops it: {err:?}"
    );
    assert_eq!(
        vcpu.run_closure(|| deep(10)).unwrap(),
        55,
        "the vCPU runs again"
    );
}
