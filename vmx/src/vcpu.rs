//! A vCPU and the run loop that executes a host-compiled closure in it at
//! CPL3, forwarding its system calls and mapping memory on its faults.
//!
//! Per-vCPU memory (one 2 MiB-aligned region):
//!
//! | offset             | content                                         |
//! |--------------------|-------------------------------------------------|
//! | 0x0000             | GDT (8 entries)                                 |
//! | 0x0100             | TSS (RSP0, IST1)                                |
//! | 0x1000..0x5000     | CPL0 stack of the stubs (RSP0)                  |
//! | 0x10000..0x50000   | interrupt stack of the CPL3 handler (IST 1)     |
//! | 2 MiB              | guard page (PROT_NONE)                          |
//! | 2 MiB + 4 KiB..    | the closure's stack (8 MiB)                     |

use crate::arch;
use crate::error::{GuestFault, VmError};
use crate::exits::{Action, Exit, ExitCounts, classify};
use crate::guest;
use crate::memory::FaultFix;
use crate::region::{HostRegion, LARGE_PAGE, PAGE};
use crate::stats::{KvmStats, KvmStatsSnapshot};
use crate::stubs::{self, SyscallMode};
use crate::syscall::{self, Disposition, SyscallArgs};
use crate::vm::Shared;
use kvm_bindings::{
    KVM_MP_STATE_RUNNABLE, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, Msrs, kvm_device_attr,
    kvm_mp_state, kvm_msr_entry, kvm_segment, kvm_sregs, kvm_xcrs,
};
use kvm_ioctls::{SyncReg, VcpuFd};
use std::any::Any;
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

const GDT_OFFSET: usize = 0;
const TSS_OFFSET: usize = 0x100;
const KERNEL_STACK: std::ops::Range<usize> = 0x1000..0x5000;
const INTERRUPT_STACK_TOP: usize = 0x50000;
const GUARD_OFFSET: usize = LARGE_PAGE as usize;
const STACK_SIZE: usize = 8 << 20;
const AREA_SIZE: usize = GUARD_OFFSET + PAGE as usize + STACK_SIZE;
/// `arch_prctl` code reading the FS base.
const ARCH_GET_FS: libc::c_int = 0x1003;
/// `_IOW(KVMIO, 0xe1, struct kvm_device_attr)` (kvm-ioctls offers it on aarch64 only).
const KVM_SET_DEVICE_ATTR: libc::c_ulong = 0x4018_AEE1;
/// IA32_TSC, written when the TSC offset attribute is not supported.
const MSR_TSC: u32 = 0x10;
/// Register offsets in `kvm_lapic_state` (the xAPIC MMIO layout).
const LAPIC_SVR: usize = 0xF0;
const LAPIC_LVT_TIMER: usize = 0x320;
/// LVT timer mode TSC-deadline (SDM vol. 3A §11.5.1).
const LVT_TSC_DEADLINE: u32 = 2 << 17;
/// Page-fault error code bit 0: the page was present (a protection fault).
const PF_PRESENT: u64 = 1;

/// The closure and its outcome, handed to the guest entry by address.
struct Call<F, R> {
    f: Option<F>,
    result: Option<Result<R, Box<dyn Any + Send>>>,
}

/// Guest entry point: runs the closure at CPL3 and reports its return.
extern "C" fn guest_entry<F: FnOnce() -> R, R>(call: *mut Call<F, R>) -> ! {
    // SAFETY: `run_closure` passes a pointer to a live, exclusively owned
    // `Call` and does not touch it until this function's DONE exit.
    let call = unsafe { &mut *call };
    if let Some(f) = call.f.take() {
        call.result = Some(catch_unwind(AssertUnwindSafe(f)));
    }
    guest::hypercall_done()
}

/// One virtual CPU. Run it from one thread (pinned, for a dataplane core).
#[derive(Debug)]
pub struct Vcpu {
    id: u32,
    fd: VcpuFd,
    vm: Arc<Shared>,
    area: HostRegion,
    sregs: kvm_sregs,
    counts: ExitCounts,
    stats: KvmStats,
    last_fault_address: Option<u64>,
    tsc_synchronised: bool,
    syscall_mode: Option<SyscallMode>,
}

