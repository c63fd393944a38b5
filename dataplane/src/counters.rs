//! Per-core counters (IX/ZygOS style, one set per stage), written by their
//! core with relaxed atomics so another thread can print them at any time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// Live counters of one core.
        #[derive(Debug, Default)]
        pub struct CoreCounters {
            $($(#[doc = $doc])* pub $name: AtomicU64,)*
        }

        /// A copy of one core's counters at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct CounterSnapshot {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl CoreCounters {
            /// Reads every counter.
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        impl CounterSnapshot {
            /// Field-wise sum.
            pub fn add(&self, other: &CounterSnapshot) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name + other.$name,)* }
            }
        }

        impl fmt::Display for CounterSnapshot {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut first = true;
                $(
                    if !first { f.write_str(" ")?; }
                    first = false;
                    write!(f, "{}={}", stringify!($name), self.$name)?;
                )*
                let _ = first;
                Ok(())
            }
        }
    };
}

counters! {
    /// Frames received from this core's NIC queue.
    packets,
    /// Application events produced by this core's network stack.
    events,
    /// Connection batches this core ran the application on.
    app_runs,
    /// Connections this core stole from other cores.
    steals,
    /// Steal attempts that found the victim's lock held.
    steal_retries,
    /// Calls this core executed on behalf of cores that stole its connections.
    remote_syscalls,
    /// Batches of calls this core sent to other home cores.
    remote_batches_sent,
    /// Batches of calls from other cores this core executed as home core.
    remote_batches_executed,
    /// IPIs this core sent.
    ipis_sent,
    /// IPIs this core received (mailbox notifications consumed).
    ipis_received,
    /// Interrupt signals delivered to this core's thread (process platform).
    signals_received,
    /// Nanoseconds spent in loop iterations that found no work.
    idle_ns,
    /// Calls dropped because their connection was already gone.
    dropped_calls,
    /// Network events for connections the shuffle did not know.
    orphan_events,
    /// Times this core blocked in the kernel after idling (parking).
    parks,
    /// Parked cores this core woke because it left them work.
    wakeups_sent,
}

impl CoreCounters {
    /// Adds `n` to one counter (the owning core is the only writer).
    pub fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
