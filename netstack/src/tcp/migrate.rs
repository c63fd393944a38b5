//! Live migration (Capybara-style): [`Stack::export`] detaches a connection
//! into a plain serialisable [`ConnectionState`]; [`Stack::import`] resumes
//! it in another stack with the same address, byte-exact (unacknowledged,
//! unsent, unread and out-of-order bytes all travel). Timers travel as
//! remaining durations, so the two stacks' clocks need not agree; the
//! timestamp clock is re-based so the peer sees TSval continue.

use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Deserialize, Serialize};

use super::assembler::Assembler;
use super::congestion::Congestion;
use super::rtt::RttEstimator;
use super::seq::Seq;
use super::table::key;
use super::tcb::{ReceiveSequence, SendSequence, State, Tcb};
use crate::error::{ConnError, ImportError};
use crate::event::{ConnId, Event};
use crate::stack::Stack;
use crate::time::{Duration, Instant};

/// Remaining time of each timer at export (None: not armed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// Retransmission timer.
    pub retransmit: Option<Duration>,
    /// Delayed-ACK timer.
    pub delayed_ack: Option<Duration>,
    /// Zero-window persist timer.
    pub persist: Option<Duration>,
    /// TIME-WAIT or FIN-WAIT-2 timer.
    pub close: Option<Duration>,
}

/// The complete state of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionState {
    /// TCP state.
    pub state: State,
    /// Our address and port.
    pub local: SocketAddrV4,
    /// The peer's address and port.
    pub remote: SocketAddrV4,
    /// Send sequence variables.
    pub send: SendSequence,
    /// Receive sequence variables.
    pub receive: ReceiveSequence,
    /// TS.Recent, Some when timestamps are in use.
    pub ts_recent: Option<u32>,
    /// Our TSval at export.
    pub ts_value: u32,
    /// CRAB Connection Redirect address.
    pub crab: Option<Ipv4Addr>,
    /// SLO-aware window override.
    pub window_override: Option<u16>,
    /// Last raw window field from the peer.
    pub peer_raw_window: u16,
    /// The peer's window field carries SLO signals.
    pub slo_peer: bool,
    /// RTT estimator (the running measurement is dropped).
    pub rtt: RttEstimator,
    /// Congestion control state.
    pub congestion: Congestion,
    /// Consecutive retransmission timeouts.
    pub retries: u32,
    /// Timers.
    pub timers: TimerState,
    /// Sequence number of the first byte of `send_buffer`.
    pub send_seq: Seq,
    /// Unacknowledged then unsent bytes.
    pub send_buffer: Vec<u8>,
    /// In-order bytes not yet read by the application.
    pub recv_buffer: Vec<u8>,
    /// Out-of-order bytes: (offset from `rcv_nxt`, bytes).
    pub out_of_order: Vec<(u32, Vec<u8>)>,
    /// The peer's FIN was received.
    pub peer_closed: bool,
    /// The application waits for a Writable event.
    pub want_writable: bool,
    /// An ACK was due.
    pub ack_pending: bool,
}

fn remaining(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|d| d.saturating_since(now))
}

impl Stack {
    /// Detaches a synchronized connection and returns its state. Nothing is
    /// sent and no event follows: the handle is dead and the peer sees
    /// nothing until the state is imported elsewhere.
    pub fn export(&mut self, conn: ConnId) -> Result<ConnectionState, ConnError> {
        let now = self.now;
        let tcb = match self.tcp.table.get(conn) {
            Some(tcb) if tcb.app_visible && !tcb.closed_reported => tcb,
            _ => return Err(ConnError::UnknownConnection(conn)),
        };
        if !tcb.state.synchronized() {
            return Err(ConnError::NotSynchronized(conn));
        }
        let mut rtt = tcb.rtt.clone();
        rtt.probe = None;
        let parked = tcb.rx.beyond_to_vec(tcb.ooo.extent() as usize);
        let out_of_order = tcb
            .ooo
            .ranges()
            .iter()
            .map(|&(start, end)| (start, parked[start as usize..end as usize].to_vec()))
            .collect();
        let state = ConnectionState {
            state: tcb.state,
            local: tcb.local,
            remote: tcb.remote,
            send: tcb.snd,
            receive: tcb.rcv,
            ts_recent: tcb.ts_recent,
            ts_value: tcb.ts_now(now),
            crab: tcb.crab,
            window_override: tcb.window_override,
            peer_raw_window: tcb.peer_raw_window,
            slo_peer: tcb.slo_peer,
            rtt,
            congestion: tcb.cc.clone(),
            retries: tcb.retries,
            timers: TimerState {
                retransmit: remaining(tcb.rtx_deadline, now),
                delayed_ack: remaining(tcb.delack_deadline, now),
                persist: remaining(tcb.persist_deadline, now),
                close: remaining(tcb.close_deadline, now),
            },
            send_seq: tcb.tx_seq,
            send_buffer: tcb.tx.to_vec(),
            recv_buffer: tcb.rx.to_vec(),
            out_of_order,
            peer_closed: tcb.peer_closed,
            want_writable: tcb.want_writable,
            ack_pending: tcb.ack_now || tcb.delack_deadline.is_some(),
        };
        self.tcp.remove(conn);
        Ok(state)
    }

