//! The dataplane's schedulers as sweep [`Target`]s: `zygos`, `zygos-noipi`
//! and `partitioned`.
//!
//! Each measurement starts a fresh dataplane ([`Dataplane::start`], the
//! built-in [`Synthetic`] app, process platform) on its own shm NIC with a
//! unique name, attaches a second switch port, and drives it from this
//! thread with an open-loop generator running on our netstack
//! ([`SyntheticClient`]). The generator follows the Lancet methodology of
//! the Linux-socket one (thesis §3.3): arrivals from the spec's process,
//! each request on a random connection with a free pipeline slot (deferred
//! otherwise), latency from the send to the reply. Its raw data goes
//! through [`build_report`], so every transport is checked and reported
//! alike.
//!
//! [`resolve`] is the [`crate::cli::TargetResolver`] naming these targets.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::idle::IdleMode;
use dataplane::nic::NicSpec;
use dataplane::nic::shm::{PortConfig, ShmError, ShmNic, ShmQueue};
use dataplane::run::{Dataplane, DataplaneArgs, RunError, mac_for};
use dataplane::sched::SchedMode;
use netstack::StackConfig;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::loadgen::{Completion, LoadReport, LoadSpec, SendLog, build_report};
use crate::sweep::{Target, TargetError};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const PORT: u16 = 7000;
/// Batch bound B of the partitioned mode (IX's default).
const PARTITIONED_BATCH: usize = 64;
/// How long the connections may take to open.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);
/// How long to wait for replies after the last send.
const DRAIN: Duration = Duration::from_secs(2);

/// Why a dataplane measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneTargetError {
    /// The dataplane did not start or stop cleanly.
    #[error("dataplane: {0}")]
    Run(#[from] RunError),
    /// The generator's switch port could not attach.
    #[error("shm NIC: {0}")]
    Shm(#[from] ShmError),
    /// The generator's network stack rejected its configuration.
    #[error("generator stack: {0}")]
    Stack(#[from] netstack::ConfigError),
    /// A connection could not be opened.
    #[error("connect: {0}")]
    Connect(#[from] netstack::ConnectError),
    /// The attached NIC has no generator queue.
    #[error("the generator's shm port has no queue")]
    NoQueue,
    /// The connections did not all open in time.
    #[error("{connected} of {wanted} connections opened within {HANDSHAKE_DEADLINE:?}")]
    Handshake {
        /// Connections established.
        connected: usize,
        /// Connections opened.
        wanted: usize,
    },
    /// The server reset a connection.
    #[error("connection {0} was reset")]
    Reset(usize),
    /// The generator thread panicked.
    #[error("the load generator thread panicked")]
    GeneratorPanicked,
    /// Invalid generator settings.
    #[error("{0}")]
    Config(&'static str),
}

/// One of the dataplane's schedulers on `cores` process-platform cores.
#[derive(Debug)]
pub struct DataplaneTarget {
    mode: SchedMode,
    cores: usize,
    idle: IdleMode,
}

impl DataplaneTarget {
    /// A target running `mode` on `cores` polling dataplane cores.
    pub fn new(mode: SchedMode, cores: usize) -> Self {
        DataplaneTarget {
            mode,
            cores,
            idle: IdleMode::Poll,
        }
    }

    /// The same with idle cores behaving as `idle`.
    pub fn idling(self, idle: IdleMode) -> Self {
        DataplaneTarget { idle, ..self }
    }
}

/// Builds the dataplane target called `name` (`zygos`, `zygos-noipi`,
/// `partitioned`), or `None` for another name.
pub fn resolve(name: &str, cores: usize, idle: IdleMode) -> Option<Box<dyn Target>> {
    let mode = name.parse::<SchedMode>().ok()?;
    Some(Box::new(DataplaneTarget::new(mode, cores).idling(idle)))
}

impl Target for DataplaneTarget {
    fn name(&self) -> String {
        match self.idle {
            IdleMode::Poll => self.mode.to_string(),
            park => format!("{}+{park}", self.mode),
        }
    }

    fn measure(&mut self, spec: &LoadSpec) -> Result<LoadReport, TargetError> {
        Ok(measure(self.mode, self.cores, self.idle, spec)?)
    }
}

/// A shm NIC name unique to this process and call.
fn unique_nic_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "zbench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts a dataplane (its idle cores behaving as `idle`), runs `spec`
/// against it and stops it.
pub fn measure(
    mode: SchedMode,
    cores: usize,
    idle: IdleMode,
    spec: &LoadSpec,
) -> Result<LoadReport, DataplaneTargetError> {
    if spec.connections == 0 || spec.depth == 0 {
        return Err(DataplaneTargetError::Config(
            "connections and depth must be positive",
        ));
    }
    if !(spec.arrivals.rate().is_finite() && spec.arrivals.rate() > 0.0) {
        return Err(DataplaneTargetError::Config("the rate must be positive"));
    }
    let name = unique_nic_name();
    let dataplane = Dataplane::start(
        &DataplaneArgs {
            cores,
            sched: mode,
            batch: PARTITIONED_BATCH,
            park_after_us: idle.park_after_us(),
            ..DataplaneArgs::new(NicSpec::Shm(name.clone()), SERVER_IP, PORT)
        },
        Synthetic,
    )?;
    // The dataplane pins core i to CPU i: the generator takes the next CPU
    // when there is one, so the two never share a CPU.
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let own_cpu = pin_generator(cores);
                generate(&name, spec, own_cpu)
            })
            .join()
            .unwrap_or(Err(DataplaneTargetError::GeneratorPanicked))
    });
    let stopped = dataplane.stop();
    let (log, completions) = outcome?;
    stopped?;
    Ok(build_report(spec, &log, completions))
}

