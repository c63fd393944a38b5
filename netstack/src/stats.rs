//! Counters of what the stack did and why it dropped what it dropped.

/// Per-stack counters (monotonic). Drops are counted by reason instead of
/// logging on the packet path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackStats {
    /// Frames given to `handle_frame`.
    pub rx_frames: u64,
    /// Frames written to the sink.
    pub tx_frames: u64,
    /// Frames too short or with inconsistent lengths or versions.
    pub malformed: u64,
    /// Frames for another MAC or IPv4 address, or of an unknown EtherType
    /// or IP protocol.
    pub not_for_us: u64,
    /// IPv4 headers, UDP, TCP or ICMP messages with a wrong checksum.
    pub bad_checksum: u64,
    /// IPv4 fragments (reassembly is not supported).
    pub fragments: u64,
    /// ARP requests and replies processed.
    pub arp_rx: u64,
    /// Frames dropped because the ARP pending queue was full.
    pub arp_pending_dropped: u64,
    /// ICMP echo requests answered.
    pub icmp_echo: u64,
    /// Datagrams queued on a bound UDP port.
    pub udp_rx: u64,
    /// Datagrams to an unbound port or beyond a full port queue.
    pub udp_dropped: u64,
    /// Stack-generated frames dropped because the control queue was full.
    pub control_dropped: u64,
    /// TCP segments processed.
    pub tcp_rx: u64,
    /// TCP segments sent (including retransmissions).
    pub tcp_tx: u64,
    /// TCP segments retransmitted (timeouts, fast retransmit, probes).
    pub tcp_retransmits: u64,
    /// Retransmission timeouts fired.
    pub tcp_timeouts: u64,
    /// Fast retransmits (three duplicate ACKs, RFC 5681 section 3.2).
    pub tcp_fast_retransmits: u64,
    /// Segments held out of order for reassembly.
    pub tcp_out_of_order: u64,
    /// Segments outside the receive window or failing PAWS.
    pub tcp_unacceptable: u64,
    /// RSTs sent.
    pub tcp_rst_tx: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub tcp_challenge_acks: u64,
    /// SYNs dropped: backlog full, connection table full or no listener
    /// capacity.
    pub tcp_syn_dropped: u64,
    /// Segments to a port without listener or connection (answered by RST).
    pub tcp_no_connection: u64,
    /// TCP option lists that could not be parsed (segment dropped).
    pub tcp_bad_options: u64,
    /// Connections reset by a retransmission timeout.
    pub tcp_timeout_resets: u64,
}
