//! A packetdrill-style harness: one stack under test, a scripted peer at
//! 10.0.0.9. Lines describe segments:
//!
//! `<flags> [seq=N] [ack=N] [win=N] [len=N] [mss=N] [ws=N] [ts=A,B] [crab=IP]`
//!
//! Flags are letters S, F, R, P and `.` for ACK. The stack's sequence
//! numbers are written relative to its ISS (as packetdrill does); the
//! peer's are absolute. `inject` sends a line to the stack; `expect`
//! checks the next frame the stack emits against a line: flags exactly,
//! and every key the line gives (`*` matches anything).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress,
    IpProtocol, Ipv4Packet, TcpPacket, TcpSeqNumber,
};

use crate::frame::{ETH_HEADER, Ipv4Route, L4_OFFSET, fill_tcp_checksum, write_ipv4_headers};
use crate::tcp::options::TcpOptions;
use crate::{ConnId, Duration, Event, Instant, Stack, StackConfig, VecSink};

pub(crate) const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
pub(crate) const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
pub(crate) const PEER_PORT: u16 = 40_000;
pub(crate) const SERVER_PORT: u16 = 80;

/// A parsed segment line or emitted segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Line {
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub seq: Option<u32>,
    pub ack: Option<u32>,
    pub win: Option<u16>,
    pub len: Option<usize>,
    pub options: TcpOptions,
    /// Keys given as `*`.
    pub any: Vec<String>,
}

fn parse_line(text: &str) -> Line {
    let mut tokens = text.split_whitespace();
    let mut line = Line::default();
    for flag in tokens.next().expect("flags").chars() {
        match flag {
            'S' => line.syn = true,
            'F' => line.fin = true,
            'R' => line.rst = true,
            'P' => line.psh = true,
            '.' => line.ack_flag = true,
            other => panic!("unknown flag {other}"),
        }
    }
    for token in tokens {
        let (name, value) = token.split_once('=').expect("key=value");
        if value == "*" {
            line.any.push(name.to_string());
            continue;
        }
        match name {
            "seq" => line.seq = Some(value.parse().unwrap()),
            "ack" => line.ack = Some(value.parse().unwrap()),
            "win" => line.win = Some(value.parse().unwrap()),
            "len" => line.len = Some(value.parse().unwrap()),
            "mss" => line.options.mss = Some(value.parse().unwrap()),
            "ws" => line.options.window_scale = Some(value.parse().unwrap()),
            "ts" => {
                let (a, b) = value.split_once(',').unwrap();
                // `ts=*,N` checks only the echo.
                line.options.timestamp = Some((a.parse().unwrap_or(0), b.parse().unwrap()));
            }
            "crab" => line.options.crab_redirect = Some(value.parse().unwrap()),
            other => panic!("unknown key {other}"),
        }
    }
    line
}

/// The scripted peer and the stack under test.
pub(crate) struct Drill {
    pub stack: Stack,
    pub now: Instant,
    pub iss: Option<u32>,
    pub peer_port: u16,
    pub local_port: u16,
    out: VecDeque<Vec<u8>>,
    /// Payload of the last expected segment.
    pub last_payload: Vec<u8>,
}

impl Drill {
    pub(crate) fn new(config: StackConfig) -> Drill {
        Drill {
            stack: Stack::new(config).unwrap(),
            now: Instant::from_millis(1),
            iss: None,
            peer_port: PEER_PORT,
            local_port: SERVER_PORT,
            out: VecDeque::new(),
            last_payload: Vec::new(),
        }
    }

    /// A stack listening on port 80.
    pub(crate) fn server(config: StackConfig) -> Drill {
        let mut drill = Drill::new(config);
        drill.stack.listen(SERVER_PORT).unwrap();
        drill
    }

    /// A stack that knows the peer's MAC and has dialled it at PEER_PORT.
    pub(crate) fn client(config: StackConfig) -> (Drill, ConnId) {
        let mut drill = Drill::new(config);
        drill.teach_arp();
        let conn = drill
            .stack
            .connect(drill.now, SocketAddrV4::new(PEER_IP, PEER_PORT))
            .unwrap();
        drill.local_port = drill.stack.four_tuple(conn).unwrap().0.port();
        (drill, conn)
    }

