//! The `process` platform: each dataplane core is a thread pinned to one
//! CPU, stepping its [`Core`] until told to stop. Time is the monotonic
//! clock; service time is a busy loop in quanta of 1 µs with an IPI safe
//! point between quanta; an IPI is the [`IpiBoard`] mailbox plus a
//! real-time signal ([`signal`]) sent with `tgkill` when the target is in
//! application code (throttled by the board, about one per 4 µs). With a
//! park threshold, an idle core blocks in the kernel ([`park`]) instead of
//! polling forever.

pub(crate) mod park;
pub(crate) mod signal;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use signal::SignalError;

use crate::app::App;
use crate::counters::CoreCounters;
use crate::platform::{CorePlatform, DEFAULT_IPI_THROTTLE_NS, IpiBoard};
use crate::runtime::Core;
use crate::transport::Transport;
use park::IdlePolicy;
use signal::{CoreThread, CoreThreads};

/// Spin quantum between two IPI safe points.
pub(crate) const SPIN_QUANTUM_NS: u64 = 1_000;

/// The clock of the platforms whose cores are real threads (process, vmx):
/// nanoseconds of the monotonic clock since the dataplane started, and
/// service time as a busy loop on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadClock {
    epoch: Instant,
}

impl ThreadClock {
    /// A clock starting now.
    pub(crate) fn start() -> Self {
        ThreadClock {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the start.
    pub(crate) fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Busy-waits `ns` nanoseconds.
    pub(crate) fn spin(&self, ns: u64) {
        let deadline = self.now_ns().saturating_add(ns);
        while self.now_ns() < deadline {
            std::hint::spin_loop();
        }
    }
}

/// The [`CorePlatform`] methods every platform whose cores are real threads
/// shares (process, vmx): the [`ThreadClock`] in field `clock`, its busy
/// loop in quanta of [`SPIN_QUANTUM_NS`], nothing charged (the code ran),
/// the [`IpiBoard`] in field `board`.
macro_rules! real_time_core {
    () => {
        fn now_ns(&self) -> u64 {
            self.clock.now_ns()
        }

        fn spin(&mut self, ns: u64) {
            self.clock.spin(ns);
        }

        fn spin_quantum_ns(&self) -> u64 {
            $crate::process::SPIN_QUANTUM_NS
        }

        fn charge(&mut self, _work: $crate::platform::Work) {}

        fn board(&self) -> &$crate::platform::IpiBoard {
            &self.board
        }
    };
}
pub(crate) use real_time_core;

/// A real-time core stepped by the calling thread itself (probes, tests):
/// the process platform's clock and spin, no signals, nothing charged.
#[derive(Debug)]
pub struct InlineCore {
    clock: ThreadClock,
    board: IpiBoard,
}

impl InlineCore {
    /// A core of a dataplane of `cores` cores, its clock starting now.
    pub fn new(cores: usize) -> Self {
        InlineCore {
            clock: ThreadClock::start(),
            board: IpiBoard::new(cores, DEFAULT_IPI_THROTTLE_NS),
        }
    }
}

impl CorePlatform for InlineCore {
    real_time_core!();

    fn interrupt(&mut self, _target: usize) {}

    fn take_signals(&mut self) -> u64 {
        0
    }
}

/// One core's platform on a real thread.
struct ProcessCore {
    clock: ThreadClock,
    board: Arc<IpiBoard>,
    threads: Arc<CoreThreads>,
    me: CoreThread,
}

impl CorePlatform for ProcessCore {
    real_time_core!();

    fn interrupt(&mut self, target: usize) {
        self.threads.signal(target);
    }

    fn take_signals(&mut self) -> u64 {
        self.me.target().take()
    }
}

/// Why the process platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The IPI signal could not be set up.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// A core thread could not be spawned.
    #[error("spawning a core thread failed: {0}")]
    Spawn(std::io::Error),
    /// A core thread panicked.
    #[error("core {0} panicked")]
    Panicked(usize),
    /// Parking was asked for on a network layer that cannot wake a blocked
    /// core.
    #[error("core {0}'s network layer cannot wake a parked core, so it cannot park")]
    CannotPark(usize),
}

/// The running cores of one dataplane.
pub struct ProcessRunner {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<(), SignalError>>>,
    counters: Vec<Arc<CoreCounters>>,
}

/// Starts one pinned thread per core (core `i` on CPU `i` modulo the CPUs
/// available). With `park_after`, a core that found no work for that long
/// blocks until work may have arrived ([`park`]); without, it polls.
pub fn spawn<T, A>(
    cores: Vec<Core<T, A>>,
    park_after: Option<Duration>,
) -> Result<ProcessRunner, ProcessError>
where
    T: Transport + Send + 'static,
    A: App,
{
    park::check_parkable(&cores, park_after).map_err(ProcessError::CannotPark)?;
    let board = IpiBoard::new(cores.len(), DEFAULT_IPI_THROTTLE_NS);
    let board = Arc::new(board.with_parking(park_after.is_some()));
    let core_threads = CoreThreads::new(cores.len());
    let stop = Arc::new(AtomicBool::new(false));
    let clock = ThreadClock::start();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counters = cores.iter().map(|core| core.counters()).collect();
    let mut threads = Vec::new();
    for mut core in cores {
        let index = core.index();
        let board = Arc::clone(&board);
        let (core_threads, stop) = (Arc::clone(&core_threads), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("zygos-core-{index}"))
            .spawn(move || {
                pin_to_cpu(index % cpus);
                let me = core_threads.register(index)?;
                let mut platform = ProcessCore {
                    clock,
                    board,
                    threads: core_threads,
                    me,
                };
                let mut idle = IdlePolicy::new(park_after);
                while !stop.load(Ordering::Relaxed) {
                    let worked = core.step(&mut platform);
                    let now = platform.now_ns();
                    if idle.should_park(worked, now) {
                        park::park(&core, &platform.board, platform.me.target().sleeper());
                        idle.parked_for(platform.now_ns().saturating_sub(now));
                    }
                }
                Ok(())
            })
            .map_err(ProcessError::Spawn)?;
        threads.push(thread);
    }
    Ok(ProcessRunner {
        stop,
        threads,
        counters,
    })
}

/// Pins the calling thread to `cpu`; a failure (a restricted cpuset) only
/// costs performance, so it is logged, not fatal.
pub(crate) fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it and
    // sched_setaffinity(0, ...) reads it for the calling thread.
    let status = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if status != 0 {
        tracing::debug!(cpu, "could not pin core thread");
    }
}

impl ProcessRunner {
    /// Each core's live counters.
    pub fn counters(&self) -> &[Arc<CoreCounters>] {
        &self.counters
    }

    /// Stops every core and waits for its thread.
    pub fn stop(self) -> Result<(), ProcessError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut outcome = Ok(());
        for (index, thread) in self.threads.into_iter().enumerate() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => outcome = Err(ProcessError::Signal(error)),
                Err(_) => outcome = Err(ProcessError::Panicked(index)),
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
