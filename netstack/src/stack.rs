//! [`Stack`]: one per core. Received frames are parsed layer by layer
//! (Ethernet, ARP or IPv4, then ICMP, UDP or TCP); replies and new data are
//! queued and written out by [`Stack::poll`].

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol,
    Ipv4Packet, UdpPacket,
};

use crate::arp::{self, ARP_FRAME_LEN, ArpCache};
use crate::checksum::Sum;
use crate::config::StackConfig;
use crate::error::{ConfigError, UdpError};
use crate::event::Event;
use crate::frame::{
    FrameQueue, IP_MTU, IPV4_HEADER, Ipv4Route, L4_OFFSET, fill_udp_checksum, transport_verifies,
    write_ipv4_headers,
};
use crate::icmp::{self, IcmpAction};
use crate::sink::FrameSink;
use crate::stats::StackStats;
use crate::tcp::TcpLayer;
use crate::time::{Instant, earliest};
use crate::udp::{Delivery, UDP_HEADER, UdpTable};

/// Largest UDP payload in one unfragmented standard Ethernet frame.
pub const MAX_UDP_PAYLOAD: usize = IP_MTU - IPV4_HEADER - UDP_HEADER;

/// One TCP/IP instance (see the crate documentation for the call sequence).
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: StackConfig,
    pub(crate) stats: StackStats,
    pub(crate) events: VecDeque<Event>,
    pub(crate) arp: ArpCache,
    pub(crate) control: FrameQueue,
    udp: UdpTable,
    pub(crate) tcp: TcpLayer,
    /// Latest time passed in (for calls that take none).
    pub(crate) now: Instant,
    /// Scratch lists reused by `poll` (no allocation in steady state).
    scratch_frames: Vec<Vec<u8>>,
    scratch_hops: Vec<Ipv4Addr>,
}

/// The parts of a received IPv4 packet its transport handler needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ipv4Meta {
    pub src_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
}

impl Stack {
    /// Builds a stack; fails on an inconsistent configuration.
    pub fn new(config: StackConfig) -> Result<Stack, ConfigError> {
        config.validate()?;
        Ok(Stack {
            arp: ArpCache::new(
                config.max_connections,
                config.arp_pending_limit,
                config.arp_timeout,
                config.arp_retry,
            ),
            control: FrameQueue::new(config.control_queue_len),
            udp: UdpTable::new(config.udp_queue_len),
            tcp: TcpLayer::new(&config),
            now: Instant::ZERO,
            events: VecDeque::with_capacity(1024),
            stats: StackStats::default(),
            scratch_frames: Vec::new(),
            scratch_hops: Vec::new(),
            config,
        })
    }

    /// The configuration this stack was built with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Counters since creation.
    pub fn stats(&self) -> &StackStats {
        &self.stats
    }

