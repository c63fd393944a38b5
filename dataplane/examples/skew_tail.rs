//! The 2-core skew benchmark of issue 5: the synthetic server with every
//! flow steered to core 0 (a skewed RSS table), open-loop Poisson load,
//! exponential service times, under `zygos`, `zygos-noipi` and
//! `partitioned`. Prints p50/p99/p99.9 latency and the steal/IPI counters
//! per mode, measured on the process platform over the shm NIC, then the
//! same comparison on 16 simulated cores (labelled simulated).
//!
//! `cargo run -p dataplane --release --example skew_tail [SECONDS] [LOAD]
//! [PARK_AFTER_US]` (LOAD: offered load as a fraction of one core, default
//! 0.7; PARK_AFTER_US: idle cores park after that long, as with `zygos run
//! --park-after-us`; default: they poll).
//!
//! On a machine with only 2 CPUs, the two polling cores and a polling
//! client would be three busy threads: the client then waits milliseconds
//! for a CPU and measures the scheduler. So the client runs SCHED_FIFO
//! (when allowed: root) and sleeps between polls (at most `CLIENT_POLL_NS`,
//! waking for each send time): it preempts a core only for the short
//! moments it works, at the price of up to `CLIENT_POLL_NS` of added
//! latency, the same for every mode.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant as WallClock;

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::nic::shm::{PortConfig, ShmNic};
use dataplane::nic::{FlowSteering, INDIRECTION_ENTRIES, NicSpec};
use dataplane::run::{Dataplane, DataplaneArgs, mac_for};
use dataplane::sched::SchedMode;
use dataplane::sim::{ServiceTime, SimConfig, Steering, WorkloadConfig, simulate};
use netstack::StackConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);
const PORT: u16 = 7000;
const CONNECTIONS: usize = 32;
const MEAN_SERVICE_NS: f64 = 10_000.0;
/// Longest sleep of the client between two polls of its queue.
const CLIENT_POLL_NS: u64 = 10_000;
const MODES: [SchedMode; 3] = [
    SchedMode::Zygos,
    SchedMode::ZygosNoipi,
    SchedMode::Partitioned,
];

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .map_or(f64::NAN, |&ns| ns as f64 / 1_000.0)
}

fn measure(
    mode: SchedMode,
    seconds: f64,
    load: f64,
    park_after_us: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("skew-{}-{mode}", std::process::id());
    let args = DataplaneArgs {
        cores: 2,
        sched: mode,
        park_after_us,
        ..DataplaneArgs::new(NicSpec::Shm(name.clone()), SERVER_IP, PORT)
    };
    let dataplane = Dataplane::start(&args, Synthetic)?;
    client_realtime(true);
    let mut peer = ShmNic::attach(
        &name,
        PortConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            queues: 1,
        },
    )?;
    let server = peer
        .ports()
        .into_iter()
        .find(|p| p.ipv4 == SERVER_IP)
        .ok_or("server port not attached")?;
    let steering = peer.steering_of(server.index)?;
    for entry in 0..INDIRECTION_ENTRIES {
        steering.set_indirection(entry, 0)?;
    }
    let mut queue = peer.take_queues().pop().ok_or("no client queue")?;
    let config = StackConfig {
        mac: mac_for(CLIENT_IP),
        ipv4: CLIENT_IP,
        ..StackConfig::default()
    };
    let mut client = SyntheticClient::new(config, SocketAddrV4::new(SERVER_IP, PORT))?;
    let epoch = WallClock::now();
    let now = || epoch.elapsed().as_nanos() as u64;
    for _ in 0..CONNECTIONS {
        client.open(now())?;
    }
    while client.conns().iter().any(|c| !c.connected) {
        client.step(now(), &mut queue);
    }
    let mut rng = StdRng::seed_from_u64(42);
    let gap = Exp::new(load / MEAN_SERVICE_NS)?;
    let service = Exp::new(1.0 / MEAN_SERVICE_NS)?;
    let start = now();
    let end = start + (seconds * 1e9) as u64;
    let mut next = start as f64;
    while now() < end {
        while next <= now() as f64 {
            let conn = rng.random_range(0..CONNECTIONS);
            client.submit(conn, service.sample(&mut rng) as u64, next as u64);
            next += gap.sample(&mut rng);
        }
        client.step(now(), &mut queue);
        let wake = (next as u64).min(now() + CLIENT_POLL_NS);
        std::thread::sleep(std::time::Duration::from_nanos(wake.saturating_sub(now())));
    }
    let drain_until = now() + 1_000_000_000;
    while client.conns().iter().any(|c| c.outstanding() > 0) && now() < drain_until {
        client.step(now(), &mut queue);
        std::thread::sleep(std::time::Duration::from_nanos(CLIENT_POLL_NS));
    }
    client_realtime(false);
    let report = dataplane.stop()?;
    let total = report.total();
    let sent: u64 = client.conns().iter().map(|c| c.sent).sum();
    let answered: u64 = client.conns().iter().map(|c| c.answered).sum();
    let out_of_order: u64 = client.conns().iter().map(|c| c.out_of_order).sum();
    let mut latencies = client.latencies_ns().to_vec();
    latencies.sort_unstable();
    println!(
        "{:<12} {:>8} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>8} {:>6}",
        mode.name(),
        sent,
        answered,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        total.steals,
        total.ipis_sent,
        out_of_order
    );
    Ok(())
}

