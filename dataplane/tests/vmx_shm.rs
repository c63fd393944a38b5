//! End to end on the vmx platform: 2 dataplane cores in vCPUs serve over
//! the shm NIC, driven from a client port on the same NIC by a netstack
//! client in the test thread.
//! - echo: many connections stream numbered messages; every byte comes
//!   back, in order, on its connection.
//! - synthetic: every flow is steered to core 0, so core 1 serves only by
//!   stealing; its replies reach the TCP state through remote system calls
//!   on core 0, announced by exit-less IPIs; every request is answered in
//!   order. No core takes a guest fault or fails to send an IPI, and the
//!   latency of every IPI noticed is measured (printed per core).
//!
//! - the same with cores that park when idle (they leave their vCPUs).
//!
//! Without a usable /dev/kvm all print "skipped: <reason>".

mod shm_common;

use std::net::SocketAddrV4;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dataplane::apps::{Echo, Synthetic};
use dataplane::nic::shm::ShmQueue;
use dataplane::nic::{MAX_BURST, NicQueue};
use dataplane::run::{Dataplane, DataplaneArgs, PlatformKind, RunReport};
use dataplane::sched::SchedMode;
use netstack::{ConnId, Event, FrameSink, Stack};
use shm_common::{PORT, PipelinedLoad, SERVER_IP, args, attach_client, client_config, kvm_or_skip};

const DEADLINE: Duration = Duration::from_secs(30);

/// One dataplane at a time: the machine has 2 CPUs.
static SERIAL: Mutex<()> = Mutex::new(());

/// Checks the per-core vCPU report of a run on the vmx platform.
fn assert_vcpus_healthy(report: &RunReport) {
    assert_eq!(report.exits.len(), 2, "one exit report per core");
    for (core, exits) in report.exits.iter().enumerate() {
        println!("core {core}: {}", report.per_core[core]);
        println!("core {core} vcpu: {exits}");
        assert_eq!(exits.refused_ipis, 0, "core {core}");
        let u = &exits.user_space;
        assert_eq!((u.faults, u.unexpected), (0, 0), "core {core}: {exits}");
        assert!(u.returns >= 1, "core {core} never ran in its vCPU");
        // Every interrupt the core noticed was timed from its sender's stamp.
        let noticed = report.per_core[core].signals_received > 0;
        assert_eq!(
            exits.ipi_latency.samples > 0,
            noticed,
            "core {core}: IPI latency not measured: {exits}"
        );
    }
}

struct QueueSink<'a>(&'a mut ShmQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

/// An echo client connection: the bytes it sent and those that came back.
struct EchoConn {
    id: ConnId,
    connected: bool,
    sent: Vec<u8>,
    unsent: usize,
    received: Vec<u8>,
}

const ECHO_CONNECTIONS: usize = 16;
const ECHO_MESSAGES: u64 = 200;
const ECHO_IN_FLIGHT: usize = 4 * 16;

