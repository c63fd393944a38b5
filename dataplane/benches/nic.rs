//! NIC layer benchmarks: shm burst transfer through one ring pair between
//! two threads (packets/s), and the RSS Toeplitz hash of an IPv4 4-tuple.
//!
//! Run: `cargo bench -p dataplane --bench nic -- --measurement-time 3`
//!
//! The one-thread send+receive bench is also measured in the thread's CPU
//! time (`cpu/...`), which a machine shared with other busy processes does
//! not inflate: it is the per-packet cost of the code itself.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "../../netstack/benches/thread_cpu_time.rs"]
mod thread_cpu_time;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use dataplane::nic::rss::MICROSOFT;
use dataplane::nic::shm::{PortConfig, ShmGeometry, ShmNic};
use dataplane::nic::{FourTuple, MAX_BURST, NicQueue};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Packet,
    Ipv4Repr,
};
use thread_cpu_time::ThreadCpuTime;

const BURST: u64 = 32;
const FRAME_LEN: usize = 64;
const SENDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x20, 1];
const RECEIVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x20, 2];

fn flow() -> FourTuple {
    FourTuple {
        src_ip: Ipv4Addr::new(10, 1, 0, 1),
        dst_ip: Ipv4Addr::new(10, 1, 0, 2),
        src_port: 40_000,
        dst_port: 11_211,
    }
}

/// A 64-byte Ethernet/IPv4/UDP frame (what the switch classifies per
/// packet: MAC, ethertype, IPv4 header, ports).
fn frame_template() -> [u8; FRAME_LEN] {
    let flow = flow();
    let mut frame = [0u8; FRAME_LEN];
    let mut ethernet = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: EthernetAddress(SENDER_MAC),
        dst_addr: EthernetAddress(RECEIVER_MAC),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut ethernet);
    let ip = Ipv4Repr {
        src_addr: flow.src_ip,
        dst_addr: flow.dst_ip,
        next_header: IpProtocol::Udp,
        payload_len: FRAME_LEN - 14 - 20,
        hop_limit: 64,
    };
    let mut packet = Ipv4Packet::new_unchecked(ethernet.payload_mut());
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    let udp = packet.payload_mut();
    udp[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
    udp[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
    udp[4..6].copy_from_slice(&((FRAME_LEN - 14 - 20) as u16).to_be_bytes());
    frame
}

/// Spins a little, then yields: on a machine with fewer free cores than
/// busy threads, the peer thread must get to run.
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Bursts of 32 × 64-byte frames from one thread to another through one
/// ring pair (one queue per port); a measured iteration is one burst, and
/// the clock stops once the receiver has taken every frame.
fn shm_burst_transfer(c: &mut Criterion) {
    let name = format!("bench-{}", std::process::id());
    let geometry = ShmGeometry {
        max_ports: 2,
        max_queues: 1,
        buffers_per_queue: 512,
    };
    let port = |mac, last| PortConfig {
        mac,
        ipv4: Ipv4Addr::new(10, 1, 0, last),
        queues: 1,
    };
    let mut sender_nic =
        ShmNic::create(&name, geometry, port(SENDER_MAC, 1)).expect("create region");
    let mut receiver_nic = ShmNic::attach(&name, port(RECEIVER_MAC, 2)).expect("attach");
    let mut tx = sender_nic.take_queues().pop().unwrap();
    let mut rx = receiver_nic.take_queues().pop().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let received = Arc::clone(&received);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut idle_polls = 0;
            while !stop.load(Ordering::Relaxed) {
                let burst = rx.rx_burst(MAX_BURST);
                let mut bytes = 0;
                for frame in &burst {
                    bytes += frame.len();
                }
                black_box(bytes);
                let n = burst.len() as u64;
                drop(burst);
                if n > 0 {
                    received.fetch_add(n, Ordering::Release);
                    idle_polls = 0;
                } else {
                    back_off(&mut idle_polls);
                }
            }
        })
    };
    let template = frame_template();
    let mut sent = 0u64;
    let mut group = c.benchmark_group("shm");
    group.throughput(Throughput::Elements(BURST));
    group.bench_function("burst_transfer_32x64B_two_threads", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            let mut full_polls = 0;
            for _ in 0..iterations {
                let mut queued = 0;
                while queued < BURST {
                    if tx.send_frame(FRAME_LEN, &mut |buffer| buffer.copy_from_slice(&template)) {
                        queued += 1;
                        full_polls = 0;
                    } else {
                        tx.flush_tx();
                        back_off(&mut full_polls);
                    }
                }
                tx.flush_tx();
            }
            sent += iterations * BURST;
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut waits = 0;
            while received.load(Ordering::Acquire) < sent {
                assert!(Instant::now() < deadline, "receiver stalled: frames lost?");
                back_off(&mut waits);
            }
            start.elapsed()
        })
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    receiver.join().unwrap();
    assert_eq!(tx.stats().tx_dropped, 0);
}

/// The CPU cost alone: one thread sends a burst of 32 × 64-byte frames
/// through the switch and receives it back on the other port (no
/// cross-core cache traffic, no waiting).
fn shm_burst_one_thread<M: Measurement>(c: &mut Criterion<M>, group_name: &str) {
    let name = format!("bench1-{group_name}-{}", std::process::id());
    let geometry = ShmGeometry {
        max_ports: 2,
        max_queues: 1,
        buffers_per_queue: 512,
    };
    let port = |mac, last| PortConfig {
        mac,
        ipv4: Ipv4Addr::new(10, 1, 0, last),
        queues: 1,
    };
    let mut sender_nic =
        ShmNic::create(&name, geometry, port(SENDER_MAC, 1)).expect("create region");
    let mut receiver_nic = ShmNic::attach(&name, port(RECEIVER_MAC, 2)).expect("attach");
    let mut tx = sender_nic.take_queues().pop().unwrap();
    let mut rx = receiver_nic.take_queues().pop().unwrap();
    let template = frame_template();
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(BURST));
    group.bench_function("burst_send_and_receive_32x64B_one_thread", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                assert!(tx.send_frame(FRAME_LEN, &mut |buffer| buffer.copy_from_slice(&template)));
            }
            tx.flush_tx();
            let burst = rx.rx_burst(MAX_BURST);
            assert_eq!(burst.len() as u64, BURST);
            black_box(burst.iter().map(<[u8]>::len).sum::<usize>())
        })
    });
    group.finish();
}

fn toeplitz_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("rss");
    group.throughput(Throughput::Elements(1));
    let flow = flow();
    group.bench_function("toeplitz_ipv4_4tuple", |b| {
        b.iter(|| MICROSOFT.hash_flow(black_box(&flow)))
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    shm_burst_transfer(&mut criterion);
    shm_burst_one_thread(&mut criterion, "shm");
    toeplitz_hash(&mut criterion);
    criterion.final_summary();
    let mut cpu = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args();
    shm_burst_one_thread(&mut cpu, "cpu");
    cpu.final_summary();
}
