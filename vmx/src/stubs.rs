//! The guest's CPL0 stubs and its CPL3 interrupt entry, assembled into this
//! crate's own text section: since guest-virtual = host-virtual, the guest
//! executes them at their host addresses (no separate guest image).
//!
//! CPL0 code is emulated instruction by instruction on PVM-style hosts
//! (DESIGN.md, "What KVM does on these machines"), so each CPL0 stub is two
//! to six instructions. Hypercalls are `out imm8, al` executed at CPL0 (the
//! port says which); the host reads the registers it needs with
//! `KVM_GET_REGS`. CPL3 cannot make them directly: the host keeps the
//! guest's IOPL at 0 whatever RFLAGS says, so CPL3 code reaches them through
//! `syscall` or an `int` gate.
//!
//! | entry                  | reached by                     | CPL | does                                 |
//! |------------------------|--------------------------------|-----|--------------------------------------|
//! | exception stub `v`     | exception `v` (0..32)          | 0   | `out EXCEPTION_PORT_BASE + v`, iretq |
//! | syscall entry (LSTAR)  | `syscall` at CPL3              | 3   | sandbox call SYSCALL, `jmp rcx`      |
//! | ... on VT-x hosts      | `syscall` at CPL3              | 0   | `out SYSCALL_PORT`, `sysretq`        |
//! | sandbox-call gate      | `int3` (vector 3), R11D = call | 0   | by R11D:                             |
//! |   `SANDBOX_WRMSR`      | IPI send, TSC deadline         |     | `wrmsr`                              |
//! |   `SANDBOX_SYSCALL`    | the syscall entry              |     | `out SYSCALL_PORT`                   |
//! |   `SANDBOX_DONE`       | closure returned               |     | `out DONE_PORT`                      |
//! |   `SANDBOX_PROBE`      | syscall-mode probe (LSTAR)     |     | `out PROBE_PORT`                     |
//! |   anything else        | a real breakpoint              |     | exception stub 3                     |
//! | interrupt-return gate  | `int1` (vector 1)              | 0   | x2APIC EOI, return from interrupt    |
//! | interrupt entry        | vectors 0xF1, 0xF2 (IST 1)     | 3   | saves state, calls the handler       |
//!
//! Measured on these hosts: `int n` raises #UD, `out` at CPL3 raises #GP
//! (the host keeps the guest's IOPL at 0 whatever RFLAGS says), `syscall`
//! jumps to IA32_LSTAR without leaving CPL3, and `int1` reports RIP on
//! itself (so it cannot return to its caller). Exceptions do reach CPL0
//! through the IDT and the TSS, so the CPL3-to-CPL0 doors are the
//! breakpoint trap `int3` and, for the interrupt return only, `int1`.
//! Each path is a few emulated instructions: a send is 4, a system call 5
//! plus the exit, an interrupt return 6. Where `syscall` does enter CPL0
//! (VT-x), a probe at vCPU creation ([`SyscallMode`]) installs the direct
//! CPL0 entry instead; the rest is the same on both kinds of host.
//!
//! The interrupt entry runs at CPL3 through a gate whose selector is the
//! user code segment, on the IST 1 stack (IST forces a stack switch even
//! without a privilege change, so the interrupted code's red zone survives):
//! the handler is ordinary host-compiled Rust running natively, and only the
//! EOI and the return (which must happen at CPL0 to restore IF) cost
//! emulated CPL0 instructions.

use std::arch::global_asm;

