//! What the switch needs to know about a frame: its destination MAC and,
//! for IPv4 TCP/UDP, its 4-tuple (the RSS and steering key).

use std::net::Ipv4Addr;

use crate::nic::FourTuple;

/// Header fields the switch reads (byte ranges within each header).
mod field {
    use std::ops::Range;

    /// Ethernet II (IEEE 802.3 clause 3.1.1): destination, then source MAC.
    pub const ETH_DST: Range<usize> = 0..6;
    pub const ETH_TYPE: Range<usize> = 12..14;
    pub const ETH_HEADER_LEN: usize = 14;
    pub const ETHERTYPE_IPV4: u16 = 0x0800;

    /// IPv4 (RFC 791 section 3.1).
    pub const IP_VERSION_IHL: usize = 0;
    pub const IP_TOTAL_LEN: Range<usize> = 2..4;
    pub const IP_FLAGS_FRAGMENT: Range<usize> = 6..8;
    pub const IP_PROTOCOL: usize = 9;
    pub const IP_SRC: Range<usize> = 12..16;
    pub const IP_DST: Range<usize> = 16..20;
    pub const IP_MIN_HEADER_LEN: usize = 20;
    /// More-fragments flag and fragment offset (the low 14 bits).
    pub const IP_MORE_FRAGMENTS_OR_OFFSET: u16 = 0x3fff;
    pub const PROTOCOL_TCP: u8 = 6;
    pub const PROTOCOL_UDP: u8 = 17;

    /// TCP (RFC 9293 section 3.1) and UDP (RFC 768) both start with the
    /// source and destination ports.
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
}

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
    let dst: [u8; 6] = frame.get(field::ETH_DST)?.try_into().ok()?;
    let ethertype = u16::from_be_bytes(frame.get(field::ETH_TYPE)?.try_into().ok()?);
    let flow = match ethertype {
        field::ETHERTYPE_IPV4 => ipv4_flow(&frame[field::ETH_HEADER_LEN..]),
        _ => None,
    };
    Some(FrameClass {
        dst_mac: mac_to_u64(dst),
        to_all: dst[0] & 1 == 1,
        flow,
    })
}

fn be16(bytes: &[u8], range: std::ops::Range<usize>) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(range)?.try_into().ok()?))
}

fn address(bytes: &[u8], range: std::ops::Range<usize>) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = bytes.get(range)?.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// The 4-tuple of an IPv4 TCP/UDP packet. Fragments have no ports in all
/// but the first piece, so every fragment gets none (RSS specification:
/// fragmented packets are hashed as if they carried no transport header;
/// we send them to queue 0 instead). Malformed headers get none too.
fn ipv4_flow(packet: &[u8]) -> Option<FourTuple> {
    let version_ihl = *packet.get(field::IP_VERSION_IHL)?;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    let total_len = usize::from(be16(packet, field::IP_TOTAL_LEN)?);
    if version_ihl >> 4 != 4
        || header_len < field::IP_MIN_HEADER_LEN
        || total_len < header_len
        || total_len > packet.len()
    {
        return None;
    }
    if be16(packet, field::IP_FLAGS_FRAGMENT)? & field::IP_MORE_FRAGMENTS_OR_OFFSET != 0 {
        return None;
    }
    if !matches!(
        packet[field::IP_PROTOCOL],
        field::PROTOCOL_TCP | field::PROTOCOL_UDP
    ) {
        return None;
    }
    let transport = &packet[header_len..total_len];
    Some(FourTuple {
        src_ip: address(packet, field::IP_SRC)?,
        dst_ip: address(packet, field::IP_DST)?,
        src_port: be16(transport, field::SRC_PORT)?,
        dst_port: be16(transport, field::DST_PORT)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP/IPv4 frame from 10.0.0.1:1234 to 10.0.0.2:80 (hand-assembled).
    fn frame() -> Vec<u8> {
        let mut frame = vec![
            0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
            0x04, 0xd2, 0, 80, 0, 8, 0, 0, // UDP
        ];
        frame.resize(60, 0);
        frame
    }

    #[test]
    fn reads_mac_and_four_tuple() {
        let class = classify(&frame()).unwrap();
        assert_eq!(mac_from_u64(class.dst_mac), [0x02, 0, 0, 0, 0, 2]);
        assert!(!class.to_all);
        assert_eq!(
            class.flow,
            Some(FourTuple {
                src_ip: Ipv4Addr::new(10, 0, 0, 1),
                dst_ip: Ipv4Addr::new(10, 0, 0, 2),
                src_port: 1234,
                dst_port: 80,
            })
        );
    }

    #[test]
    fn fragments_other_protocols_and_bad_headers_have_no_flow() {
        let cases: [(usize, u8); 5] = [
            (20, 0x20), // more fragments
            (21, 0x01), // fragment offset
            (23, 1),    // ICMP
            (14, 0x44), // IHL 4 (16 bytes)
            (17, 200),  // total length beyond the frame
        ];
        for (offset, value) in cases {
            let mut frame = frame();
            frame[offset] = value;
            assert_eq!(
                classify(&frame).unwrap().flow,
                None,
                "byte {offset} = {value}"
            );
        }
    }

    #[test]
    fn any_prefix_of_a_frame_is_classified_without_panic() {
        let frame = frame();
        for len in 0..frame.len() {
            let class = classify(&frame[..len]);
            assert_eq!(class.is_some(), len >= 14, "length {len}");
        }
        let mut broadcast = frame.clone();
        broadcast[..6].copy_from_slice(&[0xff; 6]);
        assert!(classify(&broadcast).unwrap().to_all);
    }

    /// A deterministic xorshift64 generator (no dependency, reproducible).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Mutated and truncated frames: never a panic, and whenever a flow is
    /// reported smoltcp's checked parsers agree on every field of it.
    #[test]
    fn mutated_frames_agree_with_smoltcp() {
        use smoltcp::wire::{EthernetFrame, Ipv4Packet, UdpPacket};
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let mut flows = 0;
        for _ in 0..5000 {
            let mut frame = frame();
            for _ in 0..next(&mut state) % 4 {
                let index = (next(&mut state) % 42) as usize;
                frame[index] = next(&mut state) as u8;
            }
            frame.truncate((next(&mut state) % 64) as usize);
            let Some(class) = classify(&frame) else {
                assert!(frame.len() < 14);
                continue;
            };
            let Some(flow) = class.flow else { continue };
            flows += 1;
            let ethernet = EthernetFrame::new_checked(&frame[..]).unwrap();
            let ip = Ipv4Packet::new_checked(ethernet.payload()).unwrap();
            assert_eq!((ip.src_addr(), ip.dst_addr()), (flow.src_ip, flow.dst_ip));
            let udp = UdpPacket::new_unchecked(ip.payload());
            assert_eq!(
                (udp.src_port(), udp.dst_port()),
                (flow.src_port, flow.dst_port)
            );
        }
        assert!(
            flows > 100,
            "the mutations left enough valid flows ({flows})"
        );
    }
}
