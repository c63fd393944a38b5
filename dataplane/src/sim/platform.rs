//! One simulated core's platform: a virtual clock that runtime work and
//! application spinning advance, and an outbox of IPIs the simulator
//! delivers after the step.

use std::sync::Arc;

use super::costs::SimCosts;
use crate::platform::{CorePlatform, IpiBoard, Work};

/// The [`CorePlatform`] of one simulated core.
pub(crate) struct SimCore {
    pub(crate) clock: u64,
    costs: SimCosts,
    board: Arc<IpiBoard>,
    pub(crate) outbox: Vec<usize>,
}

impl SimCore {
    pub(crate) fn new(costs: SimCosts, board: Arc<IpiBoard>) -> Self {
        SimCore {
            clock: 0,
            costs,
            board,
            outbox: Vec::new(),
        }
    }
}

impl CorePlatform for SimCore {
    fn now_ns(&self) -> u64 {
        self.clock
    }

    fn spin(&mut self, ns: u64) {
        self.clock += ns;
    }

    fn spin_quantum_ns(&self) -> u64 {
        // IPIs are delivered by the simulator between steps (it runs the
        // handler at the IPI's virtual time), so spinning needs no quanta.
        u64::MAX
    }

    fn charge(&mut self, work: Work) {
        self.clock += self.costs.of(work);
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
