//! Parking: an idle core blocks in the kernel instead of polling, and the
//! cores that leave it work wake it (the handshake is in
//! [`crate::platform`]'s module docs; the blocking itself is the
//! platform's, e.g. [`crate::process`]).
//!
//! A parked core is woken for work that only it can do or that it could
//! steal: frames that do not wake it by themselves (its software queue),
//! remote system calls on its queue, and, when the mode steals, a
//! connection waiting in a busy core's shuffle queue (one parked core per
//! busy core and step, so a burst of work wakes cores one by one as each
//! finds more).

use crate::app::App;
use crate::counters::CoreCounters;
use crate::platform::{CorePlatform, IpiBoard};
use crate::transport::Transport;

use super::Core;

impl<T: Transport, A: App> Core<T, A> {
    /// Whether the core may park at all: its network layer can wake it.
    pub fn can_park(&self) -> bool {
        self.net.transport.wakeup().is_some()
    }

    /// Marks the core parked and tells whether it may block now: nothing
    /// waits in its NIC or software queue, its remote-syscall queue, its
    /// shuffle queue or its in-flight batches, nor (when the mode steals)
    /// in another core's shuffle queue. The caller holds its wake-up
    /// interrupt back until it blocks, and calls [`end_park`](Self::end_park)
    /// when it resumes, whether it blocked or not.
    pub fn begin_park(&self, board: &IpiBoard) -> bool {
        board.park(self.index());
        let net = &self.net;
        let stealable = self.config.mode.steals()
            && self.peers.iter().any(|peer| peer.stealer.ready_hint() > 0);
        let pending = net.transport.rx_pending()
            || net.remote_rx.pending() > 0
            || net.shuffle.ready_hint() > 0
            || !self.inflight.is_empty()
            || stealable;
        !pending
    }

    /// Ends a park begun with [`begin_park`](Self::begin_park); `blocked`
    /// says whether the core actually blocked (counted).
    pub fn end_park(&self, board: &IpiBoard, blocked: bool) {
        board.unpark(self.index());
        if blocked {
            CoreCounters::bump(&self.net.counters.parks, 1);
        }
    }

    /// Wakes the parked cores this core left work for (module docs). Called
    /// after a step that did work; one load when no core is parked.
    pub(super) fn wake_parked_peers(&mut self, p: &mut impl CorePlatform) {
        if p.board().parked_cores() == 0 {
            return;
        }
        let index = self.net.index;
        let mut stealable = self.config.mode.steals() && self.net.shuffle.ready_hint() > 0;
        for (core, peer) in self.peers.iter().enumerate() {
            if core == index || !p.board().is_parked(core) {
                continue;
            }
            let own_work = peer.remote.pending() > 0 || peer.probe.needs_wakeup();
            if (own_work || stealable) && p.board().unpark(core) {
                // The woken core looks for stealable work too.
                stealable = false;
                p.wake(core);
                CoreCounters::bump(&self.net.counters.wakeups_sent, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::apps::Synthetic;
    use crate::runtime::test_platform::{Recorder, requests_on_core_0, step_until_app_ran};
    use crate::runtime::{CoreConfig, build_cores};
    use crate::sched::SchedMode;
    use crate::sim::net::{SimTransport, SimWire};

    /// Two zygos cores; `connections` requests (one per connection) wait on
    /// core 0's wire while core 1 is parked. Steps core 0 until it ran the
    /// application once; returns what it interrupted and whether core 1
    /// is still parked.
    fn step_with_core_1_parked(connections: usize) -> (Vec<usize>, bool, u64) {
        let wire = SimWire::new(2);
        let transports = (0..2)
            .map(|core| SimTransport::new(core, Arc::clone(&wire)))
            .collect();
        let config = CoreConfig {
            mode: SchedMode::Zygos,
            batch: 16,
            seed: 3,
        };
        let mut cores = build_cores(transports, Arc::new(Synthetic), config);
        requests_on_core_0(&wire, 2, connections);
        let mut platform = Recorder::new(2);
        platform.board.park(1);
        step_until_app_ran(&mut cores[0], &mut platform);
        let wakeups = cores[0].counters().snapshot().wakeups_sent;
        let parked = platform.board.is_parked(1);
        (platform.interrupted, parked, wakeups)
    }

    #[test]
    fn a_busy_core_wakes_a_parked_core_for_its_surplus_connections() {
        let (interrupted, still_parked, wakeups) = step_with_core_1_parked(4);
        assert_eq!(interrupted, [1]);
        assert!(!still_parked, "the waker clears the parked mark");
        assert_eq!(wakeups, 1);
    }

    #[test]
    fn a_single_ready_connection_wakes_nobody() {
        let (interrupted, still_parked, wakeups) = step_with_core_1_parked(1);
        assert!(interrupted.is_empty(), "woke {interrupted:?} for nothing");
        assert!(still_parked);
        assert_eq!(wakeups, 0);
    }
}