#[test]
fn echo_in_vcpus_returns_every_byte_in_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !kvm_or_skip() {
        return;
    }
    let name = format!("vmx-echo-{}", std::process::id());
    let args = args(PlatformKind::Vmx, SchedMode::Zygos, &name);
    let dataplane = Dataplane::start(&args, Echo).unwrap();
    let mut queue = attach_client(&name, false);
    let mut stack = Stack::new(client_config()).unwrap();
    let epoch = Instant::now();
    let now = || netstack::Instant(epoch.elapsed().as_nanos() as u64);
    let server = SocketAddrV4::new(SERVER_IP, PORT);
    let mut conns: Vec<EchoConn> = (0..ECHO_CONNECTIONS)
        .map(|c| EchoConn {
            id: stack.connect(now(), server).unwrap(),
            connected: false,
            // Message i of connection c: 16 bytes naming both.
            sent: (0..ECHO_MESSAGES)
                .flat_map(|i| [(c as u64).to_le_bytes(), i.to_le_bytes()])
                .flatten()
                .collect(),
            unsent: 0,
            received: Vec::new(),
        })
        .collect();
    let mut buf = vec![0; 16 * 1024];
    let done = |conns: &[EchoConn]| conns.iter().all(|c| c.received.len() == c.sent.len());
    while !done(&conns) && epoch.elapsed() < DEADLINE {
        for frame in &queue.rx_burst(MAX_BURST) {
            stack.handle_frame(now(), frame);
        }
        while let Some(event) = stack.pop_event() {
            let (Event::Connected(id) | Event::Readable(id)) = event else {
                continue;
            };
            let Some(conn) = conns.iter_mut().find(|c| c.id == id) else {
                continue;
            };
            conn.connected = true;
            while let Ok(n @ 1..) = stack.recv(id, &mut buf) {
                conn.received.extend_from_slice(&buf[..n]);
            }
        }
        for conn in conns.iter_mut().filter(|c| c.connected) {
            let limit = (conn.received.len() + ECHO_IN_FLIGHT).min(conn.sent.len());
            if conn.unsent < limit {
                conn.unsent += stack.send(conn.id, &conn.sent[conn.unsent..limit]).unwrap();
            }
        }
        stack.poll(now(), &mut QueueSink(&mut queue));
        queue.flush_tx();
        std::thread::yield_now();
    }
    let report = dataplane.stop().unwrap();
    for (c, conn) in conns.iter().enumerate() {
        assert!(
            conn.sent.starts_with(&conn.received),
            "connection {c}: echoed bytes differ from those sent"
        );
        assert_eq!(
            conn.received.len(),
            conn.sent.len(),
            "connection {c} incomplete ({})",
            report.total()
        );
    }
    assert_vcpus_healthy(&report);
}

const SYNTHETIC_LOAD: PipelinedLoad = PipelinedLoad {
    connections: 24,
    requests: 100,
    depth: 4,
    service_ns: 20_000,
    deadline: DEADLINE,
};

#[test]
fn synthetic_in_vcpus_steals_and_answers_every_request_in_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !kvm_or_skip() {
        return;
    }
    let name = format!("vmx-syn-{}", std::process::id());
    let args = args(PlatformKind::Vmx, SchedMode::Zygos, &name);
    let dataplane = Dataplane::start(&args, Synthetic).unwrap();
    let client = SYNTHETIC_LOAD.run(&mut attach_client(&name, true));
    let report = dataplane.stop().unwrap();
    SYNTHETIC_LOAD.assert_all_answered_in_order(&client, &report);
    let total = report.total();
    assert_eq!(report.per_core[1].packets, 0, "RSS sent frames to core 1");
    assert!(report.per_core[1].steals > 0, "core 1 never stole: {total}");
    assert!(report.per_core[0].remote_syscalls > 0, "{total}");
    assert_vcpus_healthy(&report);
}

/// Cores that park when idle leave their vCPUs and block on the host; the
/// client's frames (a shm sender's signal) and the other core wake them,
/// and every request is still answered in order.
#[test]
fn synthetic_in_parking_vcpus_answers_every_request_in_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !kvm_or_skip() {
        return;
    }
    let name = format!("vmx-park-{}", std::process::id());
    let args = DataplaneArgs {
        park_after_us: Some(0),
        ..args(PlatformKind::Vmx, SchedMode::Zygos, &name)
    };
    let dataplane = Dataplane::start(&args, Synthetic).unwrap();
    let client = SYNTHETIC_LOAD.run(&mut attach_client(&name, true));
    let report = dataplane.stop().unwrap();
    SYNTHETIC_LOAD.assert_all_answered_in_order(&client, &report);
    let total = report.total();
    assert!(report.per_core[0].parks > 0, "core 0 never parked: {total}");
    assert!(report.per_core[1].steals > 0, "core 1 never stole: {total}");
    assert_vcpus_healthy(&report);
}
