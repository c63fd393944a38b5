//! Putting the benchmark ahead of a shared machine's other work: the
//! client and the servers run at one niceness (`--nice`, default −20),
//! and, when the kernel groups processes by session (autogroup, where a
//! niceness only counts inside its own session), the session's group gets
//! that niceness too, for the run only.

use bench::priority::AutogroupBoost;

use super::netns::{NetnsError, run};

/// The raised priority; dropping it gives the session group its old
/// niceness back.
#[derive(Debug)]
pub struct Priority {
    _autogroup: Option<AutogroupBoost>,
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
        let (autogroup, note) = match AutogroupBoost::raise(nice) {
            Ok(Some(boost)) => {
                let note = format!(
                    "servers and client at nice {nice}; this session's scheduler autogroup at \
                     nice {nice} during the run (was {})",
                    boost.previous()
                );
                (Some(boost), note)
            }
            Ok(None) => (None, format!("servers and client at nice {nice}")),
            Err(error) => (
                None,
                format!(
                    "servers and client at nice {nice}, but the session's autogroup keeps its \
                     niceness ({error}): other sessions share the CPUs equally"
                ),
            ),
        };
        Ok((
            Priority {
                _autogroup: autogroup,
            },
            note,
        ))
    }
}
