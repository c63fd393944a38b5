//! A synthetic-protocol client on its own netstack instance over any
//! [`NicQueue`]: it opens connections, pipelines sequence-numbered requests,
//! and checks that each connection's replies come back complete and in
//! request order, recording each request's latency. The end-to-end tests,
//! the 2-core skew benchmark and the simulator's netstack network all drive
//! the server through it.
//!
//! The caller decides when requests are sent ([`SyntheticClient::submit`]:
//! open loop, or closed loop by watching [`ClientConn::outstanding`]) and
//! calls [`SyntheticClient::step`] with the current time to move frames.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;

use netstack::{ConfigError, ConnId, ConnectError, Event, FrameSink, Instant, Stack, StackConfig};

use crate::nic::{MAX_BURST, NicQueue};
use crate::synthetic_protocol::{RESPONSE_LEN, Request, decode_response};

/// The progress of one client connection.
#[derive(Debug, Default)]
pub struct ClientConn {
    /// The three-way handshake completed.
    pub connected: bool,
    /// Requests submitted.
    pub sent: u64,
    /// Replies received.
    pub answered: u64,
    /// Replies that did not carry the next expected request id.
    pub out_of_order: u64,
    /// The server closed its side.
    pub server_closed: bool,
    /// The connection was reset or lost.
    pub failed: bool,
    close_requested: bool,
    unsent: Vec<u8>,
    partial: Vec<u8>,
    sent_at: VecDeque<u64>,
}

impl ClientConn {
    /// Requests sent and not yet answered.
    pub fn outstanding(&self) -> u64 {
        self.sent - self.answered
    }
}

/// The client.
pub struct SyntheticClient {
    stack: Stack,
    server: SocketAddrV4,
    conns: Vec<ClientConn>,
    index: HashMap<ConnId, usize>,
    handles: Vec<ConnId>,
    latencies_ns: Vec<u64>,
    buf: Vec<u8>,
}

struct QueueSink<'a>(&'a mut dyn NicQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

impl SyntheticClient {
    /// A client with its own stack, talking to `server`.
    pub fn new(config: StackConfig, server: SocketAddrV4) -> Result<Self, ConfigError> {
        Ok(SyntheticClient {
            stack: Stack::new(config)?,
            server,
            conns: Vec::new(),
            index: HashMap::new(),
            handles: Vec::new(),
            latencies_ns: Vec::new(),
            buf: vec![0; 16 * 1024],
        })
    }

    /// Opens a connection; returns its index.
    pub fn open(&mut self, now_ns: u64) -> Result<usize, ConnectError> {
        let conn = self.stack.connect(Instant(now_ns), self.server)?;
        let index = self.conns.len();
        self.index.insert(conn, index);
        self.handles.push(conn);
        self.conns.push(ClientConn::default());
        Ok(index)
    }

    /// Queues a request with the next id of connection `conn`, sent as soon
    /// as the connection is established.
    pub fn submit(&mut self, conn: usize, service_ns: u64, now_ns: u64) {
        if let Some(state) = self.conns.get_mut(conn) {
            let request = Request {
                id: state.sent,
                service_ns,
            };
            state.unsent.extend_from_slice(&request.encode());
            state.sent_at.push_back(now_ns);
            state.sent += 1;
        }
    }

    /// Closes connection `conn` once every request it sent is answered.
    pub fn close(&mut self, conn: usize) {
        if let Some(state) = self.conns.get_mut(conn) {
            state.close_requested = true;
        }
    }

    /// The local TCP port of connection `conn` (what RSS hashes on).
    pub fn local_port(&self, conn: usize) -> Option<u16> {
        let handle = *self.handles.get(conn)?;
        self.stack.four_tuple(handle).map(|(local, _)| local.port())
    }

    /// The connections, by index.
    pub fn conns(&self) -> &[ClientConn] {
        &self.conns
    }

    /// Latencies of the replies received so far, in arrival order (ns).
    pub fn latencies_ns(&self) -> &[u64] {
        &self.latencies_ns
    }

    /// Receives a burst, handles the stack's events, sends what is queued
    /// and transmits.
    pub fn step(&mut self, now_ns: u64, queue: &mut dyn NicQueue) {
        let now = Instant(now_ns);
        {
            let burst = queue.rx_burst(MAX_BURST);
            for frame in &burst {
                self.stack.handle_frame(now, frame);
            }
        }
        while let Some(event) = self.stack.pop_event() {
            self.on_event(event, now_ns);
        }
        for (conn, state) in self.handles.iter().zip(&mut self.conns) {
            if !state.connected || state.failed {
                continue;
            }
            if !state.unsent.is_empty() {
                match self.stack.send(*conn, &state.unsent) {
                    Ok(n) => {
                        state.unsent.drain(..n);
                    }
                    Err(_) => state.failed = true,
                }
            }
            if state.close_requested && state.unsent.is_empty() && state.outstanding() == 0 {
                state.close_requested = false;
                if self.stack.close(*conn).is_err() {
                    state.failed = true;
                }
            }
        }
        self.stack.poll(now, &mut QueueSink(queue));
        queue.flush_tx();
    }

    fn on_event(&mut self, event: Event, now_ns: u64) {
        let conn = match event {
            Event::Connected(conn)
            | Event::Readable(conn)
            | Event::PeerClosed(conn)
            | Event::Reset(conn)
            | Event::Closed(conn) => conn,
            Event::Accepted { .. } | Event::Writable(_) | Event::UdpReadable { .. } => return,
        };
        let Some(&index) = self.index.get(&conn) else {
            return;
        };
        let state = &mut self.conns[index];
        match event {
            Event::Connected(_) => state.connected = true,
            Event::Readable(_) | Event::PeerClosed(_) => {
                while let Ok(n @ 1..) = self.stack.recv(conn, &mut self.buf) {
                    state.partial.extend_from_slice(&self.buf[..n]);
                }
                let whole = state.partial.len() - state.partial.len() % RESPONSE_LEN;
                for id in state.partial[..whole]
                    .chunks(RESPONSE_LEN)
                    .filter_map(decode_response)
                {
                    if id != state.answered {
                        state.out_of_order += 1;
                    }
                    state.answered += 1;
                    if let Some(sent) = state.sent_at.pop_front() {
                        self.latencies_ns.push(now_ns.saturating_sub(sent));
                    }
                }
                state.partial.drain(..whole);
                if matches!(event, Event::PeerClosed(_)) {
                    state.server_closed = true;
                }
            }
            Event::Reset(_) => state.failed = true,
            _ => {}
        }
    }
}
