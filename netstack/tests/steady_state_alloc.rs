//! "No allocation on the steady-state per-segment path": a counting global
//! allocator watches 64-byte request-response exchanges between two stacks
//! (over preallocated frame buffers) after a warm-up of more than a full
//! timer-wheel rotation; not one allocation may happen. Once with one
//! connection (every segment piggybacks its ACK), once round-robin over
//! 10,000 (every response also draws a delayed ACK, so delayed-ACK and
//! retransmission timers of thousands of connections fire throughout).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddrV4;

use netstack::{ConnId, Duration, Event, FrameSink, Instant, Stack, StackConfig};

/// The system allocator, counting allocations per thread (the tests run
/// in parallel; each counts only its own).
struct Counting;

thread_local! {
    // Const-initialised and without destructor: using it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn count_allocation() {
    // A thread being torn down has no counter any more; it is not measuring.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Preallocated frame buffers.
struct Wire {
    frames: Vec<Vec<u8>>,
    used: usize,
}

impl FrameSink for Wire {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let Some(frame) = self.frames.get_mut(self.used) else {
            return false;
        };
        frame.resize(len, 0);
        fill(frame);
        self.used += 1;
        true
    }
}

impl Wire {
    fn deliver(&mut self, to: &mut Stack, now: Instant) {
        for frame in &mut self.frames[..self.used] {
            to.handle_frame(now, frame);
            frame.clear();
        }
        self.used = 0;
    }
}

fn round_trip(client: &mut Stack, server: &mut Stack, wire: &mut Wire, now: Instant, conn: ConnId) {
    let mut buf = [0u8; 256];
    client.send(conn, &[7u8; 64]).unwrap();
    for _ in 0..2 {
        client.poll(now, wire);
        wire.deliver(server, now);
        while let Some(event) = server.pop_event() {
            if let Event::Readable(c) = event {
                let n = server.recv(c, &mut buf).unwrap();
                server.send(c, &buf[..n]).unwrap();
            }
        }
        server.poll(now, wire);
        wire.deliver(client, now);
        while let Some(event) = client.pop_event() {
            if let Event::Readable(c) = event {
                let n = client.recv(c, &mut buf).unwrap();
                assert_eq!(n % 64, 0, "whole echoed requests");
            }
        }
    }
}

fn config(last: u8, connections: usize) -> StackConfig {
    StackConfig {
        mac: [2, 0, 0, 0, 0, last],
        ipv4: [10, 0, 0, last].into(),
        rx_buffer: 4 * 1024,
        tx_buffer: 4 * 1024,
        max_connections: connections,
        syn_backlog: connections,
        control_queue_len: 4 * connections,
        ..StackConfig::default()
    }
}

/// Opens `count` connections, then runs round trips on them in turn, `pace`
/// apart, through a warm-up of `warm_up` and a measured `measured` ones;
/// returns the allocations during the measured ones.
fn allocations_in_steady_state(
    count: usize,
    pace: Duration,
    warm_up: usize,
    measured: usize,
) -> u64 {
    let at_start = allocations();
    let mut client = Stack::new(config(1, count)).unwrap();
    let mut server = Stack::new(config(2, count)).unwrap();
    assert!(
        allocations() > at_start,
        "the counter sees this thread's allocations"
    );
    server.listen(80).unwrap();
    let mut wire = Wire {
        frames: (0..64).map(|_| Vec::with_capacity(1514)).collect(),
        used: 0,
    };
    let mut now = Instant::from_millis(1);
    let conns: Vec<ConnId> = (0..count)
        .map(|_| {
            client
                .connect(now, SocketAddrV4::new([10, 0, 0, 2].into(), 80))
                .unwrap()
        })
        .collect();
    for conn in conns.iter().cycle().take(warm_up) {
        now = now + pace;
        round_trip(&mut client, &mut server, &mut wire, now, *conn);
    }
    assert_eq!(server.connection_count(), count);
    let before = allocations();
    let sent_before = client.stats().tcp_tx;
    for conn in conns.iter().cycle().skip(warm_up).take(measured) {
        now = now + pace;
        round_trip(&mut client, &mut server, &mut wire, now, *conn);
    }
    let allocations = allocations() - before;
    assert!(client.stats().tcp_tx - sent_before >= measured as u64);
    allocations
}

#[test]
fn request_response_allocates_nothing_in_steady_state() {
    // Warm-up: the handshake, then exchanges at the measured pace for more
    // than a timer-wheel rotation (409.6 ms), so every wheel slot and queue
    // has grown to its working size; delayed-ACK and retransmission timers
    // are armed and cancelled or fired throughout.
    let allocations = allocations_in_steady_state(1, Duration::from_micros(700), 1_000, 2_000);
    assert_eq!(
        allocations, 0,
        "allocations during 2,000 steady-state round trips"
    );
}

#[test]
fn ten_thousand_connections_allocate_nothing_in_steady_state() {
    // 10 µs a round trip: each connection's turn comes every 100 ms, long
    // after its delayed ACK (1 ms) fired; 60,000 warm-up round trips span
    // 600 ms, more than a wheel rotation.
    let allocations =
        allocations_in_steady_state(10_000, Duration::from_micros(10), 60_000, 20_000);
    assert_eq!(
        allocations, 0,
        "allocations during 20,000 round trips over 10k connections"
    );
}
