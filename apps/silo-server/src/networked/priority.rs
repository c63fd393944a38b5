//! Scheduling priorities of the benchmark's threads. The machine is
//! shared, and on 2 CPUs the busy-polling dataplane cores share them with
//! the load generator: so the server threads run at a raised priority
//! (above other work on the machine) and the generator's threads higher
//! still, or a polling core would hold a CPU for a whole scheduler slice
//! while the client's requests and responses wait.
//!
//! A thread's nice value is per thread on Linux (setpriority(2) on a
//! thread id) and threads inherit their creator's, so raising a thread
//! before it starts servers or the generator covers every thread they
//! spawn. The `renice` command does the call.
//!
//! With autogroup scheduling (`kernel.sched_autogroup_enabled`, on here)
//! a nice value only orders threads within their session's group; groups
//! share the CPUs by the group's own nice value. A busy-polling core then
//! gets its group's share of a CPU (about 40% on this shared machine,
//! measured), so [`bench::priority::AutogroupBoost`] raises the
//! benchmark's group for the run and restores it after.
//!
//! A raised nice value is not enough for the generator: on a kernel with
//! lazy preemption (`preempt=lazy`, the default of recent kernels) waking
//! a normal thread does not preempt a thread spinning in user space until
//! the next scheduler tick (4 ms at HZ=250), which is what the client saw
//! with two polling cores on two CPUs (a 4 ms median at any load). A
//! real-time (SCHED_FIFO) thread preempts at once, so the generator's
//! threads run SCHED_FIFO at a low priority ([`make_current_thread_fifo`],
//! with `chrt`); the sender sleeps between sends and the receiver blocks in
//! epoll, far below the kernel's real-time throttling limit.

use std::process::Command;

/// Why a priority could not be set.
#[derive(Debug, thiserror::Error)]
pub enum PriorityError {
    /// `renice` or `chrt` could not be run.
    #[error("running {program}: {source} (install util-linux / bsdutils)")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The command refused.
    #[error("{command}: {stderr}")]
    Refused {
        /// The command, without the thread id.
        command: String,
        /// What it printed.
        stderr: String,
    },
    /// The session's autogroup could not be raised.
    #[error("raising the session's scheduler autogroup: {0}")]
    Autogroup(#[from] std::io::Error),
}

/// Runs `program ARGS TID` on the calling thread's id.
fn on_current_thread(program: &'static str, args: &[&str]) -> Result<(), PriorityError> {
    let tid = nix::unistd::gettid().to_string();
    let output = Command::new(program)
        .args(args)
        .arg(&tid)
        .output()
        .map_err(|source| PriorityError::Spawn { program, source })?;
    match output.status.success() {
        true => Ok(()),
        false => Err(PriorityError::Refused {
            command: format!("{program} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }),
    }
}

/// Sets the calling thread's nice value (threads it creates from now on
/// inherit it).
pub fn renice_current_thread(nice: i32) -> Result<(), PriorityError> {
    on_current_thread("renice", &["-n", &nice.to_string(), "-p"])
}

/// Makes the calling thread SCHED_FIFO at `priority` (1-99; threads it
/// creates from now on inherit it). Needs root.
pub fn make_current_thread_fifo(priority: u8) -> Result<(), PriorityError> {
    on_current_thread("chrt", &["-f", "-p", &priority.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field `field` (1-based, as proc(5) numbers them) of the calling
    /// thread's stat line.
    fn own_stat(field: usize) -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Fields after the parenthesised command name start at 3.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name
            .split(' ')
            .nth(field - 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    fn own_nice() -> i64 {
        own_stat(19)
    }

    /// SCHED_FIFO is policy 1 (field 41).
    fn own_policy() -> i64 {
        own_stat(41)
    }

    #[test]
    fn a_thread_and_the_threads_it_spawns_take_the_new_nice_value() {
        std::thread::spawn(|| {
            // Lowering the priority needs no privilege.
            renice_current_thread(7).unwrap();
            assert_eq!(own_nice(), 7);
            assert_eq!(std::thread::spawn(own_nice).join().unwrap(), 7);
        })
        .join()
        .unwrap();
        assert_ne!(own_nice(), 7, "only the reniced thread changed");
    }

    #[test]
    fn a_real_time_thread_passes_its_policy_on() {
        if !nix::unistd::geteuid().is_root() {
            println!("skipped: not root (SCHED_FIFO needs CAP_SYS_NICE)");
            return;
        }
        std::thread::spawn(|| {
            assert_eq!(own_policy(), 0);
            make_current_thread_fifo(1).unwrap();
            assert_eq!(own_policy(), 1);
            assert_eq!(std::thread::spawn(own_policy).join().unwrap(), 1);
        })
        .join()
        .unwrap();
        assert_eq!(own_policy(), 0, "only the changed thread");
        assert!(
            make_current_thread_fifo(0).is_err(),
            "priority 0 is not FIFO"
        );
    }
}
