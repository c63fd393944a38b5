//! Link-layer, IPv4, ICMP and UDP behaviour of a stack, driven with frames
//! built by smoltcp's wire module and with a second stack.

use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, Icmpv4Message, Icmpv4Packet, IpProtocol, Ipv4Packet,
};

use crate::frame::{ETH_HEADER, Ipv4Route, L4_OFFSET, write_ipv4_headers};
use crate::{Event, Instant, Stack, StackConfig, StackStats, UdpError, VecSink};

const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

fn stack() -> Stack {
    Stack::new(StackConfig::default()).unwrap()
}

fn peer_route() -> Ipv4Route {
    Ipv4Route {
        src_mac: PEER_MAC,
        dst_mac: StackConfig::default().mac,
        src_ip: PEER_IP,
        dst_ip: StackConfig::default().ipv4,
    }
}

fn echo_request(data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut frame = vec![0xa5; L4_OFFSET + len];
    write_ipv4_headers(&mut frame, &peer_route(), IpProtocol::Icmp, len);
    let mut icmp = Icmpv4Packet::new_unchecked(&mut frame[L4_OFFSET..]);
    icmp.set_msg_type(Icmpv4Message::EchoRequest);
    icmp.set_msg_code(0);
    icmp.set_echo_ident(0x1234);
    icmp.set_echo_seq_no(7);
    icmp.data_mut().copy_from_slice(data);
    icmp.fill_checksum();
    frame
}

fn polled(stack: &mut Stack) -> Vec<Vec<u8>> {
    let mut sink = VecSink::default();
    stack.poll(Instant::ZERO, &mut sink);
    sink.frames
}

#[test]
fn answers_ping_with_same_payload() {
    let mut stack = stack();
    stack.handle_frame(Instant::ZERO, &echo_request(b"hello"));
    let frames = polled(&mut stack);
    assert_eq!(frames.len(), 1);
    let eth = EthernetFrame::new_checked(&frames[0][..]).unwrap();
    assert_eq!(eth.dst_addr(), EthernetAddress(PEER_MAC));
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.dst_addr(), PEER_IP);
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(icmp.msg_type(), Icmpv4Message::EchoReply);
    assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x1234, 7));
    assert_eq!(icmp.data(), b"hello");
    assert_eq!(stack.stats().icmp_echo, 1);
}

#[test]
fn drops_fragments_bad_checksums_and_garbage_with_counts() {
    let mut stack = stack();
    let mut fragment = echo_request(b"x");
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut fragment[ETH_HEADER..]);
        ip.set_more_frags(true);
        ip.fill_checksum();
    }
    stack.handle_frame(Instant::ZERO, &fragment);
    let mut corrupt = echo_request(b"x");
    corrupt[ETH_HEADER + 8] ^= 1; // TTL changed, header checksum now wrong
    stack.handle_frame(Instant::ZERO, &corrupt);
    let mut bad_icmp = echo_request(b"x");
    let last = bad_icmp.len() - 1;
    bad_icmp[last] ^= 0xff;
    stack.handle_frame(Instant::ZERO, &bad_icmp);
    stack.handle_frame(Instant::ZERO, &[0u8; 3]);
    let mut other_mac = echo_request(b"x");
    EthernetFrame::new_unchecked(&mut other_mac[..]).set_dst_addr(EthernetAddress([4; 6]));
    stack.handle_frame(Instant::ZERO, &other_mac);
    assert!(polled(&mut stack).is_empty());
    let stats = stack.stats();
    assert_eq!(
        (
            stats.fragments,
            stats.bad_checksum,
            stats.malformed,
            stats.not_for_us,
            stats.rx_frames
        ),
        (1, 2, 1, 1, 5)
    );
}

/// Two stacks on one wire: frames written by one are handed to the other.
pub(crate) fn exchange(a: &mut Stack, b: &mut Stack, now: Instant) -> usize {
    let mut moved = 0;
    loop {
        let (mut to_b, mut to_a) = (VecSink::default(), VecSink::default());
        a.poll(now, &mut to_b);
        b.poll(now, &mut to_a);
        if to_a.frames.is_empty() && to_b.frames.is_empty() {
            return moved;
        }
        moved += to_a.frames.len() + to_b.frames.len();
        for frame in &to_b.frames {
            b.handle_frame(now, frame);
        }
        for frame in &to_a.frames {
            a.handle_frame(now, frame);
        }
    }
}

