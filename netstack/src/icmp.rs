//! ICMP (RFC 792): echo requests addressed to us are answered; every other
//! message is counted and ignored.

use smoltcp::wire::{Icmpv4Message, Icmpv4Packet};

/// What an ICMP message asks of the stack.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IcmpAction {
    /// An echo request: answer with an echo reply carrying the same bytes.
    EchoReply,
    /// Nothing to do.
    Ignore,
    /// Too short or wrong checksum.
    Invalid,
}

/// Classifies an ICMP message (`packet` is the IPv4 payload).
pub(crate) fn classify(packet: &[u8]) -> IcmpAction {
    let Ok(icmp) = Icmpv4Packet::new_checked(packet) else {
        return IcmpAction::Invalid;
    };
    if !icmp.verify_checksum() {
        return IcmpAction::Invalid;
    }
    if icmp.msg_type() == Icmpv4Message::EchoRequest && icmp.msg_code() == 0 {
        IcmpAction::EchoReply
    } else {
        IcmpAction::Ignore
    }
}

/// Turns a copy of an echo request into the echo reply (RFC 792: type 0,
/// same identifier, sequence number and data, checksum recomputed).
pub(crate) fn write_echo_reply(reply: &mut [u8], request: &[u8]) {
    reply.copy_from_slice(request);
    let mut icmp = Icmpv4Packet::new_unchecked(reply);
    icmp.set_msg_type(Icmpv4Message::EchoReply);
    icmp.fill_checksum();
}
