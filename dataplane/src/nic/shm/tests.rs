use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Packet,
    Ipv4Repr, UdpPacket, UdpRepr,
};

use super::*;
use crate::nic::{FlowSteering, FourTuple, NicQueue, SteeringError, TxError};

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
const MAC_C: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc];
const BROADCAST: [u8; 6] = [0xff; 6];

fn unique_name(test: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("unit-{test}-{}-{n}", std::process::id())
}

fn port(mac: [u8; 6], last_octet: u8, queues: usize) -> PortConfig {
    PortConfig {
        mac,
        ipv4: Ipv4Addr::new(10, 0, 0, last_octet),
        queues,
    }
}

fn small_geometry(buffers: usize) -> ShmGeometry {
    ShmGeometry {
        max_ports: 3,
        max_queues: 4,
        buffers_per_queue: buffers,
    }
}

fn flow(src_port: u16) -> FourTuple {
    FourTuple {
        src_ip: Ipv4Addr::new(10, 0, 0, 10),
        dst_ip: Ipv4Addr::new(10, 0, 0, 11),
        src_port,
        dst_port: 7,
    }
}

/// An Ethernet/IPv4/UDP frame of `flow` carrying `seq` as its payload.
fn udp_frame(src: [u8; 6], dst: [u8; 6], flow: &FourTuple, seq: u64) -> Vec<u8> {
    let payload = seq.to_le_bytes();
    let udp = UdpRepr {
        src_port: flow.src_port,
        dst_port: flow.dst_port,
    };
    let ip = Ipv4Repr {
        src_addr: flow.src_ip,
        dst_addr: flow.dst_ip,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let ethernet = EthernetRepr {
        src_addr: EthernetAddress(src),
        dst_addr: EthernetAddress(dst),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0xa5; ethernet.buffer_len() + ip.buffer_len() + ip.payload_len];
    let mut eth = EthernetFrame::new_unchecked(&mut frame);
    ethernet.emit(&mut eth);
    let mut ip_packet = Ipv4Packet::new_unchecked(eth.payload_mut());
    let checksums = ChecksumCapabilities::default();
    ip.emit(&mut ip_packet, &checksums);
    let mut udp_packet = UdpPacket::new_unchecked(ip_packet.payload_mut());
    udp.emit(
        &mut udp_packet,
        &flow.src_ip.into(),
        &flow.dst_ip.into(),
        payload.len(),
        |buffer| buffer.copy_from_slice(&payload),
        &checksums,
    );
    frame
}

/// A frame that is not IPv4 (an ARP ethertype with a dummy body).
fn arp_like_frame(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let mut frame = vec![0u8; 42];
    let ethernet = EthernetRepr {
        src_addr: EthernetAddress(src),
        dst_addr: EthernetAddress(dst),
        ethertype: EthernetProtocol::Arp,
    };
    ethernet.emit(&mut EthernetFrame::new_unchecked(&mut frame));
    frame
}

fn send(queue: &mut ShmQueue, frame: &[u8]) -> Result<(), TxError> {
    queue.try_send_frame(frame.len(), &mut |buffer| buffer.copy_from_slice(frame))
}

/// The sequence numbers of every frame waiting on `queue`.
fn receive_seqs(queue: &mut ShmQueue) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        let burst = queue.rx_burst(MAX_BURST_FOR_TESTS);
        if burst.is_empty() {
            return seqs;
        }
        for frame in &burst {
            let tail: [u8; 8] = frame[frame.len() - 8..].try_into().unwrap();
            seqs.push(u64::from_le_bytes(tail));
        }
    }
}

const MAX_BURST_FOR_TESTS: usize = crate::nic::MAX_BURST;

fn pair(test: &str, buffers: usize, queues_b: usize) -> (ShmNic, ShmNic) {
    let name = unique_name(test);
    let a = ShmNic::create(&name, small_geometry(buffers), port(MAC_A, 10, 1)).unwrap();
    let b = ShmNic::attach(&name, port(MAC_B, 11, queues_b)).unwrap();
    (a, b)
}