fn segment(selector: u16, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xFFFF_FFFF,
        selector,
        type_: if code { 0xB } else { 0x3 },
        present: 1,
        dpl: (selector & 3) as u8,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

fn host_fs_base() -> u64 {
    let mut base = 0u64;
    // SAFETY: ARCH_GET_FS writes the FS base of this thread to `base`.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_GET_FS, &mut base as *mut u64) };
    base
}

fn msrs(entries: &[(u32, u64)]) -> Result<Msrs, VmError> {
    let entries: Vec<kvm_msr_entry> = entries
        .iter()
        .map(|&(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect();
    Msrs::from_entries(&entries).map_err(|_| VmError::Layout("too many MSRs"))
}

impl Vcpu {
    pub(crate) fn new(vm: Arc<Shared>, id: u32) -> Result<Self, VmError> {
        let area = HostRegion::new(AREA_SIZE)?;
        area.protect_none(GUARD_OFFSET, PAGE as usize)?;
        vm.memory()
            .map_range(&vm.fd, area.addr()..area.addr() + area.len() as u64)?;
        let tss_base = area.addr() + TSS_OFFSET as u64;
        let gdt: Vec<u8> = arch::gdt(tss_base)
            .iter()
            .flat_map(|d| d.to_le_bytes())
            .collect();
        area.write(GDT_OFFSET, &gdt)?;
        let rsp0 = area.addr() + KERNEL_STACK.end as u64;
        area.write(
            TSS_OFFSET,
            &arch::tss(rsp0, area.addr() + INTERRUPT_STACK_TOP as u64),
        )?;

        let fd = vm
            .fd
            .create_vcpu(u64::from(id))
            .map_err(|e| VmError::Kvm("KVM_CREATE_VCPU", e))?;
        let mut cpuid = vm.cpuid.clone();
        for e in cpuid.as_mut_slice() {
            match e.function {
                1 => {
                    e.ecx |= 1 << 21; // x2APIC
                    e.ebx = (e.ebx & 0x00FF_FFFF) | (id << 24);
                }
                0xB | 0x1F => e.edx = id,
                _ => {}
            }
        }
        fd.set_cpuid2(&cpuid)
            .map_err(|e| VmError::Kvm("KVM_SET_CPUID2", e))?;
        let apic_base = arch::apic_base(id == 0);
        let setup = msrs(&[
            (arch::msr::APIC_BASE, apic_base),
            (arch::msr::STAR, arch::star()),
            (arch::msr::LSTAR, stubs::syscall_probe()),
            (arch::msr::FMASK, SyscallMode::EntersCpl0.fmask()),
        ])?;
        let written = fd
            .set_msrs(&setup)
            .map_err(|e| VmError::Kvm("KVM_SET_MSRS", e))?;
        if written != setup.as_slice().len() {
            return Err(VmError::Layout("KVM refused a set-up MSR"));
        }
        let mut xcrs = kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = vm.xcr0;
        fd.set_xcrs(&xcrs)
            .map_err(|e| VmError::Kvm("KVM_SET_XCRS", e))?;
        Self::set_up_lapic(&fd, vm.has_tsc_deadline())?;
        let tsc_synchronised = Self::synchronise_tsc(&fd)?;
        fd.set_mp_state(kvm_mp_state {
            mp_state: KVM_MP_STATE_RUNNABLE,
        })
        .map_err(|e| VmError::Kvm("KVM_SET_MP_STATE", e))?;

        let mut sregs = fd
            .get_sregs()
            .map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
        sregs.cs = segment(arch::USER_CS, true);
        let data = segment(arch::USER_DS, false);
        (sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss) = (data, data, data, data, data);
        sregs.tr = kvm_segment {
            base: tss_base,
            limit: (arch::TSS_SIZE - 1) as u32,
            selector: arch::TSS_SELECTOR,
            type_: 0xB,
            present: 1,
            ..Default::default()
        };
        sregs.gdt.base = area.addr() + GDT_OFFSET as u64;
        sregs.gdt.limit = (arch::GDT_ENTRIES * 8 - 1) as u16;
        sregs.idt.base = vm.idt.addr();
        sregs.idt.limit = 256 * 16 - 1;
        sregs.cr0 = arch::CR0;
        sregs.cr3 = vm.memory().cr3();
        sregs.cr4 = arch::CR4;
        sregs.efer = arch::EFER;
        sregs.apic_base = apic_base;
        let stats = KvmStats::open(&fd)?;
        let mut vcpu = Self {
            id,
            fd,
            vm,
            area,
            sregs,
            counts: ExitCounts::default(),
            stats,
            last_fault_address: None,
            tsc_synchronised,
            syscall_mode: None,
        };
        vcpu.fd.set_sync_valid_reg(SyncReg::Register);
        vcpu.install_syscall_entry()?;
        Ok(vcpu)
    }

    /// Runs one `syscall` with the probe as IA32_LSTAR to learn whether
    /// `syscall` enters CPL0 here, then installs the matching entry.
    fn install_syscall_entry(&mut self) -> Result<(), VmError> {
        // SAFETY: inside the guest, `syscall` enters the probe, which
        // reports CS through the sandbox-call gate and returns to RCX;
        // RAX, RCX and R11 are declared clobbered.
        self.run_closure(|| unsafe {
            std::arch::asm!("syscall", lateout("rax") _, lateout("rcx") _, lateout("r11") _);
        })?;
        let mode = self
            .syscall_mode
            .ok_or(VmError::Layout("the syscall probe did not report"))?;
        let entry = msrs(&[
            (arch::msr::LSTAR, mode.entry()),
            (arch::msr::FMASK, mode.fmask()),
        ])?;
        self.fd
            .set_msrs(&entry)
            .map_err(|e| VmError::Kvm("KVM_SET_MSRS", e))?;
        self.counts = ExitCounts::default();
        Ok(())
    }

    /// Where `syscall` lands on this host (CPL3 on PVM-style hosts).
    pub fn syscall_mode(&self) -> Option<SyscallMode> {
        self.syscall_mode
    }

    /// Software-enables the local APIC (spurious vector 0xFF) and puts its
    /// timer in TSC-deadline mode on vector 0xF1 when KVM offers it.
    fn set_up_lapic(fd: &VcpuFd, tsc_deadline: bool) -> Result<(), VmError> {
        let mut lapic = fd
            .get_lapic()
            .map_err(|e| VmError::Kvm("KVM_GET_LAPIC", e))?;
        let mut put = |offset: usize, value: u32| {
            for (i, b) in value.to_le_bytes().into_iter().enumerate() {
                lapic.regs[offset + i] = b as libc::c_char;
            }
        };
        put(LAPIC_SVR, 0x1FF);
        if tsc_deadline {
            put(
                LAPIC_LVT_TIMER,
                u32::from(stubs::TIMER_VECTOR) | LVT_TSC_DEADLINE,
            );
        }
        fd.set_lapic(&lapic)
            .map_err(|e| VmError::Kvm("KVM_SET_LAPIC", e))
    }

    /// Makes the guest TSC equal to the host's (offset 0), so guest `rdtsc`,
    /// the vDSO clock and TSC deadlines share the host's time base. Falls
    /// back to writing IA32_TSC; returns whether the offset could be set.
    fn synchronise_tsc(fd: &VcpuFd) -> Result<bool, VmError> {
        let offset = 0u64;
        let attr = kvm_device_attr {
            flags: 0,
            group: KVM_VCPU_TSC_CTRL,
            attr: u64::from(KVM_VCPU_TSC_OFFSET),
            addr: &offset as *const u64 as u64,
        };
        // SAFETY: KVM_SET_DEVICE_ATTR reads one kvm_device_attr, whose
        // `addr` points at `offset`, alive for the call.
        let rc = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                KVM_SET_DEVICE_ATTR,
                &attr as *const kvm_device_attr,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        // SAFETY: rdtsc has no side effect.
        let now = unsafe { std::arch::x86_64::_rdtsc() };
        fd.set_msrs(&msrs(&[(MSR_TSC, now)])?)
            .map_err(|e| VmError::Kvm("KVM_SET_MSRS", e))?;
        Ok(false)
    }

    /// This vCPU's id (its x2APIC id).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Whether guest TSC = host TSC exactly (KVM_VCPU_TSC_OFFSET set to 0);
    /// otherwise it was written once and may drift by the write latency.
    pub fn tsc_synchronised(&self) -> bool {
        self.tsc_synchronised
    }

    /// Exits to user space so far, by reason.
    pub fn exit_counts(&self) -> ExitCounts {
        self.counts
    }

    /// KVM's own counters for this vCPU (all exits, including those handled
    /// in the kernel).
    pub fn kvm_stats(&self) -> Result<KvmStatsSnapshot, VmError> {
        self.stats.snapshot()
    }

    /// Runs `f` in the guest at CPL3 on the calling thread until it returns,
    /// and returns its result. A panic in `f` is resumed here. System calls
    /// made by `f` are performed by this thread on the host.
    ///
    /// On a guest fault the error says where; the closure's stack frames
    /// are then abandoned (not dropped), and locks it held stay held.
    pub fn run_closure<F: FnOnce() -> R, R>(&mut self, f: F) -> Result<R, VmError> {
        let call = Box::into_raw(Box::new(Call {
            f: Some(f),
            result: None,
        }));
        let stack_top = self.area.addr() + AREA_SIZE as u64;
        let regs = kvm_bindings::kvm_regs {
            rip: guest_entry::<F, R> as *const () as u64,
            rdi: call as u64,
            // Function-entry alignment: RSP + 8 is a multiple of 16.
            rsp: stack_top - 8,
            rflags: arch::RFLAGS_USER,
            ..Default::default()
        };
        let mut sregs = self.sregs;
        sregs.fs.base = host_fs_base();
        // A register copy left dirty by a failed run must not override `regs`.
        self.fd.clear_sync_dirty_reg(SyncReg::Register);
        self.last_fault_address = None;
        let entered = self
            .fd
            .set_sregs(&sregs)
            .map_err(|e| VmError::Kvm("KVM_SET_SREGS", e))
            .and_then(|()| {
                self.fd
                    .set_regs(&regs)
                    .map_err(|e| VmError::Kvm("KVM_SET_REGS", e))
            });
        let outcome = entered.and_then(|()| {
            guest::set_in_guest(true);
            let r = self.run_loop(sregs.fs.base);
            guest::set_in_guest(false);
            r
        });
        // SAFETY: `call` came from Box::into_raw above and the guest no
        // longer runs (the loop returned), so we own it again.
        let call = unsafe { Box::from_raw(call) };
        outcome?;
        match call.result {
            Some(Ok(value)) => Ok(value),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(VmError::Layout("guest returned without a result")),
        }
    }

    /// Names a `KVM_RUN` EFAULT: a stack overflow when the guest's RSP is
    /// within 64 KiB of the closure stack's guard page.
    fn host_memory_fault(&self) -> VmError {
        let (rip, rsp) = self.fd.get_regs().map_or((0, 0), |r| (r.rip, r.rsp));
        let guard = self.area.addr() + GUARD_OFFSET as u64;
        if (guard..guard + PAGE + (64 << 10)).contains(&rsp) {
            VmError::StackOverflow { rip, rsp }
        } else {
            VmError::HostMemoryFault { rip }
        }
    }

    fn rip(&self) -> u64 {
        self.fd.get_regs().map_or(0, |r| r.rip)
    }

    fn run_loop(&mut self, fs_base: u64) -> Result<(), VmError> {
        loop {
            let exit = match self.fd.run() {
                Ok(exit) => Exit::from_kvm(&exit),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.counts.interrupted += 1;
                    continue;
                }
                Err(e) if e.errno() == libc::EFAULT => {
                    self.counts.unexpected += 1;
                    return Err(self.host_memory_fault());
                }
                Err(e) => return Err(VmError::Kvm("KVM_RUN", e)),
            };
            match classify(exit) {
                Action::Syscall => self.forward_syscall(fs_base)?,
                Action::Probe => {
                    let regs = self
                        .fd
                        .get_regs()
                        .map_err(|e| VmError::Kvm("KVM_GET_REGS", e))?;
                    self.syscall_mode = Some(SyscallMode::from_cs(regs.rax));
                }
                Action::Done => {
                    self.counts.returns += 1;
                    return Ok(());
                }
                Action::Exception(vector) => self.handle_exception(vector)?,
                Action::Unexpected(exit) => {
                    self.counts.unexpected += 1;
                    return Err(VmError::UnexpectedExit {
                        exit,
                        rip: self.rip(),
                    });
                }
            }
        }
    }

    fn forward_syscall(&mut self, fs_base: u64) -> Result<(), VmError> {
        self.counts.syscalls += 1;
        // KVM filled kvm_run's register copy at the exit (KVM_CAP_SYNC_REGS):
        // no KVM_GET_REGS / KVM_SET_REGS round trip per system call.
        let regs = self.fd.sync_regs().regs;
        let call = SyscallArgs {
            nr: regs.rax,
            args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
        };
        self.counts.syscall_numbers.record(call.nr);
        let result = match syscall::policy(&call) {
            // SAFETY: guest-virtual = host-virtual, so the guest's pointer
            // arguments are valid for this process exactly as in the guest;
            // the policy refused calls that would leave this loop.
            Disposition::Forward => unsafe { syscall::host_syscall(&call) },
            Disposition::Refuse(errno) => syscall::refused(errno),
            Disposition::GetFsBase => {
                let out = call.args[1] as *mut u64;
                // SAFETY: as for forwarded calls, `out` is the guest's (and
                // our) address of the u64 the guest asked to be written.
                match unsafe { out.as_mut() } {
                    Some(slot) => {
                        *slot = fs_base;
                        0
                    }
                    None => syscall::refused(libc::EFAULT),
                }
            }
        };
        self.fd.sync_regs_mut().regs.rax = result;
        self.fd.set_sync_dirty_reg(SyncReg::Register);
        Ok(())
    }

    /// Reads the frame the exception stub left on the CPL0 stack:
    /// [error code, RIP, CS, RFLAGS, RSP, SS].
    fn exception_frame(&self, rsp: u64) -> Option<[u64; 6]> {
        let base = self.area.addr();
        let stack = base + KERNEL_STACK.start as u64..base + KERNEL_STACK.end as u64;
        if !stack.contains(&rsp) || rsp + 48 > stack.end || !rsp.is_multiple_of(8) {
            return None;
        }
        let mut frame = [0u64; 6];
        for (i, slot) in frame.iter_mut().enumerate() {
            // SAFETY: the six words lie inside this vCPU's CPL0 stack (checked
            // above), which is mapped for the life of `self.area`.
            *slot = unsafe { std::ptr::read_volatile((rsp as *const u64).add(i)) };
        }
        Some(frame)
    }

    fn handle_exception(&mut self, vector: u8) -> Result<(), VmError> {
        let regs = self
            .fd
            .get_regs()
            .map_err(|e| VmError::Kvm("KVM_GET_REGS", e))?;
        let sregs = self
            .fd
            .get_sregs()
            .map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
        let [error_code, rip, _cs, _rflags, rsp, _ss] = self
            .exception_frame(regs.rsp)
            .unwrap_or([0, regs.rip, 0, 0, regs.rsp, 0]);
        let fault = GuestFault {
            vector,
            error_code,
            rip,
            rsp,
            cr2: sregs.cr2,
        };
        if vector == 14
            && error_code & PF_PRESENT == 0
            && self.last_fault_address != Some(fault.cr2)
        {
            let fix = self.vm.memory().map_on_fault(&self.vm.fd, fault.cr2)?;
            if fix != FaultFix::NoHostMapping {
                self.counts.lazy_maps += 1;
                self.last_fault_address = Some(fault.cr2);
                return Ok(());
            }
        }
        self.counts.faults += 1;
        Err(VmError::Fault(fault))
    }
}
