//! netstack over the shared-memory NIC: a client stack and an echo-server
//! stack, each on one queue of an shm switch, exchanging 64-byte requests
//! and responses over TCP. Each core runs IX-style run-to-completion
//! passes: read the clock, receive a burst, run the application on the
//! events, transmit.
//!
//! One thread, measured in that thread's CPU time (other processes on a
//! shared machine do not count):
//! - `netstack_shm_64B_cpu/rtt_same_thread`: both stacks stepped on one
//!   thread: the processing cost of one round trip (both stacks, two shm
//!   switch traversals), free of cross-core handoff and scheduling.
//! - `netstack_shm_64B_cpu/server_32_requests_same_thread`: 32 connections
//!   each send one request; only the server's passes are timed, so
//!   elements/s = requests/s one server core processes (receive, TCP,
//!   echo, transmit, NIC), the per-core throughput figure.
//!
//! Two threads, wall time (needs two otherwise idle cores to mean anything):
//! - `netstack_shm_64B/rtt_1_outstanding`: client on the benchmark thread,
//!   server on its own; one request at a time: µs per round trip.
//! - `netstack_shm_64B/throughput_32_outstanding`: 32 connections, each
//!   keeping one request in flight (a response is answered at once with the
//!   next request on its connection, so client and server cores work at the
//!   same time); elements/s = requests/s the server core sustains. Also
//!   printed: the server thread's requests per second of its own CPU time
//!   (robust to other processes taking the cores, pessimistic when it
//!   idles waiting for the client).
//!
//! `cargo bench -p zygos-tests --bench netstack_shm`.

#![allow(missing_docs)] // criterion_group! generates undocumented `pub fn`s.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant as WallClock};

#[path = "../../netstack/benches/thread_cpu_time.rs"]
mod thread_cpu_time;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::nic::shm::{PortConfig, ShmGeometry, ShmNic, ShmQueue};
use dataplane::nic::{MAX_BURST, NicQueue};
use netstack::{ConnId, Event, FrameSink, Instant, Stack, StackConfig};
use thread_cpu_time::ThreadCpuTime;

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0x31, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0x31, 2];
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 31, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 31, 0, 2);
const PORT: u16 = 7;
const OUTSTANDING: usize = 32;
const REQUEST: [u8; 64] = [0x42; 64];

struct QueueSink<'a>(&'a mut ShmQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

/// Spins a little, then yields: with fewer free cores than busy threads,
/// the peer thread must get to run.
fn back_off(idle: &mut u32) {
    *idle += 1;
    if *idle < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// What a client waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Await {
    /// Connections established.
    Handshakes,
    /// Responses.
    Responses,
    /// Responses, each answered with the next request on its connection.
    ResendingResponses,
}

/// One dataplane core: its stack on its queue.
struct Core {
    stack: Stack,
    queue: ShmQueue,
    epoch: WallClock,
    /// Time of the latest receive (the clock is read once per pass).
    now: Instant,
    /// Requests the echo server answered.
    echoed: u64,
    buf: [u8; 2048],
}

impl Core {
    fn new(mac: [u8; 6], ipv4: Ipv4Addr, queue: ShmQueue) -> Core {
        let stack = Stack::new(StackConfig {
            mac,
            ipv4,
            // Shared memory cannot corrupt frames: the device says so.
            verify_rx_checksums: queue.capabilities().tcp_checksum.verify_on_rx(),
            ..StackConfig::default()
        })
        .unwrap();
        Core {
            stack,
            queue,
            epoch: WallClock::now(),
            now: Instant::ZERO,
            echoed: 0,
            buf: [0; 2048],
        }
    }

    /// Reads the clock, then hands one received burst to the stack;
    /// returns the frames received.
    fn receive(&mut self) -> usize {
        self.now = Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
        let burst = self.queue.rx_burst(MAX_BURST);
        for frame in &burst {
            self.stack.handle_frame(self.now, frame);
        }
        burst.len()
    }

