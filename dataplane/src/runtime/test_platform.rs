//! The platform of the runtime's unit tests: one core stepped by the test
//! itself, a clock that advances only by the work charged and spun, and
//! the interrupts the core sends, recorded instead of delivered.

use std::sync::Arc;

use crate::platform::{CorePlatform, DEFAULT_IPI_THROTTLE_NS, IpiBoard, Work};

/// See the module docs.
pub(crate) struct Recorder {
    pub(crate) now_ns: u64,
    /// Shared, so that a test's application can post IPIs on it.
    pub(crate) board: Arc<IpiBoard>,
    pub(crate) interrupted: Vec<usize>,
}

impl Recorder {
    /// A core of a dataplane of `cores` cores, at time 1 ns.
    pub(crate) fn new(cores: usize) -> Self {
        Recorder {
            now_ns: 1,
            board: Arc::new(IpiBoard::new(cores, DEFAULT_IPI_THROTTLE_NS)),
            interrupted: Vec::new(),
        }
    }
}

impl CorePlatform for Recorder {
    fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn spin(&mut self, ns: u64) {
        self.now_ns += ns;
    }

    fn spin_quantum_ns(&self) -> u64 {
        u64::MAX
    }

    fn charge(&mut self, _work: Work) {
        self.now_ns += 1;
    }

    fn board(&self) -> &IpiBoard {
        &self.board
    }

    fn interrupt(&mut self, target: usize) {
        self.interrupted.push(target);
    }

    fn take_signals(&mut self) -> u64 {
        0
    }
}
