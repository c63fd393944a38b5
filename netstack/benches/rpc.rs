//! Segment-processing cost: a 64-byte request and its 64-byte response
//! between two stacks over an in-memory wire (no NIC, one thread, both
//! stacks' work counted), with 1 and with 10,000 open connections; the
//! 10k case also prints the memory per connection.
//!
//! `cargo bench -p netstack --bench rpc`. Times are the benchmark thread's
//! CPU time ([`thread_cpu_time`]), so other processes on the machine do not
//! inflate them. Requests/s per core = 1 / time per iteration (both
//! stacks' work on one core); µs of processing per RTT = time per iteration.
//!
//! Why 10k connections cost more per request than one: with one connection
//! everything a round trip touches stays in L1. Round-robin over 10,000,
//! each round trip meets its connection's state cold: both stacks' blocks
//! (six cache lines each), the first line of four rings (each on its own
//! page, so a TLB miss too) and a demultiplexing bucket; and since each
//! connection idles 20 ms of virtual time, beyond the delayed-ACK timeout,
//! every response draws a pure ACK of its own (three segments per request
//! instead of two, printed). The protocol work itself is the same.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use std::hint::black_box;
use std::net::SocketAddrV4;

mod thread_cpu_time;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netstack::{ConnId, Duration, Event, FrameSink, Instant, Stack, StackConfig};
use thread_cpu_time::ThreadCpuTime;

/// Frames in preallocated buffers, reused every round (no allocation).
struct Wire {
    frames: Vec<Vec<u8>>,
    used: usize,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            frames: (0..64).map(|_| Vec::with_capacity(1514)).collect(),
            used: 0,
        }
    }

    fn deliver(&mut self, to: &mut Stack, now: Instant) {
        for frame in &self.frames[..self.used] {
            to.handle_frame(now, frame);
        }
        self.used = 0;
    }
}

impl FrameSink for Wire {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let Some(frame) = self.frames.get_mut(self.used) else {
            return false;
        };
        frame.clear();
        frame.resize(len, 0);
        fill(frame);
        self.used += 1;
        true
    }
}

struct Pair {
    client: Stack,
    server: Stack,
    wire: Wire,
    now: Instant,
    buf: [u8; 2048],
}

fn config(mac: u8, buffers: usize, connections: usize) -> StackConfig {
    StackConfig {
        mac: [2, 0, 0, 0, 0, mac],
        ipv4: [10, 0, 0, mac].into(),
        rx_buffer: buffers,
        tx_buffer: buffers,
        max_connections: connections + 16,
        syn_backlog: connections + 16,
        control_queue_len: 4 * connections + 64,
        ..StackConfig::default()
    }
}

impl Pair {
    /// Opens `count` connections; returns their client and server handles.
    fn new(count: usize, buffers: usize) -> (Pair, Vec<(ConnId, ConnId)>) {
        let mut pair = Pair {
            client: Stack::new(config(1, buffers, count)).unwrap(),
            server: Stack::new(config(2, buffers, count)).unwrap(),
            wire: Wire::new(),
            now: Instant::from_millis(1),
            buf: [0; 2048],
        };
        pair.server.listen(80).unwrap();
        let to = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
        let clients: Vec<ConnId> = (0..count)
            .map(|_| pair.client.connect(pair.now, to).unwrap())
            .collect();
        let mut servers = Vec::new();
        while servers.len() < count {
            pair.exchange();
            while let Some(event) = pair.server.pop_event() {
                if let Event::Accepted { conn, .. } = event {
                    servers.push(conn);
                }
            }
        }
        while pair.client.pop_event().is_some() {}
        // Accept order follows connect order on a lossless wire.
        (pair, clients.into_iter().zip(servers).collect())
    }

    /// Polls both stacks and delivers until the wire is quiet.
    fn exchange(&mut self) {
        loop {
            self.client.poll(self.now, &mut self.wire);
            let from_client = self.wire.used;
            self.wire.deliver(&mut self.server, self.now);
            self.server.poll(self.now, &mut self.wire);
            let from_server = self.wire.used;
            self.wire.deliver(&mut self.client, self.now);
            if from_client + from_server == 0 {
                return;
            }
        }
    }

    /// TCP segments sent by both stacks so far.
    fn segments(&self) -> u64 {
        self.client.stats().tcp_tx + self.server.stats().tcp_tx
    }

    /// One 64-byte request and its echo on `conn`.
    fn round_trip(&mut self, (client, server): (ConnId, ConnId)) {
        self.now = self.now + Duration::from_micros(2);
        self.client.send(client, &[0x42; 64]).unwrap();
        self.client.poll(self.now, &mut self.wire);
        self.wire.deliver(&mut self.server, self.now);
        while let Some(event) = self.server.pop_event() {
            if let Event::Readable(conn) = event {
                let n = self.server.recv(conn, &mut self.buf).unwrap();
                self.server.send(conn, &self.buf[..n]).unwrap();
            }
        }
        debug_assert!(self.server.recv_queue(server).is_ok());
        self.server.poll(self.now, &mut self.wire);
        self.wire.deliver(&mut self.client, self.now);
        while let Some(event) = self.client.pop_event() {
            if let Event::Readable(conn) = event {
                black_box(self.client.recv(conn, &mut self.buf).unwrap());
            }
        }
    }
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
}

fn request_response(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("netstack_rpc_64B");
    group.throughput(Throughput::Elements(1));
    let (mut pair, conns) = Pair::new(1, 64 * 1024);
    group.bench_function("1_connection", |b| b.iter(|| pair.round_trip(conns[0])));
    drop(pair);

    let rss_before = resident_bytes();
    let (mut pair, conns) = Pair::new(10_000, 16 * 1024);
    let rss_per_conn = resident_bytes().saturating_sub(rss_before) / (2 * conns.len());
    eprintln!(
        "10k connections: configured {} B/connection (16 KiB rx + 16 KiB tx + table and timer wheel), \
         resident {rss_per_conn} B/connection per stack",
        pair.server.memory_per_connection()
    );
    let mut next = 0usize;
    let mut round_trips = 0u64;
    let segments_before = pair.segments();
    group.bench_function("10k_connections_round_robin", |b| {
        b.iter(|| {
            next = (next + 7919) % conns.len();
            pair.round_trip(conns[next]);
            round_trips += 1;
        })
    });
    group.finish();
    // Each connection is revisited only every 10,000 round trips (20 ms of
    // virtual time), beyond the delayed-ACK timeout: its response draws a
    // pure ACK of its own, a third segment per request.
    eprintln!(
        "10k connections: {:.2} TCP segments per round trip (both directions)",
        (pair.segments() - segments_before) as f64 / round_trips.max(1) as f64
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = request_response
}
criterion_main!(benches);
