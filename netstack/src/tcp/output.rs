//! Segment generation: which segment a block sends next ([`Tcb::next_segment`],
//! pure, so a full transmit queue loses nothing), how it is written into a
//! frame, and the state changes once it is sent ([`Tcb::commit`]).

use smoltcp::wire::{IpProtocol, TcpPacket, TcpSeqNumber};

use super::options::TcpOptions;
use super::seq::Seq;
use super::tcb::{Ctx, State, Tcb};
use crate::frame::{Ipv4Route, L4_OFFSET, fill_tcp_checksum, write_ipv4_headers};
use crate::time::Instant;

/// TCP header length without options.
pub(crate) const TCP_HEADER: usize = 20;

/// One segment to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub seq: Seq,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    /// Payload: `len` bytes of the send ring from `offset`.
    pub offset: usize,
    pub len: usize,
    /// Fast/partial-ACK retransmission of the first unacknowledged segment
    /// (SND.NXT does not move).
    pub head: bool,
    /// Receive window advertised, in bytes (before scaling).
    pub window: usize,
}

impl Plan {
    fn seg_len(&self) -> usize {
        self.len + usize::from(self.syn) + usize::from(self.fin)
    }
}

impl Tcb {
    fn plan(&self, seq: Seq, syn: bool, ack: bool) -> Plan {
        Plan {
            seq,
            syn,
            ack,
            fin: false,
            offset: 0,
            len: 0,
            head: false,
            window: self.window_to_advertise(),
        }
    }

    /// The next segment this block wants to send, if any.
    pub(crate) fn next_segment(&self) -> Option<Plan> {
        match self.state {
            State::SynSent => {
                return (self.snd.nxt == self.snd.iss)
                    .then(|| self.plan(self.snd.iss, true, false));
            }
            State::SynReceived => {
                return (self.snd.nxt == self.snd.iss || self.ack_now)
                    .then(|| self.plan(self.snd.iss, true, true));
            }
            State::TimeWait => return self.ack_now.then(|| self.plan(self.snd.nxt, false, true)),
            _ => {}
        }
        if self.retransmit_head && self.snd.max > self.snd.una {
            let start = self.snd.una.max(self.tx_seq);
            let len = (self.data_end() - start).min(self.segment_payload());
            let fin = self.state.fin_queued()
                && start + len == self.data_end()
                && self.snd.max > self.data_end();
            let mut plan = self.plan(self.snd.una, false, true);
            plan.offset = start - self.tx_seq;
            plan.len = len;
            plan.fin = fin;
            plan.head = true;
            if plan.seg_len() > 0 {
                return Some(plan);
            }
        }
        if let Some(plan) = self.new_data() {
            return Some(plan);
        }
        (self.ack_now || self.dup_acks_owed > 0).then(|| self.plan(self.snd.nxt, false, true))
    }

    /// New (or, after a timeout, resent) data and FIN from SND.NXT, within
    /// min(SND.WND, cwnd) (RFC 5681 section 3.1) with sender-side silly
    /// window avoidance (RFC 9293 section 3.8.6.2.1; no Nagle delay).
    fn new_data(&self) -> Option<Plan> {
        let unsent = self.unsent();
        let fin_pending = self.fin_pending();
        if unsent == 0 && !fin_pending {
            return None;
        }
        let window = (self.snd.wnd.min(self.cc.cwnd)) as usize;
        let mut usable = window.saturating_sub(self.flight());
        if self.force_one {
            usable = usable.max(1);
        }
        let full = self.segment_payload();
        let len = unsent.min(usable).min(full);
        let start = self.snd.nxt.max(self.tx_seq);
        let fin = fin_pending && start + len == self.data_end();
        if len == 0 && !fin {
            return None;
        }
        let sws_ok = len == full
            || len == unsent
            || len >= (self.snd.max_wnd as usize) / 2
            || self.force_one;
        if len > 0 && !sws_ok {
            return None;
        }
        let mut plan = self.plan(self.snd.nxt, false, true);
        plan.offset = start - self.tx_seq;
        plan.len = len;
        plan.fin = fin;
        Some(plan)
    }

    /// Records that `plan` was sent.
    pub(crate) fn commit(&mut self, plan: &Plan, cx: &mut Ctx<'_>) {
        cx.stats.tcp_tx += 1;
        let seg_len = plan.seg_len();
        let end = plan.seq + seg_len;
        if seg_len > 0 {
            if plan.seq < self.snd.max {
                // Karn: never time a retransmission.
                self.rtt.cancel();
                cx.stats.tcp_retransmits += 1;
            } else {
                self.rtt.start(end, cx.now);
            }
            if !plan.head {
                self.snd.nxt = self.snd.nxt.max(end);
            }
            self.snd.max = self.snd.max.max(end);
            if self.rtx_deadline.is_none() {
                self.rtx_deadline = Some(cx.now + self.rtt.rto());
            }
            self.force_one = false;
        }
        if plan.head {
            self.retransmit_head = false;
        }
        if plan.ack {
            if seg_len == 0 {
                self.dup_acks_owed = self.dup_acks_owed.saturating_sub(1);
            }
            self.ack_now = false;
            self.delack_deadline = None;
            self.unacked_segments = 0;
            self.rcv.adv = self.rcv.adv.max(self.rcv.nxt + plan.window);
        }
    }

