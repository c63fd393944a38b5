//! The `vmx` platform (DESIGN.md "Platforms"; ZygOS as a Dune guest, thesis
//! ch. 4.5): each dataplane core is a pinned thread that enters a vCPU of
//! the dataplane's VM and runs the same [`Core::step`] loop inside it, at
//! guest CPL3, over the same memory (guest-virtual = host-virtual). IPIs
//! between cores are x2APIC IPIs ([`guest_core`]); the data path (shm NIC rings,
//! shuffle queues, the stacks) makes no system call, so in steady state a
//! core takes no exit to user space (the allocator's arenas are grown
//! before the run and never trimmed, [`heap`]). Each core's exits are
//! counted by reason ([`CoreExits`]).
//!
//! ```text
//! let runner = vmx_platform::spawn(build_cores(...))?; // Err says why KVM is unusable
//! let before = runner.checkpoint()?;                    // exits of every core, now
//! ... load ...
//! let window = runner.checkpoint()?;                    // diff with CoreExits::since
//! let (counters, exits) = runner.stop()?;               // final counters and exits
//! ```
//!
//! A vCPU's counters can only be read while it is out of the guest, so a
//! [`VmxRunner::checkpoint`] makes every core leave its vCPU at its next
//! loop iteration, publish its counts and re-enter (one `returns` exit per
//! core, left out of [`CoreExits::data_path_exits`]).

mod exits;
mod guest_core;
mod heap;
mod ipi_latency;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use vmx::{Vm, VmError};

pub use exits::CoreExits;
pub use ipi_latency::IpiLatency;

use crate::app::App;
use crate::counters::CoreCounters;
use crate::platform::{DEFAULT_IPI_THROTTLE_NS, IpiBoard};
use crate::process::park::{self, IdlePolicy};
use crate::process::signal::{CoreThreads, SignalError, SignalTarget};
use crate::process::{ThreadClock, pin_to_cpu};
use crate::runtime::Core;
use crate::transport::Transport;
use guest_core::VmxCore;
use ipi_latency::SendStamps;

