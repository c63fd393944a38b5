//! "No allocation on the steady-state per-segment path": a counting global
//! allocator watches 64-byte request-response exchanges between two stacks
//! (over preallocated frame buffers) after a warm-up of more than a full
//! timer-wheel rotation; not one allocation may happen.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};

use netstack::{ConnId, Duration, Event, FrameSink, Instant, Stack, StackConfig};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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

#[test]
fn request_response_allocates_nothing_in_steady_state() {
    let config = |last: u8| StackConfig {
        mac: [2, 0, 0, 0, 0, last],
        ipv4: [10, 0, 0, last].into(),
        ..StackConfig::default()
    };
    let mut client = Stack::new(config(1)).unwrap();
    let mut server = Stack::new(config(2)).unwrap();
    server.listen(80).unwrap();
    let mut wire = Wire {
        frames: (0..64).map(|_| Vec::with_capacity(1514)).collect(),
        used: 0,
    };
    let mut now = Instant::from_millis(1);
    let conn = client
        .connect(now, SocketAddrV4::new([10, 0, 0, 2].into(), 80))
        .unwrap();
    // Warm-up: the handshake, then exchanges at the measured pace for more
    // than a timer-wheel rotation (409.6 ms), so every wheel slot and queue
    // has grown to its working size; delayed-ACK and retransmission timers
    // are armed and cancelled or fired throughout.
    for _ in 0..1_000 {
        now = now + Duration::from_micros(700);
        round_trip(&mut client, &mut server, &mut wire, now, conn);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..2_000 {
        now = now + Duration::from_micros(700);
        round_trip(&mut client, &mut server, &mut wire, now, conn);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocations, 0,
        "allocations during 2,000 steady-state round trips"
    );
    assert!(client.stats().tcp_tx >= 2_000 && server.stats().tcp_tx >= 2_000);
}
