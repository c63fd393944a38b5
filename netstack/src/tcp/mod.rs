//! TCP (RFC 9293) for the [`crate::Stack`]: listeners, the connection
//! table, the timer wheel and the dirty list of connections with output
//! pending. Segment arrival goes table lookup -> [`Tcb::on_segment`] ->
//! verdict; `poll` runs due timers, then asks each dirty block for its next
//! segments and writes them straight into the sink.

pub(crate) mod assembler;
pub mod congestion;
pub(crate) mod input;
pub mod migrate;
pub mod options;
pub(crate) mod output;
pub(crate) mod ring;
pub mod rtt;
pub mod seq;
pub(crate) mod table;
pub mod tcb;
pub(crate) mod timer;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{IpProtocol, TcpPacket};

use self::input::{Flags, Rst, Segment, Verdict};
use self::options::TcpOptions;
use self::output::{SynOffer, TCP_HEADER, write_rst};
use self::ring::Ring;
use self::seq::Seq;
use self::table::{ConnTable, key};
use self::tcb::{Ctx, State, Tcb, window_shift};
use self::timer::TimerWheel;
use crate::error::{ConnError, ConnectError, ListenError};
use crate::event::ConnId;
use crate::fast_hash::FastMap;
use crate::frame::{Ipv4Route, L4_OFFSET, transport_verifies};
use crate::sink::FrameSink;
use crate::slo::SloWindow;
use crate::stack::{Ipv4Meta, Stack};
use crate::time::Instant;

#[derive(Debug, Default)]
struct Listener {
    /// Connections in SYN-RECEIVED from this listener.
    half_open: usize,
}

/// TCP state of a stack.
#[derive(Debug)]
pub(crate) struct TcpLayer {
    pub(crate) table: ConnTable,
    listeners: FastMap<u16, Listener>,
    wheel: TimerWheel,
    dirty: VecDeque<ConnId>,
    arp_waiting: Vec<ConnId>,
    next_port: u16,
}

impl TcpLayer {
    pub(crate) fn new(config: &crate::StackConfig) -> TcpLayer {
        TcpLayer {
            table: ConnTable::new(config.max_connections, config.rx_buffer, config.tx_buffer),
            listeners: FastMap::default(),
            wheel: TimerWheel::new(Instant::ZERO, config.max_connections.min(65_536)),
            dirty: VecDeque::with_capacity(config.max_connections.min(65_536)),
            arp_waiting: Vec::new(),
            next_port: config.ephemeral_ports_start,
        }
    }

    fn mark_dirty(&mut self, id: ConnId) {
        if let Some(tcb) = self.table.get_mut(id)
            && !tcb.dirty
        {
            tcb.dirty = true;
            self.dirty.push_back(id);
        }
    }

    /// Keeps the block's wheel entry at or before its earliest deadline.
    fn reschedule(&mut self, id: ConnId) {
        let Some(deadline) = self.table.get(id).and_then(Tcb::next_deadline) else {
            return;
        };
        if self.wheel.armed(id).is_none_or(|armed| deadline < armed) {
            self.wheel.insert(id, deadline);
        }
    }

    /// A block in TIME-WAIT only answers with ACKs (its zero-capacity
    /// receive ring makes every segment unacceptable): its buffers go back
    /// to the pool for the 2 MSL it lingers.
    fn release_time_wait_buffers(&mut self, id: ConnId) {
        let Some(tcb) = self.table.get_mut(id) else {
            return;
        };
        if tcb.state != State::TimeWait || tcb.rx.capacity() == 0 || tcb.close_when_drained {
            return;
        }
        let rx = std::mem::take(&mut tcb.rx);
        let tx = std::mem::take(&mut tcb.tx);
        tcb.ooo = assembler::Assembler::new();
        self.table.recycle(rx, tx);
    }

    /// Removes a block, releasing its listener's backlog slot.
    fn remove(&mut self, id: ConnId) -> Option<Tcb> {
        let tcb = self.table.remove(id)?;
        if tcb.state == State::SynReceived
            && let Some(listener) = tcb.listener.and_then(|port| self.listeners.get_mut(&port))
        {
            listener.half_open = listener.half_open.saturating_sub(1);
        }
        Some(tcb)
    }
}