#[test]
fn rings_wrap_around_many_times_in_order() {
    let (mut a, mut b) = pair("wrap", 8, 1);
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    let mut next = 0u64;
    let mut expected = 0u64;
    for round in 0..200 {
        for _ in 0..(round % 8 + 1) {
            send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1000), next)).unwrap();
            next += 1;
        }
        tx.flush_tx();
        for seq in receive_seqs(&mut rx) {
            assert_eq!(seq, expected);
            expected += 1;
        }
    }
    assert_eq!(expected, next);
    assert!(next > 100 * 8, "the 8-slot rings wrapped {next} / 8 times");
    assert_eq!(rx.stats().rx_frames, next);
    assert_eq!(tx.stats().tx_frames, next);
}

#[test]
fn full_queue_reports_back_pressure_and_loses_nothing() {
    let (mut a, mut b) = pair("full", 8, 1);
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    for seq in 0..8 {
        send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1), seq)).unwrap();
    }
    let mut filled = false;
    let refused = tx.try_send_frame(60, &mut |_| filled = true);
    assert_eq!(refused, Err(TxError::Full));
    assert!(!filled, "fill must not run when the queue is full");
    assert!(!tx.send_frame(60, &mut |_| ()));
    assert_eq!(tx.stats().tx_full, 2);
    tx.flush_tx();
    // Still full while the receiver holds the frames.
    {
        let burst = rx.rx_burst(4);
        assert_eq!(burst.len(), 4);
        assert_eq!(
            send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1), 99)),
            Err(TxError::Full)
        );
    }
    // Released: four buffers come back.
    for seq in 8..12 {
        send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1), seq)).unwrap();
    }
    tx.flush_tx();
    assert_eq!(receive_seqs(&mut rx), (4..12).collect::<Vec<_>>());
}

#[test]
fn frames_longer_than_the_maximum_are_refused() {
    let (mut a, _b) = pair("long", 8, 1);
    let mut tx = a.take_queues().pop().unwrap();
    assert_eq!(
        tx.try_send_frame(1515, &mut |_| ()),
        Err(TxError::TooLong {
            len: 1515,
            max: 1514
        })
    );
    assert_eq!(tx.stats().tx_too_long, 1);
}

#[test]
fn override_beats_indirection_which_beats_default() {
    let (mut a, mut b) = pair("steer", 16, 4);
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues();
    let steering = b.steering();
    let f = flow(4242);
    let entry = crate::nic::rss::MICROSOFT.hash_flow(&f) as usize % crate::nic::INDIRECTION_ENTRIES;
    let mut deliver_and_find = |seq: u64, frame: Vec<u8>| {
        send(&mut tx, &frame).unwrap();
        tx.flush_tx();
        let hits: Vec<usize> = rx
            .iter_mut()
            .enumerate()
            .filter_map(|(index, queue)| (receive_seqs(queue) == [seq]).then_some(index))
            .collect();
        assert_eq!(hits.len(), 1, "frame {seq} delivered to {hits:?}");
        hits[0]
    };
    // RSS through the default round-robin indirection table.
    assert_eq!(
        deliver_and_find(0, udp_frame(MAC_A, MAC_B, &f, 0)),
        entry % 4
    );
    steering.set_indirection(entry, 3).unwrap();
    assert_eq!(steering.indirection(entry), Ok(3));
    assert_eq!(deliver_and_find(1, udp_frame(MAC_A, MAC_B, &f, 1)), 3);
    steering.set_override(f, 1).unwrap();
    assert_eq!(steering.override_for(f), Some(1));
    assert_eq!(steering.queue_for(f), 1);
    assert_eq!(deliver_and_find(2, udp_frame(MAC_A, MAC_B, &f, 2)), 1);
    assert!(steering.clear_override(f));
    assert!(!steering.clear_override(f));
    assert_eq!(deliver_and_find(3, udp_frame(MAC_A, MAC_B, &f, 3)), 3);
    // Not IPv4 TCP/UDP: queue 0 whatever the tables say.
    steering.set_indirection(0, 2).unwrap();
    send(&mut tx, &arp_like_frame(MAC_A, MAC_B)).unwrap();
    tx.flush_tx();
    assert_eq!(rx[0].rx_burst(8).len(), 1);
    // Bad steering requests are refused with the reason.
    assert_eq!(
        steering.set_override(f, 4),
        Err(SteeringError::NoSuchQueue {
            queue: 4,
            queues: 4
        })
    );
    assert_eq!(
        steering.set_indirection(128, 0),
        Err(SteeringError::NoSuchEntry { index: 128 })
    );
}

