//! Building outgoing frames: Ethernet + IPv4 headers around a transport
//! payload, and the bounded queue of stack-generated frames (ARP and ICMP
//! replies, UDP datagrams, RSTs) that `poll` flushes into the sink.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};

use crate::checksum::Sum;
use crate::sink::FrameSink;

/// Ethernet header length (no VLAN tag).
pub(crate) const ETH_HEADER: usize = 14;
/// IPv4 header length as we emit it (no options).
pub(crate) const IPV4_HEADER: usize = 20;
/// Offset of the transport header in the frames we emit.
pub(crate) const L4_OFFSET: usize = ETH_HEADER + IPV4_HEADER;
/// Largest IPv4 packet in one standard Ethernet frame.
pub(crate) const IP_MTU: usize = 1500;
/// Default hop limit of our packets.
const TTL: u8 = 64;

/// Addresses of one outgoing IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ipv4Route {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
}

/// Writes the Ethernet and IPv4 headers for a transport payload of
/// `l4_len` bytes into `frame[..L4_OFFSET]` (RFC 791 section 3.1; DF set,
/// since we never fragment).
pub(crate) fn write_ipv4_headers(
    frame: &mut [u8],
    route: &Ipv4Route,
    protocol: IpProtocol,
    l4_len: usize,
) {
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_dst_addr(EthernetAddress(route.dst_mac));
    eth.set_src_addr(EthernetAddress(route.src_mac));
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let mut ip = Ipv4Packet::new_unchecked(&mut frame[ETH_HEADER..]);
    ip.set_version(4);
    ip.set_header_len(IPV4_HEADER as u8);
    ip.set_dscp(0);
    ip.set_ecn(0);
    ip.set_total_len((IPV4_HEADER + l4_len) as u16);
    ip.set_ident(0);
    ip.clear_flags();
    ip.set_dont_frag(true);
    ip.set_frag_offset(0);
    ip.set_hop_limit(TTL);
    ip.set_next_header(protocol);
    ip.set_src_addr(route.src_ip);
    ip.set_dst_addr(route.dst_ip);
    ip.set_checksum(0);
    let checksum = Sum::of(&frame[ETH_HEADER..L4_OFFSET]).checksum();
    Ipv4Packet::new_unchecked(&mut frame[ETH_HEADER..]).set_checksum(checksum);
}

/// The checksum of the transport segment `frame[L4_OFFSET..]` (its own
/// checksum field zeroed) under `route`'s pseudo header.
fn transport_checksum(frame: &[u8], route: &Ipv4Route, protocol: IpProtocol) -> u16 {
    let segment = &frame[L4_OFFSET..];
    Sum::pseudo_header(route.src_ip, route.dst_ip, protocol.into(), segment.len())
        .plus(Sum::of(segment))
        .checksum()
}

/// Fills the TCP checksum of a frame built with [`write_ipv4_headers`].
pub(crate) fn fill_tcp_checksum(frame: &mut [u8], route: &Ipv4Route) {
    TcpPacket::new_unchecked(&mut frame[L4_OFFSET..]).set_checksum(0);
    let checksum = transport_checksum(frame, route, IpProtocol::Tcp);
    TcpPacket::new_unchecked(&mut frame[L4_OFFSET..]).set_checksum(checksum);
}

/// Fills the UDP checksum of a frame built with [`write_ipv4_headers`].
pub(crate) fn fill_udp_checksum(frame: &mut [u8], route: &Ipv4Route) {
    UdpPacket::new_unchecked(&mut frame[L4_OFFSET..]).set_checksum(0);
    // RFC 768: a computed zero is sent as all ones (zero means "none").
    let checksum = match transport_checksum(frame, route, IpProtocol::Udp) {
        0 => 0xffff,
        sum => sum,
    };
    UdpPacket::new_unchecked(&mut frame[L4_OFFSET..]).set_checksum(checksum);
}

/// Whether a received transport segment's checksum is right.
pub(crate) fn transport_verifies(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    segment: &[u8],
) -> bool {
    Sum::pseudo_header(src, dst, protocol.into(), segment.len())
        .plus(Sum::of(segment))
        .verifies()
}

/// A bounded FIFO of complete frames whose buffers are recycled, so a
/// steady stream of replies allocates nothing.
#[derive(Debug)]
pub(crate) struct FrameQueue {
    frames: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    limit: usize,
}

impl FrameQueue {
    pub(crate) fn new(limit: usize) -> FrameQueue {
        FrameQueue {
            frames: VecDeque::with_capacity(limit),
            free: Vec::new(),
            limit,
        }
    }

    /// A cleared buffer from the pool.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// Returns a buffer to the pool.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.free.len() < self.limit {
            self.free.push(buf);
        }
    }

    /// Whether another frame fits.
    pub(crate) fn has_room(&self) -> bool {
        self.frames.len() < self.limit
    }

    /// Queues a finished frame; false (and the buffer recycled) when full.
    pub(crate) fn push(&mut self, frame: Vec<u8>) -> bool {
        if self.has_room() {
            self.frames.push_back(frame);
            true
        } else {
            self.recycle(frame);
            false
        }
    }

    /// Builds a frame of `len` bytes with `fill` and queues it; false when full.
    pub(crate) fn push_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        if !self.has_room() {
            return false;
        }
        let mut buf = self.buffer();
        buf.resize(len, 0);
        fill(&mut buf);
        self.push(buf)
    }

    /// Writes queued frames into `sink` until it refuses one; returns how
    /// many were written.
    pub(crate) fn flush(&mut self, sink: &mut impl FrameSink) -> u64 {
        let mut sent = 0;
        while let Some(frame) = self.frames.front() {
            if !sink.send_frame(frame.len(), &mut |out| out.copy_from_slice(frame)) {
                break;
            }
            sent += 1;
            if let Some(frame) = self.frames.pop_front() {
                self.recycle(frame);
            }
        }
        sent
    }
}
