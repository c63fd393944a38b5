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

/// When an idle core parks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdlePolicy {
    park_after_ns: Option<u64>,
    idle_since_ns: Option<u64>,
}

impl IdlePolicy {
    /// Parks after `park_after` of idling; `None` polls forever (ZygOS).
    pub(crate) fn new(park_after: Option<Duration>) -> Self {
        IdlePolicy {
            park_after_ns: park_after.map(|after| after.as_nanos() as u64),
            idle_since_ns: None,
        }
    }

    /// Records one loop iteration at `now_ns` that did (or did not) find
    /// work; true when the core should park now.
    pub(crate) fn should_park(&mut self, worked: bool, now_ns: u64) -> bool {
        let Some(after) = self.park_after_ns else {
            return false;
        };
        if worked {
            self.idle_since_ns = None;
            return false;
        }
        let since = *self.idle_since_ns.get_or_insert(now_ns);
        if now_ns.saturating_sub(since) < after {
            return false;
        }
        self.idle_since_ns = None;
        true
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