#[test]
fn steering_changes_from_another_attachment_apply() {
    let (a, b) = pair("remote-steer", 8, 2);
    let remote = a.steering_of(b.port_index()).unwrap();
    remote.set_override(flow(5), 1).unwrap();
    assert_eq!(b.steering().override_for(flow(5)), Some(1));
    assert!(matches!(
        a.steering_of(3),
        Err(ShmError::NoSuchPort {
            port: 3,
            max_ports: 3
        })
    ));
}

#[test]
fn override_table_keeps_every_flow_through_inserts_and_removals() {
    let (_a, b) = pair("table", 8, 4);
    let steering = b.steering();
    let flows: Vec<FourTuple> = (0..MAX_OVERRIDES as u16)
        .map(|i| flow(i.wrapping_mul(7919)))
        .collect();
    for (i, f) in flows.iter().enumerate() {
        steering.set_override(*f, i % 4).unwrap();
    }
    assert_eq!(
        steering.set_override(flow(60_001), 0),
        Err(SteeringError::OverridesFull {
            capacity: MAX_OVERRIDES
        })
    );
    for (i, f) in flows.iter().enumerate() {
        if i % 3 == 0 {
            assert!(steering.clear_override(*f));
        }
    }
    for (i, f) in flows.iter().enumerate() {
        let expected = (i % 3 != 0).then_some(i % 4);
        assert_eq!(steering.override_for(*f), expected, "flow {i}");
    }
    // Updating an existing flow does not take a new slot.
    steering.set_override(flows[1], 3).unwrap();
    assert_eq!(steering.override_for(flows[1]), Some(3));
}

#[test]
fn broadcast_reaches_every_other_port_once() {
    let name = unique_name("broadcast");
    let mut a = ShmNic::create(&name, small_geometry(8), port(MAC_A, 10, 1)).unwrap();
    let mut b = ShmNic::attach(&name, port(MAC_B, 11, 2)).unwrap();
    let mut c = ShmNic::attach(&name, port(MAC_C, 12, 1)).unwrap();
    let mut qa = a.take_queues().pop().unwrap();
    let mut qb = b.take_queues();
    let mut qc = c.take_queues().pop().unwrap();
    send(&mut qa, &arp_like_frame(MAC_A, BROADCAST)).unwrap();
    qa.flush_tx();
    assert_eq!(qa.free_tx_buffers(), 7, "one buffer shared by both copies");
    assert_eq!(qb[0].rx_burst(8).len(), 1);
    assert_eq!(qb[1].rx_burst(8).len(), 0);
    assert_eq!(qa.free_tx_buffers(), 7, "still held by port C");
    assert_eq!(qc.rx_burst(8).len(), 1);
    assert_eq!(qa.free_tx_buffers(), 8);
    // The sender does not hear its own broadcast.
    assert!(qa.rx_burst(8).is_empty());
    // Unknown unicast MACs and runts are dropped and counted.
    send(&mut qa, &arp_like_frame(MAC_A, [0x02, 9, 9, 9, 9, 9])).unwrap();
    send(&mut qa, &[0u8; 10]).unwrap();
    assert_eq!(qa.stats().tx_dropped, 2);
    assert_eq!(qa.free_tx_buffers(), 8);
}

#[test]
fn probe_sees_waiting_frames_without_consuming_them() {
    let (mut a, mut b) = pair("probe", 8, 1);
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    let probe = rx.rx_probe();
    assert!(!probe.has_pending());
    send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1), 0)).unwrap();
    assert!(!probe.has_pending(), "unpublished frames are not visible");
    tx.flush_tx();
    assert!(probe.has_pending());
    assert!(probe.has_pending(), "probing consumes nothing");
    assert_eq!(receive_seqs(&mut rx), [0]);
    assert!(!probe.has_pending());
    assert_eq!(probe.queue_index(), 0);
}

