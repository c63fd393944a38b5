//! One small error enum per operation.

use std::net::SocketAddrV4;

use thiserror::Error;

use crate::event::ConnId;

/// Why a [`crate::StackConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// `max_connections` is 0 or does not fit a slot index.
    #[error("max_connections {0} must be between 1 and 2^32-1")]
    MaxConnections(usize),
    /// The prefix length exceeds 32.
    #[error("netmask length {0} exceeds 32")]
    NetmaskLen(u8),
    /// A per-connection buffer is smaller than one segment or too large to
    /// be covered by a scaled window.
    #[error("buffer size {size} outside {min}..={max}")]
    BufferSize {
        /// The size given.
        size: usize,
        /// Smallest allowed (the MSS).
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The MSS is outside 64..=1460.
    #[error("mss {0} outside 64..=1460")]
    Mss(u16),
    /// `rto_min` or `rto_initial` exceeds `rto_max`.
    #[error("rto_min and rto_initial must not exceed rto_max")]
    RtoBounds,
    /// The ephemeral port range starts at port 0.
    #[error("ephemeral port range must not start at 0")]
    EphemeralPorts,
}

/// Why a UDP call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UdpError {
    /// The port is already bound.
    #[error("udp port {0} already bound")]
    PortInUse(u16),
    /// The port is not bound.
    #[error("udp port {0} not bound")]
    NotBound(u16),
    /// Port 0 cannot be bound.
    #[error("udp port 0 cannot be bound")]
    InvalidPort,
    /// The payload does not fit one unfragmented Ethernet frame.
    #[error("udp payload of {len} bytes exceeds {max}")]
    TooLarge {
        /// Payload length given.
        len: usize,
        /// Largest payload.
        max: usize,
    },
    /// The outgoing frame queue is full; retry after the next poll.
    #[error("transmit queue full")]
    QueueFull,
    /// The destination buffer is smaller than the datagram; the datagram is
    /// left queued.
    #[error("buffer of {buf} bytes too small for a {len}-byte datagram")]
    BufferTooSmall {
        /// Bytes offered.
        buf: usize,
        /// Datagram length.
        len: usize,
    },
}

/// Why `listen`/`unlisten` failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ListenError {
    /// Port 0 cannot be listened on.
    #[error("cannot listen on port 0")]
    InvalidPort,
    /// The port already has a listener.
    #[error("already listening on port {0}")]
    AlreadyListening(u16),
    /// The port has no listener.
    #[error("not listening on port {0}")]
    NotListening(u16),
}

/// Why `connect` failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectError {
    /// Unspecified or broadcast address, or port 0.
    #[error("cannot connect to {0}")]
    InvalidAddress(SocketAddrV4),
    /// `max_connections` reached.
    #[error("connection table full")]
    TableFull,
    /// Every ephemeral port is in use towards that destination.
    #[error("no free ephemeral port")]
    NoEphemeralPort,
}

/// Why a call on a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnError {
    /// The handle is stale (after `Closed`) or was never issued here.
    #[error("unknown connection {0:?}")]
    UnknownConnection(ConnId),
    /// `send` after `close`.
    #[error("connection {0:?} is closing")]
    Closing(ConnId),
    /// An SLO window value outside the 15-bit field.
    #[error("SLO window value out of range for connection {0:?}")]
    SloWindowRange(ConnId),
    /// `export` before the handshake completed.
    #[error("connection {0:?} is not synchronized yet")]
    NotSynchronized(ConnId),
}

/// Why `import` refused a connection state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImportError {
    /// The state's local address is not this stack's.
    #[error("local address {0} is not ours")]
    WrongAddress(std::net::Ipv4Addr),
    /// A connection to that peer from that port exists already.
    #[error("a connection to {0} on that port exists")]
    AddressInUse(SocketAddrV4),
    /// `max_connections` reached.
    #[error("connection table full")]
    TableFull,
    /// Queued bytes exceed this stack's buffer sizes.
    #[error("queued bytes exceed this stack's buffers")]
    BufferTooSmall,
    /// Only synchronized connections migrate.
    #[error("connection state is not synchronized")]
    NotSynchronized,
}
