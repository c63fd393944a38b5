//! The state only a core itself touches (thesis ch. 4.4.2, network layer):
//! its network stack, the home side of its shuffle queue, its remote-syscall
//! receiver and the bytes waiting for send-buffer space. [`HomeNet::service`]
//! is the work both the loop and an IPI perform: receive a burst, turn
//! network events into application events, execute remote system calls,
//! transmit.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use shuffle::{Claim, Home, RemoteReceiver};

use crate::app::{App, AppEvent, Calls};
use crate::counters::CoreCounters;
use crate::nic::MAX_BURST;
use crate::payload::{Payload, PayloadPool};
use crate::platform::{CorePlatform, Work};
use crate::transport::{NetEvent, Transport};

/// A connection claim as the runtime passes it around.
pub(crate) type AppClaim<C, S> = Claim<C, AppEvent, S>;

/// Calls made on a stolen connection, sent back to its home core with the
/// claim (thesis ch. 4.4.2, step (b)); the home core executes them, then
/// releases the claim, so the connection's replies stay in order.
pub(crate) struct RemoteBatch<C, S> {
    pub(crate) claim: AppClaim<C, S>,
    pub(crate) calls: Calls,
    pub(crate) closed: bool,
}

/// Bytes the stack could not take yet, and a close waiting behind them.
#[derive(Default)]
struct Backlog {
    bytes: VecDeque<u8>,
    close: bool,
}

/// Largest read per `recv` call.
const RECV_CHUNK: usize = 16 * 1024;

/// Idle buffers a core's payload pool keeps: enough for the events and
/// replies of every connection in flight at once on a busy core, at most
/// 16 MiB parked per core (buffers of up to `MAX_RETAINED_CAPACITY`).
pub(crate) const POOLED_PAYLOADS: usize = 1024;

pub(crate) struct HomeNet<T: Transport, S> {
    pub(crate) index: usize,
    pub(crate) transport: T,
    pub(crate) shuffle: Home<T::Conn, AppEvent, S>,
    pub(crate) remote_rx: RemoteReceiver<RemoteBatch<T::Conn, S>>,
    pub(crate) counters: Arc<CoreCounters>,
    /// Buffers of received bytes and of replies made on this core.
    pub(crate) payloads: PayloadPool,
    backlog: HashMap<T::Conn, Backlog>,
    recv_buf: Vec<u8>,
    /// Reused buffer of the remote batches being executed.
    remote_batches: Vec<RemoteBatch<T::Conn, S>>,
}

impl<T: Transport, S> HomeNet<T, S> {
    pub(crate) fn new(
        index: usize,
        transport: T,
        shuffle: Home<T::Conn, AppEvent, S>,
        remote_rx: RemoteReceiver<RemoteBatch<T::Conn, S>>,
        counters: Arc<CoreCounters>,
    ) -> Self {
        HomeNet {
            index,
            transport,
            shuffle,
            remote_rx,
            counters,
            payloads: PayloadPool::new(POOLED_PAYLOADS),
            backlog: HashMap::new(),
            recv_buf: vec![0; RECV_CHUNK],
            remote_batches: Vec::new(),
        }
    }

    /// Receive (when `receive`), stack, shuffle, remote system calls,
    /// transmit; returns the amount of work found (0: nothing to do).
    pub(crate) fn service<A: App<Conn = S>>(
        &mut self,
        p: &mut impl CorePlatform,
        app: &A,
        receive: bool,
    ) -> u64 {
        let now = p.now_ns();
        let frames = if receive {
            self.transport.receive(now, MAX_BURST) as u64
        } else {
            0
        };
        if frames > 0 {
            CoreCounters::bump(&self.counters.packets, frames);
            p.charge(Work::Packets(frames));
        }
        let events = self.drain_net_events(app);
        if events > 0 {
            CoreCounters::bump(&self.counters.events, events);
            p.charge(Work::Events(events));
        }
        let mut remote_calls = 0;
        let mut batches = std::mem::take(&mut self.remote_batches);
        let executed = self.remote_rx.drain(|batch| batches.push(batch));
        CoreCounters::bump(&self.counters.remote_batches_executed, executed as u64);
        for batch in batches.drain(..) {
            remote_calls += batch.calls.len() as u64;
            self.complete(batch.claim, batch.calls, batch.closed);
        }
        self.remote_batches = batches;
        if remote_calls > 0 {
            CoreCounters::bump(&self.counters.remote_syscalls, remote_calls);
            p.charge(Work::RemoteCalls(remote_calls));
        }
        self.transport.transmit(p.now_ns());
        frames + events + remote_calls
    }

