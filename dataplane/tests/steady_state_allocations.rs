//! The request path allocates nothing once warmed up (thesis ch. 4.4: every
//! buffer of IX and ZygOS comes from a per-core pool). A counting global
//! allocator counts the allocations made inside a server core's loop
//! (receive, stack, shuffle, application, remote calls, transmit) while a
//! synthetic client on another port of the shm NIC keeps pipelined requests
//! in flight on several connections; the client's own work is not counted.

mod shm_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::netstack_transport::NetstackTransport;
use dataplane::nic::NicQueue;
use dataplane::nic::shm::{PortConfig, ShmGeometry, ShmNic};
use dataplane::platform::CorePlatform;
use dataplane::process::InlineCore;
use dataplane::run::mac_for;
use dataplane::runtime::{CoreConfig, build_cores};
use netstack::{Stack, StackConfig};
use shm_common::{CLIENT_IP, PORT, SERVER_IP, client_config};

/// Counts the allocations (and reallocations) of threads that opted in.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; the
// counter is a plain atomic and the thread-local a const-initialised Cell
// without destructor, so counting neither allocates nor re-enters.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System` with `layout`; the caller's
        // contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const CONNECTIONS: usize = 8;
const DEPTH: u64 = 4;
const WARMUP_REQUESTS: u64 = 4_000;
const MEASURED_REQUESTS: u64 = 20_000;

#[test]
fn a_warmed_up_server_core_serves_requests_without_allocating() {
    let name = format!("alloc-{}", std::process::id());
    let mut server_nic = ShmNic::create(
        &name,
        ShmGeometry::default(),
        PortConfig {
            mac: mac_for(SERVER_IP),
            ipv4: SERVER_IP,
            queues: 1,
        },
    )
    .unwrap();
    let queue: Box<dyn NicQueue> = Box::new(server_nic.take_queues().pop().unwrap());
    let mut stack = Stack::new(StackConfig {
        mac: mac_for(SERVER_IP),
        ipv4: SERVER_IP,
        ..StackConfig::default()
    })
    .unwrap();
    stack.listen(PORT).unwrap();
    let transports = vec![NetstackTransport::new(stack, queue)];
    let mut server = build_cores(transports, Arc::new(Synthetic), CoreConfig::default())
        .pop()
        .unwrap();
    let mut platform = InlineCore::new(1);

    let mut client_queue = shm_common::attach_client(&name, false);
    let mut client =
        SyntheticClient::new(client_config(), SocketAddrV4::new(SERVER_IP, PORT)).unwrap();
    assert_eq!(client_config().ipv4, CLIENT_IP);
    for _ in 0..CONNECTIONS {
        client.open(platform.now_ns()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut run_until = |answered: u64, counting: bool| {
        while client.conns().iter().map(|c| c.answered).sum::<u64>() < answered {
            assert!(Instant::now() < deadline, "requests unanswered");
            for conn in 0..CONNECTIONS {
                let state = &client.conns()[conn];
                if state.connected && state.outstanding() < DEPTH {
                    client.submit(conn, 0, platform.now_ns());
                }
            }
            client.step(platform.now_ns(), &mut client_queue);
            COUNTING.with(|c| c.set(counting));
            server.step(&mut platform);
            COUNTING.with(|c| c.set(false));
        }
    };
    run_until(WARMUP_REQUESTS, false);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run_until(WARMUP_REQUESTS + MEASURED_REQUESTS, true);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    for (i, conn) in client.conns().iter().enumerate() {
        assert_eq!(conn.out_of_order, 0, "connection {i} out of order");
        assert!(!conn.failed, "connection {i} reset");
    }
    // Tables still growing to their working size (the timer wheel's slots
    // first used) allocate a few dozen times; one allocation per request or
    // per segment would count 20,000 or more.
    assert!(
        allocations * 100 < MEASURED_REQUESTS,
        "{allocations} allocations for {MEASURED_REQUESTS} requests in the server core"
    );
    drop(server_nic);
}