/// Port of the `out` that forwards a `syscall` to the host.
pub const SYSCALL_PORT: u16 = 0xE0;
/// Port of the `out` the DONE gate makes when the closure returned.
pub const DONE_PORT: u16 = 0xE1;
/// Exception `v` (0..32) exits on port `EXCEPTION_PORT_BASE + v`.
pub const EXCEPTION_PORT_BASE: u16 = 0x40;
/// Number of architectural exception vectors.
pub const EXCEPTION_VECTORS: u8 = 32;
/// Bytes between consecutive exception stubs.
pub const EXCEPTION_STUB_STRIDE: usize = 16;
/// Vector of the TSC-deadline timer interrupt.
pub const TIMER_VECTOR: u8 = 0xF1;
/// Vector of the inter-processor interrupt (ZygOS uses 0xF2).
pub const IPI_VECTOR: u8 = 0xF2;
/// Vector of the sandbox-call gate, raised by `int3` with a call number in
/// R11D (DPL 3). `int3` is a trap everywhere, so the gate returns after it.
pub const SANDBOX_CALL_VECTOR: u8 = 3;
/// Vector of the interrupt-return gate, raised by `int1` (ICEBP) at the
/// end of the CPL3 interrupt entry; nothing else raises it (no debugger,
/// TF never set).
pub const INTERRUPT_RETURN_VECTOR: u8 = 1;
/// Sandbox call number (in R11D) writing an MSR at CPL0: ECX = MSR index,
/// EDX:EAX = value.
pub const SANDBOX_WRMSR: u32 = 0x7A79_0001;
/// Sandbox call number of a forwarded system call (the Linux number in RAX).
pub const SANDBOX_SYSCALL: u32 = 0x7A79_0002;
/// Sandbox call number of the syscall-mode probe (CS in RAX).
pub const SANDBOX_PROBE: u32 = 0x7A79_0004;
/// Port of the `out` reporting the probe.
pub const PROBE_PORT: u16 = 0xE2;
/// Sandbox call number telling the host the closure returned (DONE exit).
pub const SANDBOX_DONE: u32 = 0x7A79_0003;
/// Bytes the interrupt entry reserves on the IST stack for its XSAVE area.
pub const XSAVE_AREA: usize = 4096;

