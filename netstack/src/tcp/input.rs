//! Segment arrival (RFC 9293 section 3.10.7.3 for SYN-SENT and 3.10.7.4
//! for the other states, with RFC 5961 and RFC 7323 checks), applied to one
//! block. The table decides what to do with the [`Verdict`].

use super::congestion::AckAction;
use super::options::TcpOptions;
use super::seq::Seq;
use super::tcb::{Ctx, State, Tcb, window_shift};
use crate::config::StackConfig;
use crate::event::Event;

/// Send window used towards an SLO-aware peer (its window field is not bytes).
const SLO_PEER_WINDOW: u32 = 1 << 30;

/// Most duplicate ACKs owed at once (enough to trigger fast retransmit).
const MAX_DUP_ACKS_OWED: u32 = 8;

/// TCP header flags the state machine looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A parsed incoming segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    pub seq: Seq,
    pub ack: Seq,
    pub flags: Flags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

impl Segment<'_> {
    /// SEG.LEN: payload plus one for each of SYN and FIN.
    pub(crate) fn len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn) + usize::from(self.flags.fin)
    }
}

/// An RST to send in answer (RFC 9293 section 3.10.7.1 forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rst {
    pub seq: Seq,
    /// Some: RST+ACK acknowledging this.
    pub ack: Option<Seq>,
}

impl Rst {
    /// The reset answering a segment that has no connection (RFC 9293
    /// section 3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>` if it carried an ACK,
    /// else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    pub(crate) fn answering(seg: &Segment<'_>) -> Rst {
        if seg.flags.ack {
            Rst {
                seq: seg.ack,
                ack: None,
            }
        } else {
            Rst {
                seq: Seq(0),
                ack: Some(seg.seq + seg.len()),
            }
        }
    }
}

/// What the table does after a segment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Remove the block.
    pub free: bool,
    /// Send this reset.
    pub rst: Option<Rst>,
    /// A passive open just completed (backlog slot released).
    pub accepted: bool,
}

impl Verdict {
    fn keep() -> Verdict {
        Verdict::default()
    }

    fn free() -> Verdict {
        Verdict {
            free: true,
            ..Verdict::default()
        }
    }

    fn rst(rst: Rst) -> Verdict {
        Verdict {
            rst: Some(rst),
            ..Verdict::default()
        }
    }
}

impl Tcb {
    /// Applies the options of the peer's SYN or SYN-ACK (RFC 9293 section
    /// 3.7.1 MSS, RFC 7323 sections 2.2 and 3.2 negotiation).
    pub(crate) fn apply_syn_options(&mut self, options: &TcpOptions, config: &StackConfig) {
        // RFC 9293 section 3.7.1: 536 when the peer sends no MSS option.
        self.snd.mss = options.mss.unwrap_or(536).min(config.mss).max(64);
        match options.window_scale {
            Some(shift) if config.window_scaling => {
                self.snd.wscale = shift;
                self.rcv.wscale = window_shift(self.rx.capacity());
            }
            _ => {
                self.snd.wscale = 0;
                self.rcv.wscale = 0;
            }
        }
        self.ts_recent = match options.timestamp {
            Some((tsval, _)) if config.timestamps => Some(tsval),
            _ => None,
        };
        self.cc = super::congestion::Congestion::new(self.segment_payload() as u32);
    }