    /// Writes out what the stack has to send.
    fn transmit(&mut self) {
        self.stack.poll(self.now, &mut QueueSink(&mut self.queue));
        self.queue.flush_tx();
    }

    /// One run-to-completion pass of the echo server (receive, echo what
    /// is readable, transmit); returns the frames received.
    fn serve_echo(&mut self) -> usize {
        let received = self.receive();
        while let Some(event) = self.stack.pop_event() {
            if let Event::Readable(conn) = event {
                let n = self.stack.recv(conn, &mut self.buf).unwrap();
                self.stack.send(conn, &self.buf[..n]).unwrap();
                self.echoed += n as u64 / 64;
            }
        }
        self.transmit();
        received
    }

    /// One pass of the client: receive, count the 64-byte responses and
    /// the connections established (with `resend`, send a new request for
    /// each response on its connection), transmit; returns (frames
    /// received, responses, connections established).
    fn collect(&mut self, resend: bool) -> (usize, usize, usize) {
        let received = self.receive();
        let (mut responses, mut connected) = (0, 0);
        while let Some(event) = self.stack.pop_event() {
            match event {
                Event::Readable(conn) => {
                    let n = self.stack.recv(conn, &mut self.buf).unwrap();
                    assert_eq!(n % 64, 0);
                    responses += n / 64;
                    for _ in 0..if resend { n / 64 } else { 0 } {
                        self.stack.send(conn, &REQUEST).unwrap();
                    }
                }
                Event::Connected(_) => connected += 1,
                _ => {}
            }
        }
        self.transmit();
        (received, responses, connected)
    }

    /// Transmits what was queued, then passes until `wanted` responses
    /// (or, with [`Await::Handshakes`], connections) arrived; `server` is
    /// Some when the server is stepped on this same thread.
    fn await_peer(&mut self, mut server: Option<&mut Core>, mut wanted: usize, what: Await) {
        self.transmit();
        let deadline = WallClock::now() + Duration::from_secs(10);
        let mut idle = 0;
        while wanted > 0 {
            assert!(WallClock::now() < deadline, "the peer stalled");
            if let Some(server) = server.as_deref_mut() {
                server.serve_echo();
            }
            let (received, responses, connected) = self.collect(what == Await::ResendingResponses);
            wanted = wanted.saturating_sub(match what {
                Await::Handshakes => connected,
                Await::Responses | Await::ResendingResponses => responses,
            });
            if received == 0 && server.is_none() {
                back_off(&mut idle);
            }
        }
    }

    /// Sends one 64-byte request on each of `conns` and waits for the echoes.
    fn round_trips(&mut self, server: Option<&mut Core>, conns: &[ConnId]) {
        for conn in conns {
            self.stack.send(*conn, &REQUEST).unwrap();
        }
        self.await_peer(server, conns.len(), Await::Responses);
    }

    /// Opens `count` connections to the server and waits for them.
    fn connect_all(&mut self, server: Option<&mut Core>, count: usize) -> Vec<ConnId> {
        let to = SocketAddrV4::new(SERVER_IP, PORT);
        let conns = (0..count)
            .map(|_| self.stack.connect(self.now, to).unwrap())
            .collect();
        self.await_peer(server, count, Await::Handshakes);
        conns
    }
}

/// A client and a listening server core on a fresh shm switch (the NICs
/// returned keep the region alive).
fn cores(name: &str) -> (Core, Core, ShmNic, ShmNic) {
    let geometry = ShmGeometry {
        max_ports: 2,
        max_queues: 1,
        buffers_per_queue: 1024,
    };
    let port = |mac, ipv4| PortConfig {
        mac,
        ipv4,
        queues: 1,
    };
    let mut client_nic =
        ShmNic::create(name, geometry, port(CLIENT_MAC, CLIENT_IP)).expect("create shm region");
    let mut server_nic = ShmNic::attach(name, port(SERVER_MAC, SERVER_IP)).expect("attach");
    let client = Core::new(
        CLIENT_MAC,
        CLIENT_IP,
        client_nic.take_queues().pop().unwrap(),
    );
    let mut server = Core::new(
        SERVER_MAC,
        SERVER_IP,
        server_nic.take_queues().pop().unwrap(),
    );
    server.stack.listen(PORT).unwrap();
    (client, server, client_nic, server_nic)
}

