//! Criterion measurement in the calling thread's CPU time (nanoseconds,
//! `CLOCK_THREAD_CPUTIME_ID`): time other processes take on a shared
//! machine is not counted, so single-thread processing costs stay
//! comparable under load. Included by `rpc.rs` and by zygos-tests'
//! `netstack_shm` bench.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// The measurement (values are nanoseconds, formatted like wall time).
pub struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`, which is valid
    // for writes and lives across the call; the clock id exists on Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "thread CPU clock unavailable");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}