// Exception stubs: 32 entries of 16 bytes. Vectors without an error code
// push a zero so that the frame the host reads is always
// [error code, RIP, CS, RFLAGS, RSP, SS] at the stub's RSP.
global_asm!(
    ".pushsection .text.vmx_stubs,\"ax\",@progbits",
    ".balign 16",
    ".global vmx_exception_stubs",
    "vmx_exception_stubs:",
    ".set vmx_vec, 0",
    ".rept 32",
    ".balign 16",
    ".if (vmx_vec != 8) && (vmx_vec != 10) && (vmx_vec != 11) && (vmx_vec != 12) && (vmx_vec != 13) && (vmx_vec != 14) && (vmx_vec != 17) && (vmx_vec != 21) && (vmx_vec != 29) && (vmx_vec != 30)",
    "push 0",
    ".endif",
    "out 0x40 + vmx_vec, al",
    "add rsp, 8",
    "iretq",
    ".set vmx_vec, vmx_vec + 1",
    ".endr",
    // IA32_LSTAR. `syscall` arrives here still at CPL3 on these hosts
    // (IA32_FMASK is 0: flags, IF included, are unchanged), so this is
    // native code: name the call in R11 (which `syscall` clobbers anyway),
    // enter CPL0 through the sandbox-call gate, then return to the caller
    // (RCX). The system-call number stays in RAX for the host.
    ".balign 16",
    ".global vmx_syscall_entry_cpl3",
    "vmx_syscall_entry_cpl3:",
    "mov r11d, {syscall}",
    "int3",
    "jmp rcx",
    // IA32_LSTAR where `syscall` does enter CPL0 (hardware VT-x): the exit
    // at once, then sysretq (IA32_FMASK clears IF, so no interrupt is taken
    // at CPL0 on the caller's stack).
    ".balign 16",
    ".global vmx_syscall_entry_cpl0",
    "vmx_syscall_entry_cpl0:",
    "out 0xE0, al",
    ".byte 0x48, 0x0f, 0x07", // sysretq
    // IA32_LSTAR while probing which of the two applies: report the CS
    // that `syscall` loaded (RAX) through the sandbox-call gate.
    ".balign 16",
    ".global vmx_syscall_probe",
    "vmx_syscall_probe:",
    "mov rax, cs",
    "mov r11d, {probe}",
    "int3",
    "jmp rcx",
    // Sandbox-call gate: vector 3, entered by `int3` at CPL3 with the call
    // in R11D; any other value is a real breakpoint, reported as vector 3.
    ".balign 16",
    ".global vmx_sandbox_call",
    "vmx_sandbox_call:",
    "cmp r11d, {wrmsr}",
    "jne 3f",
    // WRMSR: ECX = MSR, EDX:EAX = value, as the instruction wants them.
    "wrmsr",
    "iretq",
    "3:",
    "cmp r11d, {syscall}",
    "jne 4f",
    // A system call: number in RAX, arguments in RDI, RSI, RDX, R10, R8,
    // R9; the host puts the result in RAX.
    "out 0xE0, al",
    "iretq",
    "4:",
    "cmp r11d, {done}",
    "jne 5f",
    "out 0xE1, al",
    "ud2",
    "5:",
    "cmp r11d, {probe}",
    "jne 6f",
    "out 0xE2, al",
    "iretq",
    "6:",
    "jmp vmx_exception_stubs + 3 * 16",
    // Interrupt-return gate: vector 1, entered by `int1` at the end of the
    // CPL3 interrupt entry with ECX = x2APIC EOI and EDX:EAX = 0 loaded.
    // The `int1` frame's RSP points at the interrupted context's RDX, RCX,
    // RAX and interrupt frame on the IST stack. Returning with iretq from
    // CPL0 is what restores IF: at CPL3 with IOPL 0, iretq and popf leave
    // IF unchanged. (The `int1` frame's RIP is not used, so it does not
    // matter that these hosts report it on the instruction itself.)
    ".balign 16",
    ".global vmx_interrupt_return",
    "vmx_interrupt_return:",
    "wrmsr",
    "mov rsp, [rsp + 24]",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "iretq",
    // CPL3 interrupt entries (IST 1 stack, IF clear).
    ".balign 16",
    ".global vmx_timer_entry",
    "vmx_timer_entry:",
    "push rax",
    "mov eax, 0xF1",
    "jmp 2f",
    ".balign 16",
    ".global vmx_ipi_entry",
    "vmx_ipi_entry:",
    "push rax",
    "mov eax, 0xF2",
    "2:",
    "push rcx",
    "push rdx",
    "push rdi",
    "push rsi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push rbp",
    "mov rbp, rsp",
    "mov edi, eax",
    "cld",
    "sub rsp, 4096",
    "and rsp, -64",
    // XRSTOR needs XCOMP_BV and the reserved header bytes to be zero.
    "xor eax, eax",
    "mov [rsp + 512], rax",
    "mov [rsp + 520], rax",
    "mov [rsp + 528], rax",
    "mov [rsp + 536], rax",
    "mov [rsp + 544], rax",
    "mov [rsp + 552], rax",
    "mov [rsp + 560], rax",
    "mov [rsp + 568], rax",
    "mov eax, -1",
    "mov edx, -1",
    "xsave64 [rsp]",
    "call {dispatch}",
    "mov eax, -1",
    "mov edx, -1",
    "xrstor64 [rsp]",
    "mov rsp, rbp",
    "pop rbp",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rsi",
    "pop rdi",
    "xor eax, eax",
    "xor edx, edx",
    "mov ecx, 0x80b",
    ".byte 0xf1", // int1
    "ud2",
    ".popsection",
    dispatch = sym crate::guest::interrupt_dispatch,
    wrmsr = const SANDBOX_WRMSR,
    done = const SANDBOX_DONE,
    syscall = const SANDBOX_SYSCALL,
    probe = const SANDBOX_PROBE,
);

unsafe extern "C" {
    fn vmx_exception_stubs();
    fn vmx_syscall_entry_cpl3();
    fn vmx_syscall_entry_cpl0();
    fn vmx_syscall_probe();
    fn vmx_sandbox_call();
    fn vmx_interrupt_return();
    fn vmx_timer_entry();
    fn vmx_ipi_entry();
}

/// Address of the CPL0 stub of exception `vector` (< 32).
pub fn exception_stub(vector: u8) -> u64 {
    vmx_exception_stubs as *const () as u64 + u64::from(vector) * EXCEPTION_STUB_STRIDE as u64
}

