//! The platform of the runtime's unit tests: one core stepped by the test
//! itself, a clock that advances only by the work charged and spun, and
//! the interrupts the core sends, recorded instead of delivered; and the
//! requests those tests put on core 0's wire.

use std::sync::Arc;

use crate::app::App;
use crate::platform::{CorePlatform, DEFAULT_IPI_THROTTLE_NS, IpiBoard, Work};
use crate::runtime::Core;
use crate::sim::net::{SimTransport, SimWire};
use crate::sim::workload::Workload;
use crate::sim::{ServiceTime, Steering, WorkloadConfig};

/// Puts one 1 µs request of each of `connections` connections on core 0's
/// queue of `wire` (a dataplane of `cores` cores).
pub(crate) fn requests_on_core_0(wire: &SimWire, cores: usize, connections: usize) {
    let workload = Workload::generate(
        &WorkloadConfig {
            connections,
            requests_per_connection: 1,
            mean_interarrival_ns: 1_000.0,
            service: ServiceTime::Fixed(1_000),
            steering: Steering::AllOn(0),
            split_probability: 0.0,
        },
        cores,
        1,
    );
    for arrival in &workload.arrivals {
        for segment in arrival.segments() {
            wire.deliver(0, segment);
        }
    }
}

/// Steps `core` until it has run the application once (at most 100
/// steps).
pub(crate) fn step_until_app_ran<A: App>(
    core: &mut Core<SimTransport, A>,
    platform: &mut Recorder,
) {
    let counters = core.counters();
    for _ in 0..100 {
        core.step(platform);
        if counters.snapshot().app_runs > 0 {
            return;
        }
    }
}

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
            board: Arc::new(IpiBoard::new(cores, DEFAULT_IPI_THROTTLE_NS).with_parking(true)),
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
