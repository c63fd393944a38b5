//! Parking on the process platform: after `park_after` of finding no work,
//! a core thread blocks in `ppoll`, on its NIC queue's descriptor (TAP) or
//! on nothing but the IPI signal, which then is every wake-up: from
//! another core ([`crate::runtime`]'s park module says who wakes whom) or
//! from a shm sender, to which the thread announces itself first
//! ([`crate::nic::NicQueue::announce_sleeper`]). [`crate::platform`] says
//! why no wake-up is lost; the announcement precedes the look for frames
//! the same way.

use std::time::Duration;

use super::signal::HeldIpi;
use crate::app::App;
use crate::nic::{Sleeper, Wakeup};
use crate::platform::IpiBoard;
use crate::runtime::Core;
use crate::transport::Transport;

/// Longest time a parked core stays blocked: its stack's timers (delayed
/// ACKs, retransmissions, TIME-WAIT) and a stop request are served at
/// least this often.
pub(crate) const PARK_TIMEOUT: Duration = Duration::from_millis(1);

/// A park shorter than this many times the idle threshold before it was
/// woken too soon: polling a little longer would have cost less than the
/// wake-up (a signal and two context switches, tens of µs on a VM).
const SHORT_PARK_FACTOR: u64 = 4;
/// The idle threshold never grows beyond this (a quarter of the park
/// timeout, so that a park the timeout ended always counts as long).
const MAX_PARK_AFTER_NS: u64 = 250_000;
/// The smallest threshold a short park doubles to from zero.
const MIN_GROWN_PARK_AFTER_NS: u64 = 1_000;

/// When an idle core parks: after `--park-after-us` of idling at first,
/// adapting like a spin-then-block lock. A park that was woken soon after
/// it began doubles the threshold (up to 1 ms), so that under load, when
/// work arrives in short gaps, a core polls through them instead of paying
/// a wake-up each time; a long park (one the timeout ended: nobody needed
/// the core) halves it back toward the flag's value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdlePolicy {
    /// The flag's value; `None`: poll forever (ZygOS).
    base_ns: Option<u64>,
    /// The threshold now.
    park_after_ns: u64,
    idle_since_ns: Option<u64>,
}

impl IdlePolicy {
    /// Parks after `park_after` of idling; `None` polls forever (ZygOS).
    pub(crate) fn new(park_after: Option<Duration>) -> Self {
        let base_ns = park_after.map(|after| after.as_nanos() as u64);
        IdlePolicy {
            base_ns,
            park_after_ns: base_ns.unwrap_or(0),
            idle_since_ns: None,
        }
    }

    /// Records one loop iteration at `now_ns` that did (or did not) find
    /// work; true when the core should park now.
    pub(crate) fn should_park(&mut self, worked: bool, now_ns: u64) -> bool {
        if self.base_ns.is_none() {
            return false;
        }
        if worked {
            self.idle_since_ns = None;
            return false;
        }
        let since = *self.idle_since_ns.get_or_insert(now_ns);
        if now_ns.saturating_sub(since) < self.park_after_ns {
            return false;
        }
        self.idle_since_ns = None;
        true
    }

    /// Adapts the threshold to a park that lasted `parked_ns`.
    pub(crate) fn parked_for(&mut self, parked_ns: u64) {
        let Some(base) = self.base_ns else {
            return;
        };
        let current = self.park_after_ns;
        let short = (SHORT_PARK_FACTOR * current.max(MIN_GROWN_PARK_AFTER_NS))
            .min(PARK_TIMEOUT.as_nanos() as u64);
        self.park_after_ns = if parked_ns < short {
            (current * 2).clamp(MIN_GROWN_PARK_AFTER_NS, MAX_PARK_AFTER_NS.max(base))
        } else if current / 2 < MIN_GROWN_PARK_AFTER_NS {
            base
        } else {
            (current / 2).max(base)
        };
    }
}

/// With `park_after`, the index of a core that cannot park (its network
/// layer cannot wake it), if any.
pub(crate) fn check_parkable<T: Transport, A: App>(
    cores: &[Core<T, A>],
    park_after: Option<Duration>,
) -> Result<(), usize> {
    match cores.iter().find(|core| !core.can_park()) {
        Some(core) if park_after.is_some() => Err(core.index()),
        _ => Ok(()),
    }
}

/// Parks `core` once: blocks until its queue is ready, another core
/// interrupts it, or [`PARK_TIMEOUT`] passes; returns at once when work
/// is already waiting.
pub(crate) fn park<T: Transport, A: App>(core: &Core<T, A>, board: &IpiBoard, me: Sleeper) {
    let held = HeldIpi::hold();
    let transport = core.transport();
    transport.announce_sleeper(Some(me));
    let block = core.begin_park(board);
    if block {
        let fd = match transport.wakeup() {
            Some(Wakeup::Fd(fd)) => Some(fd),
            Some(Wakeup::Interrupt) | None => None,
        };
        held.wait(fd, PARK_TIMEOUT);
    }
    transport.announce_sleeper(None);
    core.end_park(board, block);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_parks_raise_the_threshold_and_long_ones_bring_it_back() {
        let mut policy = IdlePolicy::new(Some(Duration::from_micros(20)));
        for _ in 0..20 {
            policy.parked_for(5_000);
        }
        assert_eq!(policy.park_after_ns, MAX_PARK_AFTER_NS, "capped");
        assert!(!policy.should_park(false, 0));
        assert!(!policy.should_park(false, MAX_PARK_AFTER_NS - 1));
        assert!(policy.should_park(false, MAX_PARK_AFTER_NS));
        policy.parked_for(PARK_TIMEOUT.as_nanos() as u64);
        assert_eq!(
            policy.park_after_ns,
            MAX_PARK_AFTER_NS / 2,
            "a park the timeout ended is long"
        );
        for _ in 0..20 {
            policy.parked_for(u64::MAX);
        }
        assert_eq!(policy.park_after_ns, 20_000, "back to the flag's value");
        let mut immediate = IdlePolicy::new(Some(Duration::ZERO));
        immediate.parked_for(100);
        assert_eq!(immediate.park_after_ns, MIN_GROWN_PARK_AFTER_NS);
        immediate.parked_for(1_000_000);
        assert_eq!(immediate.park_after_ns, 0);
        let mut polling = IdlePolicy::new(None);
        polling.parked_for(0);
        assert!(!polling.should_park(false, u64::MAX));
    }

    #[test]
    fn parks_only_after_the_idle_threshold_and_never_without_one() {
        let mut policy = IdlePolicy::new(Some(Duration::from_micros(50)));
        assert!(!policy.should_park(false, 1_000));
        assert!(!policy.should_park(false, 40_000));
        assert!(!policy.should_park(true, 45_000), "work restarts the clock");
        assert!(!policy.should_park(false, 50_000));
        assert!(!policy.should_park(false, 99_999));
        assert!(policy.should_park(false, 100_000));
        assert!(!policy.should_park(false, 100_001), "restarts after a park");
        let mut polling = IdlePolicy::new(None);
        assert!(!polling.should_park(false, 0));
        assert!(!polling.should_park(false, u64::MAX));
    }
}