#[test]
fn attach_errors_say_what_is_wrong() {
    let name = unique_name("errors");
    assert!(matches!(
        ShmNic::attach(&name, port(MAC_B, 11, 1)),
        Err(ShmError::NotFound(_))
    ));
    let _a = ShmNic::create(&name, small_geometry(8), port(MAC_A, 10, 1)).unwrap();
    assert!(matches!(
        ShmNic::create(&name, small_geometry(8), port(MAC_A, 10, 1)),
        Err(ShmError::Exists(_))
    ));
    assert!(matches!(
        ShmNic::attach(&name, port(MAC_A, 11, 1)),
        Err(ShmError::MacInUse(MAC_A))
    ));
    assert!(matches!(
        ShmNic::attach(&name, port(BROADCAST, 11, 1)),
        Err(ShmError::GroupMac(_))
    ));
    assert!(matches!(
        ShmNic::attach(&name, port(MAC_B, 11, 5)),
        Err(ShmError::BadQueueCount {
            requested: 5,
            max: 4
        })
    ));
    let _b = ShmNic::attach(&name, port(MAC_B, 11, 1)).unwrap();
    let c = ShmNic::attach(&name, port(MAC_C, 12, 1)).unwrap();
    assert!(matches!(
        ShmNic::attach(&name, port([2, 0, 0, 0, 0, 0xd], 13, 1)),
        Err(ShmError::NoFreePort { max_ports: 3 })
    ));
    assert_eq!(c.ports().len(), 3);
    drop(c);
    assert_eq!(_b.ports().len(), 2, "a dropped attachment frees its port");
    assert!(matches!(
        ShmNic::attach("a/b", port(MAC_C, 12, 1)),
        Err(ShmError::BadName(_))
    ));
    assert!(matches!(
        ShmNic::create(
            &unique_name("geometry"),
            small_geometry(6),
            port(MAC_A, 10, 1)
        ),
        Err(ShmError::BadGeometry(_))
    ));
}

#[test]
fn the_creator_removes_the_region_file_when_done() {
    let name = unique_name("unlink");
    let nic = ShmNic::create(&name, small_geometry(8), port(MAC_A, 10, 1)).unwrap();
    assert!(ShmNic::region_path(&name).exists());
    drop(nic);
    assert!(!ShmNic::region_path(&name).exists());
}

#[test]
fn a_port_slot_reused_after_detach_honours_frames_still_in_flight() {
    let name = unique_name("reuse");
    // C attaches through D's mapping (the creator's) after A and B left.
    let mut d = ShmNic::create(
        &name,
        small_geometry(8),
        port([0x02, 0, 0, 0, 0, 0xd], 13, 1),
    )
    .unwrap();
    let mut a = ShmNic::attach(&name, port(MAC_A, 10, 1)).unwrap();
    let mut b = ShmNic::attach(&name, port(MAC_B, 11, 1)).unwrap();
    let mut qa = a.take_queues().pop().unwrap();
    let mut qb = b.take_queues().pop().unwrap();
    // A leaves with five frames to B unread.
    for seq in 0..5 {
        send(&mut qa, &udp_frame(MAC_A, MAC_B, &flow(1), seq)).unwrap();
    }
    drop(qa);
    let a_port = a.port_index();
    drop(a);
    // C takes A's slot: the five buffers stay reserved until B reads them.
    let mut c = ShmNic::attach(&name, port(MAC_C, 12, 1)).unwrap();
    assert_eq!(c.port_index(), a_port);
    let mut qc = c.take_queues().pop().unwrap();
    assert_eq!(qc.free_tx_buffers(), 3);
    for seq in 5..8 {
        send(&mut qc, &udp_frame(MAC_C, MAC_B, &flow(1), seq)).unwrap();
    }
    qc.flush_tx();
    assert_eq!(
        receive_seqs(&mut qb),
        (0..8).collect::<Vec<_>>(),
        "A's frames intact, then C's"
    );
    assert_eq!(qc.free_tx_buffers(), 8);
    // B leaves with frames from C unread: C gets its buffers back, and the
    // next owner of B's slot does not see them.
    for seq in 8..12 {
        send(&mut qc, &udp_frame(MAC_C, MAC_B, &flow(1), seq)).unwrap();
    }
    qc.flush_tx();
    drop(qb);
    drop(b);
    assert_eq!(qc.free_tx_buffers(), 8);
    let mut e = ShmNic::attach(&name, port([0x02, 0, 0, 0, 0, 0xe], 14, 1)).unwrap();
    assert!(e.take_queues().pop().unwrap().rx_burst(8).is_empty());
    assert!(d.take_queues().pop().unwrap().rx_burst(8).is_empty());
}