/// Pins the calling thread to CPU `cpu` if the machine has it (else
/// leaves it to the kernel); returns whether it did. Failing only costs
/// precision.
fn pin_generator(cpu: usize) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpu >= cpus {
        return false;
    }
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it
    // (cpu < CPU_SETSIZE on any machine reporting that many CPUs) and
    // sched_setaffinity(0, ...) only reads it, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Attaches the generator's port to NIC `name` and returns its queue.
fn attach(name: &str) -> Result<ShmQueue, DataplaneTargetError> {
    let mut port = ShmNic::attach(
        name,
        PortConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            queues: 1,
        },
    )?;
    port.take_queues()
        .pop()
        .ok_or(DataplaneTargetError::NoQueue)
}

/// The generator's clock: ns since it was made.
struct Clock(Instant);

impl Clock {
    fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// Opens `spec.connections` connections and waits for their handshakes,
/// on the `clock` the run goes on with: the stack's time must never go
/// back, or the server's PAWS check (RFC 7323 section 5) drops the first
/// requests as old duplicates and only retransmission timeouts recover.
fn connect(
    client: &mut SyntheticClient,
    queue: &mut ShmQueue,
    spec: &LoadSpec,
    clock: &Clock,
) -> Result<(), DataplaneTargetError> {
    let handshake_start = clock.0.elapsed();
    for _ in 0..spec.connections {
        client.open(clock.now())?;
    }
    loop {
        client.step(clock.now(), queue);
        let connected = client.conns().iter().filter(|c| c.connected).count();
        if connected == spec.connections {
            return Ok(());
        }
        if clock.0.elapsed() - handshake_start > HANDSHAKE_DEADLINE {
            return Err(DataplaneTargetError::Handshake {
                connected,
                wanted: spec.connections,
            });
        }
        std::thread::yield_now();
    }
}

/// Runs the open loop of `spec` against the dataplane on NIC `name`:
/// returns what was sent and each answered request's (id, latency ns).
/// On a CPU of its own it busy-polls; otherwise it yields between polls.
fn generate(
    name: &str,
    spec: &LoadSpec,
    own_cpu: bool,
) -> Result<(SendLog, Vec<Completion>), DataplaneTargetError> {
    let mut queue = attach(name)?;
    let mut client = SyntheticClient::new(
        StackConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            ..StackConfig::default()
        },
        SocketAddrV4::new(SERVER_IP, PORT),
    )?;
    let clock = Clock(Instant::now());
    connect(&mut client, &mut queue, spec, &clock)?;
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let mut log = SendLog::default();
    let mut completions = Vec::new();
    // Request ids of each connection, oldest first: replies come back in
    // request order per connection.
    let mut pending: Vec<VecDeque<u64>> = vec![VecDeque::new(); spec.connections];
    let mut seen = vec![0u64; spec.connections];
    let depth = spec.depth as u64;
    // The schedule and the log count from here; the stack keeps the clock.
    let start_ns = clock.now();
    let end_ns = (spec.warmup + spec.duration).as_nanos() as u64;
    let drain_end_ns = end_ns + DRAIN.as_nanos() as u64;
    let mut next_ns = (spec.arrivals.next_gap(&mut rng) * 1e9) as u64;
    let mut waiting_for_slot = false;
    loop {
        let stack_now = clock.now();
        let now = stack_now - start_ns;
        while next_ns <= now && next_ns < end_ns {
            let start = rng.random_range(0..spec.connections);
            let free = (0..spec.connections)
                .map(|k| (start + k) % spec.connections)
                .find(|&c| client.conns()[c].outstanding() < depth);
            let Some(conn) = free else {
                if !waiting_for_slot {
                    log.deferred += 1;
                    waiting_for_slot = true;
                }
                break;
            };
            waiting_for_slot = false;
            let service_ns = (spec.service.sample(&mut rng) * 1e3) as u64;
            // Each request is stamped when it is submitted, not with the
            // loop's start: arrivals falling in one iteration (~0.1-1 us)
            // would otherwise log zero gaps, which the Anderson-Darling
            // test of the inter-arrivals reads as impossible for an
            // exponential (ln F(0) = -inf) and rejects by hundreds.
            let submitted = clock.now();
            client.submit(conn, service_ns, submitted);
            let sent = submitted - start_ns;
            pending[conn].push_back(log.send_ns.len() as u64);
            log.send_ns.push(sent);
            log.lateness_ns.push(sent - next_ns);
            next_ns += (spec.arrivals.next_gap(&mut rng) * 1e9) as u64;
        }
        client.step(stack_now, &mut queue);
        for (conn, state) in client.conns().iter().enumerate() {
            if state.failed {
                return Err(DataplaneTargetError::Reset(conn));
            }
            while seen[conn] < state.answered {
                seen[conn] += 1;
                if let Some(id) = pending[conn].pop_front() {
                    completions.push((id, now - log.send_ns[id as usize]));
                }
            }
        }
        let sending_done = next_ns >= end_ns;
        let all_answered = completions.len() == log.send_ns.len();
        if (sending_done && all_answered) || now >= drain_end_ns {
            return Ok((log, completions));
        }
        if !own_cpu {
            // Leave the CPU to the dataplane's cores that share it.
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::ServiceDistribution;

    fn short_spec(rate: f64) -> LoadSpec {
        let mut spec = LoadSpec::new(
            rate,
            ServiceDistribution::Exponential { mean: 10.0 },
            Duration::from_millis(400),
        );
        spec.connections = 8;
        spec
    }

    #[test]
    fn a_short_zygos_point_on_two_cores_answers_every_request() {
        for idle in [IdleMode::Poll, IdleMode::Park { after_us: 20 }] {
            let report = measure(SchedMode::Zygos, 2, idle, &short_spec(2_000.0)).unwrap();
            assert!(report.sent > 500, "{idle}: sent only {}", report.sent);
            let checks = &report.failed_checks;
            assert_eq!(report.answered, report.sent, "{idle}: {checks:?}");
            assert!(report.histogram.p99 > 0.0);
        }
    }

    #[test]
    fn names_resolve_to_the_dataplane_schedulers_only() {
        for name in ["zygos", "zygos-noipi", "partitioned"] {
            let target = resolve(name, 1, IdleMode::Poll).map(|t| t.name());
            assert_eq!(target, Some(name.to_owned()));
        }
        let parking = resolve("zygos", 1, IdleMode::Park { after_us: 20 });
        assert_eq!(parking.map(|t| t.name()).as_deref(), Some("zygos+park:20"));
        assert!(resolve("linux-floating", 1, IdleMode::Poll).is_none());
    }

    #[test]
    fn a_zero_rate_is_rejected_before_starting() {
        let error =
            measure(SchedMode::Partitioned, 1, IdleMode::Poll, &short_spec(0.0)).unwrap_err();
        assert!(matches!(error, DataplaneTargetError::Config(_)), "{error}");
    }
}