fn shm_same_thread(c: &mut Criterion<ThreadCpuTime>) {
    let (mut client, mut server, _nic_a, _nic_b) = cores(&format!("nsa-{}", std::process::id()));
    let conns = client.connect_all(Some(&mut server), OUTSTANDING);
    let mut group = c.benchmark_group("netstack_shm_64B_cpu");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rtt_same_thread", |b| {
        b.iter(|| client.round_trips(Some(&mut server), &conns[..1]))
    });
    group.throughput(Throughput::Elements(OUTSTANDING as u64));
    group.bench_function("server_32_requests_same_thread", |b| {
        b.iter_custom(|iterations| {
            let mut server_time = 0;
            for _ in 0..iterations {
                for conn in &conns {
                    client.stack.send(*conn, &REQUEST).unwrap();
                }
                client.transmit();
                let mut received = 0;
                while received < OUTSTANDING {
                    let start = ThreadCpuTime.start();
                    received += server.serve_echo();
                    server_time += ThreadCpuTime.end(start);
                }
                client.await_peer(None, OUTSTANDING, Await::Responses);
            }
            server_time
        })
    });
    group.finish();
}

fn shm_two_threads(c: &mut Criterion) {
    let (mut client, mut server, _nic_a, _nic_b) = cores(&format!("nsb-{}", std::process::id()));
    let (stop, restart) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    // The server thread returns the requests it answered and its own CPU
    // time since the last restart signal.
    let server_thread = {
        let (stop, restart) = (Arc::clone(&stop), Arc::clone(&restart));
        std::thread::spawn(move || {
            let (mut idle, mut start) = (0, ThreadCpuTime.start());
            while !stop.load(Ordering::Relaxed) {
                if restart.swap(false, Ordering::Relaxed) {
                    (server.echoed, start) = (0, ThreadCpuTime.start());
                }
                if server.serve_echo() == 0 {
                    back_off(&mut idle);
                } else {
                    idle = 0;
                }
            }
            (server.echoed, ThreadCpuTime.end(start))
        })
    };
    let conns = client.connect_all(None, OUTSTANDING);
    let mut group = c.benchmark_group("netstack_shm_64B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rtt_1_outstanding", |b| {
        b.iter(|| client.round_trips(None, &conns[..1]))
    });
    // Every connection keeps one request in flight: a response is answered
    // at once with the next request, so both cores work at the same time.
    for conn in &conns {
        client.stack.send(*conn, &REQUEST).unwrap();
    }
    client.transmit();
    restart.store(true, Ordering::Relaxed);
    group.throughput(Throughput::Elements(OUTSTANDING as u64));
    group.bench_function("throughput_32_outstanding", |b| {
        b.iter(|| client.await_peer(None, OUTSTANDING, Await::ResendingResponses))
    });
    group.finish();
    client.await_peer(None, OUTSTANDING, Await::Responses);
    stop.store(true, Ordering::Relaxed);
    let (requests, cpu_ns) = server_thread.join().unwrap();
    // Time other processes took from the server thread is not counted; its
    // idle polling (waiting for the client) is.
    eprintln!(
        "throughput_32_outstanding, server core: {requests} requests in {:.1} ms of its CPU \
         time = {:.2} M requests per CPU-second",
        cpu_ns as f64 / 1e6,
        requests as f64 * 1e3 / cpu_ns.max(1) as f64
    );
}

criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = shm_same_thread
}
criterion_group!(wall_time, shm_two_threads);
criterion_main!(cpu_time, wall_time);