    /// Processes one segment addressed to this connection.
    pub(crate) fn on_segment(&mut self, seg: &Segment<'_>, cx: &mut Ctx<'_>) -> Verdict {
        if self.state == State::SynSent {
            return self.on_segment_syn_sent(seg, cx);
        }
        // Simultaneous open (RFC 9293 section 3.5, figure 8): the peer's
        // SYN-ACK repeats the SYN already received; that SYN is trimmed as an
        // already-received portion and the rest processed.
        let trimmed;
        let seg = if self.state == State::SynReceived
            && seg.flags.syn
            && seg.flags.ack
            && seg.seq == self.rcv.irs
        {
            trimmed = Segment {
                seq: seg.seq + 1,
                flags: Flags {
                    syn: false,
                    ..seg.flags
                },
                ..*seg
            };
            &trimmed
        } else {
            seg
        };
        // RFC 7323 section 5.3 (PAWS) and section 3.2 (a non-RST segment
        // without TSopt on a timestamped connection is dropped).
        if let Some(recent) = self.ts_recent
            && !seg.flags.rst
        {
            match seg.options.timestamp {
                Some((tsval, _)) if (tsval.wrapping_sub(recent) as i32) < 0 => {
                    cx.stats.tcp_unacceptable += 1;
                    self.ack_now = true;
                    return Verdict::keep();
                }
                None => {
                    cx.stats.tcp_unacceptable += 1;
                    return Verdict::keep();
                }
                _ => {}
            }
        }
        let mut payload = seg.payload;
        // RFC 9293 section 3.10.7.4, first: sequence number acceptability.
        if !self.acceptable(seg) {
            // A zero window still takes ACKs and RSTs of a segment at RCV.NXT
            // (the text is dropped).
            let zero_window_probe = self.rcv_wnd() == 0 && seg.seq == self.rcv.nxt;
            if !zero_window_probe {
                cx.stats.tcp_unacceptable += 1;
                if !seg.flags.rst {
                    self.ack_now = true;
                    if self.state == State::TimeWait && seg.flags.fin {
                        // Retransmitted FIN in TIME-WAIT: ACK it, restart 2 MSL.
                        self.close_deadline = Some(cx.now + cx.config.time_wait);
                    }
                }
                return Verdict::keep();
            }
            payload = &[];
            self.ack_now = true;
        }
        // RFC 7323 section 4.3: TS.Recent follows segments at RCV.NXT.
        if let (Some(recent), Some((tsval, _))) = (self.ts_recent, seg.options.timestamp)
            && seg.seq <= self.rcv.nxt
            && (tsval.wrapping_sub(recent) as i32) >= 0
        {
            self.ts_recent = Some(tsval);
        }
        // Second: the RST bit (RFC 5961 section 3.2: only an exact match
        // resets; an in-window RST draws a challenge ACK).
        if seg.flags.rst {
            if seg.seq != self.rcv.nxt {
                self.challenge_ack(cx);
                return Verdict::keep();
            }
            if self.state == State::SynReceived && self.listener.is_some() {
                // Passive open: return to LISTEN (the listener remains).
                return Verdict::free();
            }
            self.report_reset(cx);
            return Verdict::free();
        }
        // Fourth: a SYN in a synchronized state draws a challenge ACK (RFC
        // 5961 section 4.2); in SYN-RECEIVED it is a retransmission, answered
        // by repeating the SYN-ACK.
        if seg.flags.syn {
            if self.state == State::SynReceived {
                self.ack_now = true;
            } else {
                self.challenge_ack(cx);
            }
            return Verdict::keep();
        }
        // Fifth: the ACK field.
        if !seg.flags.ack {
            return Verdict::keep();
        }
        let mut verdict = Verdict::keep();
        if self.state == State::SynReceived {
            if !(self.snd.una < seg.ack && seg.ack <= self.snd.max) {
                return Verdict::rst(Rst {
                    seq: seg.ack,
                    ack: None,
                });
            }
            self.state = State::Established;
            self.snd.wnd = u32::from(seg.window) << self.snd.wscale;
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = seg.ack;
            self.app_visible = true;
            match self.listener {
                Some(port) => {
                    verdict.accepted = true;
                    cx.events.push_back(Event::Accepted {
                        conn: cx.id,
                        local_port: port,
                    });
                }
                None => cx.events.push_back(Event::Connected(cx.id)),
            }
        }
        if let Some(early) = self.process_ack(seg, cx) {
            return early;
        }
        // Sixth (URG) is not supported; seventh: the segment text.
        if matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            self.receive_text(seg.seq, payload, cx);
            if seg.flags.fin && payload.len() == seg.payload.len() {
                self.rcv.fin = Some(seg.seq + seg.payload.len());
            }
        }
        // Eighth: the FIN bit, once RCV.NXT reaches it.
        if self.rcv.fin == Some(self.rcv.nxt) {
            self.receive_fin(cx);
        }
        if self.state == State::LastAck && self.fin_acked() {
            self.report_closed_once_drained(cx.events, cx.id);
            verdict.free = self.may_free();
        }
        verdict
    }

    /// RFC 9293 section 3.10.7.4 acceptability table.
    fn acceptable(&self, seg: &Segment<'_>) -> bool {
        let window = self.rcv_wnd();
        let in_window = |s: Seq| self.rcv.nxt <= s && s < self.rcv.nxt + window;
        match (seg.len(), window) {
            (0, 0) => seg.seq == self.rcv.nxt,
            (0, _) => in_window(seg.seq),
            (_, 0) => false,
            (len, _) => in_window(seg.seq) || in_window(seg.seq + (len - 1)),
        }
    }

    fn challenge_ack(&mut self, cx: &mut Ctx<'_>) {
        cx.stats.tcp_challenge_acks += 1;
        self.ack_now = true;
    }

    /// RFC 9293 section 3.10.7.3: segment arrives in SYN-SENT.
    fn on_segment_syn_sent(&mut self, seg: &Segment<'_>, cx: &mut Ctx<'_>) -> Verdict {
        if seg.flags.ack && (seg.ack <= self.snd.iss || seg.ack > self.snd.max) {
            if seg.flags.rst {
                return Verdict::keep();
            }
            return Verdict::rst(Rst {
                seq: seg.ack,
                ack: None,
            });
        }
        if seg.flags.rst {
            if seg.flags.ack {
                // Connection refused.
                self.report_reset(cx);
                return Verdict::free();
            }
            return Verdict::keep();
        }
        if !seg.flags.syn {
            return Verdict::keep();
        }
        self.rcv.irs = seg.seq;
        self.rcv.nxt = seg.seq + 1;
        self.rcv.adv = self.rcv.nxt;
        self.apply_syn_options(&seg.options, cx.config);
        // RFC 7323 section 2.2: the window of a SYN is never scaled.
        self.snd.wnd = u32::from(seg.window);
        self.snd.max_wnd = self.snd.wnd;
        self.snd.wl1 = seg.seq;
        self.snd.wl2 = seg.ack;
        self.peer_raw_window = seg.window;
        self.ack_now = true;
        if seg.flags.ack {
            self.snd.una = seg.ack;
            self.snd.nxt = self.snd.nxt.max(seg.ack);
            self.rtt
                .on_ack(seg.ack, cx.now, cx.config.rto_min, cx.config.rto_max);
            self.rtx_deadline = None;
            self.retries = 0;
            self.state = State::Established;
            cx.events.push_back(Event::Connected(cx.id));
        } else {
            // Simultaneous open: answer with SYN,ACK <SEQ=ISS><ACK=RCV.NXT>.
            self.state = State::SynReceived;
            self.snd.nxt = self.snd.iss;
        }
        Verdict::keep()
    }

    /// RFC 9293 section 3.10.7.4 "fifth, check the ACK field" for the
    /// synchronized states; Some(verdict) when processing stops here.
    fn process_ack(&mut self, seg: &Segment<'_>, cx: &mut Ctx<'_>) -> Option<Verdict> {
        // RFC 5961 section 5.2: acceptable range is
        // SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
        if seg.ack > self.snd.max || seg.ack < self.snd.una - self.snd.max_wnd as usize {
            self.challenge_ack(cx);
            return Some(Verdict::keep());
        }
        let outstanding = (self.snd.max - self.snd.una) as u32;
        // SLO-aware peers use the field for tokens or idle time (thesis
        // chapter 5): the byte window is then bounded by our buffers only.
        let scaled_window = if self.slo_peer {
            SLO_PEER_WINDOW
        } else {
            u32::from(seg.window) << self.snd.wscale
        };
        self.peer_raw_window = seg.window;
        if seg.ack > self.snd.una {
            self.on_new_ack(seg.ack, cx);
        } else if seg.ack == self.snd.una
            && outstanding > 0
            && seg.payload.is_empty()
            && !seg.flags.fin
            && scaled_window == self.snd.wnd
        {
            // RFC 5681 section 2 "duplicate acknowledgment".
            let payload = self.segment_payload() as u32;
            if self
                .cc
                .on_dup_ack(seg.ack, outstanding, self.snd.max, payload)
                == AckAction::RetransmitHead
            {
                cx.stats.tcp_fast_retransmits += 1;
                self.retransmit_head = true;
                self.rtt.cancel();
            }
        }
        if seg.ack == self.snd.una && scaled_window == 0 {
            // The peer answers our zero-window probes: it is alive
            // (RFC 9293 section 3.8.6.1, probing never times out).
            self.retries = 0;
        }
        // Window update (SND.WL1/SND.WL2 rule).
        if self.snd.wl1 < seg.seq || (self.snd.wl1 == seg.seq && self.snd.wl2 <= seg.ack) {
            self.snd.wnd = scaled_window;
            self.snd.max_wnd = self.snd.max_wnd.max(scaled_window);
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = seg.ack;
            if scaled_window > 0 {
                self.persist_deadline = None;
            }
        }
        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.state = State::FinWait2;
                // Bound FIN-WAIT-2 (the application has closed; a silent
                // peer must not pin the block forever).
                self.close_deadline = Some(cx.now + cx.config.time_wait);
            }
            State::Closing if self.fin_acked() => self.enter_time_wait(cx),
            _ => {}
        }
        None
    }

    /// SND.UNA < SEG.ACK =< SND.NXT: drop acknowledged bytes, sample the
    /// RTT, grow the congestion window, restart or stop the timer.
    fn on_new_ack(&mut self, ack: Seq, cx: &mut Ctx<'_>) {
        let acked = (ack - self.snd.una) as u32;
        let data_acked = if ack > self.tx_seq {
            ack.min(self.data_end()) - self.tx_seq
        } else {
            0
        };
        self.tx.discard(data_acked);
        // The send ring never holds bytes beyond its end.
        self.tx.rewind_if_empty();
        self.tx_seq = self.tx_seq + data_acked;
        self.snd.una = ack;
        self.snd.nxt = self.snd.nxt.max(ack);
        self.retries = 0;
        self.rtt
            .on_ack(ack, cx.now, cx.config.rto_min, cx.config.rto_max);
        let payload = self.segment_payload() as u32;
        if self.cc.on_new_ack(ack, acked, payload) == AckAction::RetransmitHead {
            self.retransmit_head = true;
            self.rtt.cancel();
        }
        // RFC 6298 section 5.2 and 5.3.
        if self.snd.max > self.snd.una {
            self.rtx_deadline = Some(cx.now + self.rtt.rto());
        } else {
            self.rtx_deadline = None;
            self.retransmit_head = false;
        }
        if self.want_writable && data_acked > 0 && self.tx.free() > 0 && self.app_visible {
            self.want_writable = false;
            cx.events.push_back(Event::Writable(cx.id));
        }
    }

    /// RFC 9293 section 3.10.7.4 "seventh": in-order bytes are appended,
    /// out-of-order bytes parked (RFC 5681 section 4.2 ACK rules).
    fn receive_text(&mut self, seq: Seq, payload: &[u8], cx: &mut Ctx<'_>) {
        if payload.is_empty() {
            return;
        }
        let skip = self.rcv.nxt - seq;
        if skip >= payload.len() {
            return;
        }
        let data = &payload[skip..];
        let offset = (seq + skip) - self.rcv.nxt;
        if offset == 0 {
            let had_holes = !self.ooo.is_empty();
            let written = self.rx.write_beyond(0, data);
            self.rx.commit(written);
            let extra = self.ooo.advance(written as u32) as usize;
            self.rx.commit(extra);
            self.rcv.nxt = self.rcv.nxt + (written + extra);
            if written + extra > 0 {
                self.signal_readable(cx);
            }
            self.unacked_segments += 1;
            if had_holes || self.unacked_segments >= 2 {
                // Fills (part of) a gap, or every second segment.
                self.ack_now = true;
            } else if self.delack_deadline.is_none() {
                self.delack_deadline = Some(cx.now + cx.config.delayed_ack);
            }
        } else {
            cx.stats.tcp_out_of_order += 1;
            let written = self.rx.write_beyond(offset, data);
            if written > 0 && !self.ooo.add(offset as u32, written as u32) {
                cx.stats.tcp_unacceptable += 1;
            }
            // RFC 5681 section 4.2: each out-of-order segment is ACKed at
            // once (a burst processed in one batch still yields one
            // duplicate ACK per segment).
            self.ack_now = true;
            self.dup_acks_owed = (self.dup_acks_owed + 1).min(MAX_DUP_ACKS_OWED);
        }
    }

    /// RFC 9293 section 3.10.7.4 "eighth, check the FIN bit".
    fn receive_fin(&mut self, cx: &mut Ctx<'_>) {
        self.rcv.fin = None;
        self.rcv.nxt = self.rcv.nxt + 1;
        self.ack_now = true;
        if !self.peer_closed {
            self.peer_closed = true;
            if self.app_visible {
                cx.events.push_back(Event::PeerClosed(cx.id));
            }
        }
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(cx),
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(cx),
            _ => {}
        }
    }
}
