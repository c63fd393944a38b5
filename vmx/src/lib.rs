//! A Dune-like sandbox on KVM: host-compiled Rust closures run as guest
//! code at CPL3 of a VM whose page tables map the process's own address
//! space (guest-virtual = host-virtual), with their system calls forwarded
//! to the host, guest faults reported as errors, and x2APIC IPIs between
//! vCPUs delivered by the in-kernel irqchip without exits to user space.
//!
//! How a runtime uses it, one dataplane core per pinned thread:
//!
//! ```text
//! vmx::available()?;                          // clear message without /dev/kvm
//! let vm = vmx::Vm::new()?;                   // once per process
//! vmx::guest::set_interrupt_handler(on_irq);  // IPI / timer work (CPL3)
//! // on core i's pinned thread:
//! let mut vcpu = vm.create_vcpu(i)?;
//! vcpu.run_closure(|| core_loop(i))?;         // runs inside the guest
//! // inside: vmx::guest::send_ipi(j), vmx::guest::set_tsc_deadline(t)
//! println!("{:?}", vcpu.exit_counts());
//! ```
//!
//! Design and the measured behaviour of KVM on the target hosts:
//! DESIGN.md, "What KVM does on these machines". References: Dune
//! (OSDI'12), gVisor's KVM platform.

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
pub use exits::ExitCounts;
pub use stats::KvmStatsSnapshot;
pub use vcpu::Vcpu;
pub use vm::{Vm, available};
