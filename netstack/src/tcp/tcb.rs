//! The transmission control block (RFC 9293 section 3.3.1): one
//! connection's state, buffers and timers. Segment arrival lives in
//! `input.rs`, segment generation in `output.rs`; the connection table owns
//! the blocks and drives both.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Deserialize, Serialize};

use super::assembler::Assembler;
use super::congestion::Congestion;
use super::options::TIMESTAMP_SPACE;
use super::ring::Ring;
use super::rtt::RttEstimator;
use super::seq::Seq;
use crate::config::StackConfig;
use crate::event::{ConnId, Event};
use crate::stats::StackStats;
use crate::time::{Instant, earliest};

/// Connection states (RFC 9293 section 3.3.2; LISTEN is a listener, not a
/// block, and CLOSED is the absence of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received, SYN-ACK sent.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We closed first; FIN not yet acknowledged.
    FinWait1,
    /// Our FIN acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed simultaneously; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs acknowledged; lingering 2 MSL for stray segments.
    TimeWait,
}

impl State {
    /// Whether the handshake completed (RFC 9293 "synchronized" states).
    pub(crate) fn synchronized(self) -> bool {
        !matches!(self, State::SynSent | State::SynReceived)
    }

    /// Whether we have sent (or queued) our FIN.
    pub(crate) fn fin_queued(self) -> bool {
        matches!(
            self,
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait
        )
    }
}

/// Send sequence variables (RFC 9293 section 3.3.1, figure 3), plus the
/// send-side negotiated options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSequence {
    /// Initial send sequence number.
    pub iss: Seq,
    /// SND.UNA: oldest unacknowledged sequence number.
    pub una: Seq,
    /// SND.NXT: next sequence number to send.
    pub nxt: Seq,
    /// Highest sequence number sent plus one (SND.NXT before a go-back-N).
    pub max: Seq,
    /// SND.WND: the peer's window, bytes (scaled).
    pub wnd: u32,
    /// Largest window the peer offered (RFC 5961 section 5.2).
    pub max_wnd: u32,
    /// SND.WL1: segment sequence number of the last window update.
    pub wl1: Seq,
    /// SND.WL2: segment acknowledgment number of the last window update.
    pub wl2: Seq,
    /// The peer's window-scale shift (applied to windows it sends).
    pub wscale: u8,
    /// Effective send MSS (RFC 9293 section 3.7.1, options included).
    pub mss: u16,
}

/// Receive sequence variables (RFC 9293 section 3.3.1, figure 4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveSequence {
    /// Initial receive sequence number.
    pub irs: Seq,
    /// RCV.NXT: next sequence number expected.
    pub nxt: Seq,
    /// Right edge of the window last advertised.
    pub adv: Seq,
    /// Our window-scale shift (applied to windows we send).
    pub wscale: u8,
    /// Sequence number of a FIN received beyond RCV.NXT.
    pub fin: Option<Seq>,
}

/// The context of one call into a block: configuration, counters, the
/// event queue and the block's own handle.
pub(crate) struct Ctx<'a> {
    pub config: &'a StackConfig,
    pub stats: &'a mut StackStats,
    pub events: &'a mut VecDeque<Event>,
    pub id: ConnId,
    pub now: Instant,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        config: &'a StackConfig,
        stats: &'a mut StackStats,
        events: &'a mut VecDeque<Event>,
        id: ConnId,
        now: Instant,
    ) -> Ctx<'a> {
        Ctx {
            config,
            stats,
            events,
            id,
            now,
        }
    }
}