    /// The oldest undelivered event.
    pub fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Processes one received Ethernet frame. Any byte string is accepted:
    /// malformed frames are counted in [`StackStats`] and dropped.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.now = self.now.max(now);
        self.stats.rx_frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.malformed += 1;
            return;
        };
        let dst = eth.dst_addr();
        if dst != EthernetAddress(self.config.mac) && !dst.is_broadcast() {
            self.stats.not_for_us += 1;
            return;
        }
        let src_mac = eth.src_addr().0;
        match eth.ethertype() {
            EthernetProtocol::Arp => self.handle_arp(now, eth.payload()),
            EthernetProtocol::Ipv4 => self.handle_ipv4(now, src_mac, eth.payload()),
            _ => self.stats.not_for_us += 1,
        }
    }

    /// RFC 826 "Packet Reception": merge the sender into the cache if it is
    /// known or the request is for us, and answer requests for our address.
    fn handle_arp(&mut self, now: Instant, payload: &[u8]) {
        let Ok(packet) = ArpPacket::new_checked(payload) else {
            self.stats.malformed += 1;
            return;
        };
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = ArpRepr::parse(&packet)
        else {
            self.stats.malformed += 1;
            return;
        };
        self.stats.arp_rx += 1;
        let for_us = target_protocol_addr == self.config.ipv4;
        if !source_hardware_addr.is_unicast() || source_protocol_addr.is_unspecified() {
            return;
        }
        if for_us || self.arp.contains(source_protocol_addr) {
            self.learn(now, source_protocol_addr, source_hardware_addr.0);
        }
        if for_us && operation == ArpOperation::Request {
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: EthernetAddress(self.config.mac),
                source_protocol_addr: self.config.ipv4,
                target_hardware_addr: source_hardware_addr,
                target_protocol_addr: source_protocol_addr,
            };
            let mac = self.config.mac;
            if !self.control.push_with(ARP_FRAME_LEN, |frame| {
                arp::write_arp(frame, mac, source_hardware_addr.0, &reply)
            }) {
                self.stats.control_dropped += 1;
            }
        }
    }

    /// Records a neighbour and releases the frames that were waiting for it.
    fn learn(&mut self, now: Instant, ip: Ipv4Addr, mac: [u8; 6]) {
        self.arp.insert(now, ip, mac);
        let mut released = std::mem::take(&mut self.scratch_frames);
        self.arp.take_parked(ip, mac, &mut released);
        for frame in released.drain(..) {
            if !self.control.push(frame) {
                self.stats.control_dropped += 1;
            }
        }
        self.scratch_frames = released;
        self.tcp_neighbour_resolved(ip);
    }

    /// RFC 791 section 3.2 (receive side) with RFC 1122 section 3.2.1:
    /// version, header checksum and lengths checked; fragments dropped.
    fn handle_ipv4(&mut self, now: Instant, src_mac: [u8; 6], payload: &[u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(payload) else {
            self.stats.malformed += 1;
            return;
        };
        if ip.version() != 4 {
            self.stats.malformed += 1;
            return;
        }
        let header_len = usize::from(ip.header_len());
        if self.config.verify_rx_checksums && !Sum::of(&payload[..header_len]).verifies() {
            self.stats.bad_checksum += 1;
            return;
        }
        if ip.more_frags() || ip.frag_offset() != 0 {
            self.stats.fragments += 1;
            return;
        }
        let meta = Ipv4Meta {
            src_mac,
            src_ip: ip.src_addr(),
            dst_ip: ip.dst_addr(),
        };
        let broadcast = meta.dst_ip.is_broadcast();
        if meta.dst_ip != self.config.ipv4 && !broadcast {
            self.stats.not_for_us += 1;
            return;
        }
        // RFC 1122 section 2.3.2.2 permits learning from received traffic;
        // only on-link unicast senders are learnt.
        if !broadcast && EthernetAddress(src_mac).is_unicast() && self.config.on_link(meta.src_ip) {
            // Traffic from a known neighbour confirms its entry.
            if !self.arp.confirm(now, meta.src_ip, src_mac) {
                self.learn(now, meta.src_ip, src_mac);
            }
        }
        match ip.next_header() {
            IpProtocol::Icmp if !broadcast => self.handle_icmp(meta, ip.payload()),
            IpProtocol::Udp => self.handle_udp(meta, ip.payload()),
            IpProtocol::Tcp if !broadcast => self.handle_tcp(now, meta, ip.payload()),
            _ => self.stats.not_for_us += 1,
        }
    }

    fn handle_icmp(&mut self, meta: Ipv4Meta, payload: &[u8]) {
        match icmp::classify(payload) {
            IcmpAction::Invalid => self.stats.bad_checksum += 1,
            IcmpAction::Ignore => {}
            IcmpAction::EchoReply => {
                let route = self.reply_route(meta);
                let ok = self.control.push_with(L4_OFFSET + payload.len(), |frame| {
                    write_ipv4_headers(frame, &route, IpProtocol::Icmp, payload.len());
                    icmp::write_echo_reply(&mut frame[L4_OFFSET..], payload);
                });
                if ok {
                    self.stats.icmp_echo += 1;
                } else {
                    self.stats.control_dropped += 1;
                }
            }
        }
    }

    /// RFC 768: length and (when non-zero) checksum checked, then queued on
    /// the bound port.
    fn handle_udp(&mut self, meta: Ipv4Meta, payload: &[u8]) {
        let Ok(udp) = UdpPacket::new_checked(payload) else {
            self.stats.malformed += 1;
            return;
        };
        if self.config.verify_rx_checksums
            && udp.checksum() != 0
            && !transport_verifies(
                meta.src_ip,
                meta.dst_ip,
                IpProtocol::Udp,
                &payload[..usize::from(udp.len())],
            )
        {
            self.stats.bad_checksum += 1;
            return;
        }
        let from = SocketAddrV4::new(meta.src_ip, udp.src_port());
        let port = udp.dst_port();
        match self.udp.deliver(port, from, udp.payload()) {
            Delivery::QueuedSignal => {
                self.stats.udp_rx += 1;
                self.events.push_back(Event::UdpReadable { port });
            }
            Delivery::Queued => self.stats.udp_rx += 1,
            Delivery::Dropped => self.stats.udp_dropped += 1,
        }
    }

    /// The route answering a received packet: straight back to its sender's MAC.
    pub(crate) fn reply_route(&self, meta: Ipv4Meta) -> Ipv4Route {
        Ipv4Route {
            src_mac: self.config.mac,
            dst_mac: meta.src_mac,
            src_ip: self.config.ipv4,
            dst_ip: meta.src_ip,
        }
    }

    /// Binds a UDP port: datagrams to it are queued and signalled with
    /// [`Event::UdpReadable`].
    pub fn bind_udp(&mut self, port: u16) -> Result<(), UdpError> {
        self.udp.bind(port)
    }

    /// Unbinds a UDP port, dropping its queued datagrams.
    pub fn unbind_udp(&mut self, port: u16) -> Result<(), UdpError> {
        self.udp.unbind(port)
    }

    /// Copies the oldest datagram queued on `port` into `buf`, returning its
    /// length and sender; `Ok(None)` when none is queued.
    pub fn recv_udp(
        &mut self,
        port: u16,
        buf: &mut [u8],
    ) -> Result<Option<(usize, SocketAddrV4)>, UdpError> {
        self.udp.recv(port, buf)
    }

    /// Queues a datagram from bound port `from_port` to `to` (sent by the
    /// next `poll`, after ARP resolution if needed).
    pub fn send_udp(
        &mut self,
        now: Instant,
        from_port: u16,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), UdpError> {
        if !self.udp.is_bound(from_port) {
            return Err(UdpError::NotBound(from_port));
        }
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(UdpError::TooLarge {
                len: payload.len(),
                max: MAX_UDP_PAYLOAD,
            });
        }
        if !self.control.has_room() {
            return Err(UdpError::QueueFull);
        }
        let next_hop = self.config.next_hop(*to.ip());
        let known_mac = self.arp.lookup(now, next_hop);
        let route = Ipv4Route {
            src_mac: self.config.mac,
            dst_mac: known_mac.unwrap_or([0; 6]),
            src_ip: self.config.ipv4,
            dst_ip: *to.ip(),
        };
        let l4_len = UDP_HEADER + payload.len();
        let mut frame = self.control.buffer();
        frame.resize(L4_OFFSET + l4_len, 0);
        write_ipv4_headers(&mut frame, &route, IpProtocol::Udp, l4_len);
        {
            let mut udp = UdpPacket::new_unchecked(&mut frame[L4_OFFSET..]);
            udp.set_src_port(from_port);
            udp.set_dst_port(to.port());
            udp.set_len(l4_len as u16);
            udp.payload_mut()[..payload.len()].copy_from_slice(payload);
        }
        fill_udp_checksum(&mut frame, &route);
        if known_mac.is_some() {
            self.control.push(frame);
            return Ok(());
        }
        if let Err(frame) = self.arp.park(now, next_hop, frame) {
            self.control.recycle(frame);
            self.stats.arp_pending_dropped += 1;
            return Err(UdpError::QueueFull);
        }
        self.request_arp(now, next_hop);
        Ok(())
    }

    /// Queues an ARP request for `target` unless one was sent recently.
    pub(crate) fn request_arp(&mut self, now: Instant, target: Ipv4Addr) {
        if self.arp.should_request(now, target) {
            self.queue_arp_request(target);
        }
    }

    fn queue_arp_request(&mut self, target: Ipv4Addr) {
        let request = arp::request(self.config.mac, self.config.ipv4, target);
        let mac = self.config.mac;
        if !self.control.push_with(ARP_FRAME_LEN, |frame| {
            arp::write_arp(frame, mac, [0xff; 6], &request)
        }) {
            self.stats.control_dropped += 1;
        }
    }

    /// Runs due timers and writes every pending frame (replies, data,
    /// retransmissions, ARP) into `tx`; returns the next instant at which
    /// `poll` has timer work (None: no timer armed).
    pub fn poll(&mut self, now: Instant, tx: &mut impl FrameSink) -> Option<Instant> {
        self.now = self.now.max(now);
        let mut dropped = std::mem::take(&mut self.scratch_frames);
        let mut hops = std::mem::take(&mut self.scratch_hops);
        self.arp.service_parked(now, &mut dropped, &mut hops);
        self.stats.arp_pending_dropped += dropped.len() as u64;
        for frame in dropped.drain(..) {
            self.control.recycle(frame);
        }
        for hop in hops.drain(..) {
            self.queue_arp_request(hop);
        }
        self.scratch_frames = dropped;
        self.scratch_hops = hops;
        self.stats.tx_frames += self.control.flush(tx);
        let tcp_deadline = self.tcp_poll(now, tx);
        self.stats.tx_frames += self.control.flush(tx);
        let arp_deadline = (self.arp.parked_len() > 0).then(|| now + self.config.arp_retry);
        earliest(tcp_deadline, arp_deadline)
    }
}

#[cfg(test)]
mod tests;