    /// Arms the persist timer when data waits behind a zero window with
    /// nothing in flight (RFC 9293 section 3.8.6.1).
    pub(crate) fn arm_persist(&mut self, now: Instant) {
        let blocked = (self.unsent() > 0 || self.fin_pending())
            && self.snd.wnd == 0
            && self.flight() == 0
            && self.state.synchronized();
        if blocked && self.persist_deadline.is_none() {
            self.persist_deadline = Some(now + self.rtt.rto());
        } else if !blocked {
            self.persist_deadline = None;
        }
    }

    /// The options carried by `plan` (RFC 7323: timestamps on every
    /// segment once negotiated; SYN options only on SYNs).
    fn options_for(&self, plan: &Plan, now: Instant, cx_offer: &SynOffer) -> TcpOptions {
        let tsval = self.ts_now(now);
        if !plan.syn {
            return TcpOptions {
                timestamp: self.ts_recent.map(|recent| (tsval, recent)),
                ..TcpOptions::default()
            };
        }
        let active = self.state == State::SynSent;
        TcpOptions {
            mss: Some(cx_offer.mss),
            window_scale: if active {
                cx_offer.window_scaling.then_some(self.rcv.wscale)
            } else {
                (self.rcv.wscale > 0 || self.snd.wscale > 0).then_some(self.rcv.wscale)
            },
            sack_permitted: false,
            timestamp: if active {
                cx_offer.timestamps.then_some((tsval, 0))
            } else {
                self.ts_recent.map(|recent| (tsval, recent))
            },
            crab_redirect: self.crab,
        }
    }

    /// Frame length of `plan`.
    pub(crate) fn frame_len(&self, plan: &Plan, now: Instant, offer: &SynOffer) -> usize {
        L4_OFFSET + TCP_HEADER + self.options_for(plan, now, offer).len() + plan.len
    }

    /// Writes `plan` as a complete frame (`frame` is `frame_len` bytes).
    pub(crate) fn write(
        &self,
        frame: &mut [u8],
        route: &Ipv4Route,
        plan: &Plan,
        now: Instant,
        offer: &SynOffer,
    ) {
        let options = self.options_for(plan, now, offer);
        let header_len = TCP_HEADER + options.len();
        write_ipv4_headers(frame, route, IpProtocol::Tcp, header_len + plan.len);
        let window = if plan.syn {
            // RFC 7323 section 2.2: a SYN's window is never scaled.
            plan.window.min(usize::from(u16::MAX)) as u16
        } else {
            match self.window_override {
                Some(raw) if self.state.synchronized() => raw,
                _ => (plan.window >> self.rcv.wscale).min(usize::from(u16::MAX)) as u16,
            }
        };
        {
            let mut tcp = TcpPacket::new_unchecked(&mut frame[L4_OFFSET..]);
            tcp.set_src_port(self.local.port());
            tcp.set_dst_port(self.remote.port());
            tcp.set_seq_number(TcpSeqNumber(plan.seq.0 as i32));
            tcp.set_ack_number(TcpSeqNumber(if plan.ack {
                self.rcv.nxt.0 as i32
            } else {
                0
            }));
            tcp.set_header_len(header_len as u8);
            tcp.clear_flags();
            tcp.set_syn(plan.syn);
            tcp.set_ack(plan.ack);
            tcp.set_fin(plan.fin);
            tcp.set_psh(plan.len > 0);
            tcp.set_window_len(window);
            tcp.set_urgent_at(0);
            options.write(tcp.options_mut());
            let copied = self
                .tx
                .peek(plan.offset, &mut tcp.payload_mut()[..plan.len]);
            debug_assert_eq!(copied, plan.len);
        }
        fill_tcp_checksum(frame, route);
    }
}

/// What our SYNs offer (from the configuration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SynOffer {
    pub mss: u16,
    pub window_scaling: bool,
    pub timestamps: bool,
}

/// Writes a bare RST (or RST+ACK) frame (RFC 9293 section 3.10.7.1).
pub(crate) fn write_rst(
    frame: &mut [u8],
    route: &Ipv4Route,
    ports: (u16, u16),
    seq: Seq,
    ack: Option<Seq>,
) {
    write_ipv4_headers(frame, route, IpProtocol::Tcp, TCP_HEADER);
    {
        let mut tcp = TcpPacket::new_unchecked(&mut frame[L4_OFFSET..]);
        tcp.set_src_port(ports.0);
        tcp.set_dst_port(ports.1);
        tcp.set_seq_number(TcpSeqNumber(seq.0 as i32));
        tcp.set_ack_number(TcpSeqNumber(ack.map_or(0, |a| a.0 as i32)));
        tcp.set_header_len(TCP_HEADER as u8);
        tcp.clear_flags();
        tcp.set_rst(true);
        tcp.set_ack(ack.is_some());
        tcp.set_window_len(0);
        tcp.set_urgent_at(0);
    }
    fill_tcp_checksum(frame, route);
}
