//! IPI latency on the vmx platform: from the sender's `send_ipi` to the
//! target core's first safe point (top of its loop, or between two spin
//! quanta of application code) that sees the interrupt, i.e. the delay
//! before the runtime acts on it (thesis ch. 4.4.5). The sender stamps the
//! target's slot before sending; the target takes the stamp when its
//! interrupt count rises. With the ZygOS throttle (one IPI per 4 µs per
//! target) a slot rarely holds two IPIs; the later stamp wins then.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Send stamps, one slot per target core (ns of the platform clock, 0 =
/// none pending).
pub(super) struct SendStamps {
    slots: Box<[CachePadded<AtomicU64>]>,
}

impl SendStamps {
    /// Slots for `cores` cores.
    pub(super) fn new(cores: usize) -> Self {
        SendStamps {
            slots: (0..cores).map(|_| CachePadded::default()).collect(),
        }
    }

    /// Records an IPI sent to `target` at `now_ns`.
    pub(super) fn stamp(&self, target: usize, now_ns: u64) {
        if let Some(slot) = self.slots.get(target) {
            slot.store(now_ns.max(1), Ordering::Release);
        }
    }

    /// Takes the stamp of the IPI that reached `core`, if any.
    pub(super) fn take(&self, core: usize) -> Option<u64> {
        let sent = self.slots.get(core)?.swap(0, Ordering::AcqRel);
        (sent != 0).then_some(sent)
    }
}

/// Latencies of the IPIs a core received.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IpiLatency {
    /// IPIs measured.
    pub samples: u64,
    /// Sum of their latencies (ns).
    pub total_ns: u64,
    /// Largest latency since the core started (ns).
    pub max_ns: u64,
}

impl IpiLatency {
    /// Adds one measured latency.
    pub(super) fn record(&mut self, ns: u64) {
        self.samples += 1;
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
    }

    /// Mean latency (ns), `None` without samples.
    pub fn mean_ns(&self) -> Option<u64> {
        self.total_ns.checked_div(self.samples)
    }

    /// Samples and total since `earlier` (the maximum stays the run's).
    pub fn since(&self, earlier: &IpiLatency) -> IpiLatency {
        IpiLatency {
            samples: self.samples.saturating_sub(earlier.samples),
            total_ns: self.total_ns.saturating_sub(earlier.total_ns),
            max_ns: self.max_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_taken_once_and_latencies_accumulate() {
        let stamps = SendStamps::new(2);
        assert_eq!(stamps.take(1), None);
        stamps.stamp(1, 1_000);
        stamps.stamp(7, 1_000);
        assert_eq!(stamps.take(0), None);
        assert_eq!(stamps.take(1), Some(1_000));
        assert_eq!(stamps.take(1), None);
        let mut latency = IpiLatency::default();
        assert_eq!(latency.mean_ns(), None);
        latency.record(30_000);
        latency.record(10_000);
        let earlier = latency;
        latency.record(50_000);
        assert_eq!(latency.mean_ns(), Some(30_000));
        assert_eq!(
            latency.since(&earlier),
            IpiLatency {
                samples: 1,
                total_ns: 50_000,
                max_ns: 50_000
            }
        );
    }
}
