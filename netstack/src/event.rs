//! What the stack tells the runtime: [`Event`]s drained in batches with
//! [`crate::Stack::pop_event`], naming connections by [`ConnId`].

use core::fmt;

/// A connection handle, valid in the stack that issued it until the
/// [`Event::Closed`] naming it. It packs a slab slot and the slot's
/// generation, so a stale handle is detected instead of reaching a newer
/// connection that reuses the slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl ConnId {
    /// The handle as one integer (slot in the low half, generation in the
    /// high half), for logs and control messages.
    pub const fn to_raw(self) -> u64 {
        (self.generation as u64) << 32 | self.slot as u64
    }

    /// The slab slot, dense from 0: usable as an index into per-connection
    /// tables kept by the runtime.
    pub const fn slot(self) -> usize {
        self.slot as usize
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({}g{})", self.slot, self.generation)
    }
}

/// Something the runtime must act on. Every connection the stack reports
/// (through `Accepted`, or the `ConnId` returned by `connect`/`import`)
/// ends with exactly one `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A passive open completed (three-way handshake done) on a listening port.
    Accepted {
        /// The new connection.
        conn: ConnId,
        /// The listening port it arrived on.
        local_port: u16,
    },
    /// An active open completed.
    Connected(ConnId),
    /// New in-order bytes can be read with `recv` (reported once until
    /// `recv` is called).
    Readable(ConnId),
    /// Send-buffer space freed after a `send` accepted fewer bytes than offered.
    Writable(ConnId),
    /// The peer sent FIN: `recv` returns the remaining bytes, then 0.
    PeerClosed(ConnId),
    /// The connection was reset (RST received, or retransmissions exhausted);
    /// a `Closed` follows.
    Reset(ConnId),
    /// The connection is gone for the application; the `ConnId` is dead.
    /// After a graceful close it never comes before `recv` returned every
    /// received byte and then the end of stream (0).
    Closed(ConnId),
    /// A datagram is queued on a bound UDP port (read it with `recv_udp`);
    /// reported once until the queue is drained.
    UdpReadable {
        /// The bound local port.
        port: u16,
    },
}
