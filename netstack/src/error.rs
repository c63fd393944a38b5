//! One small error enum per operation.

use thiserror::Error;

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
