//! End to end on the process platform with 2 cores over the shm NIC: a load
//! generator (a netstack client on a second switch port, in a thread)
//! drives many pipelined connections carrying sequence-numbered synthetic
//! requests. The server's RSS table sends every flow to core 0, so core 1
//! can only help by stealing: the steal counter must rise, every request be
//! answered, and each connection's replies come back in request order.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as WallClock};

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::nic::shm::{PortConfig, ShmNic};
use dataplane::nic::{FlowSteering, INDIRECTION_ENTRIES, NicSpec};
use dataplane::run::{BuiltinApp, Dataplane, PlatformKind, RunArgs, RunReport, mac_for};
use dataplane::sched::SchedMode;
use netstack::StackConfig;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const PORT: u16 = 7000;
const CONNECTIONS: usize = 24;
const REQUESTS: u64 = 20;
const DEPTH: u64 = 4;
/// Long enough that core 0, not the client, is the bottleneck even on a
/// loaded 2-CPU machine: its backlog is what core 1 steals.
const SERVICE_NS: u64 = 200_000;
const DEADLINE: Duration = Duration::from_secs(30);

/// Drives the client until every request is answered or the deadline.
fn load(nic_name: &str) -> SyntheticClient {
    let mut peer = ShmNic::attach(
        nic_name,
        PortConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            queues: 1,
        },
    )
    .unwrap();
    let server = peer
        .ports()
        .into_iter()
        .find(|p| p.ipv4 == SERVER_IP)
        .unwrap();
    let steering = peer.steering_of(server.index).unwrap();
    for entry in 0..INDIRECTION_ENTRIES {
        steering.set_indirection(entry, 0).unwrap();
    }
    let mut queue = peer.take_queues().pop().unwrap();
    let config = StackConfig {
        mac: mac_for(CLIENT_IP),
        ipv4: CLIENT_IP,
        ..StackConfig::default()
    };
    let mut client = SyntheticClient::new(config, SocketAddrV4::new(SERVER_IP, PORT)).unwrap();
    let epoch = WallClock::now();
    let now = || epoch.elapsed().as_nanos() as u64;
    for _ in 0..CONNECTIONS {
        client.open(now()).unwrap();
    }
    while client.conns().iter().any(|c| c.answered < REQUESTS) && epoch.elapsed() < DEADLINE {
        for conn in 0..CONNECTIONS {
            let state = &client.conns()[conn];
            if state.connected && state.sent < REQUESTS && state.outstanding() < DEPTH {
                client.submit(conn, SERVICE_NS, now());
            }
        }
        client.step(now(), &mut queue);
        // Leave CPU time to the two core threads on a 2-CPU machine.
        std::thread::yield_now();
    }
    client
}

fn serve_skewed(sched: SchedMode) -> (SyntheticClient, RunReport) {
    let name = format!("rt-{}-{sched}", std::process::id());
    let args = RunArgs {
        app: BuiltinApp::Synthetic,
        cores: 2,
        sched,
        batch: 16,
        platform: PlatformKind::Process,
        nic: NicSpec::Shm(name.clone()),
        ip: SERVER_IP,
        netmask_len: 24,
        port: PORT,
    };
    let dataplane = Dataplane::start(&args, Synthetic).unwrap();
    let client = load(&name);
    (client, dataplane.stop().unwrap())
}

fn assert_all_answered_in_order(client: &SyntheticClient, report: &RunReport) {
    for (i, conn) in client.conns().iter().enumerate() {
        assert_eq!(
            conn.answered,
            REQUESTS,
            "connection {i} unanswered ({})",
            report.total()
        );
        assert_eq!(conn.out_of_order, 0, "connection {i} out of order");
        assert!(!conn.failed, "connection {i} reset");
    }
}

#[test]
fn stealing_serves_a_skewed_rss_table_in_order() {
    let (client, report) = serve_skewed(SchedMode::Zygos);
    assert_all_answered_in_order(&client, &report);
    let total = report.total();
    assert_eq!(report.per_core[1].packets, 0, "RSS sent frames to core 1");
    assert!(report.per_core[1].steals > 0, "core 1 never stole: {total}");
    // Core 1's replies went out through core 0, the only one with the TCP
    // state: its remote system calls reached the home core.
    assert!(report.per_core[0].remote_syscalls > 0, "{total}");
}

#[test]
fn partitioned_mode_serves_a_skewed_table_without_stealing() {
    let (client, report) = serve_skewed(SchedMode::Partitioned);
    assert_all_answered_in_order(&client, &report);
    assert_eq!(report.total().steals, 0);
}