/// One connection. Laid out in declaration order (`repr(C)`): the fields
/// every segment touches first, the rings with their inline bytes last.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Tcb {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Listening port of a passive open (for backlog accounting).
    pub listener: Option<u16>,
    /// The application knows this connection (after Accepted, or from
    /// connect/import) and must get a Closed event.
    pub app_visible: bool,
    pub closed_reported: bool,
    /// The connection ended with received bytes still unread: Closed waits
    /// until `recv` has drained them.
    pub close_when_drained: bool,
    /// The block itself is done (would have been freed) and goes with the
    /// deferred Closed.
    pub free_when_drained: bool,

    pub snd: SendSequence,
    pub tx_seq: Seq,

    pub rcv: ReceiveSequence,
    pub ooo: Assembler,
    /// SLO-aware flow control: raw 16-bit window advertised instead of the
    /// buffer space (thesis chapter 5).
    pub window_override: Option<u16>,
    /// Raw window field of the last segment from the peer.
    pub peer_raw_window: u16,
    /// The peer's window field carries SLO signals, not bytes.
    pub slo_peer: bool,

    /// Timestamps negotiated (RFC 7323 section 3): TS.Recent.
    pub ts_recent: Option<u32>,
    pub ts_offset: u32,
    /// CRAB Connection Redirect address (sent, received or echoed).
    pub crab: Option<Ipv4Addr>,

    pub rtt: RttEstimator,
    pub cc: Congestion,
    /// Consecutive retransmission timeouts.
    pub retries: u32,

    // Timers (absolute deadlines).
    pub rtx_deadline: Option<Instant>,
    pub delack_deadline: Option<Instant>,
    pub persist_deadline: Option<Instant>,
    pub close_deadline: Option<Instant>,

    // Output requests.
    pub ack_now: bool,
    /// Duplicate ACKs owed for out-of-order segments received since the
    /// last poll (one each, so the peer's fast retransmit sees them).
    pub dup_acks_owed: u32,
    pub unacked_segments: u32,
    pub retransmit_head: bool,
    /// Send at least one byte regardless of windows (RTO, zero-window probe).
    pub force_one: bool,
    /// Queued in the dirty list.
    pub dirty: bool,
    /// Waiting for the next hop's MAC.
    pub waiting_arp: bool,

    // Application notifications.
    pub readable_signalled: bool,
    pub want_writable: bool,
    pub peer_closed: bool,

    // The rings last: their inline bytes follow the scalar state, which
    // then stays within the first cache lines.
    /// Unacknowledged then unsent bytes; `tx[0]` has sequence `tx_seq`.
    pub tx: Ring,
    /// In-order unread bytes, out-of-order bytes parked after them.
    pub rx: Ring,
}