#[test]
fn steering_changes_under_traffic_lose_and_duplicate_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    const FRAMES: u64 = 200_000;
    const FLOWS: u16 = 8;
    let (mut a, mut b) = pair("live-steer", 64, 2);
    let mut tx = a.take_queues().pop().unwrap();
    let receivers = b.take_queues();
    let steering = b.steering();
    let done = Arc::new(AtomicBool::new(false));
    // Receivers: per flow, sequences must increase within a queue; the
    // union over both queues must be every sequence exactly once.
    let handles: Vec<_> = receivers
        .into_iter()
        .map(|mut queue| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut seen: Vec<Vec<u64>> = vec![Vec::new(); usize::from(FLOWS)];
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let burst = queue.rx_burst(MAX_BURST_FOR_TESTS);
                    if burst.is_empty() && finished {
                        return seen;
                    }
                    for frame in &burst {
                        let seq = u64::from_le_bytes(frame[frame.len() - 8..].try_into().unwrap());
                        let port = u16::from_be_bytes([frame[34], frame[35]]);
                        let per_flow = &mut seen[usize::from(port % FLOWS)];
                        assert!(
                            per_flow.last().is_none_or(|&last| last < seq),
                            "reordered in a queue"
                        );
                        per_flow.push(seq);
                    }
                    if burst.is_empty() {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let changer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !done.load(Ordering::Acquire) {
                let f = flow(round as u16 % FLOWS);
                if round.is_multiple_of(3) {
                    steering.clear_override(f);
                } else {
                    steering.set_override(f, round % 2).unwrap();
                }
                steering
                    .set_indirection(round % 128, (round / 7) % 2)
                    .unwrap();
                round += 1;
                std::thread::yield_now();
            }
            round
        })
    };
    let templates: Vec<Vec<u8>> = (0..FLOWS)
        .map(|i| udp_frame(MAC_A, MAC_B, &flow(i), 0))
        .collect();
    for seq in 0..FRAMES {
        let template = &templates[(seq % u64::from(FLOWS)) as usize];
        while !tx.send_frame(template.len(), &mut |buffer| {
            buffer.copy_from_slice(template);
            let len = buffer.len();
            buffer[len - 8..].copy_from_slice(&seq.to_le_bytes());
        }) {
            tx.flush_tx();
            std::thread::yield_now();
        }
    }
    tx.flush_tx();
    while tx.free_tx_buffers() < 64 {
        std::thread::yield_now();
    }
    done.store(true, Ordering::Release);
    let rounds = changer.join().unwrap();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|handle| handle.join().unwrap().into_iter().flatten())
        .collect();
    all.sort_unstable();
    assert_eq!(all.len() as u64, FRAMES, "after {rounds} steering changes");
    assert!(
        all.iter().copied().eq(0..FRAMES),
        "every frame exactly once"
    );
}

