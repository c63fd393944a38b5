//! The session's scheduler group at a raised priority for a benchmark run.
//!
//! With autogroup scheduling (`kernel.sched_autogroup_enabled`) a thread's
//! nice value only orders it within its session's group, and groups share
//! the CPUs by the group's own nice value: on a shared machine a
//! busy-polling core then gets only its group's share of a CPU. An
//! [`AutogroupBoost`] sets this process's group (`/proc/self/autogroup`)
//! to a nice value for its lifetime and restores the previous one on drop.
//! Every process of the session shares the group, so keep the boost for
//! the run only.

use std::io;

const AUTOGROUP_ENABLED: &str = "/proc/sys/kernel/sched_autogroup_enabled";
const OWN_AUTOGROUP: &str = "/proc/self/autogroup";

/// The session's autogroup at a raised priority until dropped.
#[derive(Debug)]
pub struct AutogroupBoost {
    previous: i32,
}

/// The nice value of a `/proc/PID/autogroup` line (`/autogroup-12 nice 0`).
fn autogroup_nice(line: &str) -> Option<i32> {
    line.split_whitespace().last()?.parse().ok()
}

impl AutogroupBoost {
    /// Sets the group's nice value to `nice`; `None` when the kernel does
    /// not group by session (nothing to raise).
    pub fn raise(nice: i32) -> io::Result<Option<AutogroupBoost>> {
        let enabled =
            std::fs::read_to_string(AUTOGROUP_ENABLED).is_ok_and(|enabled| enabled.trim() == "1");
        let previous = std::fs::read_to_string(OWN_AUTOGROUP)
            .ok()
            .and_then(|line| autogroup_nice(&line))
            .filter(|_| enabled);
        let Some(previous) = previous else {
            return Ok(None);
        };
        std::fs::write(OWN_AUTOGROUP, nice.to_string())?;
        Ok(Some(AutogroupBoost { previous }))
    }

    /// The group's nice value before the boost.
    pub fn previous(&self) -> i32 {
        self.previous
    }
}

impl Drop for AutogroupBoost {
    fn drop(&mut self) {
        // Best effort: failing leaves the session's group raised, which the
        // next boost or the session's end undoes.
        let _ = std::fs::write(OWN_AUTOGROUP, self.previous.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autogroup_lines_parse_and_a_boost_is_undone_on_drop() {
        assert_eq!(autogroup_nice("/autogroup-123 nice -10\n"), Some(-10));
        assert_eq!(autogroup_nice("/autogroup-7 nice 0"), Some(0));
        assert_eq!(autogroup_nice("garbage"), None);
        assert_eq!(autogroup_nice(""), None);
        // Lowering the priority needs no privilege.
        let Some(boost) = AutogroupBoost::raise(5).unwrap() else {
            println!("skipped: no autogroups on this kernel");
            return;
        };
        let during = std::fs::read_to_string(OWN_AUTOGROUP).unwrap();
        assert_eq!(autogroup_nice(&during), Some(5));
        let previous = boost.previous();
        drop(boost);
        let after = std::fs::read_to_string(OWN_AUTOGROUP).unwrap();
        assert_eq!(autogroup_nice(&after), Some(previous));
    }
}
