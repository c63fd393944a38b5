//! The per-core network layer as the runtime drives it: a TCP/IP stack on
//! one NIC queue (the netstack over a [`crate::nic::NicQueue`] in a real
//! run, a message-level model in some simulations). Only the connection's
//! home core ever calls it (thesis ch. 4.4.2: the network layer is
//! coherency-free).

use std::fmt::Debug;
use std::hash::Hash;

use crate::nic::{RxProbe, Sleeper, Wakeup};

/// What the network layer reports to the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetEvent<C> {
    /// A connection was accepted on `local_port`.
    Opened {
        /// The new connection.
        conn: C,
        /// Listening port.
        local_port: u16,
    },
    /// In-order bytes are waiting to be `recv`ed.
    Readable(C),
    /// Send-buffer space freed after back-pressure.
    Writable(C),
    /// The peer closed its side.
    PeerClosed(C),
    /// The connection is gone; its handle is dead.
    Closed(C),
}

/// A call on a connection the layer no longer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection is gone")]
pub struct ConnGone;

/// One core's network layer.
pub trait Transport {
    /// Connection handle.
    type Conn: Copy + Eq + Hash + Debug + Send + 'static;

    /// Receives and processes at most `max` frames; returns how many.
    fn receive(&mut self, now_ns: u64, max: usize) -> usize;

    /// Whether frames wait on this core's receive queue.
    fn rx_pending(&self) -> bool;

    /// A probe other cores use to see frames waiting here.
    fn rx_probe(&self) -> RxProbe;

    /// The next event, oldest first.
    fn next_event(&mut self) -> Option<NetEvent<Self::Conn>>;

    /// Copies received bytes of `conn` into `buf`; 0 when none are waiting.
    fn recv(&mut self, conn: Self::Conn, buf: &mut [u8]) -> Result<usize, ConnGone>;

    /// Queues as much of `data` as fits; returns the count accepted.
    fn send(&mut self, conn: Self::Conn, data: &[u8]) -> Result<usize, ConnGone>;

    /// Closes `conn` after the data already queued.
    fn close(&mut self, conn: Self::Conn) -> Result<(), ConnGone>;

    /// Runs due timers and transmits every pending frame.
    fn transmit(&mut self, now_ns: u64);

    /// How arrivals wake a parked core (see
    /// [`crate::nic::NicQueue::wakeup`]); `None`: this layer cannot wake a
    /// blocked core, so it never parks.
    fn wakeup(&self) -> Option<Wakeup<'_>> {
        None
    }

    /// Announces or withdraws the parked thread (see
    /// [`crate::nic::NicQueue::announce_sleeper`]).
    fn announce_sleeper(&self, _sleeper: Option<Sleeper>) {}
}
