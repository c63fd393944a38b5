//! `zygos run echo` over TAP against the Linux kernel's TCP (root only): in
//! a fresh network namespace, a 2-core dataplane on a multi-queue TAP
//! device serves Linux clients (std's TcpStream) on many connections. The
//! kernel spreads frames over both queues; frames of a flow homed on the
//! other core are re-steered in software, so every connection gets its
//! bytes back exactly, in order. The same again with `--park-after-us`:
//! idle cores block in the kernel (they use little CPU while idle) and
//! wake for the next clients' frames.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use dataplane::apps::Echo;
use dataplane::netns::{NetNamespace, privileges_missing};
use dataplane::nic::NicSpec;
use dataplane::run::{Dataplane, DataplaneArgs};

const KERNEL_CIDR: &str = "10.201.0.1/24";
const DATAPLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
const PORT: u16 = 7;
const CONNECTIONS: usize = 16;
const MESSAGES: usize = 50;

/// One connection: pipelines every message, then reads the echo back.
fn echo_round_trip(conn: usize) -> Result<(), String> {
    let address = SocketAddr::from((DATAPLANE_IP, PORT));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connect {conn}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let sent: Vec<u8> = (0..MESSAGES)
        .flat_map(|seq| format!("conn {conn} message {seq};").into_bytes())
        .collect();
    stream
        .write_all(&sent)
        .map_err(|e| format!("write {conn}: {e}"))?;
    let mut echoed = vec![0; sent.len()];
    stream
        .read_exact(&mut echoed)
        .map_err(|e| format!("read {conn}: {e}"))?;
    if echoed != sent {
        return Err(format!("connection {conn}: echo differs"));
    }
    Ok(())
}

/// Starts a 2-core echo dataplane on a fresh TAP device in `namespace`
/// (`park_after_us` as the flag), addressed from the kernel's side.
fn start_echo(namespace: &NetNamespace, park_after_us: Option<u64>) -> (Dataplane, String) {
    let tap = format!("zyrt{}", std::process::id() % 100_000);
    let args = DataplaneArgs {
        cores: 2,
        park_after_us,
        ..DataplaneArgs::new(NicSpec::Tap(tap.clone()), DATAPLANE_IP, PORT)
    };
    let dataplane = namespace
        .within(|| Dataplane::start(&args, Echo))
        .unwrap()
        .expect("dataplane start");
    namespace
        .ip(&["addr", "add", KERNEL_CIDR, "dev", &tap])
        .unwrap();
    namespace.ip(&["link", "set", &tap, "up"]).unwrap();
    (dataplane, tap)
}

/// Every client connection's echo outcome.
fn run_clients(namespace: &NetNamespace) -> Vec<Result<(), String>> {
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|conn| namespace.spawn(move || echo_round_trip(conn)))
        .collect();
    clients
        .into_iter()
        .map(|client| match client.join() {
            Ok(outcome) => outcome.map_err(|error| error.to_string())?,
            Err(_) => Err("client panicked".into()),
        })
        .collect()
}

/// CPU time (user + system) this whole process has used so far.
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage struct, a valid zeroed out value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Both runs share one test so that nothing else runs in this process
/// while the parking run's idle CPU time is measured.
#[test]
fn linux_clients_are_echoed_by_polling_and_by_parking_cores_over_tap() {
    if let Some(reason) = privileges_missing() {
        println!("skipped: {reason}");
        return;
    }
    polling_cores_echo_every_byte();
    parking_cores_echo_every_byte_and_sleep_when_idle();
}

fn polling_cores_echo_every_byte() {
    let namespace = NetNamespace::create("rt").unwrap();
    let (dataplane, _tap) = start_echo(&namespace, None);
    let outcomes = run_clients(&namespace);
    let report = dataplane.stop().expect("dataplane stop");
    for outcome in outcomes {
        outcome.unwrap_or_else(|error| panic!("{error} (counters: {})", report.total()));
    }
    let total = report.total();
    assert!(total.events >= 2 * CONNECTIONS as u64, "{total}");
    assert_eq!(total.dropped_calls, 0);
    assert_eq!(total.parks, 0, "parked without --park-after-us: {total}");
}

/// With `--park-after-us`, idle cores block: the process uses a small
/// fraction of the CPU two polling cores burn, and frames arriving at a
/// parked core wake it (the clients are served again after the idle time).
fn parking_cores_echo_every_byte_and_sleep_when_idle() {
    const IDLE: Duration = Duration::from_millis(600);
    let namespace = NetNamespace::create("rp").unwrap();
    let (dataplane, _tap) = start_echo(&namespace, Some(20));
    let before = run_clients(&namespace);
    let cpu_start = process_cpu_time();
    std::thread::sleep(IDLE);
    let idle_cpu = process_cpu_time().saturating_sub(cpu_start);
    let after = run_clients(&namespace);
    let report = dataplane.stop().expect("dataplane stop");
    let total = report.total();
    for outcome in before.into_iter().chain(after) {
        outcome.unwrap_or_else(|error| panic!("{error} (counters: {total})"));
    }
    assert_eq!(total.dropped_calls, 0);
    for (core, counters) in report.per_core.iter().enumerate() {
        assert!(counters.parks > 0, "core {core} never parked: {counters}");
    }
    // Two polling cores would use about 2 x IDLE; parked ones wake once
    // per millisecond at most.
    assert!(
        idle_cpu < IDLE / 4,
        "{idle_cpu:?} of CPU in {IDLE:?} idle: the cores did not park ({total})"
    );
}
