//! The production [`Transport`]: one core's netstack instance over that
//! core's NIC queue. Receive bursts go through `Stack::handle_frame`, the
//! stack's events become [`NetEvent`]s, and `Stack::poll` writes every
//! pending frame in place into the queue's transmit buffers, published by
//! one `flush_tx` per loop iteration. On a NIC whose steering we do not
//! control (TAP), frames of flows homed on another core are re-steered in
//! software ([`crate::resteer`]).

use std::sync::Arc;

use netstack::{ConnId, Event, FrameSink, Instant, Stack};

use crate::nic::{NicQueue, RxProbe, Sleeper, Wakeup};
use crate::resteer::SoftQueues;
use crate::transport::{ConnGone, NetEvent, Transport};

/// A netstack instance bound to one NIC queue.
pub struct NetstackTransport {
    stack: Stack,
    queue: Box<dyn NicQueue>,
    probe: RxProbe,
    resteer: Option<Resteer>,
}

/// This core's place among the software-steered cores.
struct Resteer {
    soft: Arc<SoftQueues>,
    core: usize,
}

impl NetstackTransport {
    /// Serves `stack` (already listening) over `queue`.
    pub fn new(stack: Stack, queue: Box<dyn NicQueue>) -> Self {
        let probe = queue.rx_probe();
        NetstackTransport {
            stack,
            queue,
            probe,
            resteer: None,
        }
    }

    /// Sends TCP frames of flows homed on another core to that core's
    /// software queue, and serves this core's software queue (`core` is
    /// this transport's core; see [`crate::resteer`]).
    pub fn with_resteering(mut self, soft: Arc<SoftQueues>, core: usize) -> Self {
        self.probe = soft.probe(core, self.queue.rx_probe());
        self.resteer = Some(Resteer { soft, core });
        self
    }

    /// The stack, for statistics.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }
}

/// The NIC queue as the stack's frame sink.
struct QueueSink<'a>(&'a mut dyn NicQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

impl Transport for NetstackTransport {
    type Conn = ConnId;

    fn receive(&mut self, now_ns: u64, max: usize) -> usize {
        let now = Instant(now_ns);
        let burst = self.queue.rx_burst(max);
        for frame in &burst {
            let home = self
                .resteer
                .as_ref()
                .and_then(|r| Some((r, r.soft.misdirected(r.core, frame)?)));
            match home {
                Some((resteer, home)) => resteer.soft.forward(home, frame),
                None => self.stack.handle_frame(now, frame),
            }
        }
        let mut received = burst.len();
        drop(burst);
        if let Some(resteer) = &self.resteer {
            let stack = &mut self.stack;
            received += resteer
                .soft
                .drain(resteer.core, max, |frame| stack.handle_frame(now, frame));
        }
        received
    }

    fn rx_pending(&self) -> bool {
        self.probe.has_pending()
    }

    fn rx_probe(&self) -> RxProbe {
        self.probe.clone()
    }

    fn next_event(&mut self) -> Option<NetEvent<ConnId>> {
        loop {
            let event = match self.stack.pop_event()? {
                Event::Accepted { conn, local_port } => NetEvent::Opened { conn, local_port },
                Event::Readable(conn) => NetEvent::Readable(conn),
                Event::Writable(conn) => NetEvent::Writable(conn),
                Event::PeerClosed(conn) => NetEvent::PeerClosed(conn),
                Event::Closed(conn) => NetEvent::Closed(conn),
                // A reset is followed by Closed; the server opens no
                // connections and binds no UDP port.
                Event::Reset(_) | Event::Connected(_) | Event::UdpReadable { .. } => continue,
            };
            return Some(event);
        }
    }

    fn recv(&mut self, conn: ConnId, buf: &mut [u8]) -> Result<usize, ConnGone> {
        self.stack.recv(conn, buf).map_err(|_| ConnGone)
    }

    fn send(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, ConnGone> {
        self.stack.send(conn, data).map_err(|_| ConnGone)
    }

    fn close(&mut self, conn: ConnId) -> Result<(), ConnGone> {
        self.stack.close(conn).map_err(|_| ConnGone)
    }

    fn transmit(&mut self, now_ns: u64) {
        self.stack
            .poll(Instant(now_ns), &mut QueueSink(&mut *self.queue));
        self.queue.flush_tx();
    }

    fn wakeup(&self) -> Option<Wakeup<'_>> {
        self.queue.wakeup()
    }

    fn announce_sleeper(&self, sleeper: Option<Sleeper>) {
        self.queue.announce_sleeper(sleeper);
    }
}
