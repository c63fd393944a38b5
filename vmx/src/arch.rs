//! x86-64 system structures the guest needs: the GDT with its TSS
//! descriptor, the TSS itself, IDT gates and the control-register and MSR
//! values of a 64-bit guest running at CPL3 (Intel SDM vol. 3A, ch. 3, 6, 7).
//!
//! Everything here is plain data built by pure functions, so it is unit
//! tested without /dev/kvm; [`crate::vcpu`] copies it into guest memory and
//! into `kvm_sregs`.

/// Kernel (CPL0) 64-bit code selector: the CS of every CPL0 stub and of `syscall`.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector, the SS that `syscall` loads (STAR bits 47..32, + 8).
pub const KERNEL_SS: u16 = 0x10;
/// Base of the user selectors for `sysretq` (STAR bits 63..48): CS = +16, SS = +8.
pub const SYSRET_BASE: u16 = 0x18;
/// User data selector with RPL 3.
pub const USER_DS: u16 = 0x20 | 3;
/// User 64-bit code selector with RPL 3.
pub const USER_CS: u16 = 0x28 | 3;
/// Selector of the TSS descriptor (16 bytes, slots 6 and 7).
pub const TSS_SELECTOR: u16 = 0x30;
/// Number of 8-byte GDT slots.
pub const GDT_ENTRIES: usize = 8;

/// Segment descriptors, SDM vol. 3A §3.4.5: flat 4 GiB, granularity 4 KiB.
const DESC_KERNEL_CODE64: u64 = 0x00AF_9A00_0000_FFFF;
const DESC_KERNEL_DATA: u64 = 0x00CF_9200_0000_FFFF;
const DESC_USER_CODE32: u64 = 0x00CF_FA00_0000_FFFF;
const DESC_USER_DATA: u64 = 0x00CF_F200_0000_FFFF;
const DESC_USER_CODE64: u64 = 0x00AF_FA00_0000_FFFF;

/// Size of the 64-bit TSS (SDM vol. 3A §7.7), also its limit + 1.
pub const TSS_SIZE: usize = 0x68;

/// The global descriptor table of one vCPU: flat code/data segments for
/// both privilege levels and the descriptor of that vCPU's TSS.
pub fn gdt(tss_base: u64) -> [u64; GDT_ENTRIES] {
    let limit = (TSS_SIZE - 1) as u64;
    // 64-bit TSS descriptor, SDM vol. 3A §7.2.3: type 9 (available), present.
    let low = (limit & 0xFFFF)
        | ((tss_base & 0xFF_FFFF) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (((tss_base >> 24) & 0xFF) << 56);
    let high = tss_base >> 32;
    [
        0,
        DESC_KERNEL_CODE64,
        DESC_KERNEL_DATA,
        DESC_USER_CODE32,
        DESC_USER_DATA,
        DESC_USER_CODE64,
        low,
        high,
    ]
}

/// The 64-bit task-state segment: only the stack pointers matter
/// (SDM vol. 3A §7.7). `rsp0` is loaded on any transition from CPL3 to
/// CPL0; `ist1` on gates whose IST field is 1, whatever the privilege.
pub fn tss(rsp0: u64, ist1: u64) -> [u8; TSS_SIZE] {
    let mut t = [0u8; TSS_SIZE];
    t[4..12].copy_from_slice(&rsp0.to_le_bytes());
    t[0x24..0x2C].copy_from_slice(&ist1.to_le_bytes());
    // I/O map base beyond the limit: no I/O bitmap (CPL3 `in`/`out` fault).
    t[0x66..0x68].copy_from_slice(&(TSS_SIZE as u16).to_le_bytes());
    t
}

/// One 16-byte IDT entry (SDM vol. 3A §6.14.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Handler address.
    pub offset: u64,
    /// Code selector the handler runs with (its DPL is the handler's CPL).
    pub selector: u16,
    /// Interrupt-stack-table index, 0 for none.
    pub ist: u8,
    /// Lowest CPL allowed to raise this vector with `int n`.
    pub dpl: u8,
}

impl Gate {
    /// The two little-endian quadwords of a present 64-bit interrupt gate
    /// (type 0xE: IF is cleared on entry).
    pub fn encode(&self) -> [u64; 2] {
        let o = self.offset;
        let attributes = 0x80 | (u64::from(self.dpl & 3) << 5) | 0xE;
        let low = (o & 0xFFFF)
            | (u64::from(self.selector) << 16)
            | (u64::from(self.ist & 7) << 32)
            | (attributes << 40)
            | (((o >> 16) & 0xFFFF) << 48);
        [low, o >> 32]
    }
}

