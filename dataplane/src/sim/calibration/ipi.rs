//! The IPI's costs on the process platform (DESIGN.md "Platforms"): the
//! [`IpiBoard`] mailbox other cores post to and the target polls, and the
//! real-time signal sent with `tgkill` whose handler
//! ([`crate::process::signal`]) interrupts the target.
//!
//! [`MailboxProbe`]: two threads pass the IPI back and forth through the
//! real board (post on one, `take` polled by the other); half the round
//! trip is one mailbox signal. [`SignalProbe`]: the target thread spins
//! until its handler has counted the signal; the sender times its post and
//! `tgkill` (send cost) and the target stamps when it sees the count
//! (latency: `tgkill` to handler run, on a shared monotonic clock). The
//! handler's own cost is the calling thread's `tgkill` to itself (the
//! signal is delivered before the call returns) minus a `tgkill` with
//! signal 0, which checks the thread and delivers nothing.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{PARTNER_TIMEOUT, Pinned, ProbeError, cpu_pair, spin_until};
use crate::platform::IpiBoard;
use crate::process::pin_to_cpu;
use crate::process::signal::{SignalTarget, interrupt};

/// A board with no throttle (the probes post back to back) on which both
/// cores are in application code, where IPIs are allowed.
fn open_board() -> IpiBoard {
    let board = IpiBoard::new(2, 0);
    board.set_in_app(0, true);
    board.set_in_app(1, true);
    board
}

/// The mailbox ping-pong.
#[derive(Debug, Default)]
pub struct MailboxProbe;

impl MailboxProbe {
    /// `n / 2` round trips (at least one); half of each, ns (one-way
    /// signals); `None` when the partner thread stalled.
    pub fn measure(&self, n: u64) -> Option<Vec<u64>> {
        let round_trips = n.div_ceil(2).max(1);
        let board = open_board();
        let (here, there) = cpu_pair();
        let epoch = Instant::now();
        let now = || epoch.elapsed().as_nanos() as u64;
        std::thread::scope(|scope| {
            let partner = scope.spawn(|| {
                pin_to_cpu(there);
                for _ in 0..round_trips {
                    if !spin_until(PARTNER_TIMEOUT, || board.take(1)) {
                        return false;
                    }
                    board.post(0, now());
                }
                true
            });
            let _pinned = Pinned::to(here);
            let mut one_way = Vec::with_capacity(round_trips as usize);
            for _ in 0..round_trips {
                let start = Instant::now();
                board.post(1, now());
                if !spin_until(PARTNER_TIMEOUT, || board.take(0)) {
                    return None;
                }
                one_way.push(start.elapsed().as_nanos() as u64 / 2);
            }
            partner.join().ok().filter(|&ok| ok).map(|_| one_way)
        })
    }
}

/// Times of [`SignalProbe::measure_latency`] for its `n` signals, ns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalTimes {
    /// Sender side of each: posting to the mailbox and `tgkill`.
    pub send_ns: Vec<u64>,
    /// Each from before `tgkill` to the target seeing its handler's count
    /// (one per signal delivered; fewer than asked when the target
    /// stalled).
    pub latency_ns: Vec<u64>,
}

/// The IPI signal between two threads, and its handler's cost.
#[derive(Debug, Default)]
pub struct SignalProbe;

impl SignalProbe {
    /// Sends `n` IPIs (post + `tgkill`) to a spinning thread, one at a
    /// time.
    pub fn measure_latency(&self, n: u64) -> Result<SignalTimes, ProbeError> {
        let board = open_board();
        let tid = AtomicI32::new(0);
        let seen = AtomicU64::new(0);
        let seen_at = AtomicU64::new(0);
        let (here, there) = cpu_pair();
        let epoch = Instant::now();
        let now = || epoch.elapsed().as_nanos() as u64;
        std::thread::scope(|scope| {
            let target = scope.spawn(|| {
                pin_to_cpu(there);
                let signals = SignalTarget::register()?;
                tid.store(signals.tid(), Ordering::Release);
                for count in 1..=n {
                    if !spin_until(PARTNER_TIMEOUT, || signals.take() > 0) {
                        break;
                    }
                    board.take(1);
                    seen_at.store(now(), Ordering::Relaxed);
                    seen.store(count, Ordering::Release);
                }
                Ok::<(), ProbeError>(())
            });
            let _pinned = Pinned::to(here);
            let mut times = SignalTimes::default();
            if spin_until(PARTNER_TIMEOUT, || tid.load(Ordering::Acquire) != 0) {
                let tid = tid.load(Ordering::Acquire);
                for count in 1..=n {
                    let sent_at = now();
                    let start = Instant::now();
                    if board.post(1, sent_at) {
                        interrupt(tid);
                    }
                    times.send_ns.push(start.elapsed().as_nanos() as u64);
                    if !spin_until(PARTNER_TIMEOUT, || seen.load(Ordering::Acquire) == count) {
                        break;
                    }
                    let arrived = seen_at.load(Ordering::Relaxed);
                    times.latency_ns.push(arrived.saturating_sub(sent_at));
                }
            }
            target.join().unwrap_or(Ok(()))?;
            Ok(times)
        })
    }

    /// Time of `n` deliveries of the IPI signal to the calling thread, its
    /// handler and return, less `n` `tgkill`s that deliver nothing.
    pub fn measure_handler(&self, n: u64) -> Result<Duration, ProbeError> {
        let delivered = self.measure_self_signal(n)?;
        Ok(delivered.saturating_sub(self.measure_null_signal(n)?))
    }

    /// Time of `n` `tgkill`s of the IPI signal to the calling thread (the
    /// signal is delivered, and its handler run, before each returns).
    pub fn measure_self_signal(&self, n: u64) -> Result<Duration, ProbeError> {
        let target = SignalTarget::register()?;
        let tid = target.tid();
        let start = Instant::now();
        for _ in 0..n {
            interrupt(tid);
        }
        let elapsed = start.elapsed();
        let delivered = target.take();
        if delivered != n {
            return Err(ProbeError::Lost {
                what: "signals to self",
                sent: n,
                received: delivered,
            });
        }
        Ok(elapsed)
    }

    /// Time of `n` `tgkill`s of signal 0 to the calling thread: the system
    /// call and its checks, no delivery.
    pub fn measure_null_signal(&self, n: u64) -> Result<Duration, ProbeError> {
        let target = SignalTarget::register()?;
        let tid = target.tid();
        let start = Instant::now();
        for _ in 0..n {
            // SAFETY: getpid cannot fail; tgkill with signal 0 sends
            // nothing, it only checks that the thread exists (ours does).
            unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
        }
        Ok(start.elapsed())
    }
}
