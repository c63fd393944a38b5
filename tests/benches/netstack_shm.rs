//! netstack over the shared-memory NIC: a client stack and an echo-server
//! stack, each on one queue of an shm switch, exchanging 64-byte requests
//! and responses over TCP.
//!
//! - `rtt_same_thread`: both stacks stepped on one thread: the processing
//!   cost of one round trip (both stacks, two shm switch traversals), free
//!   of cross-core handoff and scheduling.
//! - `rtt_1_outstanding`: client on the benchmark thread, server on its own
//!   thread; one request at a time: µs per round trip.
//! - `throughput_32_outstanding`: 32 connections with one request each in
//!   flight; elements/s = requests/s the server core sustains.
//!
//! `cargo bench -p zygos-tests --bench netstack_shm`. The two-thread
//! figures need two otherwise idle cores to mean anything.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant as WallClock};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::nic::shm::{PortConfig, ShmGeometry, ShmNic, ShmQueue};
use dataplane::nic::{MAX_BURST, NicQueue};
use netstack::{ConnId, Event, FrameSink, Instant, Stack, StackConfig};

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0x31, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0x31, 2];
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 31, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 31, 0, 2);
const PORT: u16 = 7;
const OUTSTANDING: usize = 32;

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

/// One dataplane core: its stack on its queue.
struct Core {
    stack: Stack,
    queue: ShmQueue,
    epoch: WallClock,
    buf: [u8; 2048],
}

impl Core {
    fn new(mac: [u8; 6], ipv4: Ipv4Addr, queue: ShmQueue) -> Core {
        let stack = Stack::new(StackConfig {
            mac,
            ipv4,
            ..StackConfig::default()
        })
        .unwrap();
        Core {
            stack,
            queue,
            epoch: WallClock::now(),
            buf: [0; 2048],
        }
    }

    /// One run-to-completion pass: receive a burst, process it, transmit;
    /// returns the frames received.
    fn pass(&mut self) -> usize {
        let now = Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
        let received = {
            let burst = self.queue.rx_burst(MAX_BURST);
            for frame in &burst {
                self.stack.handle_frame(now, frame);
            }
            burst.len()
        };
        self.stack.poll(now, &mut QueueSink(&mut self.queue));
        self.queue.flush_tx();
        received
    }

    /// One pass of the echo server: receive, echo what is readable, transmit.
    fn serve_echo(&mut self) -> usize {
        let received = self.pass();
        let mut echoed = false;
        while let Some(event) = self.stack.pop_event() {
            if let Event::Readable(conn) = event {
                let n = self.stack.recv(conn, &mut self.buf).unwrap();
                self.stack.send(conn, &self.buf[..n]).unwrap();
                echoed = true;
            }
        }
        if echoed {
            self.pass();
        }
        received
    }

    /// Passes until `pending` 64-byte responses arrived; `server` is Some
    /// when the server is stepped on this same thread.
    fn await_responses(&mut self, mut server: Option<&mut Core>, mut pending: usize) {
        let deadline = WallClock::now() + Duration::from_secs(10);
        let mut idle = 0;
        while pending > 0 {
            assert!(WallClock::now() < deadline, "responses stalled");
            if let Some(server) = server.as_deref_mut() {
                server.serve_echo();
            }
            if self.pass() == 0 && server.is_none() {
                back_off(&mut idle);
            }
            while let Some(event) = self.stack.pop_event() {
                if let Event::Readable(conn) = event {
                    let n = self.stack.recv(conn, &mut self.buf).unwrap();
                    assert_eq!(n % 64, 0);
                    pending -= n / 64;
                }
            }
        }
    }

    /// Opens `count` connections to the server and waits for them.
    fn connect_all(&mut self, mut server: Option<&mut Core>, count: usize) -> Vec<ConnId> {
        let to = SocketAddrV4::new(SERVER_IP, PORT);
        let now = Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
        let conns: Vec<ConnId> = (0..count)
            .map(|_| self.stack.connect(now, to).unwrap())
            .collect();
        let (mut connected, mut idle) = (0, 0);
        let deadline = WallClock::now() + Duration::from_secs(10);
        while connected < count {
            assert!(WallClock::now() < deadline, "handshakes stalled");
            if let Some(server) = server.as_deref_mut() {
                server.serve_echo();
            }
            if self.pass() == 0 {
                back_off(&mut idle);
            }
            while let Some(event) = self.stack.pop_event() {
                connected += usize::from(matches!(event, Event::Connected(_)));
            }
        }
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

fn shm_same_thread(c: &mut Criterion) {
    let (mut client, mut server, _nic_a, _nic_b) = cores(&format!("nsa-{}", std::process::id()));
    let conns = client.connect_all(Some(&mut server), 1);
    let request = [0x42u8; 64];
    let mut group = c.benchmark_group("netstack_shm_64B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rtt_same_thread", |b| {
        b.iter(|| {
            client.stack.send(conns[0], &request).unwrap();
            client.await_responses(Some(&mut server), 1);
        })
    });
    group.finish();
}

fn shm_two_threads(c: &mut Criterion) {
    let (mut client, mut server, _nic_a, _nic_b) = cores(&format!("nsb-{}", std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut idle = 0;
            while !stop.load(Ordering::Relaxed) {
                if server.serve_echo() == 0 {
                    back_off(&mut idle);
                } else {
                    idle = 0;
                }
            }
        })
    };
    let conns = client.connect_all(None, OUTSTANDING);
    let request = [0x42u8; 64];
    let mut group = c.benchmark_group("netstack_shm_64B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rtt_1_outstanding", |b| {
        b.iter(|| {
            client.stack.send(conns[0], &request).unwrap();
            client.await_responses(None, 1);
        })
    });
    group.throughput(Throughput::Elements(OUTSTANDING as u64));
    group.bench_function("throughput_32_outstanding", |b| {
        b.iter(|| {
            for conn in &conns {
                client.stack.send(*conn, &request).unwrap();
            }
            client.await_responses(None, OUTSTANDING);
        })
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    server_thread.join().unwrap();
}

criterion_group!(benches, shm_same_thread, shm_two_threads);
criterion_main!(benches);
