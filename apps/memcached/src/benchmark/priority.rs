//! Putting the benchmark ahead of a shared machine's other work: the
//! client and the servers run at one niceness (`--nice`, default −20),
//! and, when the kernel groups processes by session (autogroup, where a
//! niceness only counts inside its own session), the session's group gets
//! that niceness too, for the run only.

use std::path::Path;

use super::netns::{NetnsError, run};

const AUTOGROUP_ENABLED: &str = "/proc/sys/kernel/sched_autogroup_enabled";
const OWN_AUTOGROUP: &str = "/proc/self/autogroup";

/// The raised priority; dropping it gives the session group its old
/// niceness back.
#[derive(Debug)]
pub struct Priority {
    autogroup_before: Option<i32>,
}

/// The niceness in `/proc/self/autogroup` text (`/autogroup-143 nice 0`).
fn autogroup_nice(text: &str) -> Option<i32> {
    text.split_whitespace().last()?.parse().ok()
}

impl Priority {
    /// Renices this process's main thread (threads it starts later
    /// inherit it) and, under autogroup, the session group, to `nice`;
    /// returns what it did, for the output's notes.
    pub fn raise(nice: i32) -> Result<(Priority, String), NetnsError> {
        run(
            "renice",
            &[
                "-n",
                &nice.to_string(),
                "-p",
                &std::process::id().to_string(),
            ],
        )?;
        let autogroup = std::fs::read_to_string(AUTOGROUP_ENABLED)
            .is_ok_and(|enabled| enabled.trim() == "1")
            && Path::new(OWN_AUTOGROUP).exists();
        let before = std::fs::read_to_string(OWN_AUTOGROUP)
            .ok()
            .and_then(|text| autogroup_nice(&text))
            .filter(|_| autogroup);
        let Some(before) = before else {
            return Ok((
                Priority {
                    autogroup_before: None,
                },
                format!("servers and client at nice {nice}"),
            ));
        };
        let note = match std::fs::write(OWN_AUTOGROUP, nice.to_string()) {
            Ok(()) => format!(
                "servers and client at nice {nice}; this session's scheduler autogroup at nice \
                 {nice} during the run (was {before})"
            ),
            Err(error) => format!(
                "servers and client at nice {nice}, but the session's autogroup stays at nice \
                 {before} ({error}): other sessions share the CPUs equally"
            ),
        };
        Ok((
            Priority {
                autogroup_before: Some(before),
            },
            note,
        ))
    }
}

impl Drop for Priority {
    fn drop(&mut self) {
        if let Some(before) = self.autogroup_before
            && let Err(error) = std::fs::write(OWN_AUTOGROUP, before.to_string())
        {
            eprintln!("warning: cannot restore the autogroup niceness {before}: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_autogroup_niceness_is_the_last_field() {
        assert_eq!(autogroup_nice("/autogroup-143 nice -20\n"), Some(-20));
        assert_eq!(autogroup_nice("/autogroup-7 nice 0"), Some(0));
        assert_eq!(autogroup_nice(""), None);
    }
}
