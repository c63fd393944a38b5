//! A Dune-like sandbox on KVM: host-compiled Rust closures run as guest
//! code at CPL3 of a VM whose page tables map the process's own address
//! space (guest-virtual = host-virtual), with their system calls forwarded
//! to the host, guest faults reported as errors, and x2APIC IPIs between
//! vCPUs delivered by the in-kernel irqchip without exits to user space.
//!
//! # Running a dataplane core in a vCPU
//!
//! ```text
//! vmx::available()?;                        // Err(Unavailable) says why not
//! let vm = vmx::Vm::new()?;                 // once per process, after the big mappings
//! vmx::guest::set_interrupt_handler(on_irq);// fn(Interrupt), async-signal-safe
//! // on core i's pinned thread (vCPU id = x2APIC id = i):
//! let mut vcpu = vm.create_vcpu(i)?;
//! let result = vcpu.run_closure(|| core_loop(i))?;  // the loop runs in the guest
//! let exits = vcpu.exit_counts();           // exits to user space by reason
//! let kvm = vcpu.kvm_stats()?;              // KVM's counters ("exits", ...)
//! ```
//!
//! Inside the closure (guest code), for a `CorePlatform`:
//! - IPI: [`guest::send_ipi`]`(target_core)` (exit-less; about 4 emulated
//!   CPL0 instructions). The target's handler runs at CPL3, interrupting
//!   whatever it was doing; [`guest::take_ipis`] counts deliveries per
//!   thread for polling runtimes.
//! - Timer: [`guest::set_tsc_deadline`]`(tsc)` fires [`guest::Interrupt::Timer`].
//! - Clock: `Instant::now()` is the vDSO, exit-free (the guest TSC is the
//!   host's).
//! - Anything else (allocation, logging, files) works and costs one exit per
//!   system call; memory mapped after [`Vm::new`] is added on the guest's
//!   first fault (one exit per region), or up front with [`Vm::map_range`].
//!
//! Rules for guest code: the data path must make no system calls (each is
//! an exit of tens to hundreds of µs on PVM hosts); the interrupt handler
//! must not allocate or take locks; on a guest fault, `run_closure` returns
//! [`VmError::Fault`] and the closure's frames are abandoned (locks it held
//! stay held); a panic in the closure propagates out of `run_closure`.
//!
//! What KVM does on the target hosts (PVM-style, CPL0 emulated) is recorded
//! in DESIGN.md, "What KVM does on these machines", and in [`stubs`], which
//! explains why CPL3 enters CPL0 through `int3`/`int1` there. References:
//! Dune (OSDI'12), gVisor's KVM platform (`pkg/sentry/platform/kvm`).

pub mod arch;
pub mod error;
pub mod exits;
pub mod guest;
pub mod maps;
pub mod memory;
pub mod paging;
pub mod region;
pub mod stats;
pub mod stubs;
pub mod syscall;
pub mod vcpu;
pub mod vm;

pub use error::{GuestFault, Unavailable, VmError};
pub use exits::{COUNTED_SYSCALL_NUMBERS, ExitCounts, SyscallNumbers};
pub use stats::KvmStatsSnapshot;
pub use vcpu::Vcpu;
pub use vm::{Vm, available};