/// Shift so that `buffer >> shift` fits the 16-bit window (RFC 7323
/// section 2.3, at most 14).
pub(crate) fn window_shift(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < super::options::MAX_WINDOW_SCALE && (buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

impl Tcb {
    /// A block with fresh buffers; the caller sets the state-specific fields.
    pub(crate) fn new(
        config: &StackConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: Seq,
        ts_offset: u32,
        rx: Ring,
        tx: Ring,
    ) -> Tcb {
        Tcb {
            state: State::SynSent,
            local,
            remote,
            listener: None,
            app_visible: false,
            closed_reported: false,
            close_when_drained: false,
            free_when_drained: false,
            snd: SendSequence {
                iss,
                una: iss,
                nxt: iss,
                max: iss,
                wnd: 0,
                max_wnd: 0,
                wl1: Seq(0),
                wl2: Seq(0),
                wscale: 0,
                mss: 536,
            },
            tx,
            tx_seq: iss + 1,
            rcv: ReceiveSequence::default(),
            rx,
            ooo: Assembler::new(),
            window_override: None,
            peer_raw_window: 0,
            slo_peer: false,
            ts_recent: None,
            ts_offset,
            crab: None,
            rtt: RttEstimator::new(config.rto_initial),
            cc: Congestion::new(536),
            retries: 0,
            rtx_deadline: None,
            delack_deadline: None,
            persist_deadline: None,
            close_deadline: None,
            ack_now: false,
            dup_acks_owed: 0,
            unacked_segments: 0,
            retransmit_head: false,
            force_one: false,
            dirty: false,
            waiting_arp: false,
            readable_signalled: false,
            want_writable: false,
            peer_closed: false,
        }
    }

    /// Our timestamp clock (RFC 7323 section 5.4: 1 ms ticks, per-connection
    /// random offset).
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Payload bytes per full-sized segment (RFC 6691: MSS minus options).
    pub(crate) fn segment_payload(&self) -> usize {
        let options = if self.ts_recent.is_some() {
            TIMESTAMP_SPACE
        } else {
            0
        };
        usize::from(self.snd.mss).saturating_sub(options).max(1)
    }

    /// Bytes sent and not acknowledged (SYN and FIN included).
    pub(crate) fn flight(&self) -> usize {
        self.snd.nxt - self.snd.una
    }

    /// Sequence number just past the last queued data byte (where our FIN goes).
    pub(crate) fn data_end(&self) -> Seq {
        self.tx_seq + self.tx.len()
    }

    /// Bytes queued and never sent.
    pub(crate) fn unsent(&self) -> usize {
        self.data_end() - self.snd.nxt.max(self.tx_seq)
    }

    /// Whether our FIN has been acknowledged.
    pub(crate) fn fin_acked(&self) -> bool {
        self.state.fin_queued() && self.tx.is_empty() && self.snd.una == self.data_end() + 1
    }

    /// Whether a FIN is still to be (re)sent.
    pub(crate) fn fin_pending(&self) -> bool {
        self.state.fin_queued() && self.snd.nxt <= self.data_end()
    }

    /// Receive window we can honour (free buffer space).
    pub(crate) fn rcv_wnd(&self) -> usize {
        self.rx.free()
    }

    /// Window to advertise, applying receiver-side silly window avoidance
    /// (RFC 9293 section 3.8.6.2.2): the right edge only moves when it can
    /// move by min(buffer/2, MSS).
    pub(crate) fn window_to_advertise(&self) -> usize {
        let open = self.rcv.adv - self.rcv.nxt;
        let free = self.rcv_wnd();
        // Eff.snd.MSS: the payload of a full segment (options excluded).
        let threshold = (self.rx.capacity() / 2).min(self.segment_payload());
        if free >= open + threshold {
            free
        } else {
            open.min(free)
        }
    }

    /// Earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest(
            earliest(self.rtx_deadline, self.delack_deadline),
            earliest(self.persist_deadline, self.close_deadline),
        )
    }

    /// Reports the end of the application's view of the connection, once.
    pub(crate) fn report_closed(&mut self, events: &mut VecDeque<Event>, id: ConnId) {
        if self.app_visible && !self.closed_reported {
            self.closed_reported = true;
            events.push_back(Event::Closed(id));
        }
    }

    /// Graceful end of the application's view (both FINs exchanged, or
    /// FIN-WAIT-2 timed out): RFC 9293 section 3.10.7.4 delivers every
    /// received byte to the user, so Closed is deferred while the receive
    /// buffer still holds unread bytes (`recv` reports it when it returns
    /// the end of stream, 0).
    pub(crate) fn report_closed_once_drained(&mut self, events: &mut VecDeque<Event>, id: ConnId) {
        if self.app_visible && !self.closed_reported && !self.rx.is_empty() {
            self.close_when_drained = true;
        } else {
            self.report_closed(events, id);
        }
    }

    /// Whether the protocol's done block may be freed now; false keeps it
    /// (and its receive buffer) until the application drained it.
    pub(crate) fn may_free(&mut self) -> bool {
        self.free_when_drained = self.close_when_drained;
        !self.close_when_drained
    }

    /// The connection is torn down by a reset or timeout (RFC 9293 section
    /// 3.10.7.4, "second, check the RST bit").
    pub(crate) fn report_reset(&mut self, cx: &mut Ctx<'_>) {
        if self.app_visible && !self.closed_reported {
            cx.events.push_back(Event::Reset(cx.id));
        }
        self.report_closed(cx.events, cx.id);
    }

    /// Enters TIME-WAIT (RFC 9293 section 3.10.7.4 "eighth"): the
    /// application is done with the connection; the block lingers 2 MSL.
    pub(crate) fn enter_time_wait(&mut self, cx: &mut Ctx<'_>) {
        self.state = State::TimeWait;
        self.rtx_deadline = None;
        self.persist_deadline = None;
        self.close_deadline = Some(cx.now + cx.config.time_wait);
        self.report_closed_once_drained(cx.events, cx.id);
    }

    /// Signals newly readable bytes once until the application reads.
    pub(crate) fn signal_readable(&mut self, cx: &mut Ctx<'_>) {
        if self.app_visible && !self.readable_signalled {
            self.readable_signalled = true;
            cx.events.push_back(Event::Readable(cx.id));
        }
    }
}
