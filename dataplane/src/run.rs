//! The `zygos run` entry point: builds a dataplane from a [`DataplaneArgs`]
//! (NIC, one netstack instance per core listening on the service port, the
//! scheduler, the process platform), serves until SIGINT or SIGTERM, and
//! prints each core's counters.
//!
//! Applications from other crates plug in with [`Dataplane::start`] and
//! flatten [`DataplaneArgs`] into their own command line; the built-in ones
//! are chosen by name ([`BuiltinApp`], [`RunArgs`]). A test or a harness
//! that stops the dataplane itself uses [`Dataplane::start`] and
//! [`Dataplane::stop`]; the CLI calls [`cli`].

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use netstack::{Stack, StackConfig};

use crate::app::App;
use crate::apps::{Echo, Synthetic};
use crate::counters::{CoreCounters, CounterSnapshot};
use crate::netstack_transport::NetstackTransport;
use crate::nic::{self, NicOptions, NicSpec, OpenError};
use crate::process::{self, ProcessError, ProcessRunner};
use crate::resteer::SoftQueues;
use crate::runtime::{CoreConfig, build_cores};
use crate::sched::SchedMode;
use crate::vmx_platform::{self, CoreExits, VmxError, VmxRunner};

/// The built-in applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuiltinApp {
    /// Echoes every byte received on each connection.
    Echo,
    /// The synthetic spin server (request format in `synthetic_protocol`).
    Synthetic,
}

/// Where the dataplane cores run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlatformKind {
    /// One pinned thread per core.
    #[default]
    Process,
    /// vCPUs of a Dune-like KVM sandbox.
    Vmx,
}

/// Cores of a dataplane unless `--cores` says otherwise.
pub const DEFAULT_CORES: usize = 1;
/// Batch bound B of the partitioned mode unless `--batch` says otherwise.
pub const DEFAULT_BATCH: usize = 64;
/// Prefix length of the dataplane's subnet unless `--netmask-len` says
/// otherwise.
pub const DEFAULT_NETMASK_LEN: u8 = 24;

/// The dataplane's flags, shared by every `zygos run` command: the built-in
/// applications' [`RunArgs`] and the other crates' applications
/// `#[command(flatten)]` it. `--port` has no default here; a command whose
/// application has a conventional port gives it one (and a short name) with
/// `#[command(mut_arg("port", ...))]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DataplaneArgs {
    /// Number of dataplane cores (one NIC queue each).
    #[arg(long, default_value_t = DEFAULT_CORES)]
    pub cores: usize,
    /// Scheduling mode.
    #[arg(long, value_enum, default_value_t = SchedMode::default())]
    pub sched: SchedMode,
    /// Batch bound B of the partitioned mode.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub batch: usize,
    /// Platform.
    #[arg(long, value_enum, default_value_t = PlatformKind::default())]
    pub platform: PlatformKind,
    /// NIC: shm:NAME or tap:NAME.
    #[arg(long)]
    pub nic: NicSpec,
    /// The dataplane's IPv4 address.
    #[arg(long)]
    pub ip: Ipv4Addr,
    /// Prefix length of the dataplane's subnet.
    #[arg(long, default_value_t = DEFAULT_NETMASK_LEN)]
    pub netmask_len: u8,
    /// TCP port the application listens on.
    #[arg(long)]
    pub port: u16,
    /// Park a core (block in the kernel until its NIC queue or another
    /// core wakes it) after this many microseconds without work, instead
    /// of polling forever as ZygOS does. Frees the CPU on machines where
    /// the load generator shares the dataplane's CPUs. On the vmx platform
    /// a parking core leaves its vCPU (one exit) and blocks on the host.
    #[arg(long, value_name = "US")]
    pub park_after_us: Option<u64>,
}