    /// Turns every pending network event into application events.
    fn drain_net_events<A: App<Conn = S>>(&mut self, app: &A) -> u64 {
        let mut produced = 0;
        while let Some(event) = self.transport.next_event() {
            let (conn, app_event) = match event {
                NetEvent::Opened { conn, local_port } => {
                    if self.shuffle.open(conn, app.open(local_port)).is_err() {
                        tracing::warn!(core = self.index, ?conn, "connection opened twice");
                        continue;
                    }
                    (conn, AppEvent::Opened { local_port })
                }
                NetEvent::Readable(conn) => match self.read_all(conn) {
                    Some(bytes) => (conn, AppEvent::Data(bytes)),
                    None => continue,
                },
                NetEvent::Writable(conn) => {
                    self.flush_backlog(conn);
                    continue;
                }
                NetEvent::PeerClosed(conn) => {
                    if let Some(bytes) = self.read_all(conn) {
                        self.push(conn, AppEvent::Data(bytes));
                        produced += 1;
                    }
                    (conn, AppEvent::PeerClosed)
                }
                NetEvent::Closed(conn) => {
                    self.backlog.remove(&conn);
                    (conn, AppEvent::Closed)
                }
            };
            self.push(conn, app_event);
            produced += 1;
        }
        produced
    }

    fn push(&mut self, conn: T::Conn, event: AppEvent) {
        if self.shuffle.push_event(conn, event).is_err() {
            CoreCounters::bump(&self.counters.orphan_events, 1);
        }
    }

    /// Copies every byte waiting on `conn` out of the stack.
    fn read_all(&mut self, conn: T::Conn) -> Option<Payload> {
        let mut bytes = None;
        while let Ok(n @ 1..) = self.transport.recv(conn, &mut self.recv_buf) {
            bytes
                .get_or_insert_with(|| self.payloads.take())
                .extend_from_slice(&self.recv_buf[..n]);
        }
        bytes
    }

    /// Executes the calls of a finished batch on this (home) core, then ends
    /// the claim; a connection whose batch saw `Closed` is forgotten.
    pub(crate) fn complete(&mut self, claim: AppClaim<T::Conn, S>, calls: Calls, closed: bool) {
        let conn = claim.key();
        self.execute(conn, &calls);
        if let Err(error) = self.shuffle.release(claim) {
            tracing::warn!(core = self.index, ?conn, %error, "release failed");
            return;
        }
        if closed && let Err(error) = self.shuffle.remove(conn) {
            tracing::warn!(core = self.index, ?conn, %error, "events after close");
        }
    }

    /// Executes a batch's calls: its bytes, then its close.
    fn execute(&mut self, conn: T::Conn, calls: &Calls) {
        let dropped = u64::from(calls.sends_after_close());
        let mut failed = !calls.data().is_empty() && self.send(conn, calls.data()).is_err();
        if calls.closes() {
            failed |= match self.backlog.get_mut(&conn) {
                Some(backlog) => {
                    backlog.close = true;
                    false
                }
                None => self.transport.close(conn).is_err(),
            };
        }
        let dropped = dropped + u64::from(failed);
        if dropped > 0 {
            CoreCounters::bump(&self.counters.dropped_calls, dropped);
        }
    }

    /// Sends after any backlog; what the stack cannot take waits for a
    /// `Writable` event (back-pressure, no byte lost).
    fn send(&mut self, conn: T::Conn, data: &[u8]) -> Result<(), crate::transport::ConnGone> {
        if let Some(backlog) = self.backlog.get_mut(&conn) {
            backlog.bytes.extend(data);
            return Ok(());
        }
        let sent = self.transport.send(conn, data)?;
        if sent < data.len() {
            let backlog = self.backlog.entry(conn).or_default();
            backlog.bytes.extend(&data[sent..]);
        }
        Ok(())
    }

    fn flush_backlog(&mut self, conn: T::Conn) {
        let Some(backlog) = self.backlog.get_mut(&conn) else {
            return;
        };
        while !backlog.bytes.is_empty() {
            let chunk = backlog.bytes.make_contiguous();
            match self.transport.send(conn, chunk) {
                Ok(0) => return,
                Ok(n) => {
                    backlog.bytes.drain(..n);
                }
                Err(_) => {
                    self.backlog.remove(&conn);
                    CoreCounters::bump(&self.counters.dropped_calls, 1);
                    return;
                }
            }
        }
        let close = backlog.close;
        self.backlog.remove(&conn);
        if close && self.transport.close(conn).is_err() {
            CoreCounters::bump(&self.counters.dropped_calls, 1);
        }
    }
}
