//! Per-core exit accounting of the vmx platform: the exits to user space
//! that the vCPU took, by reason ([`vmx::ExitCounts`]), and KVM's own count
//! of all exits (those handled in the kernel too), read from the vCPU's
//! binary stats fd.

use std::fmt;

use vmx::{ExitCounts, Vcpu, VmError};

use super::ipi_latency::IpiLatency;

/// A core's exits at one moment (cumulative since its vCPU was created).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreExits {
    /// Exits to user space by reason.
    pub user_space: ExitCounts,
    /// KVM's "exits" statistic, all exits including in-kernel ones (`None`
    /// when this KVM does not export it).
    pub kvm_exits: Option<u64>,
    /// IPIs the core could not send (a platform bug if not 0).
    pub refused_ipis: u64,
    /// Latency of the IPIs the core received.
    pub ipi_latency: IpiLatency,
}

impl CoreExits {
    /// Reads `vcpu`'s counters (outside `run_closure`).
    pub(super) fn read(
        vcpu: &Vcpu,
        refused_ipis: u64,
        ipi_latency: IpiLatency,
    ) -> Result<Self, VmError> {
        Ok(CoreExits {
            user_space: vcpu.exit_counts(),
            kvm_exits: vcpu.kvm_stats()?.get("exits"),
            refused_ipis,
            ipi_latency,
        })
    }

    /// Per-counter difference `self - earlier`.
    pub fn since(&self, earlier: &CoreExits) -> CoreExits {
        CoreExits {
            user_space: self.user_space.since(&earlier.user_space),
            kvm_exits: self
                .kvm_exits
                .zip(earlier.kvm_exits)
                .map(|(now, then)| now.saturating_sub(then)),
            refused_ipis: self.refused_ipis.saturating_sub(earlier.refused_ipis),
            ipi_latency: self.ipi_latency.since(&earlier.ipi_latency),
        }
    }

    /// Exits to user space other than closure returns: what the data path
    /// itself caused (system calls, lazy mappings, faults, host signals).
    pub fn data_path_exits(&self) -> u64 {
        self.user_space.total() - self.user_space.returns
    }
}

impl fmt::Display for CoreExits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.user_space;
        write!(
            f,
            "user_space_exits={} syscalls={} lazy_maps={} faults={} returns={} interrupted={} \
             unexpected={} refused_ipis={} kvm_exits=",
            u.total(),
            u.syscalls,
            u.lazy_maps,
            u.faults,
            u.returns,
            u.interrupted,
            u.unexpected,
            self.refused_ipis,
        )?;
        match self.kvm_exits {
            Some(n) => write!(f, "{n}")?,
            None => f.write_str("N/A")?,
        }
        let ipi = &self.ipi_latency;
        write!(f, " ipis_measured={} ipi_latency_mean_ns=", ipi.samples)?;
        match ipi.mean_ns() {
            Some(mean) => write!(f, "{mean}")?,
            None => f.write_str("N/A")?,
        }
        write!(
            f,
            " ipi_latency_max_ns={} syscall_numbers={:?}",
            ipi.max_ns, u.syscall_numbers
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_and_data_path_exits_leave_out_closure_returns() {
        let earlier = CoreExits {
            user_space: ExitCounts {
                syscalls: 3,
                returns: 1,
                ..Default::default()
            },
            kvm_exits: Some(100),
            ..CoreExits::default()
        };
        let later = CoreExits {
            user_space: ExitCounts {
                syscalls: 5,
                lazy_maps: 1,
                returns: 4,
                ..Default::default()
            },
            kvm_exits: Some(250),
            ..CoreExits::default()
        };
        let window = later.since(&earlier);
        assert_eq!(window.user_space.syscalls, 2);
        assert_eq!(window.user_space.returns, 3);
        assert_eq!(window.data_path_exits(), 3);
        assert_eq!(window.kvm_exits, Some(150));
        let text = window.to_string();
        assert!(
            text.starts_with("user_space_exits=6 syscalls=2 lazy_maps=1"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "kvm_exits=150 ipis_measured=0 ipi_latency_mean_ns=N/A ipi_latency_max_ns=0 \
                 syscall_numbers={}"
            ),
            "{text}"
        );
        let unknown = CoreExits {
            kvm_exits: None,
            ..later
        };
        assert!(
            unknown
                .since(&earlier)
                .to_string()
                .contains(" kvm_exits=N/A ")
        );
    }
}
