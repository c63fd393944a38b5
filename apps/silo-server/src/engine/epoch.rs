//! The global epoch and its advancer thread (Silo, SOSP'13 §4.1).
//!
//! Silo divides time into epochs (40 ms by default); every commit TID
//! carries the epoch read at the end of commit phase 1. A single thread
//! advances the epoch; workers only read it. The epoch is the coarse part of
//! every TID, so TIDs are ordered across workers without any shared counter
//! on the commit path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Silo's epoch length.
pub const DEFAULT_EPOCH_PERIOD: Duration = Duration::from_millis(40);

/// The global epoch number, advanced by a background thread while the
/// advancer is alive.
pub(crate) struct EpochClock {
    shared: Arc<Shared>,
    advancer: Option<JoinHandle<()>>,
}

struct Shared {
    epoch: AtomicU32,
    stop: AtomicBool,
}

impl EpochClock {
    /// Starts at epoch 1 and advances every `period`.
    pub(crate) fn start(period: Duration) -> EpochClock {
        let shared = Arc::new(Shared {
            epoch: AtomicU32::new(1),
            stop: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let advancer = std::thread::Builder::new()
            .name("silo-epoch".into())
            .spawn(move || {
                while !thread_shared.stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(period);
                    thread_shared.epoch.fetch_add(1, Ordering::SeqCst);
                }
            })
            .ok();
        EpochClock { shared, advancer }
    }

    /// The current epoch.
    pub(crate) fn current(&self) -> u32 {
        self.shared.epoch.load(Ordering::SeqCst)
    }
}

impl Drop for EpochClock {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(advancer) = self.advancer.take() {
            advancer.thread().unpark();
            // A panicked advancer has nothing left to clean up.
            let _ = advancer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_advances_and_the_advancer_stops_on_drop() {
        let clock = EpochClock::start(Duration::from_millis(1));
        let first = clock.current();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while clock.current() <= first + 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(clock.current() > first + 2);
        drop(clock);
    }
}
