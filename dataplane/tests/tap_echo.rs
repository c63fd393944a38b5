//! `zygos run echo` over TAP against the Linux kernel's TCP (root only): in
//! a fresh network namespace, a 2-core dataplane on a multi-queue TAP
//! device serves Linux clients (std's TcpStream) on many connections. The
//! kernel spreads frames over both queues; frames of a flow homed on the
//! other core are re-steered in software, so every connection gets its
//! bytes back exactly, in order.

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

#[test]
fn linux_clients_get_their_bytes_echoed_by_two_cores_over_tap() {
    if let Some(reason) = privileges_missing() {
        println!("skipped: {reason}");
        return;
    }
    let namespace = NetNamespace::create("rt").unwrap();
    let tap = format!("zyrt{}", std::process::id() % 100_000);
    let args = DataplaneArgs {
        cores: 2,
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
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|conn| namespace.spawn(move || echo_round_trip(conn)))
        .collect();
    let outcomes: Vec<Result<(), String>> = clients
        .into_iter()
        .map(|client| match client.join() {
            Ok(outcome) => outcome.map_err(|error| error.to_string())?,
            Err(_) => Err("client panicked".into()),
        })
        .collect();
    let report = dataplane.stop().expect("dataplane stop");
    for outcome in outcomes {
        outcome.unwrap_or_else(|error| panic!("{error} (counters: {})", report.total()));
    }
    let total = report.total();
    assert!(total.events >= 2 * CONNECTIONS as u64, "{total}");
    assert_eq!(total.dropped_calls, 0);
}
