//! Two processes exchange 1,000,000 frames over the shm NIC, and every
//! frame arrives exactly once and in order per (sending queue, flow).
//!
//! The test binary re-executes itself: the parent creates the region and
//! runs one role; the child (selected by an environment variable) attaches
//! by name and runs the other. Each process drives both of its queues from
//! two threads that send and receive in turn; flows are spread over the
//! receiver's queues by RSS, plus one exact-match override.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dataplane::nic::shm::{PortConfig, ShmError, ShmGeometry, ShmNic, ShmQueue};
use dataplane::nic::{FlowSteering, FourTuple, MAX_BURST, NicQueue};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Packet,
    Ipv4Repr, UdpRepr,
};

const CHILD_ENV: &str = "ZYGOS_NIC_MP_CHILD_REGION";
const TEST_NAME: &str = "two_processes_exchange_a_million_frames_in_order";
const TOTAL_FRAMES: u64 = 1_000_000;
const QUEUES: usize = 2;
const FLOWS: usize = 16;
const PER_QUEUE: u64 = TOTAL_FRAMES / 2 / QUEUES as u64;
const FRAME_LEN: usize = 64;
const DEADLINE: Duration = Duration::from_secs(60);

/// Payload: sending queue (1 byte), flow (1 byte), sequence within that
/// (queue, flow) pair (8 bytes).
const PAYLOAD_LEN: usize = 10;
const HEADERS_LEN: usize = 14 + 20 + 8;

struct Side {
    mac: [u8; 6],
    ip: Ipv4Addr,
}

const PARENT: Side = Side {
    mac: [0x02, 0, 0, 0, 0x10, 1],
    ip: Ipv4Addr::new(10, 9, 0, 1),
};
const CHILD: Side = Side {
    mac: [0x02, 0, 0, 0, 0x10, 2],
    ip: Ipv4Addr::new(10, 9, 0, 2),
};

fn flow(from: &Side, to: &Side, index: usize) -> FourTuple {
    FourTuple {
        src_ip: from.ip,
        dst_ip: to.ip,
        src_port: 20_000 + index as u16 * 7,
        dst_port: 9,
    }
}