    /// Resumes an exported connection at `now`. Its local address must be
    /// ours; queued bytes must fit this stack's buffers. A `Readable` event
    /// follows when unread bytes came along.
    pub fn import(&mut self, now: Instant, state: &ConnectionState) -> Result<ConnId, ImportError> {
        self.now = self.now.max(now);
        if *state.local.ip() != self.config.ipv4 {
            return Err(ImportError::WrongAddress(*state.local.ip()));
        }
        if !state.state.synchronized() {
            return Err(ImportError::NotSynchronized);
        }
        let key = key(state.local.port(), state.remote);
        if self.tcp.table.lookup(key).is_some() {
            return Err(ImportError::AddressInUse(state.remote));
        }
        if self.tcp.table.is_full() {
            return Err(ImportError::TableFull);
        }
        let ooo_end = state
            .out_of_order
            .iter()
            .map(|(o, b)| *o as usize + b.len())
            .max();
        let rx_needed = state.recv_buffer.len() + ooo_end.unwrap_or(0);
        if state.send_buffer.len() > self.config.tx_buffer || rx_needed > self.config.rx_buffer {
            return Err(ImportError::BufferTooSmall);
        }
        let (rx, tx) = self.tcp.table.buffers();
        let ts_offset = state.ts_value.wrapping_sub(now.as_millis() as u32);
        let mut tcb = Tcb::new(
            &self.config,
            state.local,
            state.remote,
            state.send.iss,
            ts_offset,
            rx,
            tx,
        );
        tcb.state = state.state;
        tcb.app_visible = true;
        tcb.snd = state.send;
        tcb.rcv = state.receive;
        tcb.ts_recent = state.ts_recent;
        tcb.crab = state.crab;
        tcb.window_override = state.window_override;
        tcb.peer_raw_window = state.peer_raw_window;
        tcb.slo_peer = state.slo_peer;
        tcb.rtt = state.rtt.clone();
        tcb.cc = state.congestion.clone();
        tcb.retries = state.retries;
        tcb.rtx_deadline = state.timers.retransmit.map(|d| now + d);
        tcb.delack_deadline = state.timers.delayed_ack.map(|d| now + d);
        tcb.persist_deadline = state.timers.persist.map(|d| now + d);
        tcb.close_deadline = state.timers.close.map(|d| now + d);
        tcb.tx_seq = state.send_seq;
        tcb.tx.push(&state.send_buffer);
        tcb.rx.push(&state.recv_buffer);
        tcb.ooo = Assembler::new();
        for (offset, bytes) in &state.out_of_order {
            tcb.rx.write_beyond(*offset as usize, bytes);
            tcb.ooo.add(*offset, bytes.len() as u32);
        }
        tcb.peer_closed = state.peer_closed;
        tcb.want_writable = state.want_writable;
        tcb.ack_now = state.ack_pending;
        let unread = !tcb.rx.is_empty();
        let id = self
            .tcp
            .table
            .insert(key, tcb)
            .ok_or(ImportError::TableFull)?;
        if unread && let Some(tcb) = self.tcp.table.get_mut(id) {
            tcb.readable_signalled = true;
            self.events.push_back(Event::Readable(id));
        }
        self.tcp.mark_dirty(id);
        self.tcp.reschedule(id);
        Ok(id)
    }
}