fn pair() -> (Stack, Stack) {
    let a = stack();
    let b = Stack::new(StackConfig {
        mac: PEER_MAC,
        ipv4: PEER_IP,
        ..StackConfig::default()
    })
    .unwrap();
    (a, b)
}

#[test]
fn udp_datagrams_flow_after_arp_resolution() {
    let (mut a, mut b) = pair();
    a.bind_udp(5000).unwrap();
    b.bind_udp(6000).unwrap();
    let to_b = SocketAddrV4::new(PEER_IP, 6000);
    a.send_udp(Instant::ZERO, 5000, to_b, b"first").unwrap();
    a.send_udp(Instant::ZERO, 5000, to_b, b"second").unwrap();
    // ARP request, ARP reply, two datagrams.
    assert_eq!(exchange(&mut a, &mut b, Instant::ZERO), 4);
    assert_eq!(b.pop_event(), Some(Event::UdpReadable { port: 6000 }));
    assert_eq!(b.pop_event(), None, "one event per burst");
    let mut buf = [0u8; 64];
    let from = SocketAddrV4::new(StackConfig::default().ipv4, 5000);
    assert_eq!(b.recv_udp(6000, &mut buf).unwrap(), Some((5, from)));
    assert_eq!(&buf[..5], b"first");
    assert_eq!(b.recv_udp(6000, &mut buf).unwrap(), Some((6, from)));
    assert_eq!(b.recv_udp(6000, &mut buf).unwrap(), None);
    // The reply needs no ARP: B learnt A from the request.
    b.send_udp(Instant::ZERO, 6000, from, b"reply").unwrap();
    assert_eq!(exchange(&mut a, &mut b, Instant::ZERO), 1);
    assert_eq!(a.pop_event(), Some(Event::UdpReadable { port: 5000 }));
    assert_eq!(a.stats().arp_rx, 1);
}

#[test]
fn udp_errors_are_reported() {
    let (mut a, mut b) = pair();
    let to = SocketAddrV4::new(PEER_IP, 1);
    assert_eq!(
        a.send_udp(Instant::ZERO, 1, to, b""),
        Err(UdpError::NotBound(1))
    );
    a.bind_udp(1).unwrap();
    let big = vec![0u8; super::MAX_UDP_PAYLOAD + 1];
    assert!(matches!(
        a.send_udp(Instant::ZERO, 1, to, &big),
        Err(UdpError::TooLarge { .. })
    ));
    a.send_udp(Instant::ZERO, 1, to, b"to nobody").unwrap();
    exchange(&mut a, &mut b, Instant::ZERO);
    assert_eq!(b.stats().udp_dropped, 1);
}

#[test]
fn unresolved_frames_are_dropped_after_retries() {
    let mut a = stack();
    a.bind_udp(1).unwrap();
    a.send_udp(Instant::ZERO, 1, SocketAddrV4::new(PEER_IP, 2), b"lost")
        .unwrap();
    let mut requests = 0;
    for second in 0..5 {
        let mut sink = VecSink::default();
        a.poll(Instant::from_millis(second * 1000), &mut sink);
        requests += sink.frames.len();
    }
    assert_eq!(requests, 3, "one ARP request per second until given up");
    assert_eq!(
        a.stats(),
        &StackStats {
            arp_pending_dropped: 1,
            tx_frames: 3,
            ..StackStats::default()
        }
    );
}

#[test]
fn corrupt_tcp_segments_are_dropped_unless_the_device_verified_them() {
    for verify in [true, false] {
        let (mut client, mut server) = pair();
        server.config.verify_rx_checksums = verify;
        server.listen(80).unwrap();
        // Resolve each other first, so the next frame is the SYN itself.
        client.bind_udp(9).unwrap();
        client
            .send_udp(Instant::ZERO, 9, SocketAddrV4::new(PEER_IP, 9), b"hi")
            .unwrap();
        exchange(&mut client, &mut server, Instant::ZERO);
        let before = server.stats().bad_checksum;
        client
            .connect(Instant::ZERO, SocketAddrV4::new(PEER_IP, 80))
            .unwrap();
        let mut syn = polled(&mut client).pop().unwrap();
        syn[L4_OFFSET + 14] ^= 0x40; // the window field; checksum now wrong
        server.handle_frame(Instant::ZERO, &syn);
        let answers = polled(&mut server).len();
        let bad = server.stats().bad_checksum - before;
        let expected = if verify { (1, 0) } else { (0, 1) };
        assert_eq!((bad, answers), expected, "verify_rx_checksums = {verify}");
    }
}