/// A 64-byte Ethernet/IPv4/UDP frame of `flow` with a zeroed payload.
fn template(from: &Side, to: &Side, flow: &FourTuple) -> [u8; FRAME_LEN] {
    let udp = UdpRepr {
        src_port: flow.src_port,
        dst_port: flow.dst_port,
    };
    let ip = Ipv4Repr {
        src_addr: flow.src_ip,
        dst_addr: flow.dst_ip,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + PAYLOAD_LEN,
        hop_limit: 64,
    };
    let mut frame = [0u8; FRAME_LEN];
    let mut ethernet = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: EthernetAddress(from.mac),
        dst_addr: EthernetAddress(to.mac),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut ethernet);
    let mut packet = Ipv4Packet::new_unchecked(ethernet.payload_mut());
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    let datagram = packet.payload_mut();
    datagram[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
    datagram[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
    datagram[4..6].copy_from_slice(&((8 + PAYLOAD_LEN) as u16).to_be_bytes());
    frame
}

/// What one queue thread saw.
#[derive(Debug, Default)]
struct Report {
    sent: u64,
    received: u64,
    full_retries: u64,
    /// Bit `i` set when flow `i` arrived on this queue.
    flows_seen: u32,
}

/// Sends PER_QUEUE frames on `queue` round-robin over the flows while
/// receiving; checks every received frame's sequence; returns when this
/// process has received all the peer sent.
fn run_queue(
    mut queue: ShmQueue,
    from: &Side,
    to: &Side,
    received_total: &AtomicU64,
) -> Result<Report, String> {
    let templates: Vec<[u8; FRAME_LEN]> = (0..FLOWS)
        .map(|index| template(from, to, &flow(from, to, index)))
        .collect();
    let me = queue.queue_index() as u8;
    let mut next_seq = [0u64; FLOWS];
    let mut expected: HashMap<(u8, u8), u64> = HashMap::new();
    let mut report = Report::default();
    let start = Instant::now();
    while report.sent < PER_QUEUE || received_total.load(Ordering::Relaxed) < TOTAL_FRAMES / 2 {
        if start.elapsed() > DEADLINE {
            return Err(format!("queue {me}: deadline passed: {report:?}"));
        }
        let mut progressed = false;
        for _ in 0..32 {
            if report.sent == PER_QUEUE {
                break;
            }
            let flow_index = (report.sent % FLOWS as u64) as usize;
            let seq = next_seq[flow_index];
            let sent = queue.send_frame(FRAME_LEN, &mut |buffer| {
                buffer.copy_from_slice(&templates[flow_index]);
                let payload = &mut buffer[HEADERS_LEN..HEADERS_LEN + PAYLOAD_LEN];
                payload[0] = me;
                payload[1] = flow_index as u8;
                payload[2..].copy_from_slice(&seq.to_le_bytes());
            });
            if !sent {
                report.full_retries += 1;
                break;
            }
            next_seq[flow_index] += 1;
            report.sent += 1;
            progressed = true;
        }
        queue.flush_tx();
        let burst = queue.rx_burst(MAX_BURST);
        for frame in &burst {
            if frame.len() != FRAME_LEN {
                return Err(format!("queue {me}: frame of {} bytes", frame.len()));
            }
            let payload = &frame[HEADERS_LEN..HEADERS_LEN + PAYLOAD_LEN];
            let key = (payload[0], payload[1]);
            let seq = u64::from_le_bytes(payload[2..].try_into().unwrap());
            let want = expected.entry(key).or_insert(0);
            if seq != *want {
                return Err(format!(
                    "queue {me}: from queue {} flow {}: got seq {seq}, expected {want} (lost, duplicated or reordered)",
                    key.0, key.1
                ));
            }
            *want += 1;
            report.flows_seen |= 1 << key.1;
        }
        let got = burst.len() as u64;
        drop(burst);
        report.received += got;
        received_total.fetch_add(got, Ordering::Relaxed);
        if !progressed && got == 0 {
            std::thread::yield_now();
        }
    }
    if !queue.rx_burst(MAX_BURST).is_empty() {
        return Err(format!(
            "queue {me}: a frame beyond all the peer sent (duplicate)"
        ));
    }
    let stats = queue.stats();
    if stats.tx_frames != PER_QUEUE || stats.tx_dropped != 0 || stats.rx_dropped != 0 {
        return Err(format!("queue {me}: unexpected stats {stats:?}"));
    }
    Ok(report)
}

/// Runs one side: both queues in two threads; checks the totals and
/// returns the per-queue reports.
fn run_side(mut nic: ShmNic, from: &'static Side, to: &'static Side) -> Vec<Report> {
    let received_total = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = nic
        .take_queues()
        .into_iter()
        .map(|queue| {
            let received_total = Arc::clone(&received_total);
            std::thread::spawn(move || run_queue(queue, from, to, &received_total))
        })
        .collect();
    let reports: Vec<Report> = threads
        .into_iter()
        .map(|thread| thread.join().expect("queue thread panicked").unwrap())
        .collect();
    let received: u64 = reports.iter().map(|r| r.received).sum();
    let sent: u64 = reports.iter().map(|r| r.sent).sum();
    assert_eq!(sent, TOTAL_FRAMES / 2);
    assert_eq!(
        received,
        TOTAL_FRAMES / 2,
        "every frame of the peer arrived once"
    );
    assert!(
        reports.iter().all(|r| r.received > 0),
        "RSS spread the flows over both queues: {reports:?}"
    );
    println!("side {:?}: {reports:?}", from.ip);
    reports
}

fn attach_with_retry(region: &str) -> ShmNic {
    let config = PortConfig {
        mac: CHILD.mac,
        ipv4: CHILD.ip,
        queues: QUEUES,
    };
    let start = Instant::now();
    loop {
        match ShmNic::attach(region, config) {
            Ok(nic) => return nic,
            Err(ShmError::NotFound(_) | ShmError::NotReady(_)) if start.elapsed() < DEADLINE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => panic!("child cannot attach: {error}"),
        }
    }
}

#[test]
fn two_processes_exchange_a_million_frames_in_order() {
    if let Ok(region) = std::env::var(CHILD_ENV) {
        run_side(attach_with_retry(&region), &CHILD, &PARENT);
        return;
    }
    let region = format!("mp-test-{}", std::process::id());
    let geometry = ShmGeometry {
        max_ports: 2,
        max_queues: QUEUES,
        buffers_per_queue: 256,
    };
    let nic = ShmNic::create(
        &region,
        geometry,
        PortConfig {
            mac: PARENT.mac,
            ipv4: PARENT.ip,
            queues: QUEUES,
        },
    )
    .expect("create the shm region");
    // One flow of the child is pinned by an override on our port; the rest
    // go by RSS.
    const PINNED: usize = 3;
    let pinned = flow(&CHILD, &PARENT, PINNED);
    let other = 1 - nic.steering().queue_for(pinned);
    nic.steering().set_override(pinned, other).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &region)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child process");
    let start = Instant::now();
    while nic.ports().len() < 2 {
        if start.elapsed() > DEADLINE || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "the child never attached: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    let reports = run_side(nic, &PARENT, &CHILD);
    assert_ne!(
        reports[other].flows_seen & 1 << PINNED,
        0,
        "pinned flow on its queue"
    );
    assert_eq!(
        reports[1 - other].flows_seen & 1 << PINNED,
        0,
        "and only there"
    );
    let output = child.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "{TOTAL_FRAMES} frames across two processes in {elapsed:?} ({:.2} M frames/s)",
        TOTAL_FRAMES as f64 / elapsed.as_secs_f64() / 1e6
    );
    assert!(!ShmNic::region_path(&region).exists(), "region removed");
}
