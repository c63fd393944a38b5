//! One simulated core's platform: a virtual clock that runtime work and
//! application spinning advance, and an outbox of IPIs the simulator
//! delivers after the step. The clock is shared (an atomic) so the core's
//! simulated NIC queue can stamp the frames it transmits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::costs::SimCosts;
use crate::platform::{CorePlatform, IpiBoard, Work};

/// The [`CorePlatform`] of one simulated core.
pub(crate) struct SimCore {
    clock: Arc<AtomicU64>,
    costs: SimCosts,
    board: Arc<IpiBoard>,
    pub(crate) outbox: Vec<usize>,
}

impl SimCore {
    pub(crate) fn new(costs: SimCosts, board: Arc<IpiBoard>) -> Self {
        SimCore {
            clock: Arc::default(),
            costs,
            board,
            outbox: Vec::new(),
        }
    }

    /// The shared clock.
    pub(crate) fn clock_handle(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.clock)
    }

    pub(crate) fn clock(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    pub(crate) fn set_clock(&mut self, ns: u64) {
        self.clock.store(ns, Ordering::Relaxed);
    }

    pub(crate) fn advance(&mut self, ns: u64) {
        self.set_clock(self.clock().saturating_add(ns));
    }
}

impl CorePlatform for SimCore {
    fn now_ns(&self) -> u64 {
        self.clock()
    }

    fn spin(&mut self, ns: u64) {
        self.advance(ns);
    }

    fn spin_quantum_ns(&self) -> u64 {
        // IPIs are delivered by the simulator between steps (it runs the
        // handler at the IPI's virtual time), so spinning needs no quanta.
        u64::MAX
    }

    fn charge(&mut self, work: Work) {
        self.advance(self.costs.of(work));
    }

    fn board(&self) -> &IpiBoard {
        &self.board
    }

    fn interrupt(&mut self, target: usize) {
        self.outbox.push(target);
    }

    fn take_signals(&mut self) -> u64 {
        0
    }
}
