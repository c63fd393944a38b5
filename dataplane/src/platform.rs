//! What the runtime needs from the machine it runs on, per core: a clock, a
//! way to spend service time, cost accounting, and inter-processor
//! interrupts (DESIGN.md "Platforms"). The `process` platform uses real
//! pinned threads and signals, the `sim` platform virtual time in one thread;
//! the `vmx` platform (its own issue) implements the same trait.
//!
//! [`IpiBoard`] is the state every platform shares for IPIs: per core a
//! mailbox flag (polled by the target's loop and at its safe points), an
//! "inside application code" flag (ZygOS interrupts only user-level
//! execution, thesis ch. 4.4.5) and the time of the last IPI (ZygOS
//! throttles to about one per 4 µs per target).
//!
//! The board also knows which cores are *parked*: blocked in the kernel
//! after idling for a while (`--park-after-us`, [`crate::process`]), the
//! deeper idle state of Shenango and Caladan that ZygOS, always polling,
//! does not have. A core that leaves work for a parked core (a remote
//! system call, frames in its software queue, a stealable connection)
//! wakes it with [`IpiBoard::unpark`] and an interrupt.
//!
//! Parking is a Dekker handshake: the parking core marks itself parked,
//! then looks for work; a waker publishes work, then looks for parked
//! cores. Both sides separate the store from the loads with a `SeqCst`
//! fence, so at least one of them sees the other's store: either the
//! parking core finds the work and does not block, or the waker finds it
//! parked and wakes it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

use crossbeam_utils::CachePadded;

/// Fixed runtime work a core performs, which the simulator charges from its
/// cost table (real platforms pay it by running the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Network processing of this many received frames.
    Packets(u64),
    /// Creation of this many application events.
    Events(u64),
    /// Dispatching one connection batch to the application.
    AppDispatch,
    /// One successful steal.
    Steal,
    /// Executing this many calls for a remote core.
    RemoteCalls(u64),
    /// Sending one IPI.
    IpiSend,
    /// One pass of the idle loop that found nothing.
    IdlePoll,
}

/// One core's view of its platform.
pub trait CorePlatform {
    /// The core's clock in nanoseconds.
    fn now_ns(&self) -> u64;

    /// Spends `ns` nanoseconds in application code.
    fn spin(&mut self, ns: u64);

    /// Longest stretch of [`spin`](Self::spin) between two IPI safe points.
    fn spin_quantum_ns(&self) -> u64;

    /// Accounts for runtime work (virtual time in the simulator).
    fn charge(&mut self, work: Work);

    /// The shared IPI state.
    fn board(&self) -> &IpiBoard;

    /// Interrupts `target` (after [`IpiBoard::post`] accepted it): a signal
    /// on the process platform, a scheduled handler run in the simulator.
    fn interrupt(&mut self, target: usize);

    /// Interrupt signals delivered to this core since the last call.
    fn take_signals(&mut self) -> u64;

    /// Wakes `target`, parked (the caller cleared its mark with
    /// [`IpiBoard::unpark`]). A parked process core waits for exactly the
    /// interrupt's signal; a platform whose interrupt cannot reach a parked
    /// core (vmx: the vCPU's thread blocks outside the guest) overrides it.
    fn wake(&mut self, target: usize) {
        self.interrupt(target);
    }
}

#[derive(Debug, Default)]
struct Slot {
    mailbox: AtomicBool,
    in_app: AtomicBool,
    last_ipi_ns: AtomicU64,
    parked: AtomicBool,
}

/// Per-core IPI mailboxes, shared by all cores of one dataplane.
#[derive(Debug)]
pub struct IpiBoard {
    slots: Box<[CachePadded<Slot>]>,
    throttle_ns: u64,
    /// How many cores are parked: one load tells a busy core that nobody
    /// needs waking.
    parked_cores: CachePadded<AtomicUsize>,
    /// Whether the cores may park at all; when not, a busy core skips the
    /// handshake's fence after each step.
    parking: bool,
}

/// ZygOS's IPI throttle: at most about one IPI per 4 µs per target.
pub const DEFAULT_IPI_THROTTLE_NS: u64 = 4_000;

impl IpiBoard {
    /// A board for `cores` cores with the given throttle interval.
    pub fn new(cores: usize, throttle_ns: u64) -> Self {
        IpiBoard {
            slots: (0..cores)
                .map(|_| CachePadded::new(Slot::default()))
                .collect(),
            throttle_ns,
            parked_cores: CachePadded::new(AtomicUsize::new(0)),
            parking: false,
        }
    }