/// How long [`VmxRunner::checkpoint`] waits for every core to report.
const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the vmx platform could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum VmxError {
    /// KVM is unusable here, or the VM could not be built.
    #[error("vmx platform: {0}")]
    Vm(#[from] VmError),
    /// More cores than vCPU ids.
    #[error("vmx platform: core {0} has no vCPU id")]
    TooManyCores(usize),
    /// A core's vCPU failed (creation, a guest fault, its counters).
    #[error("vmx platform, core {core}: {source}")]
    Core {
        /// The core.
        core: usize,
        /// What failed.
        source: VmError,
    },
    /// A core thread could not be spawned.
    #[error("spawning a core thread failed: {0}")]
    Spawn(std::io::Error),
    /// A core thread panicked.
    #[error("core {0} panicked")]
    Panicked(usize),
    /// The IPI signal (the wake-up of parked cores) could not be set up.
    #[error("vmx platform: {0}")]
    Signal(#[from] SignalError),
    /// Parking was asked for on a network layer that cannot wake a core.
    #[error("core {0}'s network layer cannot wake a parked core, so it cannot park")]
    CannotPark(usize),
    /// A core did not leave its vCPU for a checkpoint in time.
    #[error("core {0} did not report its exits within {CHECKPOINT_TIMEOUT:?}")]
    CheckpointTimeout(usize),
}

/// What a core thread publishes each time it leaves its vCPU.
#[derive(Default)]
struct Published {
    /// The checkpoint epoch the core has reported for.
    epoch: AtomicU64,
    exits: Mutex<CoreExits>,
}

/// What the runner tells the cores.
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    epoch: AtomicU64,
}

/// The running cores of one dataplane on the vmx platform.
pub struct VmxRunner {
    control: Arc<Control>,
    published: Arc<[CachePadded<Published>]>,
    threads: Vec<JoinHandle<Result<(), VmxError>>>,
    counters: Vec<Arc<CoreCounters>>,
}

/// Creates the dataplane's VM and starts one pinned thread per core (core
/// `i` on CPU `i` modulo the CPUs available, in vCPU `i`). With
/// `park_after`, a core idle that long leaves its vCPU and parks on the
/// host like a process core.
pub fn spawn<T, A>(
    cores: Vec<Core<T, A>>,
    park_after: Option<Duration>,
) -> Result<VmxRunner, VmxError>
where
    T: Transport + Send + 'static,
    A: App,
{
    if let Some(core) = cores.iter().find(|c| u32::try_from(c.index()).is_err()) {
        return Err(VmxError::TooManyCores(core.index()));
    }
    park::check_parkable(&cores, park_after).map_err(VmxError::CannotPark)?;
    let threads = CoreThreads::new(cores.len());
    if !heap::keep_memory() {
        tracing::warn!("mallopt refused: allocations may exit the vCPUs");
    }
    // The cores' state was allocated by this (the building) thread: the
    // cores grow some of those blocks with realloc, in this thread's arena
    // (an `mprotect`, syscall 10, seen on a core in a steady-state window).
    heap::reserve_thread_arena();
    let vm = Vm::new()?;
    let board = IpiBoard::new(cores.len(), DEFAULT_IPI_THROTTLE_NS);
    let board = Arc::new(board.with_parking(park_after.is_some()));
    let stamps = Arc::new(SendStamps::new(cores.len()));
    let control = Arc::new(Control::default());
    let published: Arc<[CachePadded<Published>]> =
        cores.iter().map(|_| CachePadded::default()).collect();
    let clock = ThreadClock::start();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counters = cores.iter().map(|core| core.counters()).collect();
    let mut runner = VmxRunner {
        control,
        published,
        threads: Vec::new(),
        counters,
    };
    for core in cores {
        let index = core.index();
        let platform = VmxCore {
            index,
            clock,
            board: Arc::clone(&board),
            stamps: Arc::clone(&stamps),
            refused_ipis: 0,
            ipi_latency: IpiLatency::default(),
            threads: Arc::clone(&threads),
        };
        let (vm, control) = (vm.clone(), Arc::clone(&runner.control));
        let published = Arc::clone(&runner.published);
        let threads = Arc::clone(&threads);
        let thread = std::thread::Builder::new()
            .name(format!("zygos-vcpu-{index}"))
            .spawn(move || {
                pin_to_cpu(index % cpus);
                let me = threads.register(index)?;
                let idle = IdlePolicy::new(park_after);
                run_core(
                    core,
                    platform,
                    (&vm, &control, &published[index]),
                    (idle, me.target()),
                )
                .map_err(|source| VmxError::Core {
                    core: index,
                    source,
                })
            });
        match thread {
            Ok(thread) => runner.threads.push(thread),
            Err(error) => {
                // Stop the cores already running before reporting.
                let _ = runner.stop();
                return Err(VmxError::Spawn(error));
            }
        }
    }
    Ok(runner)
}

/// Why guest code returned to its core thread.
enum Leave {
    /// A checkpoint (the new epoch) or the stop.
    Control(u64),
    /// The core idled past its park threshold.
    Park,
}

/// A core thread: enters its vCPU and steps the core in the guest, leaving
/// it to publish its exits at each checkpoint and at the stop, and to park
/// on the host when idle.
fn run_core<T: Transport, A: App>(
    mut core: Core<T, A>,
    mut platform: VmxCore,
    (vm, control, published): (&Vm, &Control, &Published),
    (mut idle, signals): (IdlePolicy, &SignalTarget),
) -> Result<(), VmError> {
    let id = u32::try_from(core.index()).map_err(|_| VmError::Layout("vCPU id"))?;
    let mut vcpu = vm.create_vcpu(id)?;
    heap::reserve_thread_arena();
    let mut epoch = control.epoch.load(Ordering::Acquire);
    loop {
        let leave =
            vcpu.run_closure(|| serve(&mut core, &mut platform, control, epoch, &mut idle))?;
        epoch = match leave {
            Leave::Control(epoch) => epoch,
            Leave::Park => {
                let start = platform.clock.now_ns();
                park::park(&core, &platform.board, signals.sleeper());
                idle.parked_for(platform.clock.now_ns().saturating_sub(start));
                continue;
            }
        };
        let exits = CoreExits::read(&vcpu, platform.refused_ipis, platform.ipi_latency)?;
        *published
            .exits
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = exits;
        published.epoch.store(epoch, Ordering::Release);
        if control.stop.load(Ordering::Acquire) {
            return Ok(());
        }
    }
}

/// Guest code: steps the core until a stop, a new checkpoint epoch or the
/// time to park.
fn serve<T: Transport, A: App>(
    core: &mut Core<T, A>,
    platform: &mut VmxCore,
    control: &Control,
    epoch: u64,
    idle: &mut IdlePolicy,
) -> Leave {
    loop {
        let now = control.epoch.load(Ordering::Acquire);
        if now != epoch || control.stop.load(Ordering::Acquire) {
            return Leave::Control(now);
        }
        let worked = core.step(platform);
        if idle.should_park(worked, platform.clock.now_ns()) {
            return Leave::Park;
        }
    }
}

impl VmxRunner {
    /// Each core's live counters.
    pub fn counters(&self) -> &[Arc<CoreCounters>] {
        &self.counters
    }

    /// Every core's exits now: each core leaves its vCPU at its next loop
    /// iteration, publishes its counts and re-enters.
    pub fn checkpoint(&self) -> Result<Vec<CoreExits>, VmxError> {
        let target = self.control.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let started = Instant::now();
        for (index, slot) in self.published.iter().enumerate() {
            while slot.epoch.load(Ordering::Acquire) < target {
                if self.threads.get(index).is_none_or(JoinHandle::is_finished) {
                    return Err(VmxError::Panicked(index));
                }
                if started.elapsed() > CHECKPOINT_TIMEOUT {
                    return Err(VmxError::CheckpointTimeout(index));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        Ok(self.published_exits())
    }

    fn published_exits(&self) -> Vec<CoreExits> {
        self.published
            .iter()
            .map(|slot| *slot.exits.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// Stops every core, waits for its thread and returns each core's
    /// exits over the whole run.
    pub fn stop(mut self) -> Result<Vec<CoreExits>, VmxError> {
        self.control.stop.store(true, Ordering::Release);
        let mut outcome = Ok(());
        for (index, thread) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => outcome = Err(error),
                Err(_) => outcome = Err(VmxError::Panicked(index)),
            }
        }
        outcome.map(|()| self.published_exits())
    }
}

#[cfg(test)]
mod tests;
