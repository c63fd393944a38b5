//! Shared by the end-to-end tests over the shm NIC (process and vmx
//! platforms): the KVM check, the dataplane arguments, a client port on the
//! dataplane's NIC and a closed-loop pipelined synthetic load driven from it.
#![allow(dead_code)] // each test binary uses a subset

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use dataplane::client::SyntheticClient;
use dataplane::nic::shm::{PortConfig, ShmNic, ShmQueue};
use dataplane::nic::{FlowSteering, INDIRECTION_ENTRIES, NicSpec};
use dataplane::run::{DataplaneArgs, PlatformKind, RunReport, mac_for};
use dataplane::sched::SchedMode;
use netstack::StackConfig;

pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);
pub const PORT: u16 = 7000;

/// Whether /dev/kvm is usable; prints "skipped: <reason>" when it is not.
pub fn kvm_or_skip() -> bool {
    match vmx::available() {
        Ok(()) => true,
        Err(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

/// Two cores on `platform` over the shm NIC `name`.
pub fn args(platform: PlatformKind, sched: SchedMode, name: &str) -> DataplaneArgs {
    DataplaneArgs {
        cores: 2,
        sched,
        batch: 16,
        platform,
        ..DataplaneArgs::new(NicSpec::Shm(name.to_string()), SERVER_IP, PORT)
    }
}

/// The client's stack configuration.
pub fn client_config() -> StackConfig {
    StackConfig {
        mac: mac_for(CLIENT_IP),
        ipv4: CLIENT_IP,
        ..StackConfig::default()
    }
}

/// Attaches a client port to the NIC `name`; with `all_on_core_0` the
/// server's RSS table sends every flow to core 0 (core 1 can only steal).
pub fn attach_client(name: &str, all_on_core_0: bool) -> ShmQueue {
    let mut peer = ShmNic::attach(
        name,
        PortConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            queues: 1,
        },
    )
    .unwrap();
    if all_on_core_0 {
        let server = peer
            .ports()
            .into_iter()
            .find(|p| p.ipv4 == SERVER_IP)
            .unwrap();
        let steering = peer.steering_of(server.index).unwrap();
        for entry in 0..INDIRECTION_ENTRIES {
            steering.set_indirection(entry, 0).unwrap();
        }
    }
    peer.take_queues().pop().unwrap()
}

/// A closed-loop load of synthetic requests, pipelined on each connection.
pub struct PipelinedLoad {
    /// Connections opened.
    pub connections: usize,
    /// Requests sent on each connection.
    pub requests: u64,
    /// Requests outstanding at most on a connection.
    pub depth: u64,
    /// Service time asked for by each request.
    pub service_ns: u64,
    /// When the client gives up on unanswered requests.
    pub deadline: Duration,
}

impl PipelinedLoad {
    /// Opens the connections to the server from `queue` and keeps each
    /// `depth` requests deep until every request is answered or the
    /// deadline passes.
    pub fn run(&self, queue: &mut ShmQueue) -> SyntheticClient {
        let mut client =
            SyntheticClient::new(client_config(), SocketAddrV4::new(SERVER_IP, PORT)).unwrap();
        let epoch = Instant::now();
        let now = || epoch.elapsed().as_nanos() as u64;
        for _ in 0..self.connections {
            client.open(now()).unwrap();
        }
        while client.conns().iter().any(|c| c.answered < self.requests)
            && epoch.elapsed() < self.deadline
        {
            for conn in 0..self.connections {
                let state = &client.conns()[conn];
                if state.connected && state.sent < self.requests && state.outstanding() < self.depth
                {
                    client.submit(conn, self.service_ns, now());
                }
            }
            client.step(now(), queue);
            // Leave CPU time to the two core threads on a 2-CPU machine.
            std::thread::yield_now();
        }
        client
    }

    /// Asserts that every request was answered, in order, on a connection
    /// that stayed open.
    pub fn assert_all_answered_in_order(&self, client: &SyntheticClient, report: &RunReport) {
        let total = report.total();
        for (i, conn) in client.conns().iter().enumerate() {
            assert_eq!(
                conn.answered, self.requests,
                "connection {i} unanswered ({total})"
            );
            assert_eq!(conn.out_of_order, 0, "connection {i} out of order");
            assert!(!conn.failed, "connection {i} reset");
        }
    }
}