    /// The same board, for cores that may park or not ([`park`](Self::park)
    /// is only called on a board that allows it).
    pub fn with_parking(self, parking: bool) -> Self {
        IpiBoard { parking, ..self }
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.slots.len()
    }

    /// Marks `core` as running (or not) application code.
    pub fn set_in_app(&self, core: usize, in_app: bool) {
        if let Some(slot) = self.slots.get(core) {
            slot.in_app.store(in_app, Ordering::Release);
        }
    }

    /// Whether `core` is running application code.
    pub fn in_app(&self, core: usize) -> bool {
        self.slots
            .get(core)
            .is_some_and(|slot| slot.in_app.load(Ordering::Acquire))
    }

    /// Posts an IPI to `target` at time `now_ns` if it is in application
    /// code and the throttle allows; returns whether it was posted (then
    /// the caller interrupts the target).
    pub fn post(&self, target: usize, now_ns: u64) -> bool {
        let Some(slot) = self.slots.get(target) else {
            return false;
        };
        if !slot.in_app.load(Ordering::Acquire) || slot.mailbox.load(Ordering::Acquire) {
            return false;
        }
        let last = slot.last_ipi_ns.load(Ordering::Relaxed);
        if last != 0 && now_ns.saturating_sub(last) < self.throttle_ns {
            return false;
        }
        if slot
            .last_ipi_ns
            .compare_exchange(last, now_ns.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        slot.mailbox.store(true, Ordering::Release);
        true
    }

    /// Marks `core` parked, then fences: the caller looks for work next and
    /// blocks only if it finds none (module docs).
    pub fn park(&self, core: usize) {
        if let Some(slot) = self.slots.get(core)
            && !slot.parked.swap(true, Ordering::SeqCst)
        {
            self.parked_cores.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
    }

    /// Clears `core`'s parked mark; true when it was set. A waker that gets
    /// true owns the wake-up (it interrupts the core), so one wake-up is
    /// sent however many cores leave work; the core itself calls it when
    /// it resumes.
    pub fn unpark(&self, core: usize) -> bool {
        let was_parked = self
            .slots
            .get(core)
            .is_some_and(|slot| slot.parked.swap(false, Ordering::SeqCst));
        if was_parked {
            self.parked_cores.fetch_sub(1, Ordering::SeqCst);
        }
        was_parked
    }

    /// Whether `core` is parked.
    pub fn is_parked(&self, core: usize) -> bool {
        self.slots
            .get(core)
            .is_some_and(|slot| slot.parked.load(Ordering::SeqCst))
    }

    /// How many cores are parked, after a fence that orders the caller's
    /// earlier publication of work before this load (module docs); 0 at
    /// once on a board whose cores never park.
    pub fn parked_cores(&self) -> usize {
        if !self.parking {
            return 0;
        }
        fence(Ordering::SeqCst);
        self.parked_cores.load(Ordering::SeqCst)
    }

    /// Consumes `core`'s mailbox flag; true when an IPI was pending.
    pub fn take(&self, core: usize) -> bool {
        self.slots
            .get(core)
            .is_some_and(|slot| slot.mailbox.swap(false, Ordering::AcqRel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipis_reach_only_cores_in_application_code_and_are_throttled() {
        let board = IpiBoard::new(2, DEFAULT_IPI_THROTTLE_NS);
        assert!(!board.post(1, 10_000), "core 1 is not in application code");
        board.set_in_app(1, true);
        assert!(board.post(1, 10_000));
        assert!(!board.post(1, 10_001), "mailbox still full");
        assert!(board.take(1));
        assert!(!board.take(1));
        assert!(!board.post(1, 12_000), "within 4 µs of the last IPI");
        assert!(board.post(1, 14_000));
        assert!(!board.post(7, 14_000), "no such core");
    }

    #[test]
    fn one_waker_claims_a_parked_core_and_the_count_follows() {
        let board = IpiBoard::new(3, DEFAULT_IPI_THROTTLE_NS).with_parking(true);
        assert_eq!(board.parked_cores(), 0);
        board.park(1);
        board.park(1);
        board.park(2);
        assert_eq!(board.parked_cores(), 2);
        assert!(board.is_parked(1));
        assert!(board.unpark(1), "the first waker owns the wake-up");
        assert!(!board.unpark(1), "a second waker has nothing to do");
        assert!(!board.is_parked(1));
        assert_eq!(board.parked_cores(), 1);
        assert!(!board.unpark(0), "core 0 never parked");
        assert!(!board.unpark(9), "no such core");
        assert!(board.unpark(2));
        assert_eq!(board.parked_cores(), 0);
    }
}
