//! What the switch needs to know about a frame: its destination MAC and,
//! for IPv4 TCP/UDP, its 4-tuple (the RSS and steering key).

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};

use crate::nic::FourTuple;

/// The switching decision inputs of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameClass {
    /// Destination MAC in the low 48 bits (see [`mac_to_u64`]).
    pub dst_mac: u64,
    /// Whether the destination is a group (broadcast/multicast) address.
    pub to_all: bool,
    /// The 4-tuple of an unfragmented IPv4 TCP or UDP frame.
    pub flow: Option<FourTuple>,
}

/// A MAC address as the low 48 bits of a `u64`, first byte most significant.
pub(super) fn mac_to_u64(mac: [u8; 6]) -> u64 {
    mac.iter()
        .fold(0, |value, &byte| value << 8 | u64::from(byte))
}

/// The MAC address stored by [`mac_to_u64`].
pub(super) fn mac_from_u64(value: u64) -> [u8; 6] {
    let bytes = value.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// Classifies a frame; `None` when it is shorter than an Ethernet header.
pub(super) fn classify(frame: &[u8]) -> Option<FrameClass> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    let dst = ethernet.dst_addr();
    let flow = match ethernet.ethertype() {
        EthernetProtocol::Ipv4 => ipv4_flow(ethernet.payload()),
        _ => None,
    };
    Some(FrameClass {
        dst_mac: mac_to_u64(dst.0),
        to_all: !dst.is_unicast(),
        flow,
    })
}

/// The 4-tuple of an IPv4 TCP/UDP packet. Fragments have no ports in all
/// but the first piece, so every fragment gets none (RSS specification:
/// fragmented packets are hashed as if they carried no transport header;
/// we send them to queue 0 instead).
fn ipv4_flow(packet: &[u8]) -> Option<FourTuple> {
    let ip = Ipv4Packet::new_checked(packet).ok()?;
    if ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    let (src_port, dst_port) = match ip.next_header() {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            (tcp.src_port(), tcp.dst_port())
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(ip.payload()).ok()?;
            (udp.src_port(), udp.dst_port())
        }
        _ => return None,
    };
    Some(FourTuple {
        src_ip: ip.src_addr(),
        dst_ip: ip.dst_addr(),
        src_port,
        dst_port,
    })
}
