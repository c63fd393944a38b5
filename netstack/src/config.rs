//! [`StackConfig`]: everything a stack instance is built from, with defaults
//! suited to a datacenter (µs-scale RTTs, 1500-byte MTU).

use std::net::Ipv4Addr;

use crate::error::ConfigError;
use crate::time::Duration;

/// Largest per-connection buffer: the window-scale shift is capped at 14
/// (RFC 7323 section 2.3), so 2^30 bytes is the largest usable window.
const MAX_BUFFER: usize = 1 << 30;
/// Ethernet MTU minus IPv4 and TCP headers (no options).
const MAX_MSS: u16 = 1460;

/// Configuration of one [`crate::Stack`].
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Our Ethernet address.
    pub mac: [u8; 6],
    /// Our IPv4 address.
    pub ipv4: Ipv4Addr,
    /// Prefix length of the on-link subnet.
    pub netmask_len: u8,
    /// Next hop for destinations off the subnet (None: on-link only).
    pub gateway: Option<Ipv4Addr>,
    /// Most connections alive at once (slab size, including TIME_WAIT).
    pub max_connections: usize,
    /// Receive buffer per connection, bytes (bounds the advertised window).
    pub rx_buffer: usize,
    /// Send buffer per connection, bytes (unacknowledged plus unsent data).
    pub tx_buffer: usize,
    /// Largest segment payload we accept and send (advertised in SYNs).
    pub mss: u16,
    /// Longest an ACK is delayed (RFC 9293 section 3.8.6.3: under 0.5 s).
    pub delayed_ack: Duration,
    /// Retransmission timeout before any RTT sample (RFC 6298 section 2.1).
    pub rto_initial: Duration,
    /// Lower bound of the retransmission timeout (RFC 6298 section 2.4).
    pub rto_min: Duration,
    /// Upper bound of the retransmission timeout after backoff.
    pub rto_max: Duration,
    /// Consecutive retransmissions of one segment before the connection is
    /// reset (RFC 9293 section 3.8.3, R2).
    pub max_retransmissions: u32,
    /// Time spent in TIME_WAIT (2 MSL, RFC 9293 section 3.6.1).
    pub time_wait: Duration,
    /// Half-open (SYN_RECEIVED) connections allowed per listening port;
    /// further SYNs are dropped and counted.
    pub syn_backlog: usize,
    /// Offer and accept window scaling (RFC 7323 section 2).
    pub window_scaling: bool,
    /// Offer and accept timestamps (RFC 7323 section 3).
    pub timestamps: bool,
    /// Secret mixed into initial sequence numbers (RFC 6528).
    pub isn_secret: u64,
    /// First port of the ephemeral range used by `connect`.
    pub ephemeral_ports_start: u16,
    /// Lifetime of a resolved ARP entry.
    pub arp_timeout: Duration,
    /// Interval between ARP requests for one unresolved address.
    pub arp_retry: Duration,
    /// Frames queued while their next hop is being resolved; beyond this
    /// they are dropped and counted.
    pub arp_pending_limit: usize,
    /// Datagrams queued per bound UDP port before further ones are dropped.
    pub udp_queue_len: usize,
    /// Stack-generated frames (ARP and ICMP replies, UDP, RSTs) queued
    /// between two polls before further ones are dropped.
    pub control_queue_len: usize,
    /// Verify the IPv4, TCP and UDP checksums of received frames. False
    /// only where the device already verified them (receive checksum
    /// offload) or the medium cannot corrupt frames (shared memory), as the
    /// NIC's capabilities say. Outgoing checksums are always computed.
    pub verify_rx_checksums: bool,
}

impl Default for StackConfig {
    fn default() -> StackConfig {
        StackConfig {
            mac: [0x02, 0, 0, 0, 0, 1],
            ipv4: Ipv4Addr::new(10, 0, 0, 1),
            netmask_len: 24,
            gateway: None,
            max_connections: 16_384,
            rx_buffer: 64 * 1024,
            tx_buffer: 64 * 1024,
            mss: MAX_MSS,
            delayed_ack: Duration::from_millis(1),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            max_retransmissions: 15,
            time_wait: Duration::from_secs(60),
            syn_backlog: 1024,
            window_scaling: true,
            timestamps: true,
            isn_secret: 0x5a79_676f_735f_7273,
            ephemeral_ports_start: 32_768,
            arp_timeout: Duration::from_secs(60),
            arp_retry: Duration::from_secs(1),
            arp_pending_limit: 64,
            udp_queue_len: 64,
            control_queue_len: 1024,
            verify_rx_checksums: true,
        }
    }
}

impl StackConfig {
    /// Checks the values that would make the stack misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 || self.max_connections > u32::MAX as usize {
            return Err(ConfigError::MaxConnections(self.max_connections));
        }
        if self.netmask_len > 32 {
            return Err(ConfigError::NetmaskLen(self.netmask_len));
        }
        let min_buffer = usize::from(self.mss);
        for size in [self.rx_buffer, self.tx_buffer] {
            if !(min_buffer..=MAX_BUFFER).contains(&size) {
                return Err(ConfigError::BufferSize {
                    size,
                    min: min_buffer,
                    max: MAX_BUFFER,
                });
            }
        }
        if !(64..=MAX_MSS).contains(&self.mss) {
            return Err(ConfigError::Mss(self.mss));
        }
        if self.rto_min > self.rto_max || self.rto_initial > self.rto_max {
            return Err(ConfigError::RtoBounds);
        }
        if self.ephemeral_ports_start == 0 {
            return Err(ConfigError::EphemeralPorts);
        }
        Ok(())
    }

    /// Whether `addr` is on our subnet.
    pub(crate) fn on_link(&self, addr: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.netmask_len))
            .unwrap_or(0);
        u32::from(addr) & mask == u32::from(self.ipv4) & mask
    }

    /// The address whose MAC a frame to `dst` must carry.
    pub(crate) fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        match self.gateway {
            Some(gateway) if !self.on_link(dst) => gateway,
            _ => dst,
        }
    }
}
