//! A message-level network for the simulator: the client's segments are
//! delivered, at their arrival time, to the receive queue of the
//! connection's home core, and [`SimTransport`] plays the per-core TCP
//! layer over them (in-order byte streams, open and close handshakes as
//! single segments). Replies are stamped with the virtual time of the
//! transmit that sends them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::nic::{PendingFrames, RxProbe};
use crate::transport::{ConnGone, NetEvent, Transport};

/// What a client segment carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    /// Connection request on a port.
    Open(u16),
    /// In-order bytes.
    Data(Vec<u8>),
    /// The client closes its side.
    Fin,
}

/// A segment in flight from the client to a core.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) conn: u64,
    pub(crate) payload: Payload,
}

/// What the server sent on a connection, at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Data(Vec<u8>),
    Fin,
}

/// One core's receive queue.
#[derive(Default)]
struct RxQueue {
    segments: spin::Mutex<VecDeque<Segment>>,
    len: AtomicUsize,
}

impl PendingFrames for RxQueue {
    fn has_pending(&self) -> bool {
        self.len.load(Ordering::Acquire) > 0
    }
}

/// The simulated wire: per-core receive queues and the log of replies.
pub(crate) struct SimWire {
    rx: Vec<Arc<RxQueue>>,
    replies: spin::Mutex<Vec<(u64, u64, Reply)>>,
}

impl SimWire {
    pub(crate) fn new(cores: usize) -> Arc<Self> {
        Arc::new(SimWire {
            rx: (0..cores).map(|_| Arc::default()).collect(),
            replies: spin::Mutex::new(Vec::new()),
        })
    }

    /// Puts a segment on `core`'s receive queue.
    pub(crate) fn deliver(&self, core: usize, segment: Segment) {
        if let Some(queue) = self.rx.get(core) {
            let mut segments = queue.segments.lock();
            segments.push_back(segment);
            queue.len.store(segments.len(), Ordering::Release);
        }
    }

    /// Takes the replies logged so far: (virtual time, connection, reply).
    pub(crate) fn take_replies(&self) -> Vec<(u64, u64, Reply)> {
        std::mem::take(&mut *self.replies.lock())
    }
}

#[derive(Default)]
struct ConnState {
    rx: Vec<u8>,
    readable_reported: bool,
    peer_closed: bool,
    closed: bool,
}

/// The simulated network layer of one core.
pub(crate) struct SimTransport {
    core: usize,
    wire: Arc<SimWire>,
    conns: HashMap<u64, ConnState>,
    events: VecDeque<NetEvent<u64>>,
    tx: Vec<(u64, Reply)>,
}

impl SimTransport {
    pub(crate) fn new(core: usize, wire: Arc<SimWire>) -> Self {
        SimTransport {
            core,
            wire,
            conns: HashMap::new(),
            events: VecDeque::new(),
            tx: Vec::new(),
        }
    }

    fn queue(&self) -> Option<&Arc<RxQueue>> {
        self.wire.rx.get(self.core)
    }

    fn input(&mut self, segment: Segment) {
        let conn = segment.conn;
        match segment.payload {
            Payload::Open(local_port) => {
                self.conns.insert(conn, ConnState::default());
                self.events.push_back(NetEvent::Opened { conn, local_port });
            }
            Payload::Data(bytes) => {
                let Some(state) = self.conns.get_mut(&conn) else {
                    return;
                };
                state.rx.extend_from_slice(&bytes);
                if !state.readable_reported {
                    state.readable_reported = true;
                    self.events.push_back(NetEvent::Readable(conn));
                }
            }
            Payload::Fin => {
                let Some(state) = self.conns.get_mut(&conn) else {
                    return;
                };
                state.peer_closed = true;
                self.events.push_back(NetEvent::PeerClosed(conn));
                self.finish_if_closed(conn);
            }
        }
    }

    fn finish_if_closed(&mut self, conn: u64) {
        if self
            .conns
            .get(&conn)
            .is_some_and(|state| state.closed && state.peer_closed)
        {
            self.conns.remove(&conn);
            self.events.push_back(NetEvent::Closed(conn));
        }
    }
}

impl Transport for SimTransport {
    type Conn = u64;

    fn receive(&mut self, _now_ns: u64, max: usize) -> usize {
        let Some(queue) = self.queue().cloned() else {
            return 0;
        };
        let mut taken = Vec::new();
        {
            let mut segments = queue.segments.lock();
            let n = segments.len().min(max);
            taken.extend(segments.drain(..n));
            queue.len.store(segments.len(), Ordering::Release);
        }
        let count = taken.len();
        for segment in taken {
            self.input(segment);
        }
        count
    }

    fn rx_pending(&self) -> bool {
        self.queue().is_some_and(|queue| queue.has_pending())
    }

    fn rx_probe(&self) -> RxProbe {
        let probe: Arc<dyn PendingFrames> = match self.queue() {
            Some(queue) => queue.clone(),
            None => Arc::new(RxQueue::default()),
        };
        RxProbe::new(self.core, probe)
    }

    fn next_event(&mut self) -> Option<NetEvent<u64>> {
        self.events.pop_front()
    }

    fn recv(&mut self, conn: u64, buf: &mut [u8]) -> Result<usize, ConnGone> {
        let state = self.conns.get_mut(&conn).ok_or(ConnGone)?;
        let n = state.rx.len().min(buf.len());
        buf[..n].copy_from_slice(&state.rx[..n]);
        state.rx.drain(..n);
        if state.rx.is_empty() {
            state.readable_reported = false;
        }
        Ok(n)
    }

    fn send(&mut self, conn: u64, data: &[u8]) -> Result<usize, ConnGone> {
        if self.conns.get(&conn).is_none_or(|state| state.closed) {
            return Err(ConnGone);
        }
        self.tx.push((conn, Reply::Data(data.to_vec())));
        Ok(data.len())
    }

    fn close(&mut self, conn: u64) -> Result<(), ConnGone> {
        let state = self.conns.get_mut(&conn).ok_or(ConnGone)?;
        if !state.closed {
            state.closed = true;
            self.tx.push((conn, Reply::Fin));
        }
        self.finish_if_closed(conn);
        Ok(())
    }

    fn transmit(&mut self, now_ns: u64) {
        if self.tx.is_empty() {
            return;
        }
        let mut replies = self.wire.replies.lock();
        replies.extend(self.tx.drain(..).map(|(conn, reply)| (now_ns, conn, reply)));
    }
}