/// Makes the calling (client) thread real-time with a 1 ns timer slack,
/// or normal again (threads it starts inherit its policy, so the cores
/// must be started while it is normal); says whether it worked.
fn client_realtime(on: bool) -> bool {
    let (policy, priority) = if on {
        (libc::SCHED_FIFO, 1)
    } else {
        (libc::SCHED_OTHER, 0)
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: PR_SET_TIMERSLACK takes an integer and changes only this
    // thread's timer slack; sched_setscheduler(0, ..) reads one valid
    // sched_param and changes only this thread's policy.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        libc::sched_setscheduler(0, policy, &param) == 0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let seconds: f64 = argv.next().map_or(Ok(2.0), |s| s.parse())?;
    let load: f64 = argv.next().map_or(Ok(0.7), |s| s.parse())?;
    let park_after_us: Option<u64> = argv.next().map(|s| s.parse()).transpose()?;
    let idle = park_after_us.map_or("idle cores poll".to_owned(), |us| {
        format!("idle cores park after {us} us")
    });
    println!(
        "process platform, 2 cores, shm NIC, all flows on core 0, exp service {} us, load {load} of one core, {seconds} s, {idle}",
        MEAN_SERVICE_NS / 1_000.0
    );
    let realtime = client_realtime(true) && client_realtime(false);
    println!(
        "client: {} thread, sleeps <= {} us between polls",
        if realtime {
            "SCHED_FIFO"
        } else {
            "normal (SCHED_FIFO refused)"
        },
        CLIENT_POLL_NS / 1_000
    );
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "sched", "sent", "answered", "p50 us", "p99 us", "p99.9 us", "steals", "ipis", "ooo"
    );
    for mode in MODES {
        measure(mode, seconds, load, park_after_us)?;
    }
    println!(
        "SIMULATED: 16 cores, netstack sim, all flows on core 0, exp service 10 us, load 2.5 cores"
    );
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8}",
        "sched", "answered", "p50 us", "p99 us", "steals"
    );
    for mode in MODES {
        let report = simulate(&SimConfig {
            cores: 16,
            mode,
            workload: WorkloadConfig {
                connections: 256,
                requests_per_connection: 40,
                mean_interarrival_ns: 4_000.0,
                service: ServiceTime::Exponential(MEAN_SERVICE_NS),
                steering: Steering::AllOn(0),
                split_probability: 0.0,
            },
            ..SimConfig::default()
        })?;
        let micros = |p| {
            report
                .percentile_ns(p)
                .map_or(f64::NAN, |ns| ns as f64 / 1_000.0)
        };
        println!(
            "{:<12} {:>8} {:>8.1} {:>8.1} {:>8}",
            mode.name(),
            report.answered,
            micros(50.0),
            micros(99.0),
            report.total().steals
        );
    }
    Ok(())
}