#[test]
fn a_region_can_be_attached_through_a_descriptor() {
    let name = unique_name("fd");
    let mut a = ShmNic::create(&name, small_geometry(8), port(MAC_A, 10, 1)).unwrap();
    let file = a.region_file().unwrap();
    let mut b = ShmNic::attach_file(file, port(MAC_B, 11, 1)).unwrap();
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(9), 42)).unwrap();
    tx.flush_tx();
    assert_eq!(receive_seqs(&mut rx), [42]);
    // Other files are refused with the reason.
    let junk_path = ShmNic::region_path(&unique_name("junk"));
    let open_junk = |contents: &[u8]| {
        std::fs::write(&junk_path, contents).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&junk_path);
        ShmNic::attach_file(file.unwrap(), port(MAC_C, 12, 1))
    };
    assert!(matches!(
        open_junk(&[0x5a; 8192]),
        Err(ShmError::NotAZygosNic(_))
    ));
    assert!(matches!(open_junk(&[]), Err(ShmError::NotReady(_))));
    std::fs::remove_file(&junk_path).unwrap();
}

#[test]
fn ring_indices_wrap_past_u32_max_with_frames_in_flight() {
    let name = unique_name("u32-wrap");
    let creator = ShmNic::create(&name, small_geometry(8), port(MAC_C, 12, 1)).unwrap();
    let mapping = &creator.lease.mapping;
    // The rings between the next two ports start 3 short of the wrap.
    for (from, to) in [(1, 2), (2, 1)] {
        let (header, _) = mapping.ring(mapping.layout.ring_index(from, 0, to, 0));
        header.tail.store(u32::MAX - 2, Ordering::Relaxed);
        header.head.store(u32::MAX - 2, Ordering::Relaxed);
    }
    let (mut a, mut b) = (
        ShmNic::attach(&name, port(MAC_A, 10, 1)).unwrap(),
        ShmNic::attach(&name, port(MAC_B, 11, 1)).unwrap(),
    );
    assert_eq!((a.port_index(), b.port_index()), (1, 2));
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    for seq in 0..6 {
        send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(2), seq)).unwrap();
    }
    tx.flush_tx();
    // A leaves with the six frames in flight across the wrap; its successor
    // must keep their buffers reserved.
    drop(tx);
    drop(a);
    let mut successor = ShmNic::attach(&name, port([0x02, 0, 0, 0, 0, 0xf], 15, 1)).unwrap();
    assert_eq!(successor.port_index(), 1);
    let mut tx = successor.take_queues().pop().unwrap();
    assert_eq!(tx.free_tx_buffers(), 2);
    assert_eq!(receive_seqs(&mut rx), (0..6).collect::<Vec<_>>());
    assert_eq!(tx.free_tx_buffers(), 8);
    let (header, _) = mapping.ring(mapping.layout.ring_index(1, 0, 2, 0));
    assert_eq!(
        header.head.load(Ordering::Relaxed),
        3,
        "the indices wrapped"
    );
}

#[test]
fn a_sender_interrupts_the_receiver_parked_on_the_queue() {
    use crate::process::signal::{HeldIpi, SignalTarget};
    use std::time::{Duration, Instant};

    let (mut a, mut b) = pair("park", 8, 1);
    let mut tx = a.take_queues().pop().unwrap();
    let mut rx = b.take_queues().pop().unwrap();
    let parked = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let receiver = scope.spawn(|| {
            let me = SignalTarget::register().unwrap();
            let held = HeldIpi::hold();
            rx.announce_sleeper(Some(me.sleeper()));
            assert!(receive_seqs(&mut rx).is_empty());
            parked.wait();
            let start = Instant::now();
            held.wait(None, Duration::from_secs(30));
            let waited = start.elapsed();
            drop(held);
            (waited, me.take(), receive_seqs(&mut rx))
        });
        parked.wait();
        // Let the receiver block (it would also see the signal if not yet).
        std::thread::sleep(Duration::from_millis(50));
        send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1000), 7)).unwrap();
        send(&mut tx, &udp_frame(MAC_A, MAC_B, &flow(1000), 8)).unwrap();
        tx.flush_tx();
        let (waited, signals, seqs) = receiver.join().unwrap();
        assert!(waited < Duration::from_secs(20), "never woken: {waited:?}");
        // Other tests of this process interrupt their own threads; a
        // late one may reach a reused thread id, so at least one.
        assert!(signals >= 1, "the wake-up did not come from the signal");
        assert_eq!(seqs, [7, 8]);
    });
}
