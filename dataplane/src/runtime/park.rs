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
        self.net.transport.wait_fd().is_some()
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
                p.interrupt(core);
                CoreCounters::bump(&self.net.counters.wakeups_sent, 1);
            }
        }
    }
}
