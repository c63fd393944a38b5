//! Probes of the real code behind each entry of [`SimCosts`](super::SimCosts):
//! the functions `zygos bench calibrate` times to write the sim's cost
//! table, and that bench's criterion benchmarks (`bench/benches`) run, so
//! the calibrated figures and the benchmarks measure the same thing.
//!
//! A probe's `measure(n)` performs `n` operations. Probes on one thread
//! return the time they took (only the operation, not its set-up), the
//! shape criterion's `iter_custom` wants. Probes across two threads return
//! each operation's time (ns): the threads ping-pong, and when one of them
//! loses its CPU (a busy machine) the operations around it take a time
//! slice; the median operation is what two dedicated dataplane cores see,
//! and [`total`] gives criterion the sum.
//!
//! | cost entry        | probe                                                   |
//! |-------------------|---------------------------------------------------------|
//! | `packet_ns`       | [`StackPair::measure_frames`]: `Stack::handle_frame`    |
//! | `event_ns`        | [`StackPair::measure_events`]: recv, copy, shuffle push |
//! | `app_dispatch_ns` | [`ShuffleProbe::measure_dispatch`]: pop, release        |
//! | `steal_ns`        | [`RemoteProbe`]: a steal of a queue another core filled |
//! | `remote_call_ns`  | [`RemoteProbe`]: the home core's drain and release      |
//! | `ipi_send_ns`     | [`SignalProbe`]: mailbox post and `tgkill`, sender side |
//! | `ipi_latency_ns`  | [`MailboxProbe`] one way + half a spin quantum          |
//! | `ipi_handler_ns`  | [`SignalProbe::measure_handler`]: signal delivery       |
//! | `idle_poll_ns`    | [`IdleProbe`]: one `Core::step` finding nothing         |
//! | `wire_ns`         | [`WireProbe`]: one-way shm NIC latency                  |
//!
//! The IPI latency is the process platform's: the signal only interrupts,
//! and the IPI's work runs at the target's next safe point, which polls
//! the mailbox ([`crate::process`]); [`SignalProbe::measure_latency`]
//! measures the signal's own delivery (`tgkill` to the handler running).
//! Cross-thread probes pin their two threads to different CPUs when the
//! machine has two; on a busy machine their figures include its noise.

mod idle;
mod ipi;
mod shuffle;
mod stack;
mod wire;

use std::time::{Duration, Instant};

pub use idle::IdleProbe;
pub use ipi::{MailboxProbe, SignalProbe, SignalTimes};
pub use shuffle::{RemoteProbe, RemoteTimes, ShuffleProbe};
pub use stack::StackPair;
pub use wire::WireProbe;

/// Why a probe could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A test network stack could not be built or connected.
    #[error("netstack: {0}")]
    Stack(String),
    /// The shm NIC could not be created.
    #[error("shm NIC: {0}")]
    Shm(#[from] crate::nic::shm::ShmError),
    /// The IPI signal could not be installed.
    #[error(transparent)]
    Signal(#[from] crate::process::SignalError),
    /// Some of the probe's operations did not complete.
    #[error("{what}: {received} of {sent} arrived")]
    Lost {
        /// What was sent.
        what: &'static str,
        /// How many were sent.
        sent: u64,
        /// How many arrived.
        received: u64,
    },
}

/// The CPU the calling thread runs on, and another one for its partner
/// thread (the same when there is only one). Counts the machine's online
/// CPUs, not the calling thread's affinity (which a probe changes).
pub(crate) fn cpu_pair() -> (usize, usize) {
    // SAFETY: sysconf and sched_getcpu only read; they return -1 on failure.
    let (online, current) = unsafe {
        (
            libc::sysconf(libc::_SC_NPROCESSORS_ONLN),
            libc::sched_getcpu(),
        )
    };
    let cpus = usize::try_from(online).unwrap_or(1).max(1);
    let current = usize::try_from(current).unwrap_or(0);
    (current % cpus, (current + 1) % cpus)
}

/// The calling thread pinned to one CPU until dropped, when its previous
/// CPU set is restored (the probe's caller keeps running where it could).
pub(crate) struct Pinned {
    previous: Option<libc::cpu_set_t>,
}

impl Pinned {
    /// Pins the calling thread to `cpu` (best effort, like the process
    /// platform's cores).
    pub(crate) fn to(cpu: usize) -> Pinned {
        // SAFETY: cpu_set_t is plain data, zeroed is the empty set;
        // sched_getaffinity(0, ...) writes the calling thread's set in it.
        let previous = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
        };
        crate::process::pin_to_cpu(cpu);
        Pinned { previous }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(set) = &self.previous {
            // SAFETY: `set` is the CPU set sched_getaffinity filled for
            // this thread; sched_setaffinity(0, ...) only reads it.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
            }
        }
    }
}

/// Busy-waits until `done` holds; false after `limit` (a partner thread
/// that died or never ran).
pub(crate) fn spin_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut polls = 0u32;
    while !done() {
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(1024) && start.elapsed() > limit {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// The process platform's expected wait from a mailbox post to the
/// target's next safe point when it runs application code: half the spin
/// quantum between two safe points.
pub const SAFE_POINT_WAIT_NS: u64 = crate::process::SPIN_QUANTUM_NS / 2;

/// The sum of per-operation samples, for criterion's `iter_custom`.
pub fn total(samples_ns: &[u64]) -> Duration {
    Duration::from_nanos(samples_ns.iter().sum())
}

/// The sum of `samples_ns` scaled to `n` operations: round-trip probes
/// return one one-way sample per round trip, `n / 2` of them.
pub fn total_of(n: u64, samples_ns: &[u64]) -> Duration {
    total(samples_ns).mul_f64(n as f64 / samples_ns.len().max(1) as f64)
}

/// How long a cross-thread probe waits for its partner before giving up.
pub(crate) const PARTNER_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests;
