//! The servers under test, each a process in its own network namespace
//! ([`super::netns`]) pinned to the server CPUs: ours (`zygos run
//! memcached` on a multi-queue TAP device, `--sched zygos` or
//! `partitioned`) and the real memcached (`memcached -t N -U 0 -l ADDR`).
//! Both get the same memory limit and connection limit. A server is
//! stopped with SIGTERM (ours prints its per-core counters to its log),
//! killed if it does not exit, and its namespace deleted.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::sched::SchedMode;

use super::netns::{NetnsError, OURS_IP, OURS_PREFIX, REAL_IP, ServerNamespace, run};

/// The port both servers listen on.
pub const PORT: u16 = 11211;
/// How long a server may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A server to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Ours, with this scheduler.
    Ours(SchedMode),
    /// The Debian memcached.
    Real,
}

impl ServerKind {
    /// Name in tables and files: `zygos`, `partitioned`, `memcached`.
    pub fn name(self) -> String {
        match self {
            ServerKind::Ours(mode) => mode.to_string(),
            ServerKind::Real => "memcached".to_owned(),
        }
    }
}

/// How every server is run.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// Server cores (dataplane cores; memcached worker threads), pinned to
    /// CPUs 0..cores.
    pub cores: usize,
    /// The `zygos` executable serving ours.
    pub zygos: PathBuf,
    /// The real memcached executable.
    pub memcached: PathBuf,
    /// Item memory, MB (`-m`), for both.
    pub memory_mb: usize,
    /// Connection limit (`-c`), for both.
    pub max_connections: usize,
    /// Niceness of the server processes (the same for all; below 0 so a
    /// busy shared machine's compilers do not decide the tail).
    pub nice: i32,
    /// Directory of the servers' logs.
    pub log_dir: PathBuf,
    /// `--park-after-us` of ours (`None`: its cores poll).
    pub park_after_us: Option<u64>,
}

impl ServerSetup {
    /// The taskset CPU list of the server cores.
    pub fn cpus(&self) -> String {
        match self.cores {
            0 | 1 => "0".to_owned(),
            n => format!("0-{}", n - 1),
        }
    }

    /// memcached's own flags, the same for both servers: port, memory and
    /// connection limits.
    fn shared_flags(&self) -> [String; 6] {
        [
            "-p".to_owned(),
            PORT.to_string(),
            "-m".to_owned(),
            self.memory_mb.to_string(),
            "-c".to_owned(),
            self.max_connections.to_string(),
        ]
    }

    /// Arguments of `zygos` serving ours with `mode` on TAP device `tap`.
    pub fn ours_args(&self, mode: SchedMode, tap: &str) -> Vec<String> {
        let dataplane = [
            "run".to_owned(),
            "memcached".to_owned(),
            "--cores".to_owned(),
            self.cores.to_string(),
            "--sched".to_owned(),
            mode.to_string(),
            "--nic".to_owned(),
            format!("tap:{tap}"),
            "--ip".to_owned(),
            OURS_IP.to_string(),
            "--netmask-len".to_owned(),
            OURS_PREFIX.to_string(),
        ];
        let park = self
            .park_after_us
            .map(|us| ["--park-after-us".to_owned(), us.to_string()]);
        [
            &dataplane[..],
            park.as_ref().map_or(&[], |p| &p[..]),
            &self.shared_flags(),
        ]
        .concat()
    }

    /// Arguments of the real memcached listening on `ip`.
    pub fn real_args(&self, ip: Ipv4Addr) -> Vec<String> {
        let own = [
            // memcached refuses to run as root without -u.
            "-u".to_owned(),
            "root".to_owned(),
            "-t".to_owned(),
            self.cores.to_string(),
            "-U".to_owned(),
            "0".to_owned(),
            "-l".to_owned(),
            ip.to_string(),
        ];
        [&own[..], &self.shared_flags()].concat()
    }
}

/// Why a server could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Its network namespace could not be built.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Its log or process could not be created.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
    /// It exited or did not come up in time.
    #[error("{name} did not start within {START_TIMEOUT:?} ({why}); see {log}")]
    NotUp {
        /// Server name.
        name: String,
        /// What was missing.
        why: &'static str,
        /// Its log file.
        log: String,
    },
}

/// A running server, stopped on drop.
#[derive(Debug)]
pub struct RunningServer {
    child: Child,
    addr: SocketAddr,
    // Dropped after the process is stopped (fields drop in order).
    _namespace: ServerNamespace,
}

