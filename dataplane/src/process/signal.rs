//! The real interrupt half of an IPI on the process platform: a POSIX
//! real-time signal sent with `tgkill` to the target core's thread.
//!
//! Soundness of the handler. A signal can arrive at any instruction of the
//! target thread: inside the allocator, holding a shuffle spinlock, in the
//! middle of the network stack. So the handler does only what is
//! async-signal-safe and cannot deadlock or observe a torn state: it calls
//! `gettid` (a raw system call), scans a fixed, statically allocated table
//! of atomics for its thread id and increments that slot's counter with an
//! atomic add. No allocation, no lock, no thread-local access (whose lazy
//! initialisation could allocate), no Rust reference to the interrupted
//! code's data; errno is saved and restored. The work the IPI asks for
//! (receive, remote system calls, transmit) is done by the core itself at
//! its next safe point: the top of its loop, or the next spin quantum of
//! application code ([`crate::app::Cpu::spin`]), where it checks the
//! mailbox of [`crate::platform::IpiBoard`]. Running the stack inside the
//! handler, as ZygOS does in ring 0 with interrupts disabled, would be
//! unsound here: the interrupted code may hold the allocator's lock.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// Slots for the threads that can receive IPI signals (all dataplanes of
/// the process together).
const SLOTS: usize = 256;

struct Slot {
    tid: AtomicI32,
    signals: AtomicU64,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        tid: AtomicI32::new(0),
        signals: AtomicU64::new(0),
    }
}; SLOTS];

static INSTALL: Once = Once::new();

/// The signal used as IPI: the first real-time signal not used by libc.
pub(crate) fn ipi_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

extern "C" fn on_ipi(_signal: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    let errno = unsafe { *libc::__errno_location() };
    let tid = gettid();
    if let Some(slot) = TABLE
        .iter()
        .find(|slot| slot.tid.load(Ordering::Acquire) == tid)
    {
        slot.signals.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: as above; restoring errno keeps the interrupted code's view.
    unsafe { *libc::__errno_location() = errno };
}

/// Why the IPI signal could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// `sigaction` failed with this errno.
    #[error("installing the IPI signal handler failed (errno {0})")]
    Install(i32),
    /// More threads than [`SLOTS`] want IPIs at once.
    #[error("too many dataplane threads for the IPI signal table")]
    TableFull,
}

fn install() -> Result<(), SignalError> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid empty action; we fill the
        // handler (an extern "C" fn(c_int), matching sa_handler without
        // SA_SIGINFO) and an empty mask before passing it to the kernel.
        let status = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_ipi as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(ipi_signal(), &action, std::ptr::null_mut())
        };
        if status != 0 {
            result = Err(SignalError::Install(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ));
        }
    });
    result
}

/// The calling thread's registration for IPI signals; unregistered on drop.
pub(crate) struct SignalTarget {
    slot: &'static Slot,
    tid: libc::pid_t,
}

impl SignalTarget {
    /// Installs the handler (once per process) and registers this thread.
    pub(crate) fn register() -> Result<SignalTarget, SignalError> {
        install()?;
        let tid = gettid();
        let slot = TABLE
            .iter()
            .find(|slot| {
                slot.tid
                    .compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .ok_or(SignalError::TableFull)?;
        slot.signals.store(0, Ordering::Relaxed);
        Ok(SignalTarget { slot, tid })
    }

    /// This thread's id, the `tgkill` target.
    pub(crate) fn tid(&self) -> libc::pid_t {
        self.tid
    }

    /// Signals received since the last call.
    pub(crate) fn take(&self) -> u64 {
        self.slot.signals.swap(0, Ordering::Relaxed)
    }
}

impl Drop for SignalTarget {
    fn drop(&mut self) {
        self.slot.tid.store(0, Ordering::Release);
    }
}

/// Sends the IPI signal to thread `tid` of this process; false when the
/// thread is gone.
pub(crate) fn interrupt(tid: libc::pid_t) -> bool {
    // SAFETY: tgkill only sends a signal; a stale tid fails with ESRCH
    // (thread ids are checked against our own process id).
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, ipi_signal()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_thread_counts_the_signals_it_receives() {
        let target = SignalTarget::register().unwrap();
        assert!(interrupt(target.tid()));
        assert!(interrupt(target.tid()));
        // tgkill to the calling thread is delivered before it returns.
        assert_eq!(target.take(), 2);
        assert_eq!(target.take(), 0);
    }
}
