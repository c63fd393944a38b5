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

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use crate::nic::{Sleeper, WaitFd};

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

    /// This thread as the sleeper a shm sender interrupts.
    pub(crate) fn sleeper(&self) -> Sleeper {
        Sleeper {
            pid: std::process::id(),
            tid: self.tid as u32,
        }
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

/// The threads of one dataplane's cores, by core index: whom an IPI or a
/// wake-up signals.
pub(crate) struct CoreThreads {
    tids: Box<[AtomicI32]>,
    /// Asked once (in a vmx guest, `getpid` is an exit).
    pid: u32,
}

impl CoreThreads {
    /// No core registered yet.
    pub(crate) fn new(cores: usize) -> Arc<CoreThreads> {
        Arc::new(CoreThreads {
            tids: (0..cores).map(|_| AtomicI32::new(0)).collect(),
            pid: std::process::id(),
        })
    }

    /// Registers the calling thread as `core`'s for the IPI signal, until
    /// the returned registration is dropped.
    pub(crate) fn register(self: &Arc<Self>, core: usize) -> Result<CoreThread, SignalError> {
        let target = SignalTarget::register()?;
        if let Some(slot) = self.tids.get(core) {
            slot.store(target.tid(), Ordering::Release);
        }
        Ok(CoreThread {
            target,
            threads: Arc::clone(self),
            core,
        })
    }

    /// Sends the IPI signal to `core`'s thread; false when it has none.
    pub(crate) fn signal(&self, core: usize) -> bool {
        let tid = self
            .tids
            .get(core)
            .map_or(0, |tid| tid.load(Ordering::Acquire));
        tid != 0
            && wake(Sleeper {
                pid: self.pid,
                tid: tid as u32,
            })
    }
}

/// A core thread's registration in its [`CoreThreads`] (cleared on drop)
/// and for the IPI signal.
pub(crate) struct CoreThread {
    target: SignalTarget,
    threads: Arc<CoreThreads>,
    core: usize,
}

impl CoreThread {
    /// The thread's signal registration.
    pub(crate) fn target(&self) -> &SignalTarget {
        &self.target
    }
}

impl Drop for CoreThread {
    fn drop(&mut self) {
        if let Some(slot) = self.threads.tids.get(self.core) {
            slot.store(0, Ordering::Release);
        }
    }
}

/// The IPI signal held back (blocked) in the calling thread while it
/// decides to park, so that a wake-up sent in that window is not lost: it
/// stays pending and [`HeldIpi::wait`] unblocks it atomically as it
/// blocks, like `pselect`'s classic use. The previous mask is restored on
/// drop, which delivers a signal still pending to its (counting) handler.
pub(crate) struct HeldIpi {
    previous: libc::sigset_t,
}

impl HeldIpi {
    /// Blocks the IPI signal in the calling thread.
    pub(crate) fn hold() -> HeldIpi {
        // SAFETY: both sets are plain data initialised before use
        // (sigemptyset, and pthread_sigmask writes `previous`).
        unsafe {
            let mut held: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut held);
            libc::sigaddset(&mut held, ipi_signal());
            libc::pthread_sigmask(libc::SIG_BLOCK, &held, &mut previous);
            HeldIpi { previous }
        }
    }

    /// Blocks until `wait` is ready, the IPI signal arrives (also one that
    /// arrived since [`hold`](Self::hold)) or `timeout` passes.
    pub(crate) fn wait(&self, wait: Option<WaitFd<'_>>, timeout: Duration) {
        let mut request = wait.map(|wait| libc::pollfd {
            fd: wait.fd.as_raw_fd(),
            events: libc::POLLIN | if wait.writable { libc::POLLOUT } else { 0 },
            revents: 0,
        });
        let (fds, count) = match request.as_mut() {
            Some(request) => (request as *mut libc::pollfd, 1),
            None => (std::ptr::null_mut(), 0),
        };
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: `fds` is null with count 0 or points at one pollfd living
        // across the call; the timespec and the mask are initialised. The
        // outcome (ready, EINTR from the signal, timeout) needs no check:
        // the caller looks for work either way.
        unsafe { libc::ppoll(fds, count, &timeout, &self.previous) };
    }
}

impl Drop for HeldIpi {
    fn drop(&mut self) {
        // SAFETY: `previous` is the mask pthread_sigmask returned in hold.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// Sends the IPI signal to thread `tid` of this process; false when the
/// thread is gone.
pub(crate) fn interrupt(tid: libc::pid_t) -> bool {
    wake(Sleeper {
        pid: std::process::id(),
        tid: tid as u32,
    })
}

/// Sends the IPI signal to a parked thread, in this or another process (a
/// shm NIC sender waking a receiver); false when the thread is gone.
pub(crate) fn wake(sleeper: Sleeper) -> bool {
    // SAFETY: tgkill only sends a signal; a stale tid fails with ESRCH
    // (the thread id is checked against the process id).
    unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            sleeper.pid as libc::pid_t,
            sleeper.tid as libc::pid_t,
            ipi_signal(),
        ) == 0
    }
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

    #[test]
    fn a_signal_sent_while_held_ends_the_wait_at_once() {
        let target = SignalTarget::register().unwrap();
        let held = HeldIpi::hold();
        assert!(interrupt(target.tid()));
        assert_eq!(target.take(), 0, "held back, not yet delivered");
        let start = std::time::Instant::now();
        held.wait(None, Duration::from_secs(20));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the pending signal must end the wait"
        );
        assert_eq!(target.take(), 1, "delivered to the handler by the wait");
        drop(held);
        assert!(interrupt(target.tid()));
        assert_eq!(target.take(), 1, "the mask is restored");
    }
}