/// Where `syscall` lands in this VM, found by [`syscall_probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallMode {
    /// `syscall` keeps CPL3 (PVM-style hosts): IA32_FMASK must be 0.
    StaysAtCpl3,
    /// `syscall` enters CPL0 (hardware VT-x): IA32_FMASK clears IF.
    EntersCpl0,
}

impl SyscallMode {
    /// From the CS selector that `syscall` loaded.
    pub fn from_cs(cs: u64) -> Self {
        if cs & 3 == 3 {
            Self::StaysAtCpl3
        } else {
            Self::EntersCpl0
        }
    }

    /// IA32_LSTAR for this mode.
    pub fn entry(self) -> u64 {
        let f: unsafe extern "C" fn() = match self {
            Self::StaysAtCpl3 => vmx_syscall_entry_cpl3,
            Self::EntersCpl0 => vmx_syscall_entry_cpl0,
        };
        f as *const () as u64
    }

    /// IA32_FMASK for this mode: none at CPL3 (CPL3 could not set IF
    /// again), TF, IF, DF and AC at CPL0.
    pub fn fmask(self) -> u64 {
        match self {
            Self::StaysAtCpl3 => 0,
            Self::EntersCpl0 => (1 << 8) | (1 << 9) | (1 << 10) | (1 << 18),
        }
    }
}

/// IA32_LSTAR of the probe that finds the [`SyscallMode`].
pub fn syscall_probe() -> u64 {
    vmx_syscall_probe as *const () as u64
}

/// Address of the CPL0 sandbox-call gate (IDT vector [`SANDBOX_CALL_VECTOR`]).
pub fn sandbox_call_entry() -> u64 {
    vmx_sandbox_call as *const () as u64
}

/// Address of the CPL0 interrupt-return gate (IDT vector
/// [`INTERRUPT_RETURN_VECTOR`]).
pub fn interrupt_return_entry() -> u64 {
    vmx_interrupt_return as *const () as u64
}

/// Address of the CPL3 entry of an interrupt vector the guest handles.
pub fn interrupt_entry(vector: u8) -> Option<u64> {
    let f: unsafe extern "C" fn() = match vector {
        TIMER_VECTOR => vmx_timer_entry,
        IPI_VECTOR => vmx_ipi_entry,
        _ => return None,
    };
    Some(f as *const () as u64)
}

/// Exceptions that push an error code (SDM vol. 3A §6.15).
pub fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_mode_follows_the_loaded_cs() {
        assert_eq!(SyscallMode::from_cs(0x2b), SyscallMode::StaysAtCpl3);
        assert_eq!(SyscallMode::from_cs(0x08), SyscallMode::EntersCpl0);
        assert_eq!(
            SyscallMode::StaysAtCpl3.fmask() & (1 << 9),
            0,
            "IF kept at CPL3"
        );
        assert_ne!(
            SyscallMode::EntersCpl0.fmask() & (1 << 9),
            0,
            "IF cleared at CPL0"
        );
        assert_ne!(
            SyscallMode::StaysAtCpl3.entry(),
            SyscallMode::EntersCpl0.entry()
        );
    }

    #[test]
    fn exception_stubs_push_a_dummy_error_code_only_when_needed() {
        for vector in 0..EXCEPTION_VECTORS {
            let stub = exception_stub(vector) as *const u8;
            // SAFETY: the stubs are 32 x 16 bytes of this crate's text section.
            let code = unsafe { std::slice::from_raw_parts(stub, EXCEPTION_STUB_STRIDE) };
            let out_at = if has_error_code(vector) {
                0
            } else {
                assert_eq!(&code[..2], &[0x6A, 0x00], "push 0 in stub {vector}");
                2
            };
            assert_eq!(code[out_at], 0xE6, "out imm8, al in stub {vector}");
            assert_eq!(
                u16::from(code[out_at + 1]),
                EXCEPTION_PORT_BASE + u16::from(vector)
            );
        }
    }
}