/// CR0: protection, monitor coprocessor, extension type, native FPU
/// errors, write protect, paging. EM and TS stay clear so SSE/AVX run.
pub const CR0: u64 = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 31);
/// CR4: PAE, OSFXSR, OSXMMEXCPT, OSXSAVE (SSE/AVX state enabled).
pub const CR4: u64 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 18);
/// EFER: syscall enable, long mode enable/active, no-execute enable.
pub const EFER: u64 = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);
/// RFLAGS for guest CPL3 code: reserved bit 1, IF (interrupts delivered).
pub const RFLAGS_USER: u64 = 0x2 | (1 << 9);

/// Model-specific registers written at vCPU set-up.
pub mod msr {
    /// IA32_APIC_BASE.
    pub const APIC_BASE: u32 = 0x1B;
    /// IA32_STAR: `syscall`/`sysret` selectors.
    pub const STAR: u32 = 0xC000_0081;
    /// IA32_LSTAR: 64-bit `syscall` entry point.
    pub const LSTAR: u32 = 0xC000_0082;
    /// IA32_FMASK: RFLAGS bits cleared by `syscall`.
    pub const FMASK: u32 = 0xC000_0084;
    /// IA32_TSC_DEADLINE.
    pub const TSC_DEADLINE: u32 = 0x6E0;
    /// x2APIC interrupt command register.
    pub const X2APIC_ICR: u32 = 0x830;
}

/// IA32_APIC_BASE value enabling the local APIC in x2APIC mode
/// (SDM vol. 3A §11.12.1: EN bit 11, EXTD bit 10, BSP bit 8).
pub fn apic_base(bootstrap: bool) -> u64 {
    0xFEE0_0000 | (1 << 11) | (1 << 10) | (u64::from(bootstrap) << 8)
}

/// IA32_STAR value for the selectors above.
pub fn star() -> u64 {
    (u64::from(SYSRET_BASE) << 48) | (u64::from(KERNEL_CS) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysret_selectors_land_on_user_segments() {
        // SDM: sysretq loads CS = STAR[63:48] + 16 and SS = STAR[63:48] + 8, RPL 3.
        let base = (star() >> 48) as u16;
        assert_eq!((base + 16) | 3, USER_CS);
        assert_eq!((base + 8) | 3, USER_DS);
        assert_eq!(((star() >> 32) & 0xFFFF) as u16, KERNEL_CS);
        let gdt = gdt(0);
        assert_eq!(gdt[usize::from(USER_CS >> 3)], DESC_USER_CODE64);
        assert_eq!(gdt[usize::from(USER_DS >> 3)], DESC_USER_DATA);
        assert_eq!(gdt[usize::from(KERNEL_SS >> 3)], DESC_KERNEL_DATA);
    }

    #[test]
    fn tss_descriptor_splits_base() {
        let base = 0x1234_5678_9ABC_DEF0;
        let g = gdt(base);
        let low = g[usize::from(TSS_SELECTOR >> 3)];
        let high = g[usize::from(TSS_SELECTOR >> 3) + 1];
        let rebuilt = ((low >> 16) & 0xFF_FFFF) | (((low >> 56) & 0xFF) << 24) | (high << 32);
        assert_eq!(rebuilt, base);
        assert_eq!((low >> 40) & 0xFF, 0x89);
        assert_eq!(low & 0xFFFF, (TSS_SIZE - 1) as u64);
    }

    #[test]
    fn gate_encoding_round_trips_offset() {
        let gate = Gate {
            offset: 0x7FFF_1234_5678_9ABC,
            selector: USER_CS & !3,
            ist: 1,
            dpl: 3,
        };
        let [low, high] = gate.encode();
        let offset = (low & 0xFFFF) | (((low >> 48) & 0xFFFF) << 16) | (high << 32);
        assert_eq!(offset, gate.offset);
        assert_eq!((low >> 16) & 0xFFFF, 0x28);
        assert_eq!((low >> 32) & 7, 1);
        assert_eq!((low >> 40) & 0xFF, 0xEE);
    }

    #[test]
    fn tss_stacks_at_architectural_offsets() {
        let t = tss(0xAAAA_0000, 0xBBBB_0000);
        assert_eq!(
            u64::from_le_bytes(t[4..12].try_into().unwrap()),
            0xAAAA_0000
        );
        assert_eq!(
            u64::from_le_bytes(t[0x24..0x2C].try_into().unwrap()),
            0xBBBB_0000
        );
    }
}
