//! Network namespaces for running a dataplane and its Linux peers on one
//! machine: the tests and benchmarks put the kernel side of a TAP device,
//! a veth end or a Linux server in a namespace of their own, so that no
//! traffic leaves the machine and nothing outlives the run.
//!
//! [`NetNamespace`] is created with `ip netns add` (iproute2) under a name
//! that includes the process id, and deleted on drop, also when a test
//! panics; deleting it removes every device inside. Threads enter it with
//! `setns` ([`NetNamespace::spawn`]); programs run in it through
//! `ip netns exec` ([`NetNamespace::command`]).
//!
//! ```no_run
//! use dataplane::netns::{NetNamespace, privileges_missing};
//! if let Some(reason) = privileges_missing() {
//!     println!("skipped: {reason}");
//!     return;
//! }
//! let namespace = NetNamespace::create("doc").unwrap();
//! namespace.ip(&["link", "set", "lo", "up"]).unwrap();
//! let pid = namespace.spawn(std::process::id).join().unwrap().unwrap();
//! assert_eq!(pid, std::process::id());
//! ```

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::thread::JoinHandle;

/// Why a namespace operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A program could not be started.
    #[error("cannot run {program}: {source} (install iproute2)")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// A command exited with a failure.
    #[error("`{command}` failed: {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A thread could not enter the namespace.
    #[error("entering network namespace {name}: {source}")]
    Enter {
        /// The namespace.
        name: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Why namespaces and TAP devices cannot be used here (not root, no
/// `/dev/net/tun`), or `None` when they can.
pub fn privileges_missing() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces and TAP devices need CAP_NET_ADMIN)");
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing");
    }
    None
}

/// Runs `command` and requires it to succeed; returns its output.
pub fn run(command: &mut Command) -> Result<Output, NetnsError> {
    let output = command.output().map_err(|source| NetnsError::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let words: Vec<_> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy())
        .collect();
    Err(NetnsError::Failed {
        command: words.join(" "),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

/// Runs `ip ARGS` in the caller's namespace and requires success.
pub fn ip(args: &[&str]) -> Result<(), NetnsError> {
    run(Command::new("ip").args(args)).map(drop)
}

/// A network namespace, deleted (with every device inside) on drop.
#[derive(Debug)]
pub struct NetNamespace {
    name: String,
}

impl NetNamespace {
    /// Creates the namespace `zy-TAG-PID` with its loopback up.
    pub fn create(tag: &str) -> Result<NetNamespace, NetnsError> {
        let name = format!("zy-{tag}-{}", std::process::id());
        // A namespace left by a killed earlier run with this pid goes first.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name])?;
        let namespace = NetNamespace { name };
        namespace.ip(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// The namespace's name (for `ip netns exec` and `ip link set netns`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip ARGS` inside the namespace and requires success.
    pub fn ip(&self, args: &[&str]) -> Result<(), NetnsError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `ip netns exec NAME program`: a command that runs inside.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `work` on a new thread that entered the namespace first.
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<Result<T, NetnsError>> {
        let name = self.name.clone();
        std::thread::spawn(move || {
            enter(&name)?;
            Ok(work())
        })
    }

    /// Runs `work` inside the namespace on a scoped thread and returns
    /// its result (it may borrow from the caller).
    pub fn within<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    enter(&self.name)?;
                    Ok(work())
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// Moves the calling thread into the namespace `name`.
fn enter(name: &str) -> Result<(), NetnsError> {
    let error = |source| NetnsError::Enter {
        name: name.to_owned(),
        source,
    };
    let file = File::open(format!("/var/run/netns/{name}")).map_err(error)?;
    // SAFETY: setns with a namespace fd that stays open for the call only
    // moves this thread into that network namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(error(io::Error::last_os_error()));
    }
    Ok(())
}

impl Drop for NetNamespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_isolates_threads_and_programs_and_goes_away_on_drop() {
        if let Some(reason) = privileges_missing() {
            println!("skipped: {reason}");
            return;
        }
        let namespace = NetNamespace::create("unit").unwrap();
        namespace
            .ip(&[
                "link",
                "add",
                "zy-inner0",
                "type",
                "veth",
                "peer",
                "name",
                "zy-inner1",
            ])
            .unwrap();
        let links = run(namespace.command("ip").args(["-o", "link", "show"])).unwrap();
        let links = String::from_utf8_lossy(&links.stdout).into_owned();
        assert!(links.contains("zy-inner0"), "{links}");
        let inside = namespace
            .within(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
            .unwrap();
        assert!(
            inside.contains("zy-inner0"),
            "the thread sees the namespace"
        );
        let outside = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
        assert!(!outside.contains("zy-inner0"), "the caller does not");
        let name = namespace.name().to_owned();
        drop(namespace);
        let listed = run(Command::new("ip").args(["netns", "list"])).unwrap();
        assert!(!String::from_utf8_lossy(&listed.stdout).contains(&name));
    }

    #[test]
    fn failures_say_which_command_and_why() {
        if let Some(reason) = privileges_missing() {
            println!("skipped: {reason}");
            return;
        }
        let error = ip(&["link", "show", "zy-no-such-device"]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("ip link show zy-no-such-device"),
            "{message}"
        );
        let missing = NetNamespace {
            name: "zy-never-created".to_owned(),
        };
        assert!(matches!(
            missing.spawn(|| ()).join().unwrap(),
            Err(NetnsError::Enter { .. })
        ));
    }
}