/// A live connection the application may still use.
fn app_tcb(table: &mut ConnTable, conn: ConnId) -> Result<&mut Tcb, ConnError> {
    match table.get_mut(conn) {
        Some(tcb) if tcb.app_visible && !tcb.closed_reported => Ok(tcb),
        _ => Err(ConnError::UnknownConnection(conn)),
    }
}

/// RFC 6528 initial sequence number: a 4 µs clock plus a keyed hash of the
/// connection identifiers; a second hash gives the timestamp offset (RFC
/// 7323 section 5.4).
fn initial_sequence(
    secret: u64,
    now: Instant,
    local_port: u16,
    remote: SocketAddrV4,
) -> (Seq, u32) {
    fn mix(mut x: u64) -> u64 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
    let hash = mix(secret ^ mix(key(local_port, remote)));
    let clock = (now.as_nanos() / 4_000) as u32;
    (Seq(clock.wrapping_add(hash as u32)), (hash >> 32) as u32)
}

impl Stack {
    fn syn_offer(&self) -> SynOffer {
        SynOffer {
            mss: self.config.mss,
            window_scaling: self.config.window_scaling,
            timestamps: self.config.timestamps,
        }
    }

    /// Accepts connections on `port` (reported by [`Event::Accepted`](crate::Event::Accepted)).
    pub fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        if port == 0 {
            return Err(ListenError::InvalidPort);
        }
        if self.tcp.listeners.contains_key(&port) {
            return Err(ListenError::AlreadyListening(port));
        }
        self.tcp.listeners.insert(port, Listener::default());
        Ok(())
    }

    /// Stops accepting on `port` (established connections stay).
    pub fn unlisten(&mut self, port: u16) -> Result<(), ListenError> {
        self.tcp
            .listeners
            .remove(&port)
            .map(|_| ())
            .ok_or(ListenError::NotListening(port))
    }

    /// Opens a connection to `remote` (RFC 9293 section 3.10.1, active
    /// OPEN); [`Event::Connected`](crate::Event::Connected) follows the handshake.
    pub fn connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<ConnId, ConnectError> {
        self.open(now, remote, false)
    }

    /// Like [`Stack::connect`], dialling a CRAB virtual IP: the SYN carries
    /// the Connection Redirect option with `remote`'s address, and a
    /// SYN-ACK from another address echoing it redirects the connection
    /// there (thesis section 7.3).
    pub fn connect_redirectable(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<ConnId, ConnectError> {
        self.open(now, remote, true)
    }

    fn open(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        crab: bool,
    ) -> Result<ConnId, ConnectError> {
        self.now = self.now.max(now);
        if remote.ip().is_unspecified() || remote.ip().is_broadcast() || remote.port() == 0 {
            return Err(ConnectError::InvalidAddress(remote));
        }
        if self.tcp.table.is_full() {
            return Err(ConnectError::TableFull);
        }
        let local_port = self
            .ephemeral_port(remote)
            .ok_or(ConnectError::NoEphemeralPort)?;
        let local = SocketAddrV4::new(self.config.ipv4, local_port);
        let (iss, ts_offset) = initial_sequence(self.config.isn_secret, now, local_port, remote);
        let (rx, tx) = self.tcp.table.buffers();
        let mut tcb = Tcb::new(&self.config, local, remote, iss, ts_offset, rx, tx);
        tcb.app_visible = true;
        if self.config.window_scaling {
            tcb.rcv.wscale = window_shift(tcb.rx.capacity());
        }
        tcb.crab = crab.then_some(*remote.ip());
        let id = self
            .tcp
            .table
            .insert(key(local_port, remote), tcb)
            .ok_or(ConnectError::TableFull)?;
        self.tcp.mark_dirty(id);
        Ok(id)
    }

    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Option<u16> {
        let start = self.config.ephemeral_ports_start;
        let span = u32::from(u16::MAX - start) + 1;
        for _ in 0..span {
            let port = self.tcp.next_port;
            self.tcp.next_port = if port == u16::MAX { start } else { port + 1 };
            if !self.tcp.listeners.contains_key(&port)
                && self.tcp.table.lookup(key(port, remote)).is_none()
            {
                return Some(port);
            }
        }
        None
    }

    /// Copies as much of `data` as fits in the send buffer and returns the
    /// count; when it is less than offered, [`Event::Writable`](crate::Event::Writable) follows
    /// once space frees.
    pub fn send(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, ConnError> {
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        // RFC 9293 section 3.10.2: SEND is refused once we closed.
        if tcb.state.fin_queued() {
            return Err(ConnError::Closing(conn));
        }
        let count = tcb.tx.push(data);
        if count < data.len() {
            tcb.want_writable = true;
        }
        if count > 0 {
            self.tcp.mark_dirty(conn);
        }
        Ok(count)
    }

    /// Copies received in-order bytes into `buf`; 0 when none are queued
    /// (after [`Event::PeerClosed`](crate::Event::PeerClosed), 0 means end of stream).
    /// A connection that ended gracefully with bytes still unread stays
    /// readable: its [`Event::Closed`](crate::Event::Closed) follows the
    /// `recv` that returns that end of stream.
    pub fn recv(&mut self, conn: ConnId, buf: &mut [u8]) -> Result<usize, ConnError> {
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        let before = tcb.window_to_advertise();
        let count = tcb.rx.pop(buf);
        if tcb.ooo.is_empty() {
            tcb.rx.rewind_if_empty();
        }
        tcb.readable_signalled = false;
        if count == 0 && tcb.close_when_drained && tcb.rx.is_empty() {
            // End of stream read: the deferred graceful Closed (see
            // `Tcb::report_closed_once_drained`).
            tcb.close_when_drained = false;
            tcb.report_closed(&mut self.events, conn);
            if tcb.free_when_drained {
                self.tcp.remove(conn);
            } else {
                self.tcp.release_time_wait_buffers(conn);
            }
            return Ok(count);
        }
        // RFC 9293 section 3.8.6.2.2: announce a window that opened by at
        // least min(buffer/2, MSS) from a small one.
        let after = tcb.window_to_advertise();
        let update = count > 0 && after > before && before < tcb.rx.capacity() / 2;
        if update {
            tcb.ack_now = true;
            self.tcp.mark_dirty(conn);
        }
        Ok(count)
    }

    /// Bytes queued for `recv`.
    pub fn recv_queue(&self, conn: ConnId) -> Result<usize, ConnError> {
        match self.tcp.table.get(conn) {
            Some(tcb) if tcb.app_visible && !tcb.closed_reported => Ok(tcb.rx.len()),
            _ => Err(ConnError::UnknownConnection(conn)),
        }
    }

    /// Closes our direction after the queued bytes (RFC 9293 section
    /// 3.10.4); receiving continues until the peer's FIN.
    pub fn close(&mut self, conn: ConnId) -> Result<(), ConnError> {
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        match tcb.state {
            State::SynSent => {
                tcb.report_closed(&mut self.events, conn);
                self.tcp.remove(conn);
                return Ok(());
            }
            State::SynReceived | State::Established => tcb.state = State::FinWait1,
            State::CloseWait => tcb.state = State::LastAck,
            _ => {}
        }
        self.tcp.mark_dirty(conn);
        Ok(())
    }

    /// Resets the connection at once (RFC 9293 section 3.10.5, ABORT): an
    /// RST is sent and [`Event::Closed`](crate::Event::Closed) follows.
    pub fn abort(&mut self, conn: ConnId) -> Result<(), ConnError> {
        let now = self.now;
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        let rst = tcb.state.synchronized().then_some(Rst {
            seq: tcb.snd.nxt,
            ack: None,
        });
        tcb.report_closed(&mut self.events, conn);
        let (local, remote) = (tcb.local, tcb.remote);
        if let Some(rst) = rst {
            self.queue_rst(now, None, (local.port(), remote), rst);
        }
        self.tcp.remove(conn);
        Ok(())
    }

    /// Local and remote address of a connection.
    pub fn four_tuple(&self, conn: ConnId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.tcp.table.get(conn).map(|tcb| (tcb.local, tcb.remote))
    }

    /// The connection's TCP state.
    pub fn state(&self, conn: ConnId) -> Option<State> {
        self.tcp.table.get(conn).map(|tcb| tcb.state)
    }

    /// Connections in the table (all states, TIME-WAIT included).
    pub fn connection_count(&self) -> usize {
        self.tcp.table.len()
    }

    /// Bytes allocated per connection: buffers plus table and timer-wheel
    /// overhead (the bound `rx_buffer`/`tx_buffer` configure).
    pub fn memory_per_connection(&self) -> usize {
        Ring::heap_len(self.config.rx_buffer)
            + Ring::heap_len(self.config.tx_buffer)
            + ConnTable::overhead_per_connection()
            + TimerWheel::bytes_per_connection()
    }

    /// SLO-aware flow control hook (thesis chapter 5): advertise this raw
    /// 16-bit window field instead of the buffer space (None: back to the
    /// buffer-derived window). The peer learns it with the next segment.
    pub fn set_window_override(&mut self, conn: ConnId, raw: Option<u16>) -> Result<(), ConnError> {
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        tcb.window_override = raw;
        tcb.ack_now = true;
        self.tcp.mark_dirty(conn);
        Ok(())
    }

    /// SLO-aware flow control, server side: advertise `window` (tokens or
    /// idle time) in the window field of every segment from now on.
    pub fn set_slo_window(&mut self, conn: ConnId, window: SloWindow) -> Result<(), ConnError> {
        let raw = window
            .to_raw()
            .map_err(|_| ConnError::SloWindowRange(conn))?;
        self.set_window_override(conn, Some(raw))
    }

    /// SLO-aware flow control, client side: the peer's window field carries
    /// SLO signals, so it no longer limits the bytes we send (the
    /// application honours the tokens it reads with
    /// [`Stack::peer_slo_window`]).
    pub fn set_slo_peer(&mut self, conn: ConnId, slo_peer: bool) -> Result<(), ConnError> {
        let tcb = app_tcb(&mut self.tcp.table, conn)?;
        tcb.slo_peer = slo_peer;
        Ok(())
    }

    /// The peer's last window field decoded as an SLO signal.
    pub fn peer_slo_window(&self, conn: ConnId) -> Option<SloWindow> {
        self.peer_window(conn).map(SloWindow::from_raw)
    }

    /// The raw (unscaled) window field of the last segment from the peer,
    /// for a client reading SLO-aware window signals.
    pub fn peer_window(&self, conn: ConnId) -> Option<u16> {
        self.tcp.table.get(conn).map(|tcb| tcb.peer_raw_window)
    }

    /// The CRAB Connection Redirect address of a connection: the VIP a
    /// server's client dialled (echoed in our SYN-ACK), or the VIP a
    /// redirectable client connection dialled.
    pub fn crab_redirect(&self, conn: ConnId) -> Option<Ipv4Addr> {
        self.tcp.table.get(conn).and_then(|tcb| tcb.crab)
    }

    /// Queues a reset frame to `remote` (via `meta`'s MAC when answering a
    /// received segment, else via the ARP cache).
    fn queue_rst(
        &mut self,
        now: Instant,
        meta: Option<Ipv4Meta>,
        ports: (u16, SocketAddrV4),
        rst: Rst,
    ) {
        let (local_port, remote) = ports;
        let dst_mac = match meta {
            Some(meta) => Some(meta.src_mac),
            None => self.arp.lookup(now, self.config.next_hop(*remote.ip())),
        };
        let Some(dst_mac) = dst_mac else {
            return;
        };
        let route = Ipv4Route {
            src_mac: self.config.mac,
            dst_mac,
            src_ip: self.config.ipv4,
            dst_ip: *remote.ip(),
        };
        let ok = self.control.push_with(L4_OFFSET + TCP_HEADER, |frame| {
            write_rst(frame, &route, (local_port, remote.port()), rst.seq, rst.ack)
        });
        if ok {
            self.stats.tcp_rst_tx += 1;
        } else {
            self.stats.control_dropped += 1;
        }
    }

    /// Entry from IPv4: checksum, options, demultiplexing.
    pub(crate) fn handle_tcp(&mut self, now: Instant, meta: Ipv4Meta, payload: &[u8]) {
        let Ok(packet) = TcpPacket::new_checked(payload) else {
            self.stats.malformed += 1;
            return;
        };
        if self.config.verify_rx_checksums
            && !transport_verifies(meta.src_ip, meta.dst_ip, IpProtocol::Tcp, payload)
        {
            self.stats.bad_checksum += 1;
            return;
        }
        let Ok(options) = TcpOptions::parse(packet.options()) else {
            self.stats.tcp_bad_options += 1;
            return;
        };
        self.stats.tcp_rx += 1;
        let seg = Segment {
            seq: Seq(packet.seq_number().0 as u32),
            ack: Seq(packet.ack_number().0 as u32),
            flags: Flags {
                syn: packet.syn(),
                ack: packet.ack(),
                fin: packet.fin(),
                rst: packet.rst(),
            },
            window: packet.window_len(),
            options,
            payload: packet.payload(),
        };
        let local_port = packet.dst_port();
        let remote = SocketAddrV4::new(meta.src_ip, packet.src_port());
        let mut found = self.tcp.table.lookup(key(local_port, remote));
        if found.is_none()
            && seg.flags.syn
            && seg.flags.ack
            && let Some(vip) = options.crab_redirect
        {
            found = self.redirect(local_port, remote, vip);
        }
        match found {
            Some(id) => self.segment_for(now, meta, id, &seg),
            None if self.tcp.listeners.contains_key(&local_port) => {
                self.segment_for_listener(now, meta, local_port, remote, &seg)
            }
            None => {
                // RFC 9293 section 3.10.7.1: CLOSED answers with a reset.
                self.stats.tcp_no_connection += 1;
                if !seg.flags.rst {
                    self.queue_rst(now, Some(meta), (local_port, remote), Rst::answering(&seg));
                }
            }
        }
    }

    /// CRAB (thesis section 7.3): a SYN-ACK from `actual` echoing the
    /// redirect option for `vip` continues the connection dialled to `vip`.
    fn redirect(&mut self, local_port: u16, actual: SocketAddrV4, vip: Ipv4Addr) -> Option<ConnId> {
        let dialled = SocketAddrV4::new(vip, actual.port());
        let old = key(local_port, dialled);
        let id = self.tcp.table.lookup(old)?;
        let tcb = self.tcp.table.get(id)?;
        if tcb.state != State::SynSent || tcb.crab != Some(vip) {
            return None;
        }
        if !self.tcp.table.rekey(old, key(local_port, actual)) {
            return None;
        }
        self.tcp.table.get_mut(id)?.remote = actual;
        Some(id)
    }

    fn segment_for(&mut self, now: Instant, meta: Ipv4Meta, id: ConnId, seg: &Segment<'_>) {
        let Some(tcb) = self.tcp.table.get_mut(id) else {
            return;
        };
        let mut cx = Ctx::new(&self.config, &mut self.stats, &mut self.events, id, now);
        let verdict = tcb.on_segment(seg, &mut cx);
        self.apply_verdict(now, Some(meta), id, verdict);
    }

    fn apply_verdict(
        &mut self,
        now: Instant,
        meta: Option<Ipv4Meta>,
        id: ConnId,
        verdict: Verdict,
    ) {
        let Some(tcb) = self.tcp.table.get(id) else {
            return;
        };
        let ports = (tcb.local.port(), tcb.remote);
        if verdict.accepted
            && let Some(listener) = tcb
                .listener
                .and_then(|port| self.tcp.listeners.get_mut(&port))
        {
            listener.half_open = listener.half_open.saturating_sub(1);
        }
        if let Some(rst) = verdict.rst {
            self.queue_rst(now, meta, ports, rst);
        }
        if verdict.free {
            self.tcp.remove(id);
        } else {
            self.tcp.release_time_wait_buffers(id);
            // The dirty pass of `tcp_poll` re-arms the wheel after output,
            // so a delayed ACK armed by this segment and cancelled by the
            // reply sent in the same poll never reaches the wheel.
            self.tcp.mark_dirty(id);
        }
    }

    /// RFC 9293 section 3.10.7.2: segment arrives for a LISTEN port.
    fn segment_for_listener(
        &mut self,
        now: Instant,
        meta: Ipv4Meta,
        port: u16,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) {
        if seg.flags.rst {
            return;
        }
        if seg.flags.ack {
            self.queue_rst(
                now,
                Some(meta),
                (port, remote),
                Rst {
                    seq: seg.ack,
                    ack: None,
                },
            );
            return;
        }
        if !seg.flags.syn {
            return;
        }
        let backlog_full = self
            .tcp
            .listeners
            .get(&port)
            .is_none_or(|listener| listener.half_open >= self.config.syn_backlog);
        if backlog_full || self.tcp.table.is_full() {
            self.stats.tcp_syn_dropped += 1;
            return;
        }
        let local = SocketAddrV4::new(self.config.ipv4, port);
        let (iss, ts_offset) = initial_sequence(self.config.isn_secret, now, port, remote);
        let (rx, tx) = self.tcp.table.buffers();
        let mut tcb = Tcb::new(&self.config, local, remote, iss, ts_offset, rx, tx);
        tcb.state = State::SynReceived;
        tcb.listener = Some(port);
        tcb.rcv.irs = seg.seq;
        tcb.rcv.nxt = seg.seq + 1;
        tcb.rcv.adv = tcb.rcv.nxt;
        tcb.apply_syn_options(&seg.options, &self.config);
        tcb.snd.wnd = u32::from(seg.window);
        tcb.snd.max_wnd = tcb.snd.wnd;
        tcb.snd.wl1 = seg.seq;
        tcb.peer_raw_window = seg.window;
        // CRAB: echo the Connection Redirect option on our SYN-ACK.
        tcb.crab = seg.options.crab_redirect;
        match self.tcp.table.insert(key(port, remote), tcb) {
            Some(id) => {
                if let Some(listener) = self.tcp.listeners.get_mut(&port) {
                    listener.half_open += 1;
                }
                self.tcp.mark_dirty(id);
            }
            None => self.stats.tcp_syn_dropped += 1,
        }
    }

    /// A neighbour resolved: connections waiting for it may send.
    pub(crate) fn tcp_neighbour_resolved(&mut self, ip: Ipv4Addr) {
        let mut waiting = std::mem::take(&mut self.tcp.arp_waiting);
        waiting.retain(|&id| {
            let Some(tcb) = self.tcp.table.get_mut(id) else {
                return false;
            };
            if self.config.next_hop(*tcb.remote.ip()) != ip {
                return true;
            }
            tcb.waiting_arp = false;
            self.tcp.mark_dirty(id);
            false
        });
        self.tcp.arp_waiting = waiting;
    }

    /// Runs due timers, then writes the output of every dirty connection.
    pub(crate) fn tcp_poll(&mut self, now: Instant, tx: &mut impl FrameSink) -> Option<Instant> {
        self.tcp.wheel.advance(now);
        while let Some(conn) = self.tcp.wheel.pop_expired() {
            // A block freed since it was armed is gone (its handle is stale).
            let Some(tcb) = self.tcp.table.get_mut(conn) else {
                continue;
            };
            let mut cx = Ctx::new(&self.config, &mut self.stats, &mut self.events, conn, now);
            let verdict = tcb.on_timers(&mut cx);
            self.apply_verdict(now, None, conn, verdict);
        }
        let offer = self.syn_offer();
        let mut resolved: Option<(Ipv4Addr, [u8; 6])> = None;
        while let Some(id) = self.tcp.dirty.pop_front() {
            let Some(tcb) = self.tcp.table.get_mut(id) else {
                continue;
            };
            tcb.dirty = false;
            let next_hop = self.config.next_hop(*tcb.remote.ip());
            // Within one poll the neighbour cache cannot change under us:
            // consecutive blocks behind the same next hop skip the look-up.
            let known = resolved.filter(|(hop, _)| *hop == next_hop);
            let Some(dst_mac) = known
                .map(|(_, mac)| mac)
                .or_else(|| self.arp.lookup(now, next_hop))
            else {
                if !tcb.waiting_arp {
                    tcb.waiting_arp = true;
                    self.tcp.arp_waiting.push(id);
                }
                // The retransmission timer doubles as the ARP retry timer,
                // so an unresolvable SYN times out like an unanswered one.
                if tcb.rtx_deadline.is_none() {
                    tcb.rtx_deadline = Some(now + tcb.rtt.rto());
                }
                self.request_arp(now, next_hop);
                self.tcp.reschedule(id);
                continue;
            };
            resolved = Some((next_hop, dst_mac));
            let route = Ipv4Route {
                src_mac: self.config.mac,
                dst_mac,
                src_ip: self.config.ipv4,
                dst_ip: *tcb.remote.ip(),
            };
            let mut cx = Ctx::new(&self.config, &mut self.stats, &mut self.events, id, now);
            let mut sink_full = false;
            while let Some(plan) = tcb.next_segment() {
                let len = tcb.frame_len(&plan, now, &offer);
                let block: &Tcb = tcb;
                if !tx.send_frame(len, &mut |frame| {
                    block.write(frame, &route, &plan, now, &offer)
                }) {
                    sink_full = true;
                    break;
                }
                cx.stats.tx_frames += 1;
                tcb.commit(&plan, &mut cx);
            }
            tcb.arm_persist(now);
            if sink_full {
                tcb.dirty = true;
                self.tcp.dirty.push_front(id);
                // The blocks left dirty keep their timers in the wheel.
                for index in 0..self.tcp.dirty.len() {
                    let waiting = self.tcp.dirty[index];
                    self.tcp.reschedule(waiting);
                }
                break;
            }
            self.tcp.reschedule(id);
        }
        self.tcp.wheel.next_deadline()
    }
}

impl Tcb {
    /// Runs the block's expired timers.
    fn on_timers(&mut self, cx: &mut Ctx<'_>) -> Verdict {
        let now = cx.now;
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.close_deadline = None;
            match self.state {
                // RFC 9293 section 3.10.8: TIME-WAIT timeout deletes the TCB.
                State::TimeWait => {
                    return Verdict {
                        free: self.may_free(),
                        ..Verdict::default()
                    };
                }
                State::FinWait2 => {
                    self.report_closed_once_drained(cx.events, cx.id);
                    return Verdict {
                        free: self.may_free(),
                        ..Verdict::default()
                    };
                }
                _ => {}
            }
        }
        if self.rtx_deadline.is_some_and(|d| d <= now) {
            self.rtx_deadline = None;
            if let Some(verdict) = self.on_retransmission_timeout(cx) {
                return verdict;
            }
        }
        if self.delack_deadline.is_some_and(|d| d <= now) {
            self.delack_deadline = None;
            self.ack_now = true;
        }
        if self.persist_deadline.is_some_and(|d| d <= now) {
            // RFC 9293 section 3.8.6.1: probe the zero window with one byte;
            // its retransmission timer backs the probes off.
            self.persist_deadline = None;
            self.force_one = true;
        }
        Verdict::default()
    }

    /// RFC 6298 section 5.4-5.7 with RFC 5681 section 3.1 (loss window):
    /// resend from SND.UNA, back off, or give up after too many tries.
    fn on_retransmission_timeout(&mut self, cx: &mut Ctx<'_>) -> Option<Verdict> {
        if self.snd.max == self.snd.una && !(self.state == State::SynSent && self.waiting_arp) {
            return None;
        }
        cx.stats.tcp_timeouts += 1;
        self.retries += 1;
        if self.retries > cx.config.max_retransmissions {
            cx.stats.tcp_timeout_resets += 1;
            self.report_reset(cx);
            let rst = self.state.synchronized().then_some(Rst {
                seq: self.snd.nxt,
                ack: None,
            });
            return Some(Verdict {
                free: true,
                rst,
                accepted: false,
            });
        }
        let outstanding = (self.snd.max - self.snd.una) as u32;
        self.cc
            .on_timeout(outstanding, self.snd.max, self.segment_payload() as u32);
        self.rtt.back_off(cx.config.rto_max);
        self.rtt.cancel();
        self.snd.nxt = self.snd.una;
        self.retransmit_head = false;
        self.force_one = true;
        self.rtx_deadline = Some(cx.now + self.rtt.rto());
        None
    }
}

#[cfg(test)]
mod tests;