    /// Lets the stack learn the peer's MAC (an ARP request from it).
    pub(crate) fn teach_arp(&mut self) {
        let repr = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(PEER_MAC),
            source_protocol_addr: PEER_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: self.stack.config().ipv4,
        };
        let mut frame = vec![0u8; ETH_HEADER + repr.buffer_len()];
        let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.set_dst_addr(EthernetAddress::BROADCAST);
        eth.set_src_addr(EthernetAddress(PEER_MAC));
        eth.set_ethertype(EthernetProtocol::Arp);
        repr.emit(&mut ArpPacket::new_unchecked(&mut frame[ETH_HEADER..]));
        self.stack.handle_frame(self.now, &frame);
        self.poll();
        self.out.clear();
    }

    fn route(&self) -> Ipv4Route {
        Ipv4Route {
            src_mac: PEER_MAC,
            dst_mac: self.stack.config().mac,
            src_ip: PEER_IP,
            dst_ip: self.stack.config().ipv4,
        }
    }

    /// Builds the frame a line describes (payload bytes are `b'a' + i % 26`).
    pub(crate) fn frame(&self, text: &str) -> Vec<u8> {
        let line = parse_line(text);
        let iss = self.iss.unwrap_or(0);
        let options_len = line.options.len();
        let len = line.len.unwrap_or(0);
        let l4 = 20 + options_len + len;
        let mut frame = vec![0xa5; L4_OFFSET + l4];
        let route = self.route();
        write_ipv4_headers(&mut frame, &route, IpProtocol::Tcp, l4);
        {
            let mut tcp = TcpPacket::new_unchecked(&mut frame[L4_OFFSET..]);
            tcp.set_src_port(self.peer_port);
            tcp.set_dst_port(self.local_port);
            tcp.set_seq_number(TcpSeqNumber(line.seq.unwrap_or(0) as i32));
            let ack = line.ack.map_or(0, |a| a.wrapping_add(iss));
            tcp.set_ack_number(TcpSeqNumber(ack as i32));
            tcp.set_header_len((20 + options_len) as u8);
            tcp.clear_flags();
            tcp.set_syn(line.syn);
            tcp.set_ack(line.ack_flag);
            tcp.set_fin(line.fin);
            tcp.set_rst(line.rst);
            tcp.set_psh(line.psh);
            tcp.set_window_len(line.win.unwrap_or(65_535));
            tcp.set_urgent_at(0);
            line.options.write(tcp.options_mut());
            for (i, byte) in tcp.payload_mut()[..len].iter_mut().enumerate() {
                *byte = b'a' + (i % 26) as u8;
            }
        }
        fill_tcp_checksum(&mut frame, &route);
        frame
    }

    pub(crate) fn inject(&mut self, text: &str) {
        let frame = self.frame(text);
        self.stack.handle_frame(self.now, &frame);
    }

    pub(crate) fn poll(&mut self) {
        let mut sink = VecSink::default();
        self.stack.poll(self.now, &mut sink);
        self.out.extend(sink.frames);
    }

    /// Moves time forward by `by`, polling every tick on the way.
    pub(crate) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.now < end {
            self.now = (self.now + crate::tcp::timer::TICK).min(end);
            self.poll();
        }
    }

    /// Parses the next emitted TCP segment (relative to the stack's ISS).
    pub(crate) fn next_out(&mut self) -> Option<Line> {
        self.poll();
        let frame = self.out.pop_front()?;
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), EthernetAddress(PEER_MAC));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(
            &IpAddress::Ipv4(ip.src_addr()),
            &IpAddress::Ipv4(ip.dst_addr())
        ));
        let seq = tcp.seq_number().0 as u32;
        if tcp.syn() && self.iss.is_none() {
            self.iss = Some(seq);
        }
        self.last_payload = tcp.payload().to_vec();
        Some(Line {
            syn: tcp.syn(),
            ack_flag: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
            seq: Some(seq.wrapping_sub(self.iss.unwrap_or(0))),
            ack: Some(tcp.ack_number().0 as u32),
            win: Some(tcp.window_len()),
            len: Some(tcp.payload().len()),
            options: TcpOptions::parse(tcp.options()).unwrap(),
            any: Vec::new(),
        })
    }

    /// Checks the next emitted segment against `text`; returns it.
    #[track_caller]
    pub(crate) fn expect(&mut self, text: &str) -> Line {
        let want = parse_line(text);
        let Some(got) = self.next_out() else {
            panic!("expected `{text}`, stack sent nothing");
        };
        let flags = |l: &Line| (l.syn, l.ack_flag, l.fin, l.rst);
        assert_eq!(flags(&got), flags(&want), "flags of `{text}`, got {got:?}");
        let check = |name: &str, want: Option<u64>, got: Option<u64>| {
            if let Some(want) = want {
                assert_eq!(got, Some(want), "{name} of `{text}`, got segment {got:?}");
            }
        };
        check("seq", want.seq.map(u64::from), got.seq.map(u64::from));
        check("ack", want.ack.map(u64::from), got.ack.map(u64::from));
        check("win", want.win.map(u64::from), got.win.map(u64::from));
        check("len", want.len.map(|l| l as u64), got.len.map(|l| l as u64));
        let o = (&want.options, &got.options);
        if want.options.mss.is_some() {
            assert_eq!(o.0.mss, o.1.mss, "mss of `{text}`");
        }
        if want.options.window_scale.is_some() {
            assert_eq!(o.0.window_scale, o.1.window_scale, "ws of `{text}`");
        }
        if let Some((_, ecr)) = want.options.timestamp {
            assert_eq!(o.1.timestamp.map(|t| t.1), Some(ecr), "ts echo of `{text}`");
        }
        if want.options.crab_redirect.is_some() {
            assert_eq!(o.0.crab_redirect, o.1.crab_redirect, "crab of `{text}`");
        }
        got
    }

    #[track_caller]
    pub(crate) fn expect_nothing(&mut self) {
        if let Some(got) = self.next_out() {
            panic!("expected silence, stack sent {got:?}");
        }
    }

    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.stack.pop_event()).collect()
    }

    /// The connection of the single `Accepted` event pending.
    #[track_caller]
    pub(crate) fn accepted(&mut self) -> ConnId {
        match self.events().as_slice() {
            [Event::Accepted { conn, local_port }] if *local_port == self.local_port => *conn,
            other => panic!("expected Accepted, got {other:?}"),
        }
    }

    /// Passive open of a connection from the peer (ISN 1000), returning it.
    pub(crate) fn accept(&mut self) -> ConnId {
        self.inject("S seq=1000 mss=1460");
        self.expect("S. seq=0 ack=1001");
        self.inject(". seq=1001 ack=1");
        self.accepted()
    }

    /// Checks that the stack stays silent for `after` minus one timer tick,
    /// then sends `text` within the last tick (a timer firing on time).
    #[track_caller]
    pub(crate) fn expect_after(&mut self, after: Duration, text: &str) -> Line {
        let tick = crate::tcp::timer::TICK;
        self.advance(Duration(after.as_nanos() - tick.as_nanos()));
        self.expect_nothing();
        self.advance(tick);
        self.expect(text)
    }
}