impl RunningServer {
    /// Starts `kind` as `setup` says and waits until it accepts
    /// connections from the root namespace.
    pub fn start(kind: ServerKind, setup: &ServerSetup) -> Result<RunningServer, ServerError> {
        let name = kind.name();
        let log_path = setup.log_dir.join(format!("memcached-bench-{name}.log"));
        let log = File::create(&log_path).map_err(|source| ServerError::Io {
            what: format!("create {}", log_path.display()),
            source,
        })?;
        let not_up = |why| ServerError::NotUp {
            name: name.clone(),
            why,
            log: log_path.display().to_string(),
        };
        match kind {
            ServerKind::Ours(mode) => {
                let namespace = ServerNamespace::create("o", 0)?;
                let tap = namespace.device_name("t");
                let mut command =
                    namespace.command(&setup.cpus(), setup.nice, &path_text(&setup.zygos));
                command.args(setup.ours_args(mode, &tap));
                let mut child = spawn(command, log, &name)?;
                let deadline = Instant::now() + START_TIMEOUT;
                while !namespace.has_device(&tap) {
                    if exited(&mut child) || Instant::now() > deadline {
                        stop(&mut child);
                        return Err(not_up("no TAP device"));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                namespace.route_to_tap(0, &tap)?;
                let server = RunningServer {
                    child,
                    addr: SocketAddr::from((OURS_IP, PORT)),
                    _namespace: namespace,
                };
                server.wait_until_up(deadline).map_err(not_up)?;
                Ok(server)
            }
            ServerKind::Real => {
                let namespace = ServerNamespace::create("r", 2)?;
                let mut command =
                    namespace.command(&setup.cpus(), setup.nice, &path_text(&setup.memcached));
                command.args(setup.real_args(REAL_IP));
                let child = spawn(command, log, &name)?;
                let server = RunningServer {
                    child,
                    addr: SocketAddr::from((REAL_IP, PORT)),
                    _namespace: namespace,
                };
                server
                    .wait_until_up(Instant::now() + START_TIMEOUT)
                    .map_err(not_up)?;
                Ok(server)
            }
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_until_up(&self, deadline: Instant) -> Result<(), &'static str> {
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no TCP connection");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

fn spawn(mut command: Command, log: File, name: &str) -> Result<Child, ServerError> {
    let io = |source| ServerError::Io {
        what: format!("start {name}"),
        source,
    };
    let stderr = log.try_clone().map_err(io)?;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .map_err(io)
}

fn exited(child: &mut Child) -> bool {
    !matches!(child.try_wait(), Ok(None))
}

/// SIGTERM, a grace period, then SIGKILL.
fn stop(child: &mut Child) {
    if exited(child) {
        return;
    }
    // `ip netns exec` and `taskset` exec the server: the child is it.
    let _ = run("kill", &["-TERM", &child.id().to_string()]);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if exited(child) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::MemcachedArgs;
    use clap::Parser;
    use dataplane::nic::NicSpec;

    fn setup(cores: usize) -> ServerSetup {
        ServerSetup {
            cores,
            zygos: PathBuf::from("zygos"),
            memcached: PathBuf::from("/usr/bin/memcached"),
            memory_mb: 512,
            max_connections: 4096,
            nice: -20,
            log_dir: PathBuf::from("results"),
            park_after_us: Some(20),
        }
    }

    #[test]
    fn ours_is_started_with_flags_zygos_run_memcached_accepts() {
        let setup = setup(2);
        let args = setup.ours_args(SchedMode::Partitioned, "tap9");
        assert_eq!(args[..2], ["run", "memcached"]);
        let parsed = MemcachedArgs::try_parse_from(
            std::iter::once("zygos run memcached").chain(args[2..].iter().map(String::as_str)),
        )
        .expect("valid flags");
        let config = parsed.server_config().expect("valid limits");
        assert_eq!(config.store.memory_limit, 512 << 20);
        assert_eq!(config.max_connections, 4096);
        let dataplane = &parsed.dataplane;
        assert_eq!(
            (dataplane.cores, dataplane.sched, dataplane.port),
            (2, SchedMode::Partitioned, PORT)
        );
        assert_eq!(dataplane.nic, NicSpec::Tap("tap9".to_owned()));
        assert_eq!(
            (dataplane.ip, dataplane.netmask_len),
            (OURS_IP, OURS_PREFIX)
        );
        assert_eq!(dataplane.park_after_us, Some(20));
        assert_eq!(setup.cpus(), "0-1");
        let polling = ServerSetup {
            park_after_us: None,
            ..setup
        };
        let args = polling.ours_args(SchedMode::Zygos, "tap9");
        assert!(!args.iter().any(|arg| arg.contains("park")), "{args:?}");
    }

    #[test]
    fn the_real_memcached_gets_the_same_cores_and_limits() {
        let args = setup(1).real_args(REAL_IP).join(" ");
        assert_eq!(
            args,
            "-u root -t 1 -U 0 -l 10.231.2.2 -p 11211 -m 512 -c 4096"
        );
        assert_eq!(setup(1).cpus(), "0");
    }

    #[test]
    fn names_are_the_scheduler_or_memcached() {
        assert_eq!(ServerKind::Ours(SchedMode::Zygos).name(), "zygos");
        assert_eq!(ServerKind::Real.name(), "memcached");
    }
}