impl DataplaneArgs {
    /// A dataplane serving `port` at `ip` on `nic`, every other setting at
    /// its flag's default (set the fields to change them).
    pub fn new(nic: NicSpec, ip: Ipv4Addr, port: u16) -> DataplaneArgs {
        DataplaneArgs {
            cores: DEFAULT_CORES,
            sched: SchedMode::default(),
            batch: DEFAULT_BATCH,
            platform: PlatformKind::default(),
            nic,
            ip,
            netmask_len: DEFAULT_NETMASK_LEN,
            port,
            park_after_us: None,
        }
    }
}

/// Arguments of `zygos run` for a built-in application.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "zygos run", about = "Serve an application as a dataplane")]
pub struct RunArgs {
    /// The application to serve.
    #[arg(value_enum)]
    pub app: BuiltinApp,
    /// Where and how it is served.
    #[command(flatten)]
    pub dataplane: DataplaneArgs,
}

/// Why a dataplane could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--cores 0`.
    #[error("at least one core is needed")]
    NoCores,
    /// The vmx platform cannot run here (no usable /dev/kvm) or failed.
    #[error(transparent)]
    Vmx(#[from] VmxError),
    /// The NIC could not be opened.
    #[error(transparent)]
    Nic(#[from] OpenError),
    /// The network stack rejected its configuration.
    #[error("network stack configuration: {0}")]
    Stack(#[from] netstack::ConfigError),
    /// The service port could not be listened on.
    #[error("listen: {0}")]
    Listen(#[from] netstack::ListenError),
    /// The core threads failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// Waiting for SIGINT/SIGTERM failed (errno).
    #[error("waiting for a termination signal failed (errno {0})")]
    Signal(i32),
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Each core's counters at the end.
    pub per_core: Vec<CounterSnapshot>,
    /// Each core's vCPU exits over the run (vmx platform; empty otherwise).
    pub exits: Vec<CoreExits>,
}

impl RunReport {
    /// Sum over the cores.
    pub fn total(&self) -> CounterSnapshot {
        self.per_core
            .iter()
            .fold(CounterSnapshot::default(), |sum, core| sum.add(core))
    }
}

/// The cores of a running dataplane, on their platform.
enum Runner {
    Process(ProcessRunner),
    Vmx(VmxRunner),
}

/// A running dataplane.
pub struct Dataplane {
    runner: Runner,
}

/// The locally administered MAC derived from an IPv4 address.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x5a, a, b, c, d]
}

impl Dataplane {
    /// Opens the NIC, builds one listening stack per core and starts the
    /// cores serving `app`.
    pub fn start<A: App>(args: &DataplaneArgs, app: A) -> Result<Dataplane, RunError> {
        if args.cores == 0 {
            return Err(RunError::NoCores);
        }
        let mac = mac_for(args.ip);
        let options = NicOptions {
            queues: args.cores,
            mac,
            ipv4: args.ip,
            ..NicOptions::default()
        };
        let device = nic::open(&args.nic, &options)?;
        let resteer =
            (!device.capabilities.programmable_steering).then(|| SoftQueues::new(args.cores));
        let mut transports = Vec::new();
        for (core, queue) in device.queues.into_iter().enumerate() {
            let mut stack = Stack::new(StackConfig {
                mac,
                ipv4: args.ip,
                netmask_len: args.netmask_len,
                ..StackConfig::default()
            })?;
            stack.listen(args.port)?;
            let transport = NetstackTransport::new(stack, queue);
            transports.push(match &resteer {
                Some(soft) => transport.with_resteering(Arc::clone(soft), core),
                None => transport,
            });
        }
        let config = CoreConfig {
            mode: args.sched,
            batch: args.batch,
            seed: u64::from(std::process::id()),
        };
        let cores = build_cores(transports, Arc::new(app), config);
        let park_after = args.park_after_us.map(Duration::from_micros);
        let runner = match args.platform {
            PlatformKind::Process => Runner::Process(process::spawn(cores, park_after)?),
            PlatformKind::Vmx => Runner::Vmx(vmx_platform::spawn(cores, park_after)?),
        };
        tracing::info!(
            cores = args.cores,
            sched = %args.sched,
            nic = %args.nic,
            ip = %args.ip,
            port = args.port,
            "dataplane serving"
        );
        Ok(Dataplane { runner })
    }

    /// Each core's live counters.
    pub fn counters(&self) -> &[Arc<CoreCounters>] {
        match &self.runner {
            Runner::Process(runner) => runner.counters(),
            Runner::Vmx(runner) => runner.counters(),
        }
    }

    /// Each core's vCPU exits so far (vmx platform; `None` on the process
    /// platform). Every core leaves its vCPU once to report.
    pub fn exit_checkpoint(&self) -> Option<Result<Vec<CoreExits>, RunError>> {
        match &self.runner {
            Runner::Process(_) => None,
            Runner::Vmx(runner) => Some(runner.checkpoint().map_err(RunError::from)),
        }
    }

    /// Stops the cores and reports their counters.
    pub fn stop(self) -> Result<RunReport, RunError> {
        let counters = self.counters().to_vec();
        let exits = match self.runner {
            Runner::Process(runner) => runner.stop().map(|()| Vec::new())?,
            Runner::Vmx(runner) => runner.stop()?,
        };
        let per_core = counters.iter().map(|c| c.snapshot()).collect();
        Ok(RunReport { per_core, exits })
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread (and the threads it
/// spawns afterwards) and returns the set, for [`wait_for`].
fn block_termination() -> libc::sigset_t {
    // SAFETY: the set is initialised by sigemptyset before use, and
    // pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until one signal of `set` (blocked) is pending and takes it.
fn wait_for(set: &libc::sigset_t) -> Result<i32, RunError> {
    let mut signal = 0;
    // SAFETY: `set` is an initialised signal set and `signal` a valid out
    // pointer for the duration of the call.
    let status = unsafe { libc::sigwait(set, &mut signal) };
    if status != 0 {
        return Err(RunError::Signal(status));
    }
    Ok(signal)
}

/// Runs `app` until SIGINT or SIGTERM, then prints each core's counters.
pub fn run_until_signal<A: App>(args: &DataplaneArgs, app: A) -> Result<RunReport, RunError> {
    let set = block_termination();
    let dataplane = Dataplane::start(args, app)?;
    let signal = wait_for(&set)?;
    tracing::info!(signal, "stopping");
    let report = dataplane.stop()?;
    for (core, counters) in report.per_core.iter().enumerate() {
        println!("core {core}: {counters}");
        if let Some(exits) = report.exits.get(core) {
            println!("core {core} vcpu: {exits}");
        }
    }
    println!("total: {}", report.total());
    Ok(report)
}

/// Runs a built-in application as described by `args`.
pub fn run(args: &RunArgs) -> Result<RunReport, RunError> {
    match args.app {
        BuiltinApp::Echo => run_until_signal(&args.dataplane, Echo),
        BuiltinApp::Synthetic => run_until_signal(&args.dataplane, Synthetic),
    }
}

/// The body of a `zygos run` command, `name` being how its usage spells it:
/// parses `args` as `P` (clap prints its message; exit code 2 for bad
/// arguments, 0 after `--help`), then runs it; a failure is printed after
/// `name` and exits with the code `exit_code` gives it.
pub fn command_line<P: Parser, R, E: std::fmt::Display>(
    name: &str,
    args: &[String],
    run: impl FnOnce(P) -> Result<R, E>,
    exit_code: impl FnOnce(&E) -> ExitCode,
) -> ExitCode {
    let parsed = P::try_parse_from(std::iter::once(name).chain(args.iter().map(String::as_str)));
    let args = match parsed {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            exit_code(&error)
        }
    }
}

/// `zygos run ARGS...` for the CLI: parses, runs, and maps the outcome to an
/// exit code (2 for bad arguments, 1 for a failed run).
pub fn cli(args: &[String]) -> ExitCode {
    command_line(
        "zygos run",
        args,
        |args: RunArgs| run(&args),
        |_| ExitCode::FAILURE,
    )
}

#[cfg(test)]
mod tests;
